"""Kernels for lattices over characters, as SentencePiece and HF tokenizers
build them for their unigram models.

Such a lattice has an edge for every piece that starts at a character, and
for a character no one-character piece covers, an *unknown* edge of score
``unk_score``. The byte lattice's kernels (``kernels.lattice``) walk it as a
byte lattice whose reversed trie also holds *pseudo bytes*: the lead byte
of a character with score ``unk_score``, each continuation byte with score
0, so that a character's bytes add up to one unknown edge. Their token id is
``byte_base + b``, which the caller turns into the library's unknown or
byte-fallback ids. Where a character is a piece, the pseudo bytes are not
edges of the character lattice: sampling and the statistics leave them out
(``KEEP_KNOWN_CHARS``, ``known_char_bytes``), and Viterbi never takes them
(they score at least ``UNKNOWN_PENALTY`` below the piece).

Viterbi matches the libraries' choices exactly, ties included: both keep,
among equal scores at an end, the path whose last piece starts first (the
longest), as ``viterbi_span`` does; both add scores in float32
(SentencePiece, measured: float64 sums choose differently) or float64 (HF),
the precision of the arrays passed.
"""

import numpy as np
from numba import njit

from .lattice import Draw, SpanWork, TokenOut, segment_into
from .normalize import normalize_batch
from .rng import stream_seed
from .trie import Trie


@njit(inline='always')
def char_length(lead):
    """Bytes of the UTF-8 character whose first byte is ``lead``, as
    SentencePiece's ``OneCharLen`` counts them."""
    top = lead >> 4
    if top < 12:
        return 1
    if top < 14:
        return 2
    if top == 14:
        return 3
    return 4


@njit(nogil=True, cache=True)
def segment_whole(buf, seg_bounds, text_seg, trie, draw, seed, first_stream, with_ends, value):
    """Segment every segment ``buf[seg_bounds[s]:seg_bounds[s+1]]`` whole
    (no chunks). Text ``t`` (segments ``text_seg[t]..text_seg[t+1]-1``)
    draws on the stream ``stream_seed(seed, first_stream + t)``. ``value``:
    the forward values' work array, at least the longest segment plus one
    long, in the precision Viterbi adds in. Returns ``(ids int32,
    token_ends int64, seg_token_start int64)``; ``token_ends`` is empty
    unless ``with_ends``."""
    n_segs = seg_bounds.size - 1
    longest = 0
    for s in range(n_segs):
        longest = max(longest, seg_bounds[s + 1] - seg_bounds[s])
    n_bytes = seg_bounds[n_segs] - seg_bounds[0]
    out = TokenOut(np.empty(n_bytes, np.int32), np.empty(n_bytes if with_ends else 0, np.int64),
                   np.empty(n_segs + 1, np.int64))
    out.span_tok_start[0] = 0
    work = SpanWork(value, np.empty(longest + 1, np.uint64), np.empty(longest + 1, np.int32))
    ntok = 0
    for t in range(text_seg.size - 1):
        ntok = segment_into(buf, seg_bounds, text_seg[t], text_seg[t + 1], trie, draw,
                            stream_seed(seed, first_stream + t), work, out, ntok)
    return out.ids[:ntok], out.ends[:ntok], out.span_tok_start


@njit(nogil=True, cache=True)
def known_char_bytes(buf, units, unit_token):
    """For each byte of ``buf``, whether it lies inside a multi-byte
    character whose whole UTF-8 is a piece of the reversed trie: the
    character lattice has no lone-byte edge there."""
    inside = np.zeros(buf.size, np.bool_)
    p = 0
    while p < buf.size:
        width = char_length(buf[p])
        if width > 1 and p + width <= buf.size:
            node = units[0] + buf[p + width - 1]
            found = True
            for k in range(p + width - 2, p - 1, -1):
                child = units[2 * node] + buf[k]
                if units[2 * child + 1] != node:
                    found = False
                    break
                node = child
            if found and unit_token[node] >= 0:
                inside[p:p + width] = True
        p += width
    return inside


