"""Inputs: corpora of documents in files, read in partitions by any worker.

A corpus is named by paths, directories (every file below, hidden ones
excepted), glob patterns or fsspec URLs (``s3://``, ``gs://``, ``hf://``...,
with the fsspec backend installed). The format follows the extension, after
any compression suffix (``.gz``, ``.bz2``, ``.xz``, ``.zst``):

- ``.jsonl``, ``.ndjson``, ``.json``: JSON lines; the text is ``field``;
- ``.parquet``: the column ``field`` (``pip install 'bytepiece[parquet]'``);
- anything else: plain UTF-8 text, whose documents ``text_documents`` says:
  ``'line'`` (the default, as SentencePiece and HF ``datasets`` read text):
  each non-empty line, without its line break; ``'paragraph'``: lines up to
  a run of empty lines, their inner line breaks kept; ``'file'``: the whole
  file, every byte of it (for code, where lines and blank lines belong to
  the document).

Large uncompressed files are cut into byte ranges of about
``partition_bytes``, each starting at a record boundary (a line, or a
paragraph); a compressed file, and a file read whole, is one partition, a
Parquet file one partition per row group. A partition is small
and picklable: a worker reads it itself, so the driver never holds the text.

Bad records follow ``errors``: ``'strict'`` raises a ValueError naming the
file and place; ``'skip'`` drops the record; ``'replace'`` decodes invalid
UTF-8 as U+FFFD (a record that is not JSON, or lacks the field, is dropped).
Dropped records are counted in the partition's ``ReadReport``.
"""

import contextlib
import os
from dataclasses import dataclass, field as dataclass_field
from typing import List, Optional

import fsspec

from ..runtime import extras
from ..runtime.fileio import DAMAGED_DATA, RetryingReader, damaged
from . import records

FORMATS = ('lines', 'paragraphs', 'file', 'jsonl', 'parquet')
TEXT_DOCUMENTS = {'line': 'lines', 'paragraph': 'paragraphs', 'file': 'file'}  # option: partition format
DEFAULT_TEXT_DOCUMENTS = 'line'
ERRORS = ('strict', 'skip', 'replace')
COMPRESSIONS = {'.gz': 'gzip', '.bz2': 'bz2', '.xz': 'xz', '.lzma': 'xz', '.zst': 'zstd'}
_JSONL_SUFFIXES = ('.jsonl', '.ndjson', '.json')
PARTITION_BYTES = 64 << 20
MAX_REPORTED = 5


@dataclass(frozen=True)
class Partition:
    """A piece of a corpus one task reads: bytes ``start..end`` of a file
    (``end`` -1: to its end), or row group ``start`` of a Parquet file."""
    index: int
    path: str
    format: str
    compression: Optional[str]
    field: str
    errors: str
    start: int = 0
    end: int = -1
    size: int = 0  # bytes (of the compressed file, or of the row group's data), for progress


@dataclass
class ReadReport:
    """What reading a partition gave: documents, input bytes read, and
    records dropped (or repaired) under the error policy, with the first
    places."""
    documents: int = 0
    input_bytes: int = 0
    skipped: int = 0
    replaced: int = 0
    places: List[str] = dataclass_field(default_factory=list)

    def drop(self, place, what):
        self.skipped += 1
        if len(self.places) < MAX_REPORTED:
            self.places.append(f'{place}: {what}')

    def add(self, other):
        self.documents += other.documents
        self.input_bytes += other.input_bytes
        self.skipped += other.skipped
        self.replaced += other.replaced
        self.places.extend(other.places[:MAX_REPORTED - len(self.places)])


def detect(path):
    """``(format, compression)`` of a file by its name."""
    low = path.lower()
    compression = next((c for s, c in COMPRESSIONS.items() if low.endswith(s)), None)
    if compression:
        low = low[:low.rindex('.')]
    if low.endswith(_JSONL_SUFFIXES):
        return 'jsonl', compression
    if low.endswith('.parquet'):
        return 'parquet', compression
    return 'text', compression


