"""Command-line formats: pieces shown as words, ids written as text lines
without a Python object per token, and JSON-lines records read."""

import json
import re

import numpy as np

from ..core.pieces import id_out_of_range
from ..corpus.records import json_fault
from ..kernels.decode import parse_decimal_ids

_DISPLAY = {0xDC00 + b: f'\\x{b:02x}' for b in range(0x80, 0x100)}  # invalid bytes (surrogateescape)
_DISPLAY.update({c: f'\\x{c:02x}' for c in list(range(0x20)) + [0x7F]})
_DISPLAY.update({ord('\\'): '\\\\', ord(' '): '\u2581', ord('\n'): '\\n', ord('\t'): '\\t', ord('\r'): '\\r'})


def display_piece(piece):
    """A piece as a single whitespace-free word: bytes that are not valid
    UTF-8 and control characters as ``\\xNN``, space as U+2581, newline, tab
    and carriage return as ``\\n``, ``\\t``, ``\\r``, backslash doubled;
    special tokens (str) as they are."""
    if isinstance(piece, str):
        return piece
    return piece.decode('utf-8', errors='surrogateescape').translate(_DISPLAY)


def display_table(tokenizer):
    """Display string of every id, computed once."""
    return [display_piece(tokenizer.id_to_piece(i)) for i in range(tokenizer.vocab_size)]


class LineFormatter:
    """Formats token ids as text lines with numpy, without a Python object
    per token: line ``t`` is ``start + s[id0] + sep + s[id1] + ... + end``
    where ``s`` are the given strings of the ids."""

    def __init__(self, strings, sep, start, end):
        n = len(strings)
        entries = [x.encode('utf-8') for x in strings]
        entries += [sep.encode('utf-8') + x for x in entries] + [start.encode('utf-8'), end.encode('utf-8')]
        lengths = np.fromiter(map(len, entries), np.int64, len(entries))
        self.data = np.frombuffer(b''.join(entries), np.uint8)
        self.offsets = np.zeros(len(entries) + 1, np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        self.lengths = lengths
        self.n = n

    def format(self, ids, starts):
        """The bytes of all lines for a flat ids array and text starts."""
        n, n_texts = self.n, starts.size - 1
        entry = ids.astype(np.int64) + n  # with the separator ...
        firsts = starts[:-1][np.diff(starts) > 0]
        entry[firsts] -= n  # ... except for the first token of a line
        marks = np.empty(2 * n_texts, np.int64)
        marks[0::2] = 2 * n  # line start, then line end
        marks[1::2] = 2 * n + 1
        where = np.empty(2 * n_texts, np.int64)
        where[0::2] = starts[:-1]
        where[1::2] = starts[1:]
        entry = np.insert(entry, where, marks)  # stable: a line's start comes before its end
        parts = []
        for a in range(0, entry.size, 1 << 18):  # bounded temporaries
            part = entry[a:a + (1 << 18)]
            lengths = self.lengths[part]
            total = int(lengths.sum())
            out_start = np.cumsum(lengths) - lengths
            # byte k of the output comes from data[src_start + (k - out_start)] of its entry
            shift = np.repeat(self.offsets[part] - out_start, lengths)
            parts.append(self.data[np.arange(total, dtype=np.int64) + shift].tobytes())
        return b''.join(parts)


def json_line(name, number, line):
    """The JSON document of one input line (None for a blank line)."""
    if not line.strip():
        return None
    try:
        return json.loads(line)
    except UnicodeDecodeError as e:
        raise ValueError(f'{name}:{number}: invalid UTF-8 at byte {e.start}') from None
    except json.JSONDecodeError as e:
        raise ValueError(f'{name}:{number}: {json_fault(e, None)}') from None


def jsonl_record(name, number, line, field):
    """The JSON record of one input line, checked to hold the text ``field``
    (None for a blank line)."""
    doc = json_line(name, number, line)
    if doc is None:
        return None
    if not isinstance(doc, dict) or field not in doc:
        raise ValueError(f'{name}:{number}: {json_fault(KeyError(field), field)}')
    if not isinstance(doc[field], str):
        raise ValueError(f'{name}:{number}: {json_fault(TypeError(), field)}')
    return doc


def ids_records(id_lines, records, field):
    """JSON lines of ids (``id_lines``: ``[...]`` per record with a text),
    each record keeping its other fields, the text ``field`` replaced by
    ``"ids"``; a blank line for each None record."""
    lines = iter(id_lines)
    out = []
    for record in records:
        if record is None:
            out.append(b'\n')
            continue
        rest = {k: v for k, v in record.items() if k != field and k != 'ids'}
        head = json.dumps(rest, ensure_ascii=False)[:-1] + ', ' if rest else '{'
        out.append(head.encode('utf-8') + b'"ids": ' + next(lines) + b'}\n')
    return b''.join(out)


def parse_ids(name, number, line, field, jsonl, vocab_size):
    """The ids of one input line (None for a blank jsonl line): plain
    decimal ids (``int()`` would also take ``+5`` and ``1_0``), parsed with
    no Python object per id; a minus sign is let through so that the range
    check names the id. An id beyond int32 is named here, with the range
    ``[0, vocab_size)`` as the check gives it."""
    if jsonl:
        doc = json_line(name, number, line)
        if doc is None:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get(field), list):
            raise ValueError(f'{name}:{number}: no list field {field!r} in the JSON document')
        return doc[field]
    ids, bad = parse_decimal_ids(np.frombuffer(line, np.uint8))
    if bad >= 0:
        word = line[bad:].split(None, 1)[0]
        if re.fullmatch(rb'-?[0-9]+', word):
            raise ValueError(f'{name}:{number}: {id_out_of_range(word.decode(), ids.size, vocab_size)}')
        word = word.decode('utf-8', 'replace')
        shown = repr(word) if len(word) <= 40 else f'{word[:30]!r}... ({len(word)} characters)'
        raise ValueError(f'{name}:{number}: {shown} is not a token id')
    return ids


# backslash, newline and CR in decoded text written one line each (--escape)
ESCAPES = str.maketrans({'\\': '\\\\', '\n': '\\n', '\r': '\\r'})
