"""Reading the records of a corpus file's byte range (see ``bytepiece.corpus.inputs``).

A record is a line of JSON lines or of text read a line a document, a
paragraph of text read by paragraphs (lines up to a run of empty lines), or
a whole file. A partition owns the records that start in its byte range,
so ranges cut anywhere tile the file; its bytes are read in blocks of whole
records, decoded under the error policy, and turned into documents.
"""

import json
import re

import orjson

READ_BLOCK = 4 << 20
# The line of a block after a partition's first one: the consumer carries the
# numbering on from the previous block (counting costs a pass over the data).
CONTINUED = -1
_SURROGATE = re.compile('[\ud800-\udfff]')
_PARAGRAPH_BREAK = re.compile(rb'\n\n+')
# What ends a record, by format (None: only the end of the file does)
_RECORD_ENDS = {'jsonl': b'\n', 'lines': b'\n', 'paragraphs': b'\n\n', 'file': None}


def lookback(fmt):
    """How many bytes before a partition's start must be read to tell
    whether a record starts there."""
    end = _RECORD_ENDS[fmt]
    return len(end) if end else 0


def _next_boundary(data, i, end, eof):
    """The first record start at or after index ``i >= lookback`` of
    ``data``: after the record end ``end`` (for paragraphs, after the whole
    run of newlines); the end of the file ends the last record. None if more
    data must be read."""
    k = data.find(end, i - len(end)) if end else -1
    if k < 0:
        return len(data) if eof else None
    j = k + len(end)
    if len(end) > 1:
        while j < len(data) and data[j] == 10:
            j += 1
        if j == len(data) and not eof:
            return None
    return j


def _last_boundary(data, end, eof):
    """The last record start in ``data`` (0 if none is known yet)."""
    if eof:
        return len(data)
    if not end:
        return 0
    if len(end) == 1:
        return data.rfind(end) + 1
    # a trailing run of newlines may go on: the last break followed by text
    text_end = len(data)
    while text_end and data[text_end - 1] == 10:
        text_end -= 1
    k = data.rfind(end, 0, text_end)
    if k < 0:
        return 0
    j = k + len(end)
    while data[j] == 10:
        j += 1
    return j


