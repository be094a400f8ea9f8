"""``encode_files``: a corpus of files to a folder of token-file shards.

Each input partition (``bytepiece.corpus.inputs``: a byte range of a large file, a
compressed file, a Parquet row group) becomes one shard, encoded by one
task on the engine (threads on every core by default, processes, or a Dask
cluster). A task reads its partition in batches on a reading thread while
it encodes and writes the previous batch. Shards depend on their partition
and the options alone, so the bytes written do not depend on the engine or
the number of workers.

Sampling (``alpha >= 0``) needs a ``seed``: document ``d`` of partition
``p`` draws from the stream ``stream_seed(stream_seed(seed, p), d)``.
Partitions depend only on the files and ``partition_bytes``, so the draws
do not depend on the workers, the engine, or on how a task batches its
documents.
"""

import contextlib
import functools
import hashlib
import os
import pickle
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, List, NamedTuple, Optional, Sequence, Union

import numpy as np

from ..core.encoding import Request, add_markers, flat_arrays
from ..corpus.inputs import (DEFAULT_TEXT_DOCUMENTS, PARTITION_BYTES, ReadReport, partitions, plain_text_note, read,
                             text_documents_read)
from ..core.seeds import check_alpha, check_seed
from ..kernels.rng import stream_seed
from ..runtime.memory import release_memory
from ..runtime.parallel import Engine, make_engine
from .prefetch import prefetch
from .progress import Progress
from .shards import ShardFolder
from .writer import TokenWriter, token_dtype

if TYPE_CHECKING:
    from ..tokenizer import Tokenizer

BATCH_CHARS = 2 << 20  # characters a task encodes at a time


@dataclass
class Summary(ReadReport):
    """What a run wrote: the totals over every shard (resumed ones included),
    what reading them gave (``ReadReport``'s fields) among them."""
    folder: str = ''
    format: str = ''
    dtype: str = ''
    shards: int = 0
    resumed: int = 0
    tokens: int = 0
    text_bytes: int = 0
    seconds: float = 0.0
    text_documents: Optional[str] = None  # what a document of plain text was, if any was read

    @property
    def bytes_per_token(self) -> float:
        return self.text_bytes / self.tokens if self.tokens else 0.0

    def lines(self) -> List[str]:
        """The summary as lines of text (for the CLI)."""
        out = [f'{self.folder}: {self.shards} shards ({self.resumed} from an earlier run), {self.documents:,} '
               f'documents{plain_text_note(self.text_documents)}, {self.tokens:,} tokens ({self.dtype}), '
               f'{self.bytes_per_token:.2f} bytes per token, {self.seconds:.1f} s']
        if self.skipped or self.replaced:
            out.append(f'skipped records: {self.skipped:,}; repaired: {self.replaced:,}')
            out.extend(f'  {place}' for place in self.places)
        return out


@dataclass(frozen=True)
class Options:
    """How each document is encoded (the same for every task)."""
    format: str
    dtype: str
    alpha: float
    seed: int
    add_bos: bool
    add_eos: bool
    allowed_special: object


@dataclass(frozen=True)
class ModelSpec:
    """A model file to load once per worker process (Dask, process pools)."""
    path: str
    normalization: object
    special_tokens: tuple


@functools.lru_cache(maxsize=4)
def _load(spec):
    from ..tokenizer import Tokenizer
    return Tokenizer(spec.path, normalization=spec.normalization, special_tokens=list(spec.special_tokens))


def _tokenizer_of(model):
    return _load(model) if isinstance(model, ModelSpec) else model


def model_digest(tokenizer):
    """A digest of what decides the ids: pieces, scores, normalization, special tokens."""
    h = hashlib.sha256()
    if tokenizer.model_format != 'bytepiece':  # another library's model: its file decides
        h.update(tokenizer.source)
    else:
        vocab = tokenizer.vocab
        for array in (vocab.piece_data, vocab.piece_offsets, np.asarray(vocab.counts, np.float64)):
            h.update(np.ascontiguousarray(array).tobytes())
    h.update(repr((tokenizer.normalization, tokenizer.special_tokens)).encode('utf-8'))
    return h.hexdigest()


