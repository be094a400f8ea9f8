"""What HF tokenizers' ``Precompiled`` normalizer makes of the rules of a
``precompiled_charsmap`` (``charsmap.parse_charsmap``): it goes grapheme by
grapheme (extended grapheme clusters, as HF's unicode-segmentation finds
them), where SentencePiece's normalizer goes by longest match.
"""

import importlib
import re

import numpy as np

from ..core.text import encode_utf8
from .charsmap import first_chars, key_chars

# HF looks a whole grapheme up only when it is shorter than this (in UTF-8 bytes).
HF_GRAPHEME_BYTES = 6
WINDOW_GAP = 32  # characters between two grapheme windows under which they are one


def shortest_rule(rules, key):
    """The replacement of the shortest rule key that starts ``key``, or None;
    a NUL byte ends the search (HF's trie search stops there)."""
    for length in range(1, len(key) + 1):
        if key[length - 1] == 0:
            return None
        found = rules.get(key[:length])
        if found is not None:
            return found
    return None


def graphemes(text):
    """Extended grapheme clusters of ``text``, as HF's unicode-segmentation
    finds them. ASCII text needs no tables (CR LF is its only cluster of
    two); other text needs the ``regex`` module, whose ``\\X`` joins a
    consonant after a virama even when no consonant precedes the virama (UAX
    #29's rule GB9c requires one): such clusters are split again."""
    if text.isascii():
        return re.findall(r'\r\n|.', text, re.S)
    regex = _regex_module()
    clusters = regex.findall(r'\X', text)
    if not regex.search(r'\p{InCB=Linker}', text):
        return clusters
    return [part for cluster in clusters for part in split_unlinked_consonants(cluster, regex)]


def _regex_module():
    """The ``regex`` module (its ``\\X`` and Unicode properties), which
    non-ASCII text needs."""
    try:
        return importlib.import_module('regex')
    except ImportError:
        raise ImportError('HF Precompiled normalization of non-ASCII text needs grapheme clusters: '
                          'pip install regex') from None


def split_unlinked_consonants(cluster, regex):
    """``cluster`` split before each consonant joined by a virama that no
    consonant precedes (GB9c: Consonant [Extend Linker]* Linker [Extend
    Linker]* joins the next Consonant)."""
    kinds = ['C' if regex.match(r'\p{InCB=Consonant}', c) else 'L' if regex.match(r'\p{InCB=Linker}', c)
             else 'E' if regex.match(r'\p{InCB=Extend}', c) else '-' for c in cluster]
    parts = []
    start = 0
    for i in range(1, len(cluster)):
        if kinds[i] != 'C' or kinds[i - 1] not in 'EL':
            continue
        j = i - 1
        while j >= start and kinds[j] in 'EL':
            j -= 1
        if not (j >= start and kinds[j] == 'C' and 'L' in kinds[j + 1:i]):
            parts.append(cluster[start:i])
            start = i
    parts.append(cluster[start:])
    return parts


def hf_inert(rules):
    """By code point, whether HF's ``Precompiled`` over ``rules`` leaves the
    character as it is when it is a grapheme alone: no key is its UTF-8 or
    a prefix of it (keys it starts concern graphemes of several characters)."""
    inert = np.ones(0x110000, np.bool_)
    whole, _, cut = key_chars(rules)
    inert[whole] = False
    for key in cut:
        chars, width = first_chars(key)
        if width == len(key):  # the key cuts its first character
            inert[chars] = False
    return inert


def precompiled_hf(rules, text, inert=None, alone=None):
    """What HF tokenizers' ``Precompiled`` normalizer makes of ``text`` over
    ``rules`` (``parse_charsmap``). HF goes grapheme by grapheme: a grapheme
    of fewer than 6 UTF-8 bytes that some rule key starts becomes the
    replacement of the shortest such key (the rest of the grapheme is
    dropped); otherwise each character is replaced by its own rule, if any.
    With ``inert`` (``hf_inert(rules)``), only the characters that may join
    a neighbour into a grapheme (and their neighbours) and those that are
    not inert are looked at; ``alone``: a dict of what a character alone
    becomes, kept between calls (filled as characters are met)."""
    encode_utf8(text)
    if inert is None:
        out = []
        _precompiled_graphemes(rules, graphemes(text), out)
        return b''.join(out).decode('utf-8')
    codes = np.frombuffer(text.encode('utf-32-le'), np.uint32)
    looked = ~inert[codes]
    joining = codes == 0x0D if text.isascii() else grapheme_joiners()[codes]  # (CR LF: ASCII's one cluster of two)
    if not (looked.any() or joining.any()):
        return text
    alone = {} if alone is None else alone
    out = []
    copied = 0
    for start, stop in _grapheme_windows(looked, joining):
        out.append(text[copied:start].encode('utf-8'))
        if stop - start == 1:
            char = text[start]
            found = alone.get(char)
            if found is None:
                key = char.encode('utf-8')
                found = shortest_rule(rules, key)
                found = alone[char] = key if found is None else found
            out.append(found)
        else:
            _window_graphemes(rules, text[start:stop], codes[start:stop], inert, out)
        copied = stop
    out.append(text[copied:].encode('utf-8'))
    return b''.join(out).decode('utf-8')


