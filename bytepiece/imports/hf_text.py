"""HF ``tokenizers``' normalizers, pre-tokenizers and decoders, rebuilt from their JSON.

A piece of text travels as ``(text, head)``: ``head`` counts its leading
characters that HF aligns with offset 0 of the input. HF keeps an alignment
per byte; the only use it has here is Metaspace's ``prepend_scheme: first``,
which prefixes a piece only when it starts at offset 0, and since alignments
never decrease the zero-aligned characters are always a prefix. ``head`` is
None for a piece that HF placed after offset 0: its alignments are relative
to its own start, so not even a character inserted at its start is at 0.

``normalizer``, ``pre_tokenizer`` and ``decoder`` take a component's JSON
and ``where`` (its JSON path, for errors) and return a callable, or raise
``ValueError`` for what is not supported (``SUPPORTED`` lists what is).
"""

import base64
import binascii
import re
import unicodedata

from .hf_regex import (WHITESPACE, WHITESPACE_CLASS, compile_pattern, iter_match_spans, mark_class, match_spans,
                       never_empty, word_class)

_NMT_REMOVED = dict.fromkeys([*range(0x01, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F, 0x8F, 0x9F])
_NMT_SPACES = dict.fromkeys([0x09, 0x0A, 0x0C, 0x0D, 0x1680, *range(0x200B, 0x2010), 0x2028, 0x2029,
                             0x2581, 0xFEFF, 0xFFFD], ' ')
_NMT_TABLE = {**_NMT_REMOVED, **_NMT_SPACES}


def field(spec, key, kind, where, default=...):
    """``spec[key]`` checked to be a ``kind``; ``default`` when absent, if given."""
    if key not in spec:
        if default is ...:
            raise ValueError(f'{where}: missing key {key!r}')
        return default
    value = spec[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = ' or '.join('null' if k is type(None) else k.__name__ for k in kinds)
        raise ValueError(f'{where}.{key}: expected {names}, got {value!r}')
    return value


def char_field(spec, key, where):
    value = field(spec, key, str, where)
    if len(value) != 1:
        raise ValueError(f'{where}.{key}: expected one character, got {value!r}')
    return value


SUPPORTED = {
    'normalizer': ('Sequence', 'Precompiled', 'Replace', 'Strip', 'Prepend', 'NFC', 'NFD', 'NFKC', 'NFKD',
                   'Lowercase', 'StripAccents', 'Nmt'),
    'pre-tokenizer': ('Sequence', 'Metaspace', 'Split', 'WhitespaceSplit', 'Whitespace'),
    'decoder': ('Sequence', 'Metaspace', 'Replace', 'ByteFallback', 'Fuse', 'Strip'),
}


def unsupported(what, spec, where):
    kind = spec.get('type')
    return ValueError(f'{where}: the {what} type {kind!r} is not supported; '
                      f'bytepiece reads {", ".join(SUPPORTED[what])} (or null)')


def rust_lowercase(text):
    # Rust lowercases one character at a time: no final-sigma rule.
    return text.replace('Σ', 'σ').lower()


def slice_head(head, start, end):
    """The head of ``text[start:end]``: a slice starts at offset 0 only if its first character does."""
    return min(head, end) - start if head is not None and start < head else None


def replaced(regex, content, text, head, nonempty_matches=False):
    """HF's ``NormalizedString::replace``: the new text and head.
    ``nonempty_matches``: no match of ``regex`` is empty (``never_empty``),
    so that Python's ``sub`` makes the new text."""
    if nonempty_matches:
        new = regex.sub(content.replace('\\', '\\\\'), text)  # the content as it is: no group references
        spans = iter_match_spans(regex, text, head)  # (lazy) a match from past the head changes nothing before it
    else:
        spans = match_spans(regex, text)
        new = ''.join(content if is_match else text[s:e] for s, e, is_match in spans)
    if head is None:
        return new, None
    zeros = 0
    for s, e, is_match in spans:
        if not is_match:
            zeros += max(0, min(e, head) - s)
            if e > head:
                break
        else:
            # inserted characters take the alignment of the last replaced
            # one, or of the one before an empty match; (0, 0) at the start
            anchor = e - 1 if e > s else s - 1
            if anchor < head:
                zeros += len(content)
            elif content:
                break
    return new, min(zeros, len(new))


def _mapped(fn, first_kept=False):
    """A normalizer mapping text with ``fn``; the head maps with it.

    ``first_kept``: HF's Precompiled aligns its output from the first
    original character on even when that character was dropped."""
    def normalize(text, head):
        new = fn(text)
        if not head or not new:
            return new, head and 0
        return new, min(len(new), max(int(first_kept), len(fn(text[:head]))))
    return normalize


def _strip(left, right):
    def normalize(text, head):
        stripped = text.lstrip(WHITESPACE) if left else text
        cut = len(text) - len(stripped)
        stripped = stripped.rstrip(WHITESPACE) if right else stripped
        return stripped, head if head is None else min(max(0, head - cut), len(stripped))
    return normalize


def _prepend(prefix):
    def normalize(text, head):
        if not text:
            return text, head
        return prefix + text, head + len(prefix) if head else head
    return normalize


def _precompiled(spec, where):
    blob = field(spec, 'precompiled_charsmap', (str, type(None)), where, None) or ''
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f'{where}.precompiled_charsmap: not valid base64') from None
    if not raw:
        return lambda text, head: (text, head)
    from .charsmap import parse_charsmap
    from .hf_precompiled import hf_inert, precompiled_hf
    rules = parse_charsmap(raw)
    inert = hf_inert(rules)
    alone = {}  # what a character alone becomes, as met
    return _mapped(lambda text: precompiled_hf(rules, text, inert, alone), first_kept=True)


def normalizer(spec, where):
    """A ``(text, head) -> (text, head)`` callable for a normalizer spec (None: identity)."""
    if spec is None:
        return lambda text, head: (text, head)
    if not isinstance(spec, dict):
        raise ValueError(f'{where}: expected an object or null, got {spec!r}')
    kind = spec.get('type')
    if kind == 'Sequence':
        steps = [normalizer(s, f'{where}.normalizers[{i}]')
                 for i, s in enumerate(field(spec, 'normalizers', list, where))]

        def run(text, head):
            for step in steps:
                text, head = step(text, head)
            return text, head
        return run
    if kind in ('NFC', 'NFD', 'NFKC', 'NFKD'):
        return _mapped(lambda text: unicodedata.normalize(kind, text))
    if kind == 'Lowercase':
        return _mapped(rust_lowercase)
    if kind == 'StripAccents':
        marks = re.compile(f'[{mark_class()}]+')
        return _mapped(lambda text: marks.sub('', text))
    if kind == 'Nmt':
        return _mapped(lambda text: text.translate(_NMT_TABLE))
    if kind == 'Strip':
        return _strip(field(spec, 'strip_left', bool, where), field(spec, 'strip_right', bool, where))
    if kind == 'Prepend':
        return _prepend(field(spec, 'prepend', str, where))
    if kind == 'Replace':
        regex = compile_pattern(field(spec, 'pattern', dict, where), f'{where}.pattern')
        content = field(spec, 'content', str, where)
        whole = never_empty(regex)
        return lambda text, head: replaced(regex, content, text, head, whole)
    if kind == 'Precompiled':
        return _precompiled(spec, where)
    raise unsupported('normalizer', spec, where)


def split_spans(spans, behavior):
    """HF's ``NormalizedString::split`` on ``find_matches`` spans: the kept ``(start, end)``."""
    if behavior == 'Removed':
        return [(s, e) for s, e, is_match in spans if not is_match]
    if behavior == 'Isolated':
        return [(s, e) for s, e, _ in spans]
    out = []
    previous = False
    ordered = spans if behavior != 'MergedWithNext' else spans[::-1]
    for s, e, is_match in ordered:
        if behavior == 'Contiguous':
            merge = is_match == previous
        else:
            merge = is_match and not previous
        if merge and out:
            out[-1] = (out[-1][0], e) if behavior != 'MergedWithNext' else (s, out[-1][1])
        else:
            out.append((s, e))
        previous = is_match
    return out if behavior != 'MergedWithNext' else out[::-1]


BEHAVIORS = ('Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous')


def sliced(text, head, ranges):
    """The non-empty slices of a piece, with their heads."""
    return [(text[s:e], slice_head(head, s, e)) for s, e in ranges if e > s]


def metaspace_fields(spec, where):
    """Metaspace's replacement, prepend scheme and split (one struct for
    the pre-tokenizer and the decoder). Files older than ``prepend_scheme``
    say ``add_prefix_space``; HF now refuses ``add_prefix_space: false``
    without ``prepend_scheme: never``, and we read it as ``never``."""
    replacement = char_field(spec, 'replacement', where)
    scheme = field(spec, 'prepend_scheme', str, where, 'always')
    if scheme not in ('always', 'first', 'never'):
        raise ValueError(f'{where}.prepend_scheme: expected always, first or never, got {scheme!r}')
    if field(spec, 'add_prefix_space', (bool, type(None)), where, None) is False:
        if 'prepend_scheme' in spec and scheme != 'never':
            raise ValueError(f'{where}: add_prefix_space false contradicts prepend_scheme {scheme!r}')
        scheme = 'never'
    split = field(spec, 'split', (bool, type(None)), where, None)
    return replacement, scheme, True if split is None else split


def _metaspace(spec, where):
    replacement, scheme, split = metaspace_fields(spec, where)

    def one(text, head):
        text = text.replace(' ', replacement)
        if text and not text.startswith(replacement) and (
                scheme == 'always' or (scheme == 'first' and head)):
            text, head = replacement + text, head + 1 if head else head
        if not split:
            return [(text, head)] if text else []
        # HF splits before each replacement character (MergedWithNext on it)
        parts = text.split(replacement)
        pieces = [replacement + part for part in parts[1:]]
        if parts[0]:
            pieces.insert(0, parts[0])
        return with_heads(pieces, head)
    return one


def with_heads(pieces, head):
    """``(piece, its head)`` for the consecutive pieces of a text whose head is ``head``."""
    out = []
    start = 0
    for piece in pieces:
        if head is None or start >= head:
            break
        out.append((piece, slice_head(head, start, start + len(piece))))
        start += len(piece)
    out.extend((piece, None) for piece in pieces[len(out):])
    return out


def _regex_split(regex, behavior, invert):
    def one(text, head):
        spans = match_spans(regex, text)
        if invert:
            spans = [(s, e, not is_match) for s, e, is_match in spans]
        return sliced(text, head, split_spans(spans, behavior))
    return one


def _split(spec, where):
    regex = compile_pattern(field(spec, 'pattern', dict, where), f'{where}.pattern')
    behavior = field(spec, 'behavior', str, where)
    if behavior not in BEHAVIORS:
        raise ValueError(f'{where}.behavior: expected one of {", ".join(BEHAVIORS)}, got {behavior!r}')
    return _regex_split(regex, behavior, field(spec, 'invert', bool, where))


def _chained(steps):
    """One callable that passes its argument through ``steps`` in order."""
    def run(value):
        for step in steps:
            value = step(value)
        return value
    return run


def pre_tokenizer(spec, where):
    """A ``[(text, head)] -> [(text, head)]`` callable for a pre-tokenizer spec (None: identity)."""
    if spec is None:
        return lambda pieces: [p for p in pieces if p[0]]
    if not isinstance(spec, dict):
        raise ValueError(f'{where}: expected an object or null, got {spec!r}')
    kind = spec.get('type')
    if kind == 'Sequence':
        return _chained([pre_tokenizer(s, f'{where}.pretokenizers[{i}]')
                         for i, s in enumerate(field(spec, 'pretokenizers', list, where))])
    if kind == 'Metaspace':
        one = _metaspace(spec, where)
    elif kind == 'Split':
        one = _split(spec, where)
    elif kind == 'WhitespaceSplit':
        one = _regex_split(re.compile(f'[{WHITESPACE_CLASS}]'), 'Removed', False)
    elif kind == 'Whitespace':
        word = word_class()
        one = _regex_split(re.compile(f'[{word}]+|[^{word}{WHITESPACE_CLASS}]+'), 'Removed', True)
    else:
        raise unsupported('pre-tokenizer', spec, where)
    return lambda pieces: [p for text, head in pieces for p in one(text, head)]


_BYTE_TOKEN = re.compile(r'<0x([0-9A-Fa-f]{2}|\+[0-9A-Fa-f])>')  # what Rust's u8::from_str_radix reads


def _byte_fallback(tokens):
    out = []
    pending = bytearray()
    for token in tokens + [None]:
        byte = _BYTE_TOKEN.fullmatch(token) if token is not None else None
        if byte:
            pending.append(int(byte.group(1), 16))
            continue
        if pending:
            try:
                out.append(pending.decode('utf-8'))
            except UnicodeDecodeError:
                out.extend('\ufffd' * len(pending))  # one per byte, not Python's per-sequence rule
            pending.clear()
        if token is not None:
            out.append(token)
    return out


def _strip_decoder(content, start, stop):
    def run(tokens):
        out = []
        for token in tokens:
            lead = len(token) - len(token.lstrip(content))
            trail = len(token) - len(token.rstrip(content))
            out.append(token[min(lead, start):len(token) - min(trail, stop)])
        return out
    return run


def _metaspace_decoder(spec, where):
    replacement, scheme, _ = metaspace_fields(spec, where)

    def run(tokens):
        out = [t.replace(replacement, ' ') for t in tokens]
        if out and scheme != 'never':
            out[0] = tokens[0].replace(replacement, '')  # every replacement in the first token
        return out
    return run


def decoder(spec, where):
    """A ``[token] -> [token]`` callable for a decoder spec; None for no decoder."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError(f'{where}: expected an object or null, got {spec!r}')
    kind = spec.get('type')
    if kind == 'Sequence':
        return _chained([step for i, s in enumerate(field(spec, 'decoders', list, where))
                         if (step := decoder(s, f'{where}.decoders[{i}]')) is not None])
    if kind == 'Replace':
        regex = compile_pattern(field(spec, 'pattern', dict, where), f'{where}.pattern')
        content = field(spec, 'content', str, where)
        whole = never_empty(regex)
        return lambda tokens: [replaced(regex, content, t, None, whole)[0] for t in tokens]
    if kind == 'ByteFallback':
        return _byte_fallback
    if kind == 'Fuse':
        return lambda tokens: [''.join(tokens)]
    if kind == 'Strip':
        content = char_field(spec, 'content', where)
        return _strip_decoder(content, field(spec, 'start', int, where), field(spec, 'stop', int, where))
    if kind == 'Metaspace':
        return _metaspace_decoder(spec, where)
    raise unsupported('decoder', spec, where)
