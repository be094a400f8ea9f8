"""Training input: corpora of texts, and cutting them into chunks of bytes.

``Trainer.train`` takes any *re-iterable* of ``str`` (a list, a tuple, or an
object whose ``__iter__`` starts over each time), or a file path, or one of the
corpus classes below. A one-shot iterator (a generator, ``iter(list)``, an
open file) is refused with a TypeError: training reads the corpus more than
once, and a second pass over an exhausted iterator would silently see nothing.

Files (``str`` or ``os.PathLike`` paths; ``.gz``, ``.xz`` and ``.bz2``
compression is recognised by the suffix):

- ``*.jsonl`` (``.jsonl.gz`` ...): one JSON object per line; the text is the
  value of ``field`` (default ``"text"``). Blank lines are skipped.
- anything else is plain UTF-8 text, read in its entirety as ONE document:
  training on the file equals training on ``[open(path, newline='').read()]``
  (line endings are kept as they are). It is streamed in blocks cut after a
  run of newlines, which gives exactly the chunks of the whole text, so a
  large file never has to fit in memory.

Chunking (docs/design.md; the training variant): NFC normalization, then the
regex ``.{,L}\\n{1,100}|.{1,L}`` with ``L = 10000`` (with ``isolate_digits``:
``\\d|[^\\n\\d]{,L}\\n{1,100}|[^\\n\\d]{1,L}``); each chunk is UTF-8 encoded.
Chunks are packed into shards: one ``uint8`` buffer plus ``int64`` bounds.
"""

import bz2
import gzip
import io
import json
import lzma
import os
import re
import unicodedata
import warnings
import zlib
from collections.abc import Iterable, Iterator

from .text import encode_utf8, pack_bytes

TRAIN_MAXLEN = 10000

__all__ = ['TextFile', 'JsonlFile', 'TextList', 'as_corpus', 'chunk_regex', 'chunk_text', 'iter_shards']


def _open_binary(path):
    """Open ``path`` for reading bytes, decompressing by suffix."""
    p = os.fspath(path)
    low = p.lower()
    if low.endswith('.gz'):
        return gzip.open(p, 'rb')
    if low.endswith('.xz') or low.endswith('.lzma'):
        return lzma.open(p, 'rb')
    if low.endswith('.bz2'):
        return bz2.open(p, 'rb')
    return open(p, 'rb')


def _open_text(path):
    """Open ``path`` for reading UTF-8 text, decompressing by suffix."""
    return io.TextIOWrapper(_open_binary(path), encoding='utf-8', newline='\n')


def _invalid_utf8(path):
    """The ValueError naming the first line of ``path`` that is not UTF-8
    (read again: the decoder's own error counts from a buffer's start)."""
    try:
        with _open_binary(path) as f:
            for lineno, line in enumerate(f, 1):
                try:
                    line.decode('utf-8')
                except UnicodeDecodeError as e:
                    return ValueError(f'{path}:{lineno}: invalid UTF-8 at byte {e.start}')
    except (OSError, EOFError, lzma.LZMAError, zlib.error):
        pass  # damaged or changed since: the first read's error is all there is
    return ValueError(f'{path}: invalid UTF-8')


def _strip_compression(path):
    low = os.fspath(path).lower()
    for suffix in ('.gz', '.xz', '.lzma', '.bz2'):
        if low.endswith(suffix):
            return low[:-len(suffix)]
    return low


class _FileCorpus:
    def __init__(self, paths):
        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]
        self.paths = [os.fsdecode(p) for p in paths]
        if not self.paths:
            raise ValueError('no corpus files given')
        for p in self.paths:
            if not os.path.exists(p):
                raise FileNotFoundError(f'corpus file not found: {p!r}')
            if os.path.isdir(p):
                raise IsADirectoryError(f'corpus path is a directory: {p!r}')

    def __repr__(self):
        return f'{type(self).__name__}({self.paths!r})'

    def __iter__(self):
        for p in self.paths:
            try:
                yield from self._documents(p)
            except UnicodeDecodeError:
                raise _invalid_utf8(p) from None


class TextFile(_FileCorpus):
    """Plain UTF-8 text files, each one document (streamed in blocks).

    ``block_chars`` is the size at which a block is cut, at the end of the
    next run of newlines (a block may run longer until one is found).
    """

    def __init__(self, paths, block_chars=1 << 20):
        super().__init__(paths)
        self.block_chars = block_chars

    def _documents(self, p):
        with _open_text(p) as f:
            pending = []
            size = 0
            for line in f:
                # lines end with '\n' only ('\r' stays inside a line); a
                # cut is made only before a line that does not start with
                # '\n', i.e. after a whole run of newlines.
                if size >= self.block_chars and not line.startswith('\n') and pending[-1].endswith('\n'):
                    yield ''.join(pending)
                    pending = []
                    size = 0
                pending.append(line)
                size += len(line)
            if pending:
                yield ''.join(pending)