class Batch(NamedTuple):
    """Texts a task encodes at once: document ``first`` onwards, a long
    document cut into pieces (text ``t`` starts its document if
    ``starts[t]``, ends it if ``ends[t]``)."""
    first: int
    texts: list
    starts: np.ndarray
    ends: np.ndarray
    text_bytes: int
    read_bytes: int  # input bytes read by the end of the batch


def _pieces(doc, limit):
    """``doc`` cut after runs of newlines into pieces of about ``limit``
    characters. Encoding cuts text into chunks at exactly these places, so
    the pieces' ids, joined, are the document's."""
    start = 0
    while len(doc) - start > limit:
        cut = doc.rfind('\n', start, start + limit)
        cut = doc.find('\n', start + limit) if cut < 0 else cut
        if cut < 0:
            break
        cut += 1
        while cut < len(doc) and doc[cut] == '\n':
            cut += 1
        if cut == len(doc):
            break
        yield doc[start:cut]
        start = cut
    yield doc[start:]


def _batches(documents, report, split):
    """``Batch`` es of at most ``BATCH_CHARS`` characters (or one longer
    document); with ``split``, a longer document is cut into pieces, so that
    memory stays a few batches."""
    texts, starts, ends, chars, text_bytes, first = [], [], [], 0, 0, 0
    for doc in documents:
        # pieces are cut as the batches take them: one copy of a long document at a time
        pieces = _pieces(doc, BATCH_CHARS) if split and len(doc) > BATCH_CHARS else iter((doc,))
        piece, first_piece = next(pieces), True
        while piece is not None:
            following = next(pieces, None)
            if texts and chars + len(piece) > BATCH_CHARS:  # a batch stays within its size
                yield Batch(first, texts, np.array(starts), np.array(ends), text_bytes, report.input_bytes)
                first += sum(ends)
                texts, starts, ends, chars, text_bytes = [], [], [], 0, 0
            text_bytes += len(piece) if piece.isascii() else len(piece.encode('utf-8'))
            texts.append(piece)
            starts.append(first_piece)
            ends.append(following is None)
            chars += len(piece)
            piece, first_piece = following, False
        doc = pieces = None  # a long document is gone before the next one is read
    if texts:
        yield Batch(first, texts, np.array(starts), np.array(ends), text_bytes, report.input_bytes)


def _encode_batch(pipeline, options, allowed, part_seed, batch):
    """One batch on the calling thread: ``(ids, bounds)`` of its texts, with
    ``<bos>`` before the first piece of a document and ``<eos>`` after its last."""
    request = Request(options.alpha, part_seed, allowed, False, False, False, batch.first)
    ids, bounds, _ = flat_arrays(pipeline.parts(batch.texts, request, 1))
    if options.add_bos or options.add_eos:
        ids, bounds = add_markers(ids, bounds, batch.starts & options.add_bos, batch.ends & options.add_eos,
                                  pipeline.bos_id, pipeline.eos_id)
    return ids, bounds


