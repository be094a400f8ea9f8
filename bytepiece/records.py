"""Reading the records of a corpus file's byte range (see ``bytepiece.inputs``).

A record is a line of JSON lines (or of text read a line a document), or, for text, a run of lines ending in a
run of newlines. A partition owns the records that start in its byte range,
so ranges cut anywhere tile the file; its bytes are read in blocks of whole
records, decoded under the error policy, and turned into documents.
"""

import json
import re

READ_BLOCK = 4 << 20
_SURROGATE = re.compile('[\ud800-\udfff]')


def _next_boundary(data, i, is_text, eof):
    """The first record start at or after index ``i >= 1`` of ``data`` (a
    record starts after a newline, for text after a run of newlines; the end
    of the file ends the last record), or None if more data must be read."""
    k = data.find(b'\n', i - 1)
    if k < 0:
        return len(data) if eof else None
    j = k + 1
    if is_text:
        while j < len(data) and data[j] == 10:
            j += 1
        if j == len(data) and not eof:
            return None
    return j


def _last_boundary(data, is_text, eof):
    """The last record start in ``data`` (0 if none is known yet)."""
    if eof:
        return len(data)
    k = data.rfind(b'\n')
    if k < 0:
        return 0
    if is_text and k + 1 == len(data):  # a trailing run of newlines may go on
        k = data.rstrip(b'\n').rfind(b'\n')
    return k + 1


class _Block:
    """Whole records read from a file: ``data`` starts at byte ``offset``,
    on line ``line`` (None when the partition did not start the file)."""
    __slots__ = ('data', 'offset', 'line')

    def __init__(self, data, offset, line):
        self.data, self.offset, self.line = data, offset, line

    def place(self, path, i):
        """Where byte ``i`` of the block is, for messages: ``path:line`` and
        the byte in that line, or the byte in the file."""
        if self.line is None:
            return f'{path} at byte {self.offset + i}', ''
        line = self.line + self.data.count(b'\n', 0, i)
        column = i - self.data.rfind(b'\n', 0, i) - 1
        return f'{path}:{line}', f' at byte {column}'

    def lines(self):
        """The block's lines (newline kept) as blocks."""
        start, line = 0, self.line
        while start < len(self.data):
            end = self.data.find(b'\n', start)
            end = len(self.data) if end < 0 else end + 1
            yield _Block(self.data[start:end], self.offset + start, line)
            start = end
            line = None if line is None else line + 1


def blocks(f, part):
    """Blocks of whole records covering the partition: the records that start
    at bytes ``start..end-1`` of the file (a record belongs to the partition
    holding its first byte)."""
    is_text = part.format == 'text'
    pos = max(part.start - 1, 0)  # the file offset of data[0]
    if pos:
        f.seek(pos)
    data = b''
    begun = part.start == 0
    line = 1 if begun else None
    while True:
        block = f.read(READ_BLOCK)
        eof = not block
        data += block
        if not begun:
            j = _next_boundary(data, part.start - pos, is_text, eof)
            if j is None:
                continue
            data, pos, begun = data[j:], pos + j, True
        if part.end >= 0 and pos + len(data) >= part.end:
            j = _next_boundary(data, max(part.end - pos, 1), is_text, eof) if part.end > pos else 0
            if j is not None:
                if j:
                    yield _Block(data[:j], pos, line)
                return
        else:
            j = _last_boundary(data, is_text, eof)
            if j:
                yield _Block(data[:j], pos, line)
                line = None if line is None else line + data.count(b'\n', 0, j)
                data, pos = data[j:], pos + j
        if eof:
            return


def _decode(block, part, report):
    """The block as str under the error policy, or None to drop it."""
    try:
        return block.data.decode('utf-8')
    except UnicodeDecodeError as e:
        place, column = block.place(part.path, e.start)
        if part.errors == 'strict':
            raise ValueError(f'{place}: invalid UTF-8{column}') from None
        if part.errors == 'skip':
            report.drop(place, f'invalid UTF-8{column}')
            return None
        report.replaced += 1
        return block.data.decode('utf-8', errors='replace')


def text_documents(blocks, part, report):
    """Each block of text is one document (blocks end after a run of
    newlines); under ``'skip'``, a line that is not UTF-8 is dropped."""
    for block in blocks:
        try:
            text = block.data.decode('utf-8')
        except UnicodeDecodeError:
            if part.errors != 'skip':
                text = _decode(block, part, report)
            else:
                text = ''.join(t for t in (_decode(b, part, report) for b in block.lines()) if t is not None)
        report.documents += 1
        report.input_bytes += len(block.data)
        yield text


def line_documents(blocks, part, report):
    """The field of each JSON line, or each non-empty line of text."""
    for block in (line for block in blocks for line in block.lines()):
        report.input_bytes += len(block.data)
        # blank lines are no documents (checked without a copy of a long line)
        if block.data in (b'', b'\n') or part.format != 'lines' and block.data.isspace():
            continue
        line = _decode(block, part, report)
        if line is None:
            continue
        if part.format == 'lines':
            report.documents += 1
            text, line = line[:-1] if line.endswith('\n') else line, None  # one copy alive while it is read
            yield text
            continue
        text = None
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or part.field not in obj:
                raise KeyError
            text = obj[part.field]
            if not isinstance(text, str):
                raise TypeError
            if '\\u' in line:  # only a \uXXXX escape can make a lone surrogate
                text.encode('utf-8')
        except (ValueError, KeyError, TypeError) as e:
            text = _bad_record(e, block, part, report, text)
            if text is None:
                continue
        report.documents += 1
        line = obj = None
        yield text


def _bad_record(error, block, part, report, text):
    """A JSON line that cannot give its text: raised, dropped (None), or for
    a lone surrogate under ``'replace'``, the text repaired."""
    if isinstance(error, UnicodeEncodeError):
        what = f'a lone surrogate in field {part.field!r} (not UTF-8)'
        if part.errors == 'replace':
            report.replaced += 1
            return _SURROGATE.sub('\ufffd', text)
    elif isinstance(error, TypeError):
        what = f'field {part.field!r} is not a string'
    elif isinstance(error, KeyError):
        what = f'no field {part.field!r}'
    else:
        what = f'invalid JSON ({error})'
    place = block.place(part.path, 0)[0]
    if part.errors == 'strict':
        raise ValueError(f'{place}: {what}') from None
    report.drop(place, what)
    return None
