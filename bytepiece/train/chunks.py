"""Preparing a corpus for training: documents cut into chunks of bytes and
packed into shards in the work directory (see docs/design.md, Training).

Chunking: NFC normalization, then the regex ``.{,L}\\n{1,100}|.{1,L}`` with
``L = 10000`` (with ``isolate_digits``: ``\\d|[^\\n\\d]{,L}\\n{1,100}|[^\\n\\d]{1,L}``);
each chunk is UTF-8 encoded. A shard holds whole chunks, about
``SHARD_BYTES`` of them: the unit of work of every later phase. Each input
partition is prepared by one task, which writes its shards and, last, a
summary with its 1- and 2-gram counts: a partition whose summary exists is
done.
"""

import hashlib
import json
import re
import unicodedata

import numpy as np

from ..core.text import encode_utf8, pack_bytes
from ..corpus.inputs import ReadReport, read
from ..kernels import ngrams
from ..runtime.workdir import WorkDir

TRAIN_MAXLEN = 10000
SHARD_BYTES = 1 << 22
SAMPLE_BYTES = 1 << 20  # held-back characters kept per partition, for the report
SLICE_CHARS = 1 << 20  # a long text is chunked a slice at a time


def chunk_regex(isolate_digits=False, maxlen=TRAIN_MAXLEN):
    """The compiled chunking regex of training."""
    if isolate_digits:
        return re.compile(r'\d|[^\n\d]{,%d}\n{1,100}|[^\n\d]{1,%d}' % (maxlen, maxlen))
    return re.compile(r'.{,%d}\n{1,100}|.{1,%d}' % (maxlen, maxlen))


def chunk_text(text, regex, where=None):
    """The UTF-8 chunks of one text: NFC, then the chunking regex. A lone
    surrogate is a ValueError that names ``where`` the text is. (Use
    ``text_chunks`` for texts of any length.)"""
    normalized = text if text.isascii() else unicodedata.normalize('NFC', text)
    try:
        return [c.encode('utf-8') for c in regex.findall(normalized)]
    except UnicodeEncodeError:
        encode_utf8(text, location=where)  # the caller's text: the character's place in it
        raise


def text_chunks(text, regex, where=None, slice_chars=SLICE_CHARS):
    """The chunks of a text of any length, a slice at a time: a long text is
    cut after runs of newlines, where chunks end anyway (and normalization
    never joins characters across a newline), so the chunks are those of the
    whole text while the chunk lists stay small."""
    start = 0
    while len(text) - start > slice_chars:
        cut = text.find('\n', start + slice_chars)
        if cut < 0:
            break
        while cut < len(text) and text[cut] == '\n':
            cut += 1
        yield chunk_text(text[start:cut], regex, where)
        start = cut
    yield chunk_text(text[start:] if start else text, regex, where)


def is_held_back(text, holdout):
    """Whether a document is held back from training: a fixed fraction
    ``holdout`` of documents, chosen by a hash of the text, so the choice is
    the same however the corpus is cut into partitions and wherever it is
    read (and copies of a document fall on the same side)."""
    if holdout <= 0:
        return False
    hashed = hashlib.blake2b(digest_size=8)
    for start in range(0, max(len(text), 1), SLICE_CHARS):  # the UTF-8 of a slice at a time: no copy of a long text
        hashed.update(text[start:start + SLICE_CHARS].encode('utf-8', 'surrogatepass'))
    digest = hashed.digest()
    return (int.from_bytes(digest, 'little') >> 11) / float(1 << 53) < holdout


class HeldBack:
    """The held-back documents kept to measure a vocabulary, up to
    ``SAMPLE_BYTES`` characters of them (the last one kept cut short), and
    how many there were."""

    def __init__(self):
        self.texts, self.size, self.documents = [], 0, 0

    def add(self, text):
        self.documents += 1
        if self.size < SAMPLE_BYTES:
            kept = text[:SAMPLE_BYTES - self.size]  # a document of 20 MB is not kept whole
            self.texts.append(kept)
            self.size += len(kept)