def encode_partition(part, model, options, prefix, threads, progress=None, encoder=None):
    """One task: encode partition ``part`` into the dataset ``prefix``;
    returns the shard's record. With ``threads`` > 1, batches are encoded on
    that many threads at once (each preparing its texts and segmenting them:
    no thread waits for another's step) and written in order. ``progress``:
    a ``Progress`` in the same process (threads), told of each batch.
    ``encoder``: a thread ``Engine`` the tasks of this process share (None:
    the task's own), so that the threads of a task that ended work for the
    others; ``threads + 1`` batches of this task are in flight on it."""
    tokenizer = _tokenizer_of(model)
    pipeline = tokenizer.encoder  # one set of special tokens for the whole shard
    report = ReadReport()
    allowed = pipeline.allowed(options.allowed_special)
    part_seed = int(stream_seed(np.uint64(options.seed), np.uint64(part.index))) if options.alpha >= 0 else 0
    # pieces of a document give its ids for Viterbi, unless a special token could span a cut
    # (another library's lattice spans the whole text: its documents stay whole)
    split = (options.alpha < 0 and tokenizer.model_format == 'bytepiece'
             and not any('\n' in token for token in tokenizer.special_tokens))
    text_bytes, done_bytes = 0, 0
    in_flight = []  # the batches being encoded, in order

    def tasks(batches):
        for batch in batches:
            in_flight.append(batch)
            yield pipeline, options, allowed, part_seed, batch

    batches = contextlib.closing(prefetch(_batches(read(part, report), report, split)))
    own = Engine('threads', workers=threads) if encoder is None else contextlib.nullcontext(encoder)
    with batches, own as engine, TokenWriter(options.format, prefix, options.dtype) as writer:
        for ids, bounds in engine.imap(_encode_batch, tasks(batches.thing), window=threads + 1):
            batch = in_flight.pop(0)
            writer.add(ids, bounds, batch.ends)
            text_bytes += batch.text_bytes
            if progress is not None:
                progress.update(batch.read_bytes - done_bytes, int(bounds[-1]))
                done_bytes = batch.read_bytes
            if not (batch.starts.all() and batch.ends.all()):
                del ids, bounds, batch
                # after pieces of a long document; batches alone stay bounded, and a trim
                # after every batch would cost page faults on the next ones
                release_memory()
    if progress is not None:
        progress.update(report.input_bytes - done_bytes, 0)
    return {'name': os.path.basename(prefix), 'partition': part.index, 'path': part.path, 'start': part.start,
            'end': part.end, 'documents': writer.documents, 'tokens': writer.tokens, 'text_bytes': text_bytes,
            'input_bytes': report.input_bytes, 'skipped': report.skipped, 'replaced': report.replaced,
            'places': report.places}


def check_picklable(tokenizer):
    """A ``Tokenizer`` object given to a process or Dask engine must pickle."""
    try:
        pickle.dumps(tokenizer)
    except Exception as e:  # pickling raises anything the object's parts raise
        raise ValueError(f'the tokenizer does not pickle, so it cannot go to worker processes ({e}); '
                         f'pass the model file\'s path instead') from None


def _load_model(model, normalization, special_tokens):
    """``(tokenizer, spec)``: the driver's tokenizer, and for a model path the
    ``ModelSpec`` that worker processes load once each (None for an object)."""
    from ..tokenizer import Tokenizer
    if isinstance(model, Tokenizer):
        if special_tokens is not None:
            raise ValueError('special_tokens is for a model path: add them to the Tokenizer instead')
        return model, None
    spec = ModelSpec(os.fspath(model), normalization, tuple(special_tokens or ()))
    return _load(spec), spec


def _fingerprint(parts, tokenizer, options, field, errors):
    return {'parts': [[p.path, p.format, p.compression, p.start, p.end, p.size] for p in parts],
            'model': model_digest(tokenizer), 'format': options.format, 'dtype': options.dtype,
            'alpha': options.alpha, 'seed': options.seed, 'add_bos': options.add_bos, 'add_eos': options.add_eos,
            'allowed_special': sorted(options.allowed_special) if not isinstance(options.allowed_special, str)
            else options.allowed_special, 'field': field, 'errors': errors}


