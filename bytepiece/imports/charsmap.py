"""SentencePiece's normalization: the rules of a model's
``precompiled_charsmap`` and SentencePiece's normalizer over them
(``SentencePieceNormalizer``); HF tokenizers' ``Precompiled`` reading of the
same rules is ``hf_precompiled``.

A ``precompiled_charsmap`` is a little-endian uint32 trie size in bytes, a
Darts-clone double array of that size (its keys the UTF-8 texts a rule
replaces, its values offsets into what follows), then the replacements,
each ending with a NUL byte. An empty charsmap is the identity.
"""

import numpy as np

from ..core.text import encode_texts, encode_utf8, pack_bytes
from ..kernels.darts import darts_keys
from ..kernels.normalize import COPIED, JOINS, normalize_batch
from ..kernels.trie import build_trie

REPLACEMENT_CHARACTER = '\ufffd'.encode('utf-8')
FLAGS = frozenset({'add_dummy_prefix', 'remove_extra_whitespaces', 'escape_whitespaces', 'treat_whitespace_as_suffix'})
DARTS_ERRORS = {1: 'a unit points past the end of the double array',
                2: 'the double array has a cycle',
                3: 'a value points past the end of the replacements'}


def parse_charsmap(blob):
    """The rules of a SentencePiece ``precompiled_charsmap``: ``{key: replacement}``
    in UTF-8 bytes (an empty replacement deletes its key). A broken blob is a
    ValueError saying what is wrong."""
    blob = bytes(blob)
    if not blob:
        return {}
    if len(blob) < 8:
        raise ValueError(f'precompiled_charsmap of {len(blob)} bytes is truncated: '
                         f'it needs a 4-byte trie size and a trie of at least one 4-byte unit')
    trie_size = int.from_bytes(blob[:4], 'little')
    if trie_size == 0 or trie_size % 4:
        raise ValueError(f'precompiled_charsmap: trie size {trie_size} is not a positive multiple of 4 bytes')
    if trie_size > len(blob) - 4:
        raise ValueError(f'precompiled_charsmap: trie size {trie_size} exceeds the {len(blob) - 4} bytes after it')
    units = np.frombuffer(blob, '<u4', trie_size // 4, 4).astype(np.uint32)
    normalized = blob[4 + trie_size:]
    status, key_bytes, key_bounds, values = darts_keys(units, len(normalized))
    if status:
        raise ValueError(f'precompiled_charsmap: {DARTS_ERRORS[status]}')
    ends = np.flatnonzero(np.frombuffer(normalized, np.uint8) == 0)
    replacement = {}  # rules share few replacements
    for value in np.unique(values).tolist():
        at = np.searchsorted(ends, value)
        if at == ends.size:
            raise ValueError(f'precompiled_charsmap: the replacement at offset {value} has no terminating NUL')
        replacement[value] = normalized[value:ends[at]]
    keys = key_bytes.tobytes()
    bounds = key_bounds.tolist()
    return {keys[start:end]: replacement[value]
            for start, end, value in zip(bounds[:-1], bounds[1:], values.tolist())}


def compile_keys(keys):
    """A forward trie of byte-string ``keys`` in the layout the kernels walk:
    ``(units, unit_value)``, ``unit_value`` being the key's index; empty
    arrays for no keys (the kernels skip the walk)."""
    if not keys:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    reversed_keys = [key[::-1] for key in keys]
    data, offsets = pack_bytes(reversed_keys)
    n_keys = len(keys)
    trie = build_trie(data, offsets, np.arange(n_keys, dtype=np.int32), np.zeros(n_keys))
    return trie.units, trie.unit_token


def char_classes(rule_keys, user_keys):
    """The normalizer kernel's character classes (``kernels.normalize``), by
    code point below U+10000: ``COPIED`` for a character that is no rule
    key, starts no user-defined symbol and starts no rule key but ones whose
    second character is ``JOINS``; ``JOINS`` for a character that is the
    second of a rule key. A ``COPIED`` character not followed by a
    ``JOINS`` one normalizes to itself. A key that starts with a malformed or
    cut character counts for every character of its first byte."""
    classes = np.full(0x10000, COPIED, np.uint8)
    classes[0xD800:0xE000] = 0
    whole, seconds, cut = key_chars(rule_keys)
    classes[whole[whole < classes.size]] &= ~np.uint8(COPIED)
    classes[seconds[seconds < classes.size]] |= JOINS
    for key in cut:
        first, width = first_chars(key)
        if width == len(key):
            classes[first] &= ~np.uint8(COPIED)
        else:
            classes[first_chars(key[width:])[0]] |= JOINS
    for key in user_keys:
        classes[first_chars(key)[0]] &= ~np.uint8(COPIED)
    return classes


def key_chars(keys):
    """Rule keys by their characters: ``(whole, seconds, cut)``, the code
    points (int64 arrays) of the keys that are one character and of the
    second characters of longer keys, and the keys that are not UTF-8
    (malformed or cut), for ``first_chars`` to read byte by byte."""
    whole, seconds, cut = [], [], []
    for key in keys:
        try:
            text = key.decode('utf-8')
        except UnicodeDecodeError:
            cut.append(key)
            continue
        (whole if len(text) == 1 else seconds).append(ord(text[len(text) > 1]))
    return np.array(whole, np.int64), np.array(seconds, np.int64), cut


# UTF-8 by width: the bits of the first byte a code point keeps, its lowest code point
_LEAD_BITS = {2: 0x1F, 3: 0x0F, 4: 0x07}
_LOWEST = {2: 0x80, 3: 0x800, 4: 0x10000}


def first_chars(key):
    """The code points the first character of ``key`` may be, as a slice
    (one, or every character of its first byte when it is malformed or cut;
    none for a byte no character starts with), and its width in bytes, at
    most the key's. A table shorter than the slice's code points ignores it."""
    lead = key[0]
    width = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    try:
        char = key[:width].decode('utf-8')
    except UnicodeDecodeError:
        char = ''
    if len(char) == 1:
        return slice(ord(char), ord(char) + 1), width
    if not 0xC2 <= lead < 0xF5:
        return slice(0, 0), min(width, len(key))
    shift = 6 * (width - 1)
    start = (lead & _LEAD_BITS[width]) << shift
    return slice(max(start, _LOWEST[width]), start + (1 << shift)), min(width, len(key))


def check_rules(rules):
    if not isinstance(rules, dict):
        raise TypeError(f'rules must be a dict of bytes to bytes, got {type(rules).__name__}')
    for key, value in rules.items():
        if not isinstance(key, bytes) or not isinstance(value, bytes):
            raise TypeError(f'rules must map bytes to bytes, got {type(key).__name__} {key!r} '
                            f'to {type(value).__name__}')
        if not key:
            raise ValueError('a rule key is empty: every rule must replace at least one byte')
    return dict(rules)


def check_user_defined(user_defined):
    if isinstance(user_defined, str):
        raise TypeError('user_defined must be a sequence of str symbols, not one str')
    symbols = tuple(user_defined)
    for index, symbol in enumerate(symbols):
        if not isinstance(symbol, str) or not symbol:
            raise ValueError(f'user_defined[{index}] must be a non-empty str, got {symbol!r}')
        encode_utf8(symbol, index)
    return symbols


class SentencePieceNormalizer:
    """SentencePiece's ``Normalizer`` over ``rules`` (``parse_charsmap``), its
    whitespace flags and the model's user-defined symbols (copied verbatim
    where they occur, longest first, before any rule applies)."""

    def __init__(self, rules, *, add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces,
                 treat_whitespace_as_suffix=False, user_defined=(), one_byte_space=False):
        self.rules = check_rules(rules)
        self.user_defined = check_user_defined(user_defined)
        self.add_dummy_prefix = bool(add_dummy_prefix)
        self.remove_extra_whitespaces = bool(remove_extra_whitespaces)
        self.escape_whitespaces = bool(escape_whitespaces)
        self.treat_whitespace_as_suffix = bool(treat_whitespace_as_suffix)
        # every U+2581 of the result (escaped spaces, and the text's own) as the
        # byte 0x20: the form an encoder may match pieces in, on fewer bytes
        self.one_byte_space = bool(one_byte_space) and self.escape_whitespaces
        self._compile()

    def _compile(self):
        replacements = {}  # rules share few replacements: each is stored once
        for value in self.rules.values():
            replacements.setdefault(value, len(replacements))
        rule_units, rule_value = compile_keys(list(self.rules))
        rule_value = np.where(rule_value >= 0, np.array(
            [replacements[v] for v in self.rules.values()] + [0], np.int32)[rule_value], -1).astype(np.int32)
        pool, pool_bounds = pack_bytes(list(replacements) + [REPLACEMENT_CHARACTER])  # the last: a malformed byte's
        user_units, user_value = compile_keys([s.encode('utf-8') for s in self.user_defined])
        self._tables = (pool, pool_bounds, rule_units, rule_value, user_units, user_value,
                        char_classes(list(self.rules), [s.encode('utf-8') for s in self.user_defined]))

    def with_options(self, **changes):
        """A normalizer of the same rules and symbols with some flags changed
        (the compiled tables are shared, not rebuilt)."""
        unknown = set(changes) - FLAGS
        if unknown:
            raise TypeError(f'with_options takes the flags {sorted(FLAGS)}, not {sorted(unknown)}')
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        for name, value in changes.items():
            setattr(copy, name, bool(value))
        copy.one_byte_space = self.one_byte_space and copy.escape_whitespaces
        return copy

    def settings(self):
        """The constructor's arguments."""
        return {'rules': self.rules, 'add_dummy_prefix': self.add_dummy_prefix,
                'remove_extra_whitespaces': self.remove_extra_whitespaces,
                'escape_whitespaces': self.escape_whitespaces,
                'treat_whitespace_as_suffix': self.treat_whitespace_as_suffix,
                'user_defined': self.user_defined, 'one_byte_space': self.one_byte_space}

    def __getstate__(self):
        return self.settings()  # the tables are rebuilt, not pickled

    def __setstate__(self, state):
        self.__init__(state.pop('rules'), **state)

    def __repr__(self):
        flags = ', '.join(f'{k}={v!r}' for k, v in self.settings().items() if k != 'rules')
        return f'SentencePieceNormalizer(<{len(self.rules)} rules>, {flags})'

    def normalize(self, text):
        """``text`` normalized as SentencePiece's ``Normalizer::Normalize`` does."""
        out, _, _ = self._run(encode_texts([text], None, None), False)
        return out.tobytes().decode('utf-8')

    def normalize_batch(self, texts, alignment=False):
        """``texts`` normalized: ``(buf, bounds, align)``. Text ``t`` normalized
        is ``buf[bounds[t]:bounds[t+1]]`` (UTF-8). With ``alignment``, its
        ``norm_to_orig`` is ``align[bounds[t]+t:bounds[t+1]+t+1]``: per
        normalized byte, the offset in text ``t``'s UTF-8 it came from, then
        where the text ends; ``align`` is None without. A text normalized to
        nothing has one entry (SentencePiece gives none)."""
        if isinstance(texts, str):
            raise TypeError('texts must be a list of str, not one str')
        out, out_bounds, align = self._run(encode_texts(list(texts), None), bool(alignment))
        return out, out_bounds, align if alignment else None

    def kernel_arguments(self):
        """The normalizer's arguments to ``kernels.normalize.normalize_batch``
        after ``buf`` and ``bounds``, its flags one by one (no alignment), for
        kernels that normalize and then segment in one call."""
        return (*self._tables, self.add_dummy_prefix, self.remove_extra_whitespaces, self._escape(),
                self.treat_whitespace_as_suffix, self.one_byte_space)

    def _escape(self):
        """Whether the kernel writes an escaped space as U+2581's three bytes."""
        return self.escape_whitespaces and not self.one_byte_space

    def _run(self, encoded, with_alignment):
        """The kernel over a list of UTF-8 texts."""
        buf, bounds = pack_bytes(encoded)
        flags = (self.add_dummy_prefix, self.remove_extra_whitespaces, self._escape(),
                 self.treat_whitespace_as_suffix, with_alignment, self.one_byte_space)
        return normalize_batch(buf, bounds, *self._tables, flags)
