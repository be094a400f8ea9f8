"""Training a vocabulary with the byte n-gram language model (SPEC section 5).

Same vocabulary as BytePiece 0.6.3's ``Trainer`` (pieces and counts), with the
work done by numba kernels over byte buffers:

1. The corpus is read once, cut into chunks (``bytepiece.corpus``) and packed
   into shards that are spilled to a temporary file, so the resident memory
   does not grow with the corpus. 1- and 2-grams are counted densely on the way.
2. n-grams of length 3..order are counted apriori-style, one length per pass
   over the spilled shards: only where the (n-1)-byte prefix and suffix were
   kept, which is exact for every n-gram that can pass ``min_count``. The
   per-shard counts are spilled too, then reduced one hash partition of the
   keys at a time, so that no count table exceeds ``table_entries / 2`` keys.
3. The BNLM Viterbi segments every chunk and counts its pieces by content
   (per shard, spilled, then merged once the n-gram tables are freed).
4. Pieces are pruned by re-tokenizing whole batches of pieces with the
   compiled tokenizer (``PieceAutomaton.segment_spans``) and adding counts
   with numpy.

The counting phases (1-3) are maps from a shard ``(buf, bounds)`` to mergeable
counts, run on ``executor`` (any ``concurrent.futures.Executor``), on a
thread pool of ``workers`` threads by default (the kernels release the GIL,
and threads avoid a second copy of the interpreter and the tables), or inline
for ``workers=1``. The result does not depend on the executor or the number
of workers.
"""

import errno
import math
import os
import tempfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real

import numpy as np

from .automaton import PieceAutomaton
from .corpus import as_corpus, iter_shards
from .interrupts import keyboard_interrupts
from .kernels import bnlm, hashtable, ngrams
from .model import finite_float, shown_value, save_model
from .text import pack_bytes

__all__ = ['Trainer', 'convert_to_bytepiece']

NUM_SPECIAL = 3
MIN_VOCAB_SIZE = 256 + NUM_SPECIAL
SHARD_BYTES = 1 << 19  # a shard of chunked text: the unit of work of the count maps


def _tqdm(progress, **kwargs):
    if not progress:
        return _NoBar()
    from tqdm import tqdm
    return tqdm(ncols=0, **kwargs)


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------------------
# map functions (top level, so that process pools can pickle them)

def map_count_short(buf, bounds):
    """Shard -> ``(c1 int64[256], c2 int64[65536])``."""
    return ngrams.count_short(buf, bounds)


def map_count_level(buf, bounds, n, kept_prev, part, nparts):
    """Shard -> ``(keys, counts)`` of the n-grams whose (n-1)-grams are kept,
    in hash partition ``part`` of ``nparts``."""
    return ngrams.count_level(buf, bounds, n, kept_prev, part, nparts)


def map_count_pieces(buf, bounds, model):
    """Shard -> ``(data, bounds, counts)`` of its BNLM pieces."""
    return bnlm.count_pieces(buf, bounds, model)


_M_MMAP_THRESHOLD = -3


def _set_mmap_threshold(nbytes):
    """glibc: serve allocations >= nbytes with mmap, so that freed tables go
    back to the OS at once (this also turns off glibc's dynamic threshold)."""
    try:
        import ctypes
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, int(nbytes))
    except (OSError, AttributeError):
        pass


def _release_memory():
    """Give freed heap pages back to the OS (glibc), so that the resident size
    follows what is really in use between phases."""
    try:
        import ctypes
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _ArraySpill:
    """Tuples of 1-d arrays in a temporary file, read back one tuple at a time."""

    def __init__(self, directory=None):
        self._file = tempfile.TemporaryFile(dir=directory)
        self._items = []  # [(offset, [(dtype, length), ...])]

    def write(self, *arrays):
        self._items.append((self._file.tell(), [(a.dtype, a.shape[0]) for a in arrays]))
        for a in arrays:
            self._file.write(np.ascontiguousarray(a).tobytes())

    def read(self, i):
        offset, layout = self._items[i]
        self._file.seek(offset)
        return tuple(np.fromfile(self._file, dtype, n) for dtype, n in layout)

    def __len__(self):
        return len(self._items)

    def close(self):
        self._file.close()


