"""The regular expressions of HF ``tokenizers``, in Python's ``re``.

HF compiles ``Regex`` patterns with Oniguruma (Ruby syntax) and a few fixed
ones with Rust's ``regex``; both read ``\\s`` and ``\\w`` by Unicode
properties that Python's ``re`` does not share, and Oniguruma's ``^``, ``$``
and ``\\Z`` are line anchors. ``translate_oniguruma`` rewrites the patterns
converters write into equivalent Python patterns and refuses constructs it
cannot translate faithfully. ``match_spans`` lists matches the way HF's
``find_matches`` does, empty matches included.
"""

import functools
import re
import sys
import unicodedata

# Unicode White_Space: Rust's char::is_whitespace, regex's \s and Oniguruma's \s.
WHITESPACE = ('\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008'
              '\u2009\u200a\u2028\u2029\u202f\u205f\u3000')
WHITESPACE_CLASS = ''.join(f'\\u{ord(c):04x}' for c in WHITESPACE)

# Other_Alphabetic characters outside the mark categories (circled and squared letters).
_OTHER_ALPHABETIC = ((0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189))
_JOIN_CONTROL = ((0x200C, 0x200D),)


def _ranges_class(ranges):
    def esc(cp):
        return f'\\U{cp:08x}'
    return ''.join(esc(a) if a == b else f'{esc(a)}-{esc(b)}' for a, b in ranges)


@functools.lru_cache(maxsize=None)
def category_ranges(prefixes, extra=()):
    """Code point ranges whose general category starts with one of ``prefixes``, plus ``extra``."""
    points = [cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith(prefixes)]
    for a, b in extra:
        points.extend(range(a, b + 1))
    points = sorted(set(points))
    ranges = []
    for cp in points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return tuple((a, b) for a, b in ranges)


@functools.lru_cache(maxsize=None)
def word_class():
    """Rust regex's Unicode ``\\w`` (Alphabetic, marks, Nd, Pc, Join_Control), as class contents."""
    return _ranges_class(category_ranges(('L', 'M', 'Nd', 'Nl', 'Pc'), _OTHER_ALPHABETIC + _JOIN_CONTROL))


@functools.lru_cache(maxsize=None)
def mark_class():
    """The combining marks (Mn, Mc, Me), as class contents."""
    return _ranges_class(category_ranges(('M',)))


# Oniguruma escapes outside a class, and what they become in Python.
_ESCAPES = {
    'A': r'\A', 'z': r'\Z', 'Z': r'(?=\n?\Z)', 'd': r'\d', 'D': r'\D',
    's': f'[{WHITESPACE_CLASS}]', 'S': f'[^{WHITESPACE_CLASS}]',
    't': r'\t', 'n': r'\n', 'r': r'\r', 'f': r'\f', 'v': r'\v', 'a': r'\a', 'e': r'\x1b',
}
_CLASS_ESCAPES = {'d': r'\d', 's': WHITESPACE_CLASS, 't': r'\t', 'n': r'\n', 'r': r'\r', 'f': r'\f',
                  'v': r'\v', 'a': r'\a', 'e': r'\x1b'}
_HEX = re.compile(r'x([0-9A-Fa-f]{1,2})|x\{([0-9A-Fa-f]{1,8})\}|u([0-9A-Fa-f]{4})')
_QUANTIFIER = re.compile(r'[*+?]|\{\d*(?:,\d*)?\}')


class Untranslatable(ValueError):
    """A pattern construct whose Oniguruma meaning ``re`` cannot reproduce."""


def _escape(pattern, i, in_class):
    """The Python text for the escape at ``pattern[i] == '\\\\'`` and the index after it."""
    if i + 1 >= len(pattern):
        raise Untranslatable('a trailing backslash')
    c = pattern[i + 1]
    hexed = _HEX.match(pattern, i + 1)
    if hexed:
        code = int(next(g for g in hexed.groups() if g), 16)
        if code > sys.maxunicode:
            raise Untranslatable(f'the escape {hexed.group()!r} is out of range')
        return re.escape(chr(code)), hexed.end()
    table = _CLASS_ESCAPES if in_class else _ESCAPES
    if c in table:
        return table[c], i + 2
    if c.isascii() and c.isalnum():
        raise Untranslatable(f'the escape \\{c}')
    return re.escape(c), i + 2