def _window_graphemes(rules, window, codes, inert, out):
    """Append the UTF-8 of ``window`` (whose code points are ``codes``)
    normalized to ``out``: its graphemes of one inert character copied
    together, the others looked up."""
    clusters = graphemes(window)
    lengths = np.fromiter(map(len, clusters), np.int64, len(clusters))
    starts = np.zeros(len(clusters) + 1, np.int64)
    np.cumsum(lengths, out=starts[1:])
    plain = lengths == 1
    plain[plain] = inert[codes[starts[:-1][plain]]]
    copied = 0
    for c in np.flatnonzero(~plain).tolist():
        out.append(window[copied:starts[c]].encode('utf-8'))
        _precompiled_graphemes(rules, clusters[c:c + 1], out)
        copied = int(starts[c + 1])
    out.append(window[copied:].encode('utf-8'))


def _grapheme_windows(looked, joining):
    """The ``(start, stop)`` ranges of a text's characters that
    ``precompiled_hf`` must look at, in order: each character that may join
    a neighbour into a grapheme (``joining``) with one character either
    side, ranges closer than ``WINDOW_GAP`` merged, and each character of
    ``looked`` outside them alone. Outside the ranges every character is a grapheme
    of its own: no two characters that join nothing share one."""
    n = joining.size
    at = np.flatnonzero(joining)
    first, last = np.maximum(at - 1, 0), np.minimum(at + 2, n)
    opens = np.ones(at.size, np.bool_)
    # ``last`` never decreases: a range overlapping the one before, or close to it, joins it (text dense in
    # joiners goes through a few long ranges rather than a Python step per character)
    opens[1:] = first[1:] >= last[:-1] + WINDOW_GAP
    heads = np.flatnonzero(opens)
    starts, stops = first[heads], last[np.append(heads[1:] - 1, at.size - 1)] if at.size else last
    depth = np.zeros(n + 1, np.int64)
    np.add.at(depth, starts, 1)
    np.add.at(depth, stops, -1)
    alone = np.flatnonzero(looked & (np.cumsum(depth[:n]) == 0))
    starts, stops = np.concatenate([starts, alone]), np.concatenate([stops, alone + 1])
    order = np.argsort(starts, kind='stable')
    return zip(starts[order].tolist(), stops[order].tolist())


_JOINERS = []  # the table of grapheme_joiners, made once


def grapheme_joiners():
    """By code point, whether the character may share an extended grapheme
    cluster with a neighbour: its Grapheme_Cluster_Break property (the
    ``regex`` module's, as ``graphemes`` uses) is neither Other, Control nor
    LF. A character of those three starts and ends a grapheme of its own
    unless a neighbour joins it (CR LF: CR is a joiner)."""
    if not _JOINERS:
        regex = _regex_module()
        codes = np.concatenate([np.arange(0xD800, dtype=np.uint32), np.arange(0xE000, 0x110000, dtype=np.uint32)])
        chars = codes.astype('<u4').tobytes().decode('utf-32-le')
        joiners = np.zeros(0x110000, np.bool_)
        found = [m.start() for m in regex.finditer(r'[^\p{GCB=Other}\p{GCB=Control}\p{GCB=LF}]', chars)]
        joiners[codes[found]] = True
        _JOINERS.append(joiners)
    return _JOINERS[0]


def _precompiled_graphemes(rules, clusters, out):
    """Append the UTF-8 of each grapheme of ``clusters`` normalized to ``out``."""
    for grapheme in clusters:
        whole = grapheme.encode('utf-8')
        if len(whole) < HF_GRAPHEME_BYTES:
            found = shortest_rule(rules, whole)
            if found is not None:
                out.append(found)
                continue
        for char in grapheme:
            key = char.encode('utf-8')
            found = shortest_rule(rules, key)
            out.append(key if found is None else found)