def resolve(files):
    """The files named by ``files`` (a path, URL, directory or glob, or a
    list of them) as sorted ``(url, size)`` pairs; a missing one is an error."""
    names = [files] if isinstance(files, (str, bytes, os.PathLike)) else list(files)
    if not names:
        raise ValueError('no corpus files given')
    found = []
    for name in names:
        if not isinstance(name, (str, bytes, os.PathLike)):
            raise TypeError(f'a corpus file is a path or URL, got {type(name).__name__}')
        name = os.fsdecode(name)
        fs, path = fsspec.core.url_to_fs(name)
        if any(c in path for c in '*?['):
            paths = [p for p in sorted(fs.glob(path)) if fs.isfile(p)]
            if not paths:
                raise FileNotFoundError(f'no corpus file matches {name!r}')
        elif fs.isdir(path):
            paths = [p for p in sorted(fs.find(path)) if not os.path.basename(p).startswith('.')]
            if not paths:
                raise FileNotFoundError(f'corpus directory {name!r} holds no file')
        elif fs.exists(path):
            paths = [path]
        else:
            raise FileNotFoundError(f'corpus file not found: {name!r}')
        found.extend((fs.unstrip_protocol(p) if '://' in name else p, fs.size(p)) for p in paths)
    return found


def check_text_documents(text_documents):
    """``text_documents`` if it is one of ``TEXT_DOCUMENTS``, else a ValueError."""
    if text_documents not in TEXT_DOCUMENTS:
        raise ValueError(f'text_documents must be one of {tuple(TEXT_DOCUMENTS)}, got {text_documents!r}')
    return text_documents


def plain_text_note(text_documents):
    """How a summary says what a document of plain text was ('' when no
    plain text was read)."""
    return f' (plain text: a document per {text_documents})' if text_documents else ''


def text_documents_read(parts):
    """What a document of the plain-text files among ``parts`` is (a key of
    ``TEXT_DOCUMENTS``), or None if there are none."""
    formats = {p.format for p in parts}
    return next((option for option, fmt in TEXT_DOCUMENTS.items() if fmt in formats), None)


def partitions(files, field='text', errors='strict', partition_bytes=PARTITION_BYTES,
               text_documents=DEFAULT_TEXT_DOCUMENTS):
    """The partitions of a corpus, in a fixed order (independent of workers)."""
    if errors not in ERRORS:
        raise ValueError(f'errors must be one of {ERRORS}, got {errors!r}')
    text_format = TEXT_DOCUMENTS[check_text_documents(text_documents)]
    if not isinstance(field, str):
        raise TypeError(f'field must be a str, got {type(field).__name__}')
    parts = []
    for url, size in resolve(files):
        fmt, compression = detect(url)
        fmt = text_format if fmt == 'text' else fmt
        if fmt == 'parquet':
            for group, group_size in _row_groups(url):
                parts.append(Partition(len(parts), url, fmt, None, field, errors, group, group + 1, group_size))
            continue
        if compression or size <= partition_bytes or fmt == 'file':
            parts.append(Partition(len(parts), url, fmt, compression, field, errors, 0, -1, size))
            continue
        for start in range(0, size, partition_bytes):
            end = min(start + partition_bytes, size)
            parts.append(Partition(len(parts), url, fmt, None, field, errors, start, -1 if end == size else end,
                                   end - start))
    return parts


def _row_groups(url):
    meta = _reading_parquet(url, lambda file: file.metadata)
    return [(g, meta.row_group(g).total_byte_size) for g in range(meta.num_row_groups)]