class _Spill:
    """Shards of chunked text in a temporary file, read back one at a time."""

    def __init__(self, directory=None):
        self.directory = directory
        self._data = tempfile.TemporaryFile(dir=directory)
        self._bounds = tempfile.TemporaryFile(dir=directory)
        self.shards = []  # (data offset, nbytes, bounds offset, len(bounds))
        self.nbytes = 0

    def write(self, buf, bounds):
        self.shards.append((self._data.tell(), buf.nbytes, self._bounds.tell(), bounds.shape[0]))
        self._data.write(buf.tobytes())
        self._bounds.write(bounds.tobytes())
        self.nbytes += buf.nbytes

    def read(self, i):
        doff, nbytes, boff, nb = self.shards[i]
        self._data.seek(doff)
        buf = np.fromfile(self._data, np.uint8, nbytes)
        self._bounds.seek(boff)
        bounds = np.fromfile(self._bounds, np.int64, nb)
        return buf, bounds

    def __len__(self):
        return len(self.shards)

    def close(self):
        self._data.close()
        self._bounds.close()


class _Engine:
    """Runs map functions inline, on an executor, or on a private thread pool;
    at most ``2 * workers`` tasks are in flight, results come back in order."""

    def __init__(self, executor, workers):
        # keep every worker of a given executor busy, whatever ``workers`` says
        self.workers = max(workers, getattr(executor, '_max_workers', 1) or 1)
        self._own = None
        if executor is None and workers > 1:
            executor = self._own = ThreadPoolExecutor(workers, thread_name_prefix='bytepiece-train')
        self.executor = executor

    def imap(self, fn, arg_iter):
        if self.executor is None:
            for args in arg_iter:
                yield fn(*args)
            return
        pending = deque()
        limit = max(self.workers, 1) + 1
        for args in arg_iter:
            pending.append(self.executor.submit(fn, *args))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self):
        if self._own is not None:
            self._own.shutdown()
            self._own = None


def _check_int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f'{name} must be an int, got {type(value).__name__}')
    if value < low or (high is not None and value > high):
        limit = f'>= {low}' if high is None else f'in {low}..{high}'
        raise ValueError(f'{name} must be {limit}, got {value}')
    return int(value)