class ShardWriter:
    """Packs chunks into shard files ``chunks/<name>-<k>.npz`` of about
    ``SHARD_BYTES`` each, counting their 1- and 2-grams on the way."""

    def __init__(self, work, name, limit=None):
        self.work, self.name, self.limit = work, name, limit or SHARD_BYTES
        self.c1 = np.zeros(256, np.int64)
        self.c2 = np.zeros(65536, np.int64)
        self.shards = []
        self.shard_bytes = []
        self._chunks, self._size = [], 0

    def add(self, chunks):
        """Add one document's chunks (a long document fills several shards)."""
        size = sum(map(len, chunks))
        if self._size + size < self.limit:
            self._chunks.extend(chunks)
            self._size += size
            return
        for chunk in chunks:
            self._chunks.append(chunk)
            self._size += len(chunk)
            if self._size >= self.limit:
                self.flush()

    def flush(self):
        if not self._chunks:
            return
        buf, bounds = pack_bytes(self._chunks)
        c1, c2 = ngrams.count_short(buf, bounds)
        self.c1 += c1
        self.c2 += c2
        name = f'{self.name}-{len(self.shards):04d}'
        self.work.save(f'chunks/{name}.npz', buf=buf, bounds=bounds)
        self.shards.append(name)
        self.shard_bytes.append(buf.size)
        self._chunks, self._size = [], 0


def prepare_partition(work_path, part, isolate_digits, holdout):
    """Task: read one input partition into shards. Returns its summary (see
    ``summary``); a partition prepared before is not read again."""
    work = WorkDir.attach(work_path)
    done = f'prepare/{part.index:05d}.npz'
    if work.exists(done):
        return summary(work.load(done), reused=True)
    writer = ShardWriter(work, f'{part.index:05d}')
    regex = chunk_regex(isolate_digits)
    report = ReadReport()
    held = HeldBack()
    for k, text in enumerate(read(part, report)):
        if is_held_back(text, holdout):
            held.add(text)
            continue
        for chunks in text_chunks(text, regex, f'{part.path}, document {k + 1}'):
            writer.add(chunks)
        text = None  # not held while the next document is read
    writer.flush()
    arrays = _summary_arrays(writer, report, held)
    work.save(done, **arrays)
    return summary(arrays)


def _summary_arrays(writer, report, held):
    return dict(c1=writer.c1, c2=writer.c2, shards=np.array(writer.shards, str),
                shard_bytes=np.array(writer.shard_bytes, np.int64), report=json.dumps(report.__dict__),
                sample=json.dumps(held.texts), held_back=np.int64(held.documents))


def prepare_texts(work, texts, isolate_digits, holdout):
    """Read in-memory texts into shards (on the calling process, which holds
    them anyway); returns their summary."""
    writer = ShardWriter(work, 'texts')
    regex = chunk_regex(isolate_digits)
    held = HeldBack()
    documents = 0
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f'corpus item {index} must be str, got {type(text).__name__}')
        documents += 1
        if is_held_back(text, holdout):
            encode_utf8(text, location=f'corpus item {index}')  # checked as a training text is
            held.add(text)
            continue
        for chunks in text_chunks(text, regex, f'corpus item {index}'):
            writer.add(chunks)
    writer.flush()
    return summary(_summary_arrays(writer, ReadReport(documents=documents), held))


def summary(arrays, reused=False):
    """A prepared partition's summary: 1- and 2-gram counts, shard names and
    sizes (bytes), its ``ReadReport``, held-back sample texts, how many
    documents were held back, and whether an earlier run prepared it."""
    return {'c1': np.asarray(arrays['c1']), 'c2': np.asarray(arrays['c2']),
            'shards': [str(s) for s in np.asarray(arrays['shards']).tolist()],
            'shard_bytes': [int(b) for b in np.asarray(arrays['shard_bytes']).tolist()],
            'report': ReadReport(**json.loads(str(arrays['report']))), 'sample': json.loads(str(arrays['sample'])),
            'held_back': int(arrays['held_back']), 'reused': reused}


def load_shard(work, name):
    """``(buf, bounds)`` of a shard, memory-mapped."""
    arrays = work.load_mapped(f'chunks/{name}.npz')
    return arrays['buf'], arrays['bounds']