def encode_files(inputs: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]],
                 model: Union[str, os.PathLike, 'Tokenizer'], output: Union[str, os.PathLike],
                 format: str = 'megatron', *, field: str = 'text', errors: str = 'strict', add_bos: bool = False, add_eos: bool = False, alpha: float = -1.0,
                 seed: Optional[int] = None, allowed_special: Union[str, Iterable[str]] = frozenset(), engine=None,
                 workers: Optional[int] = None, partition_bytes: int = PARTITION_BYTES,
                 text_documents: str = DEFAULT_TEXT_DOCUMENTS, normalization: Optional[str] = 'auto',
                 special_tokens: Optional[Sequence[str]] = None, progress: bool = False,
                 wait: bool = False) -> 'Summary':
    """Encode the corpus ``inputs`` (paths, folders, globs, fsspec URLs; text,
    JSON lines, Parquet; compressed or not; see ``bytepiece.corpus.inputs``) with
    ``model`` (a model path or a ``Tokenizer``) into the shard folder
    ``output`` (see ``bytepiece.tokenfiles.shards``) in ``format``
    ``'megatron'`` or ``'flat'``; returns a ``Summary``. ``merge`` joins the
    shards into one dataset.

    ``text_documents``: what a document of a plain-text file is: a line
    (``'line'``, its line break not part of it), a paragraph
    (``'paragraph'``) or the whole file (``'file'``), as training reads them.
    ``errors``: ``'strict'``, ``'skip'`` or ``'replace'`` for bad records.
    ``add_bos``/``add_eos``, ``alpha``, ``allowed_special``: as in
    ``Tokenizer.encode_batch``; sampling needs a ``seed`` (see the module doc).
    ``engine``: None (threads on every core, or ``workers``), ``'processes'``,
    an ``Engine``, an executor, a Dask client or a scheduler address. A run
    that stopped part-way resumes when called again with the same arguments.
    ``output`` is held by one run at a time: another run on it is refused
    (``FolderInUse``), or with ``wait`` waited for.
    """
    started = time.time()
    alpha = check_alpha(alpha)
    if alpha >= 0 and seed is None:
        raise ValueError('sampling (alpha >= 0) needs a seed, so that a resumed run draws as the first did')
    seed = check_seed(seed) if seed is not None else 0
    parts = partitions(inputs, field, errors, partition_bytes, text_documents)
    tokenizer, spec = _load_model(model, normalization, special_tokens)
    allowed = allowed_special if isinstance(allowed_special, str) else frozenset(allowed_special)
    tokenizer.encoder.allowed(allowed)  # unknown tokens fail before any work
    tokenizer.encoder.check_markers(add_bos, add_eos)
    options = Options(format, token_dtype(format, tokenizer.vocab_size).name, alpha if alpha >= 0 else -1.0, seed,
                      bool(add_bos), bool(add_eos), allowed)
    with ShardFolder(output, _fingerprint(parts, tokenizer, options, field, errors), format, wait) as folder:
        records = {p.index: folder.record(p.index) for p in parts}
        todo = [p for p in parts if records[p.index] is None]
        summary = Summary(folder=os.path.abspath(folder.path), format=format, dtype=options.dtype, shards=len(parts),
                          resumed=len(parts) - len(todo), text_documents=text_documents_read(parts))
        engine, owned, threads = make_engine(engine, workers, len(todo))
        local = engine.kind in ('inline', 'threads')
        model_ref = tokenizer if local or spec is None else spec
        if not local and spec is None:
            check_picklable(tokenizer)  # a pool that cannot send a task's arguments hangs on shutdown
        bar = Progress(todo, progress)
        # the local tasks' batches go to one pool of a thread per core
        encoder = Engine('threads', workers=engine.workers * threads) if owned and engine.kind == 'threads' else None
        try:
            shared = model_ref if local else engine.share(model_ref)
            tasks = ((p, shared, options, folder.prefix(p.index), threads, bar if local else None, encoder)
                     for p in todo)
            for part, record in zip(todo, engine.imap(encode_partition, tasks)):
                folder.save_record(part.index, record)
                records[part.index] = record
                if not local:
                    bar.update(record['input_bytes'], record['tokens'])
        finally:
            bar.close()
            if owned:
                engine.close()
            if encoder is not None:
                encoder.close()
        ordered = [records[p.index] for p in parts]
        folder.save_index({'format': format, 'dtype': options.dtype, 'vocab_size': tokenizer.vocab_size}, ordered)
        for record in ordered:
            summary.add(ReadReport(record['documents'], record['input_bytes'], record['skipped'], record['replaced'],
                                   record['places']))
            summary.tokens += record['tokens']
            summary.text_bytes += record['text_bytes']
    summary.seconds = time.time() - started
    return summary