class Trainer:
    """A vocabulary trainer (BytePiece's BNLM algorithm, SPEC section 5).

    ``order``: n-gram order of the byte language model, 1..7.
    ``max_vocab_size``: an int >= 259, or a list of them (one model each).
    ``max_piece_length``: longest piece kept, >= 1.
    ``min_count``: least count of a kept n-gram (n >= 2) and piece, >= 1.
    ``isolate_digits``: every digit is its own chunk.
    ``ensure_unicode``: no piece starts with a UTF-8 continuation byte.
    """

    def __init__(self, order=6, max_vocab_size=10000, max_piece_length=36, min_count=2,
                 isolate_digits=False, ensure_unicode=True):
        self.order = _check_int('order', order, 1, ngrams.MAX_ORDER)
        if isinstance(max_vocab_size, (list, tuple)):
            if not max_vocab_size:
                raise ValueError('max_vocab_size must not be an empty list')
            sizes = [_check_int('max_vocab_size', s, MIN_VOCAB_SIZE) for s in max_vocab_size]
            if len(set(sizes)) != len(sizes):  # two models would be saved to one path
                raise ValueError(f'max_vocab_size lists a size twice: {list(max_vocab_size)}')
            self.max_vocab_size = sorted(sizes)[::-1]
        else:
            self.max_vocab_size = [_check_int('max_vocab_size', max_vocab_size, MIN_VOCAB_SIZE)]
        if isinstance(max_piece_length, Real) and not isinstance(max_piece_length, Integral) \
                and max_piece_length == math.inf:
            self.max_piece_length = math.inf
        else:
            self.max_piece_length = _check_int('max_piece_length', max_piece_length, 1)
        self.min_count = _check_int('min_count', min_count, 1)
        self.isolate_digits = bool(isolate_digits)
        self.ensure_unicode = bool(ensure_unicode)
        self.pieces = None
        # bounds the count tables of the reduce steps (n-grams: table_entries / 2
        # keys, pieces: table_entries / 4; more keys are reduced in several hash
        # partitions); changes memory and time, never results
        self.table_entries = 1 << 18

    # ------------------------------------------------------------------ train
    def train(self, texts, workers=1, batch_size=1000, executor=None, progress=True,
              field='text', tmpdir=None):
        """Train on ``texts`` (a re-iterable of str, a file path, or a corpus
        from ``bytepiece.corpus``; ``field`` names the text of ``.jsonl``
        files). Sets ``self.pieces``: one ``{piece: count}`` dict per size,
        largest size first, and returns ``self``.

        ``workers``: threads for the counting phases (the kernels release the
        GIL). ``executor``: any ``concurrent.futures.Executor`` to run them on
        instead (e.g. a ``ProcessPoolExecutor``; the map functions and their
        array arguments pickle, the segmentation tasks carry the n-gram table).
        The result is the same for any executor and number of workers.
        ``batch_size``: at most this many texts per shard (a shard is also cut
        at 512 KiB of text). ``progress``: tqdm progress bars on stderr.
        ``tmpdir``: where the chunked corpus is spilled (a temporary file about
        the size of the corpus in UTF-8, removed at the end).

        On glibc, training sets malloc's mmap threshold (64 KiB during training,
        glibc's initial 128 KiB after), so that the tables of one phase go back
        to the OS before the next; this turns off glibc's dynamic threshold.
        """
        workers = _check_int('workers', workers, 1)
        batch_size = _check_int('batch_size', batch_size, 1)
        if executor is not None and not callable(getattr(executor, 'submit', None)):
            raise TypeError(f'executor must be a concurrent.futures.Executor or None, got {type(executor).__name__}')
        if tmpdir is not None and not os.path.isdir(tmpdir):
            if os.path.exists(tmpdir):
                raise NotADirectoryError(errno.ENOTDIR, 'tmpdir is not a directory', os.fspath(tmpdir))
            raise FileNotFoundError(errno.ENOENT, 'tmpdir not found', os.fspath(tmpdir))
        corpus = as_corpus(texts, field=field, stacklevel=3)
        _set_mmap_threshold(1 << 16)
        engine = _Engine(executor, workers)
        spill = _Spill(tmpdir)
        try:
            with keyboard_interrupts():
                try:
                    tables = self._count_ngrams(corpus, engine, spill, batch_size, progress)
                    counted = list(self._count_pieces(tables, engine, spill, progress))
                    del tables
                finally:
                    spill.close()
                # the list hands the arrays over, so that pruning can free them early
                self.pieces = _prune_pieces(counted, self.max_vocab_size, self.max_piece_length,
                                            self.min_count, progress, engine, tmpdir)
        finally:
            engine.close()
            _set_mmap_threshold(1 << 17)  # glibc's initial default
        return self

    def _count_ngrams(self, corpus, engine, spill, batch_size, progress):
        order, min_count = self.order, self.min_count
        c1 = np.zeros(256, np.int64)
        c2 = np.zeros(65536, np.int64)
        ntexts = [0]
        bar = _tqdm(progress, desc='Count Ngrams', unit=' texts')

        def shards():
            for buf, bounds, n in iter_shards(corpus, self.isolate_digits, batch_size, SHARD_BYTES):
                spill.write(buf, bounds)
                ntexts[0] += n
                bar.update(n)
                yield buf, bounds

        try:
            for a, b in engine.imap(map_count_short, shards()):
                c1 += a
                c2 += b
        finally:
            bar.close()
        if ntexts[0] == 0:
            raise ValueError('the corpus is empty')
        c0 = int(c1.sum())
        if c0 == 0:
            raise ValueError('the corpus holds no text (every text is empty)')
        # every byte counts at least once (and once more in the 0-gram)
        missing = c1 == 0
        c0 += int(missing.sum())
        c1[missing] = 1
        with np.errstate(divide='ignore'):
            l1 = np.log(c1.astype(np.float64)) - np.log(np.float64(c0))
            kept2 = c2 >= min_count
            first = np.repeat(np.arange(256), 256)
            l2 = np.full(65536, -np.inf)
            l2[kept2] = np.log(c2[kept2].astype(np.float64)) - np.log(c1[first[kept2]].astype(np.float64))
        levels = _ArraySpill(spill.directory)  # kept n-grams and Ln of each level
        n_kept = 0
        idx2 = np.flatnonzero(kept2).astype(np.uint64)
        prev_keys = (np.uint64(2) << ngrams.LEN_SHIFT) | idx2  # sorted
        prev_counts = c2[kept2]
        self.ngram_counts = {1: int(256), 2: int(kept2.sum())}
        for n in range(3, order + 1):
            if prev_keys.shape[0] == 0:
                break
            kept_prev = ngrams.build_filter(prev_keys)
            # map: per-shard counts of the candidates, spilled to disk
            shard_counts = _ArraySpill(spill.directory)
            total = 0
            bar = _tqdm(progress, desc=f'Count {n}-grams', total=len(spill), unit=' shards')
            try:
                args = ((*spill.read(i), n, kept_prev, 0, 1) for i in range(len(spill)))
                for keys, counts in engine.imap(map_count_level, args):
                    shard_counts.write(keys, counts)
                    total += keys.shape[0]
                    bar.update(1)
                del kept_prev
                _release_memory()
                # reduce: one count table per hash partition of the keys, so
                # that a table holds at most about table_entries / 2 keys (a
                # key shows up in about 4 shards' counts)
                nparts = max(1, int(math.ceil(total / 4 / max(self.table_entries // 2, 1))))
                part_keys, part_counts = [], []
                for part in range(nparts):
                    table = hashtable.counter_new(max(total // (4 * nparts), 1 << 10), hashtable.COUNTER_MULT)
                    for i in range(len(shard_counts)):
                        keys, counts = shard_counts.read(i)
                        table = hashtable.counter_add(table, keys, counts, part, nparts)
                    keys, counts = hashtable.counter_items(table, min_count, True)
                    del table
                    part_keys.append(keys)
                    part_counts.append(counts)
            finally:
                bar.close()
                shard_counts.close()
            _release_memory()
            if nparts == 1:
                keys, counts = part_keys[0], part_counts[0]
            else:
                keys = np.concatenate(part_keys)
                order_ = np.argsort(keys)
                keys, counts = keys[order_], np.concatenate(part_counts)[order_]
                del order_
            del part_keys, part_counts
            prefix_counts = ngrams.lookup_counts(ngrams.prefix_keys(keys), prev_keys, prev_counts)
            vals = np.log(counts.astype(np.float64)) - np.log(prefix_counts.astype(np.float64))
            del prefix_counts
            levels.write(keys, vals)
            n_kept += keys.shape[0]
            del vals
            self.ngram_counts[n] = int(keys.shape[0])
            prev_keys, prev_counts = keys, counts
        del prev_keys, prev_counts
        keys = counts = None
        _release_memory()
        table = hashtable.map_new(n_kept)
        for i in range(len(levels)):
            hashtable.map_insert(table, *levels.read(i))
        levels.close()
        _release_memory()
        return [bnlm.Bnlm(self.order, self.ensure_unicode, l1, l2, table)]

    def _count_pieces(self, tables, engine, spill, progress):
        held = list(tables)  # [model]; cleared once segmentation is done
        tables.clear()
        # per-shard piece counts go to disk first, and are merged only once the
        # n-gram tables are freed: the two never take memory at the same time
        results = _ArraySpill(spill.directory)
        bar = _tqdm(progress, desc='Count Pieces', total=spill.nbytes, unit='B', unit_scale=True)
        try:
            def args():
                for i in range(len(spill)):
                    buf, bounds = spill.read(i)
                    yield (buf, bounds, *held)
            sizes = (spill.shards[i][1] for i in range(len(spill)))
            for (data, pbounds, counts), size in zip(engine.imap(map_count_pieces, args()), sizes):
                results.write(data, pbounds, counts)
                bar.update(size)
            held.clear()
            _release_memory()
            # merge, in hash partitions of the pieces when there are many
            # (the per-shard counts hold each distinct piece about 3 times)
            total = sum(layout[2][1] for _, layout in results._items)
            nparts = max(1, int(math.ceil(total / 3 / max(self.table_entries // 4, 1))))
            parts = _ArraySpill(spill.directory)
            n_pieces = n_bytes = 0
            for part in range(nparts):
                tab = hashtable.strtab_new(1 << 16, 1 << 20)
                data = pbounds = counts = None
                for i in range(len(results)):
                    data, pbounds, counts = results.read(i)
                    tab = hashtable.strtab_add(tab, data, pbounds[:-1], pbounds[1:], counts, part, nparts)
                del data, pbounds, counts
                pool, offsets, counts = hashtable.strtab_items(tab)
                del tab
                parts.write(pool, offsets, counts)
                n_pieces += offsets.shape[0]
                n_bytes += pool.shape[0]
                del offsets, counts, pool
                _release_memory()
        finally:
            bar.close()
            results.close()
        data = np.empty(n_bytes, np.uint8)
        bounds = np.empty(n_pieces + 1, np.int64)
        counts = np.empty(n_pieces, np.int64)
        n_pieces = n_bytes = 0
        for i in range(len(parts)):
            pdata, poffsets, pcounts = parts.read(i)
            data[n_bytes:n_bytes + pdata.shape[0]] = pdata
            bounds[n_pieces:n_pieces + poffsets.shape[0]] = poffsets + n_bytes
            counts[n_pieces:n_pieces + pcounts.shape[0]] = pcounts
            n_pieces += poffsets.shape[0]
            n_bytes += pdata.shape[0]
        bounds[n_pieces] = n_bytes
        parts.close()
        return data, bounds, counts

    # ------------------------------------------------------------------- save
    def save(self, path):
        """Save the model(s): ``path`` for one size, else ``path.<size>`` each."""
        if self.pieces is None:
            raise RuntimeError('nothing to save: call train() first')
        path = os.fsdecode(path)  # str, so that a bytes path gets its '.<size>' suffix right
        if len(self.pieces) == 1:
            paths = [path]
        else:
            paths = ['%s.%s' % (path, size) for size in self.max_vocab_size]
        for pieces, p in zip(self.pieces, paths):
            save_model(pieces, p)
        return paths


# ---------------------------------------------------------------------------
# pruning pieces (SPEC 5.4)

def _canonical(pieces, counts):
    """Sort pieces (list of bytes) and counts by (len, bytes)."""
    order = sorted(range(len(pieces)), key=lambda i: (len(pieces[i]), pieces[i]))
    return [pieces[i] for i in order], counts[np.asarray(order, np.int64)]


def map_segment(automaton, data, bounds):
    """Tokenize spans with a compiled vocabulary -> ``(ids, tokens per span)``."""
    ids, _, span_start = automaton.segment_spans(data, bounds)
    return ids, np.diff(span_start)


SPLIT_BATCH_BYTES = 1 << 16


def _span_batches(data, bounds, weights):
    """Batches ``(data, bounds from 0, weights)`` of whole spans of about
    ``SPLIT_BATCH_BYTES`` bytes (bounded work memory per tokenizer call)."""
    nspans = bounds.shape[0] - 1
    cuts = np.unique(np.concatenate([
        [0], np.searchsorted(bounds, np.arange(SPLIT_BATCH_BYTES, bounds[-1], SPLIT_BATCH_BYTES)), [nspans]]))
    for i0, i1 in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        if i1 > i0:
            b = bounds[i0:i1 + 1]
            yield data[b[0]:b[-1]], b - b[0], weights[i0:i1]


def _split_into(pieces, counts, batches, integral, engine=None):
    """Tokenize the spans of ``batches`` (``_span_batches``) with the vocabulary
    ``pieces`` (canonical order, ``counts``) and add each span's weight to
    every piece of its tokenization, once per occurrence.

    Returns ``(sums, hits)`` indexed like ``pieces``; ``hits`` counts tokens."""
    k = len(pieces)
    automaton = PieceAutomaton.from_counts(dict(zip(pieces, counts.tolist())))
    sums = np.zeros(k, np.int64 if integral else np.float64)
    hits = np.zeros(k, np.int64)
    pending = deque()  # the weights of the batches in flight, in order

    def args():
        for data, bounds, weights in batches:
            pending.append(weights)
            yield automaton, data, bounds

    run = engine.imap if engine is not None else (lambda fn, it: (fn(*a) for a in it))
    for ids, ntok in run(map_segment, args()):
        idx = ids.astype(np.int64) - NUM_SPECIAL
        per_token = np.repeat(pending.popleft(), ntok)
        if integral:
            np.add.at(sums, idx, per_token)
        else:
            sums += np.bincount(idx, weights=per_token, minlength=k)
        hits += np.bincount(idx, minlength=k)
    return sums, hits


def _prune_wasted(pieces, counts, bar, engine):
    """SPEC 5.4c: re-tokenize the pieces with themselves until stable."""
    while True:
        data, bounds = pack_bytes(pieces)
        sums, hits = _split_into(pieces, counts, _span_batches(data, bounds, counts),
                                 counts.dtype.kind == 'i', engine)
        keep = hits > 0
        n_before = len(pieces)
        pieces = [p for p, kept in zip(pieces, keep.tolist()) if kept]
        counts = sums[keep]
        bar.update(1)
        bar.set_postfix_str(f'{len(pieces)} pieces')
        if len(pieces) == n_before:
            return pieces, counts


def _redistribute(keep_pieces, keep_counts, drop, engine, tmpdir=None):
    """SPEC 5.4b: tokenize the dropped pieces with the kept ones and add.

    ``drop = [data, bounds, counts]`` of the dropped pieces; the list is
    emptied: the arrays go to a temporary file in batches, so that they are
    not in memory while the tokenizer is compiled."""
    data, bounds, weights = drop
    drop.clear()
    if weights.shape[0] == 0:
        return keep_counts
    integral = weights.dtype.kind == 'i'
    spill = _ArraySpill(tmpdir)
    try:
        for batch in _span_batches(data, bounds, weights):
            spill.write(*batch)
        del data, bounds, weights, batch
        _release_memory()
        sums, _ = _split_into(keep_pieces, keep_counts, (spill.read(i) for i in range(len(spill))),
                              integral, engine)
    finally:
        spill.close()
    return keep_counts + sums


def _prune_pieces(counted, sizes, max_piece_length, min_count, progress, engine=None, tmpdir=None):
    """Prune the counted pieces ``counted = [data, bounds, counts]`` (piece i is
    ``data[bounds[i]:bounds[i+1]]``; the list is emptied so that the arrays can
    be freed early). Returns one ``{piece: count}`` dict per size in ``sizes``
    (largest first)."""
    data, bounds, counts = counted
    counted.clear()
    lens = np.diff(bounds)
    # a. every single byte, with count 1 if missing
    single = lens == 1
    present = np.zeros(256, bool)
    present[data[bounds[:-1][single]]] = True
    del single
    missing = np.flatnonzero(~present).astype(np.uint8)
    if missing.shape[0]:
        data = np.concatenate([data, missing])
        bounds = np.concatenate([bounds, bounds[-1] + 1 + np.arange(missing.shape[0], dtype=np.int64)])
        counts = np.concatenate([counts, np.ones(missing.shape[0], counts.dtype)])
        lens = np.diff(bounds)
    # b. keep by length and count, split the rest into the kept pieces
    keep = (lens == 1) | ((lens <= max_piece_length) & (counts >= min_count))
    del lens
    pieces, kcounts = _canonical(
        [data[s:e].tobytes() for s, e in zip(bounds[:-1][keep].tolist(), bounds[1:][keep].tolist())],
        counts[keep])
    # the dropped pieces, moved to the front of the same arrays (no copies)
    n_drop, n_bytes = bnlm.compact_spans(data, bounds, counts, ~keep)
    drop = [data[:n_bytes], bounds[:n_drop + 1], counts[:n_drop]]
    del data, bounds, counts, keep
    bar = _tqdm(progress, desc='Prune Pieces', unit=' rounds')
    try:
        kcounts = _redistribute(pieces, kcounts, drop, engine, tmpdir)
        _release_memory()
        bar.update(1)
        pieces, kcounts = _prune_wasted(pieces, kcounts, bar, engine)
        results = []
        for size in sizes:
            limit = size - NUM_SPECIAL
            if len(pieces) > limit:
                k = len(pieces)
                plens = np.fromiter(map(len, pieces), np.int64, k)
                # (len > 1, -count, -len, bytes); canonical index orders bytes within a length
                order = np.lexsort((np.arange(k), -plens, -kcounts, plens > 1))
                kept_idx = np.sort(order[:limit])
                drop_idx = order[limit:]
                drop_pieces = [pieces[i] for i in drop_idx.tolist()]
                drop = [*pack_bytes(drop_pieces), kcounts[drop_idx]]
                del drop_pieces
                pieces = [pieces[i] for i in kept_idx.tolist()]
                kcounts = kcounts[kept_idx]
                kcounts = _redistribute(pieces, kcounts, drop, engine, tmpdir)
                bar.update(1)
                pieces, kcounts = _prune_wasted(pieces, kcounts, bar, engine)
            results.append(dict(zip(pieces, kcounts.tolist())))
    finally:
        bar.close()
    return results


def convert_to_bytepiece(pieces, path, progress=False):
    """Build a BytePiece model file at ``path`` from an external vocabulary
    ``{piece (str or bytes): count}``: all 256 bytes are added (count 1 when
    missing), pieces with a count below 1 are split into the others, and
    wasted pieces are pruned (SPEC sections 3 and 5.4)."""
    if not isinstance(pieces, dict):
        raise TypeError(f'pieces must be a dict of piece -> count, got {type(pieces).__name__}')
    items = {}
    all_int = True
    for k, v in pieces.items():
        if isinstance(k, str):
            kb = k.encode('utf-8')
        elif isinstance(k, bytes):
            kb = k
        else:
            raise TypeError(f'piece {k!r} must be str or bytes, got {type(k).__name__}')
        if isinstance(v, bool) or not isinstance(v, Real) or not v > 0 or not finite_float(v):
            raise ValueError(f'count of piece {k!r} must be a positive finite number, got {shown_value(v)}')
        if not kb:
            continue  # an empty piece never survives pruning
        all_int &= isinstance(v, Integral)
        items[kb] = v
    plist = list(items)
    # The pruning kernels sum counts in int64 (or float64): the total must fit.
    total = sum(items.values())
    if all_int and total >= 2**63:
        raise ValueError(f'the integer counts add up to {shown_value(total)}, more than int64 holds; '
                         f'scale them down or pass them as floats')
    if not finite_float(total):
        raise ValueError('the counts add up to more than the largest float64 (1.8e308)')
    counts = np.array([items[p] for p in plist], np.int64 if all_int else np.float64)
    data, bounds = pack_bytes(plist) if plist else (np.zeros(0, np.uint8), np.zeros(1, np.int64))
    result = _prune_pieces([data, bounds, counts], [len(plist) + MIN_VOCAB_SIZE], math.inf, 1, progress)
    save_model(result[0], path)
    return result[0]