def _char_class(pattern, i):
    """The Python text for the class starting at ``pattern[i] == '['`` and the index after it."""
    out = ['[']
    j = i + 1
    if j < len(pattern) and pattern[j] == '^':
        out.append('^')
        j += 1
    first = True
    while j < len(pattern):
        c = pattern[j]
        if c == ']' and not first:
            out.append(']')
            return ''.join(out), j + 1
        if c == '[' or pattern.startswith('&&', j):
            raise Untranslatable('nested classes, class intersections or POSIX brackets')
        if c == '\\':
            text, j = _escape(pattern, j, True)
            out.append(text)
        else:
            out.append('-' if c == '-' else re.escape(c))
            j += 1
        first = False
    raise Untranslatable('an unterminated character class')


def _group_opening(pattern, i):
    """The Python text for the group opening at ``pattern[i] == '('`` and the index after it."""
    for opening in ('(?:', '(?=', '(?!', '(?<=', '(?<!'):
        if pattern.startswith(opening, i):
            return opening, i + len(opening)
    if pattern.startswith('(?', i):
        raise Untranslatable('named groups, atomic groups, options or comments')
    return '(', i + 1


def translate_oniguruma(pattern):
    """A Python ``re`` pattern matching what Oniguruma's ``pattern`` matches in HF."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == '\\':
            text, i = _escape(pattern, i, False)
        elif c == '[':
            text, i = _char_class(pattern, i)
        elif c == '(':
            text, i = _group_opening(pattern, i)
        elif c == '^':
            text, i = r'(?:\A|(?<=\n)(?!\Z))', i + 1
        elif c == '$':
            text, i = r'(?=\n|\Z)', i + 1
        elif c in ')|.':
            text, i = c, i + 1
        else:
            quantifier = _QUANTIFIER.match(pattern, i)
            if quantifier:
                text, i = quantifier.group(), quantifier.end()
                if pattern.startswith('?', i):
                    text, i = text + '?', i + 1
                elif pattern.startswith('+', i):
                    raise Untranslatable('possessive quantifiers')
            else:
                text, i = re.escape(c), i + 1
        out.append(text)
    translated = ''.join(out)
    try:
        re.compile(translated)
    except re.error as error:
        raise Untranslatable(f'Python cannot compile it ({error})') from None
    return translated


def compile_pattern(pattern, where):
    """The compiled form of a ``{"String": ...}`` or ``{"Regex": ...}`` pattern object."""
    if not isinstance(pattern, dict) or len(pattern) != 1:
        raise ValueError(f'{where}: expected {{"String": ...}} or {{"Regex": ...}}, got {pattern!r}')
    (kind, value), = pattern.items()
    if not isinstance(value, str):
        raise ValueError(f'{where}.{kind}: expected a string, got {value!r}')
    if kind == 'String':
        return re.compile(re.escape(value))
    if kind == 'Regex':
        try:
            return re.compile(translate_oniguruma(value))
        except Untranslatable as error:
            raise ValueError(f'{where}.Regex {value!r} is not supported: {error}') from None
    raise ValueError(f'{where}: unknown pattern kind {kind!r}')


def match_spans(regex, text):
    """HF's ``find_matches``: ``(start, end, is_match)`` covering ``text`` in order.

    Oniguruma's iterator goes on one character after an empty match and
    skips an empty match where the previous match ended; Python's
    ``finditer`` would try a longer match at the same place and report it."""
    return list(iter_match_spans(regex, text))


def iter_match_spans(regex, text, until=None):
    """``match_spans`` one at a time, for callers that stop early. With
    ``until``, matches starting after it are not looked for: the rest of
    the text is one span without a match (a search would read it all)."""
    if not text:
        yield 0, 0, False
        return
    prev = pos = 0
    last_end = None
    while pos <= len(text):
        if until is None:
            m = regex.search(text, pos)
        else:
            m = next(filter(None, (regex.match(text, p) for p in range(pos, min(until, len(text)) + 1))), None)
        if m is None:
            break
        start, end = m.span()
        pos = end + 1 if start == end else end
        if start == end and start == last_end:
            continue
        if prev != start:
            yield prev, start, False
        yield start, end, True
        prev = last_end = end
    if prev != len(text):
        yield prev, len(text), False


def never_empty(regex):
    """Whether no match of ``regex`` can be empty. Its matches are then
    those Python's own ``sub`` and ``finditer`` find (they differ from
    HF's only around empty matches)."""
    parser = getattr(re, '_parser', None) or getattr(re, 'sre_parse', None)  # re's own parser (3.11+, 3.10)
    if parser is None:
        return False
    try:
        return parser.parse(regex.pattern, regex.flags).getwidth()[0] > 0
    except Exception:  # noqa: BLE001 - any doubt: HF's iteration, match by match
        return False