class _Block:
    """Whole records read from a file: ``data`` starts at byte ``offset``,
    on line ``line`` (None when the partition did not start the file;
    ``CONTINUED`` on the blocks after the first)."""
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
    holding its first byte). A block's ``data`` is a ``bytearray``; the
    buffer grows in place, so a long record is held about once, not once
    per read. The first block's ``line`` is 1 or None, the others'
    ``CONTINUED``."""
    end_of_record = _RECORD_ENDS[part.format]
    pos = max(part.start - lookback(part.format), 0)  # the file offset of data[0]
    if pos:
        f.seek(pos)
    data = bytearray()
    begun = part.start == 0
    line = 1 if begun else None
    scan = part.start - pos  # where the search for the first record goes on
    while True:
        chunk = f.read(READ_BLOCK)
        eof = not chunk
        data += chunk
        chunk = None
        if not begun:
            j = _next_boundary(data, scan, end_of_record, eof)
            if j is None:
                if part.end >= 0 and pos + len(data) >= part.end:
                    return  # no record starts in the range: the partition owns none
                scan = max(scan, len(data) - len(end_of_record) + 1)
                continue
            data, pos, begun = data[j:], pos + j, True
        # the reader of a block takes its data: no reference is kept here
        if part.end >= 0 and pos + len(data) >= part.end:
            j = (_next_boundary(data, max(part.end - pos, lookback(part.format)), end_of_record, eof)
                 if part.end > pos else 0)
            if j is not None:
                if j:
                    del data[j:]
                    block, data = _Block(data, pos, line), None
                    yield block
                return
        else:
            j = _last_boundary(data, end_of_record, eof)
            if j:
                tail = data[j:]
                del data[j:]  # the records stay in the buffer, not copied
                block, data, tail = _Block(data, pos, line), tail, None
                line = CONTINUED
                pos += j
                yield block
                block = None
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


def paragraph_documents(blocks, part, report):
    """The paragraphs of text: lines up to a run of empty lines, each
    without the line break after its last line; each is decoded alone, so
    under ``'skip'`` a paragraph that is not UTF-8 is the record dropped."""
    number = None
    for block in blocks:
        data, block.data = block.data, None
        number = block.line if block.line != CONTINUED else number
        report.input_bytes += len(data)
        start = 0
        for brk in _PARAGRAPH_BREAK.finditer(data):
            yield from _paragraph(data, start, brk.start(), block.offset, number, part, report)
            start = brk.end()
        yield from _paragraph(data, start, len(data), block.offset, number, part, report)
        if number is not None:
            number += data.count(b'\n')


def _paragraph(data, start, end, offset, number, part, report):
    """The document of ``data[start:end]`` (a paragraph, maybe with an empty
    line before it or a line break after it at the file's ends), if any."""
    while start < end and data[start] == 10:
        start += 1
    if end > start and data[end - 1] == 10:
        end -= 1
    if end <= start:
        return
    try:
        text = data[start:end].decode('utf-8')
    except UnicodeDecodeError:
        line = None if number is None else number + data.count(b'\n', 0, start)
        text = _decode(_Block(data[start:end], offset + start, line), part, report)
    if text is not None:
        report.documents += 1
        yield text


def file_documents(blocks, part, report):
    """The whole file as one document, every byte of it (an empty file has
    none); under ``'skip'`` a file that is not UTF-8 is the record dropped."""
    for block in blocks:
        report.input_bytes += len(block.data)
        text = _decode(block, part, report)
        block.data = None
        if text:
            report.documents += 1
            yield text


def line_documents(blocks, part, report):
    """The field of each JSON line, or each non-empty line of text (its line
    break not part of it). Lines
    are read as views of their block, without a copy."""
    number = None
    for block in blocks:
        data, block.data = block.data, None
        size, view, start = len(data), memoryview(data), 0
        number = block.line if block.line != CONTINUED else number
        report.input_bytes += size
        while start < size:
            end = data.find(b'\n', start)
            end = size if end < 0 else end + 1
            text = _document(view[start:end], part, report, block.offset + start, number)
            start, number = end, None if number is None else number + 1
            if start == size:  # the buffer is freed before its last document is used
                view.release()
                view = data = None
            if text is not None:
                report.documents += 1
                yield text
                text = None  # not kept while the next line is parsed


def _document(line, part, report, offset, number):
    """The document of one line (a memoryview, newline included), or None for
    a blank or dropped line."""
    if part.format == 'lines':
        line = line[:-1] if line[-1:] == b'\n' else line
        if not line:
            return None
        try:
            return str(line, 'utf-8')
        except UnicodeDecodeError:
            return _decode(_Block(line.tobytes(), offset, number), part, report)
    text = _json_field(line, part)
    if text is not None:
        return text
    raw = line.tobytes()  # a line the fast parser refused, copied once for the closer look
    return None if raw.isspace() else _json_record(_Block(raw, offset, number), part, report)  # blank: none


def _json_field(line, part):
    """The field's text by the fast parser, or None for a record that needs
    a closer look (invalid, no such field, not a string, NaN, a lone
    surrogate): ``_json_record`` then decides as ``json`` does."""
    try:
        obj = orjson.loads(line)
        text = obj[part.field]
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return text if type(obj) is dict and type(text) is str else None


def _json_record(block, part, report):
    """The field's text of a JSON line by Python's ``json``, under the error
    policy (None: the record is dropped)."""
    line = _decode(block, part, report)
    if line is None:
        return None
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
    return text


def json_fault(error, field):
    """What is wrong with a JSON line that gives no text, by the error its
    reading raised: the one wording of training and of every encoder."""
    if isinstance(error, UnicodeEncodeError):
        return f'a lone surrogate in field {field!r} (not UTF-8)'
    if isinstance(error, TypeError):
        return f'field {field!r} is not a string'
    if isinstance(error, KeyError):
        return f'no field {field!r}'
    return f'invalid JSON ({error})'


def _bad_record(error, block, part, report, text):
    """A JSON line that cannot give its text: raised, dropped (None), or for
    a lone surrogate under ``'replace'``, the text repaired."""
    if isinstance(error, UnicodeEncodeError) and part.errors == 'replace':
        report.replaced += 1
        return _SURROGATE.sub('\ufffd', text)
    what = json_fault(error, part.field)
    place = block.place(part.path, 0)[0]
    if part.errors == 'strict':
        raise ValueError(f'{place}: {what}') from None
    report.drop(place, what)
    return None