class JsonlFile(_FileCorpus):
    """JSON-lines files: the text of each line's ``field``."""

    def __init__(self, paths, field='text'):
        super().__init__(paths)
        self.field = field

    def _documents(self, p):
        with _open_text(p) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f'{p}:{lineno}: invalid JSON: {e}') from None
                if not isinstance(obj, dict) or self.field not in obj:
                    raise ValueError(f'{p}:{lineno}: no field {self.field!r} in this JSON line')
                text = obj[self.field]
                if not isinstance(text, str):
                    raise TypeError(f'{p}:{lineno}: field {self.field!r} must be a string, '
                                    f'got {type(text).__name__}')
                if '\\u' in line:  # only a \uXXXX escape can make a lone surrogate: name its line
                    encode_utf8(text, location=f'{p}:{lineno}')
                yield text


class TextList:
    """A re-iterable of ``str``, checked item by item (TypeError naming the index)."""

    def __init__(self, texts):
        self.texts = texts

    def __iter__(self):
        for i, text in enumerate(self.texts):
            if not isinstance(text, str):
                raise TypeError(f'corpus item {i} must be str, got {type(text).__name__}')
            yield text


def as_corpus(texts, field='text', stacklevel=2):
    """Wrap training input as a re-iterable corpus of ``str`` (see module doc).
    ``stacklevel``: that of the warning about a list of file names (2: the
    caller of ``as_corpus``)."""
    if isinstance(texts, (TextFile, JsonlFile, TextList)):
        return texts
    if isinstance(texts, (str, os.PathLike)):
        path = os.fspath(texts)
        if _strip_compression(path).endswith('.jsonl'):
            return JsonlFile(path, field=field)
        return TextFile(path)
    if isinstance(texts, bytes):
        raise TypeError('corpus must be an iterable of str or a file path, got bytes')
    if isinstance(texts, Iterator):
        raise TypeError(
            f'corpus is a one-shot iterator ({type(texts).__name__}); training reads the corpus '
            'more than once, so pass a list, a re-iterable object or a file path')
    if not isinstance(texts, Iterable):
        raise TypeError(f'corpus must be an iterable of str or a file path, got {type(texts).__name__}')
    if _all_file_paths(texts):
        warnings.warn(f'the corpus texts are all names of existing files ({texts[0]!r}, ...): they are '
                      'trained on as text; to read the files, pass TextFile([...]) or JsonlFile([...])',
                      stacklevel=stacklevel)
    return TextList(texts)


def _all_file_paths(texts, most=100):
    """Whether a short list of texts looks like file names given by mistake."""
    return (isinstance(texts, (list, tuple)) and 0 < len(texts) <= most
            and all(isinstance(t, str) and '\n' not in t and len(t) < 4096 and os.path.isfile(t) for t in texts))


def chunk_regex(isolate_digits=False, maxlen=TRAIN_MAXLEN):
    """The compiled chunking regex of training (docs/design.md)."""
    if maxlen > 0:
        if isolate_digits:
            pattern = r'\d|[^\n\d]{,%d}\n{1,100}|[^\n\d]{1,%d}' % (maxlen, maxlen)
        else:
            pattern = r'.{,%d}\n{1,100}|.{1,%d}' % (maxlen, maxlen)
    else:
        pattern = r'\d|[^\n\d]*\n+|[^\n\d]+' if isolate_digits else r'.*\n+|.+'
    return re.compile(pattern)


def chunk_text(text, regex, index=None):
    """The UTF-8 chunks of one text: NFC, then the chunking regex."""
    normalized = text if text.isascii() else unicodedata.normalize('NFC', text)
    try:
        return [c.encode('utf-8') for c in regex.findall(normalized)]
    except UnicodeEncodeError:
        # the caller's text, so that the error gives the character's place in it
        encode_utf8(text, location=None if index is None else f'corpus item {index}')
        raise


def iter_shards(corpus, isolate_digits=False, batch_size=1000, shard_bytes=1 << 20):
    """Yield ``(buf uint8, bounds int64, ntexts)`` shards of chunked text.

    A shard holds at most ``batch_size`` texts and is cut once it reaches
    ``shard_bytes`` bytes. ``bounds`` has one more entry than chunks.
    """
    regex = chunk_regex(isolate_digits)
    chunks = []
    nbytes = 0
    ntexts = 0
    for index, text in enumerate(corpus):
        if not isinstance(text, str):
            raise TypeError(f'corpus item {index} must be str, got {type(text).__name__}')
        cs = chunk_text(text, regex, index)
        chunks.extend(cs)
        nbytes += sum(map(len, cs))
        ntexts += 1
        if ntexts >= batch_size or nbytes >= shard_bytes:
            buf, bounds = pack_bytes(chunks)
            yield buf, bounds, ntexts
            chunks = []
            nbytes = 0
            ntexts = 0
    if ntexts:
        buf, bounds = pack_bytes(chunks)
        yield buf, bounds, ntexts