def _reading_parquet(url, read, field=None):
    """``read(ParquetFile)`` of the file at ``url``; a damaged file, or one
    without the column ``field``, is a ValueError naming it."""
    pq = extras.parquet()
    from pyarrow import ArrowException
    try:
        with _retrying_open(url) as f:
            file = pq.ParquetFile(f)
            if field is not None and field not in file.schema_arrow.names:
                raise KeyError(field)
            return read(file)
    except KeyError:
        raise ValueError(f'{url}: {records.json_fault(KeyError(field), field)}') from None
    except (OSError, ArrowException, ValueError, IndexError) as e:
        if isinstance(e, OSError) and e.filename:
            raise
        detail = ' '.join(str(e).split()) or type(e).__name__
        raise ValueError(f'{url}: not a readable Parquet file ({detail})') from None


def read(part, report=None):
    """The documents (str) of a partition, in order; ``report`` (a
    ``ReadReport``) counts them and any dropped record."""
    report = ReadReport() if report is None else report
    if part.format == 'parquet':
        yield from _read_parquet(part, report)
        return
    try:
        with _open(part) as f:
            yield from _DOCUMENTS[part.format](records.blocks(f, part), part, report)
    except (OSError, *DAMAGED_DATA) as e:
        raise damaged(part.path, e) from None


_DOCUMENTS = {'jsonl': records.line_documents, 'lines': records.line_documents,
              'paragraphs': records.paragraph_documents, 'file': records.file_documents}


@contextlib.contextmanager
def _open(part):
    """The partition's file, decompressed; the connection under a
    decompressor is closed with it (decompressors leave theirs open)."""
    if part.compression == 'zstd':
        extras.zstandard()
    with _retrying_open(part.path) as raw:
        if not part.compression:
            yield raw
            return
        with fsspec.compression.compr[part.compression](raw, mode='rb') as f:
            yield f


def _retrying_open(url):
    return RetryingReader(lambda: fsspec.open(url, 'rb').open(), url)


def _read_parquet(part, report):
    table = _reading_parquet(part.path, lambda file: file.read_row_group(part.start, columns=[part.field]),
                             part.field)
    for row, text in enumerate(_parquet_texts(table.column(part.field), part, report)):
        if not isinstance(text, str):
            what = f'field {part.field!r} is not a string' if text is not _INVALID else 'invalid UTF-8'
            place = f'{part.path} row group {part.start} row {row}'
            if part.errors == 'strict':
                raise ValueError(f'{place}: {what}')
            report.drop(place, what)
            continue
        report.documents += 1
        yield text


_INVALID = object()  # a value that is not UTF-8


def _parquet_texts(column, part, report):
    """The column's values; a string that is not UTF-8 as ``_INVALID``, or
    under ``'replace'`` decoded with U+FFFD."""
    try:
        return column.to_pylist()
    except UnicodeDecodeError:  # a damaged or foreign file: the values as bytes, one by one
        import pyarrow
        values = column.cast(pyarrow.binary()).to_pylist() if pyarrow.types.is_string(column.type) else []
    texts = []
    for value in values:
        try:
            texts.append(None if value is None else value.decode('utf-8'))
        except UnicodeDecodeError:
            if part.errors == 'replace':
                report.replaced += 1
                texts.append(value.decode('utf-8', errors='replace'))
            else:
                texts.append(_INVALID)
    return texts


class Files:
    """A corpus of files (see the module doc): a re-iterable of its documents,
    and the partitions workers read it by.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, 'a.jsonl'), 'w') as f:
    ...     _ = f.write('{"text": "one"}\\n{"text": "two"}\\n')
    >>> list(Files(folder))
    ['one', 'two']
    """

    def __init__(self, files, field='text', errors='strict', partition_bytes=PARTITION_BYTES,
                 text_documents=DEFAULT_TEXT_DOCUMENTS):
        self.parts = partitions(files, field, errors, partition_bytes, text_documents)

    def __iter__(self):
        for part in self.parts:
            yield from read(part)

    def __repr__(self):
        return f'Files({len(self.parts)} partitions)'