@njit(nogil=True, cache=True)
def merge_unknown_runs(ids, ends, seg_start, byte_base, unk_id):
    """Each run of pseudo ids (``>= byte_base``) within a segment as one
    ``unk_id`` token that ends where the run ends, as SentencePiece merges
    consecutive unknown characters. ``ends`` may be empty. Returns the new
    ``(ids, ends, seg_start)``."""
    out_ids = np.empty(ids.size, np.int32)
    out_ends = np.empty(ends.size, np.int64)
    new_start = np.empty(seg_start.size, np.int64)
    j = 0
    for s in range(seg_start.size - 1):
        new_start[s] = j
        in_run = False
        for i in range(seg_start[s], seg_start[s + 1]):
            if ids[i] >= byte_base:
                if in_run:
                    if ends.size:
                        out_ends[j - 1] = ends[i]
                    continue
                out_ids[j] = unk_id
                in_run = True
            else:
                out_ids[j] = ids[i]
                in_run = False
            if ends.size:
                out_ends[j] = ends[i]
            j += 1
    new_start[seg_start.size - 1] = j
    return out_ids[:j], out_ends[:j], new_start


@njit(nogil=True, cache=True)
def encode_sentencepiece(buf, pool, pool_bounds, rule_units, rule_value, user_units, user_value, plain,
                         add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces, whitespace_as_suffix,
                         units, unit_score, unit_token, mode, alpha, unit_weight, window, seed, value, byte_base,
                         unk_id, byte_ids, byte_fallback):
    """The ids of one text's UTF-8 ``buf`` under a SentencePiece model, in
    one call: normalized (``normalize_batch``'s arguments, its flags one by
    one), segmented whole (the ``Trie`` and ``Draw`` of ``segment_whole``
    one by one: numba dispatches arrays and scalars faster than named
    tuples; ``value`` is grown as needed), unknown characters resolved (byte
    pieces ``byte_ids`` with ``byte_fallback``, else runs merged into
    ``unk_id``)."""
    bounds = np.zeros(2, np.int64)
    bounds[1] = buf.size
    flags = (add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces, whitespace_as_suffix, False)
    out, out_bounds, _ = normalize_batch(buf, bounds, pool, pool_bounds, rule_units, rule_value, user_units,
                                         user_value, plain, flags)
    if value.size < out.size + 1:
        value = np.empty(out.size + 1, value.dtype)
    text_seg = np.arange(2)
    ids, ends, seg_start = segment_whole(out, out_bounds, text_seg, Trie(units, unit_score, unit_token),
                                         Draw(mode, alpha, unit_weight, window), np.uint64(seed), 0, False, value)
    for i in range(ids.size):
        if ids[i] >= byte_base:  # (rare: most texts have no unknown character)
            return resolve_sentencepiece(ids, ends, seg_start, byte_base, unk_id, byte_ids, byte_fallback)[0]
    return ids


@njit(nogil=True, cache=True)
def resolve_sentencepiece(ids, ends, seg_start, byte_base, unk_id, byte_ids, byte_fallback):
    """SentencePiece's ids for pseudo ids (``>= byte_base``): with
    ``byte_fallback`` each byte's piece ``byte_ids[b]`` (in place), else each
    run merged into ``unk_id`` (``merge_unknown_runs``). Returns ``(ids,
    ends, seg_start)``, the arguments themselves when there is none."""
    unknown = False
    for i in range(ids.size):
        if ids[i] >= byte_base:
            unknown = True
            break
    if not unknown:
        return ids, ends, seg_start
    if byte_fallback:
        for i in range(ids.size):
            if ids[i] >= byte_base:
                ids[i] = byte_ids[ids[i] - byte_base]
        return ids, ends, seg_start
    return merge_unknown_runs(ids, ends, seg_start, byte_base, unk_id)
