"""Pruning counted pieces into vocabularies, and ``convert_to_bytepiece`` (see
docs/design.md, Training).

Dropped pieces are tokenized with the kept ones, and their counts added to
the pieces of their tokenization; pieces no longer used when the vocabulary
tokenizes itself are dropped, until none is. Whole batches of pieces are
tokenized with the compiled vocabulary and counts added with numpy: no
Python loop per piece or token.
"""

import math
import threading
import uuid
from collections import deque
from numbers import Integral, Real

import numpy as np

from ..core.encoding import segment_spans
from ..core.model import NUM_SPECIAL, finite_float, save_model, shown_value
from ..core.text import pack_bytes, unpack_bytes
from ..core.vocab import Vocabulary
from ..kernels import bnlm
from ..runtime.memory import release_memory
from ..runtime.parallel import Engine
from ..runtime.progress import progress_bar
from .settings import MIN_VOCAB_SIZE
from .spill import ArraySpill

__all__ = ['prune_pieces', 'convert_to_bytepiece', 'tokenize_spans']

SPLIT_BATCH_BYTES = 1 << 16


# ---------------------------------------------------------------------------
# the compiled vocabulary: its only uses in training

class PackedVocabulary:
    """Pieces in canonical order with their counts, packed into arrays: what
    the driver sends to the tasks. Each process compiles it once
    (``compiled``), so that the driver never holds the trie."""

    def __init__(self, pieces, counts):
        self.data, self.bounds = pack_bytes(pieces)
        self.counts = counts
        self.key = uuid.uuid4().hex


_compiled = {}  # the vocabulary this process compiled last, by key
_compiled_lock = threading.Lock()


def compiled(packed):
    """The ``Vocabulary`` of a ``PackedVocabulary``, compiled once per process
    (the threads of a process wait for the first one)."""
    with _compiled_lock:
        vocab = _compiled.get(packed.key)
        if vocab is None:
            _compiled.clear()
            bounds = packed.bounds.tolist()
            pieces = [packed.data[a:b].tobytes() for a, b in zip(bounds[:-1], bounds[1:])]
            vocab = Vocabulary(pieces, range(NUM_SPECIAL, len(pieces) + NUM_SPECIAL), packed.counts.tolist())
            _compiled[packed.key] = vocab
        return vocab


def forget(packed):
    """Drop this process's compiled copy of ``packed`` (once it is done with)."""
    with _compiled_lock:
        _compiled.pop(packed.key, None)


def map_segment_spans(packed, data, bounds):
    """Tokenize each span ``data[bounds[i]:bounds[i+1]]`` -> ``(ids, tokens per span)``."""
    ids, _, span_start = segment_spans(compiled(packed), data, bounds)
    return ids, np.diff(span_start)


def tokenize_spans(pieces, counts, batches, engine):
    """Tokenize batches ``(data, bounds)`` of spans with the vocabulary
    ``pieces`` (a list of bytes in canonical order, with ``counts``). Yields,
    per batch in order, ``(index into pieces of each token, tokens per span)``."""
    packed = PackedVocabulary(pieces, counts)
    shared = engine.share(packed)
    try:
        for ids, ntok in engine.imap(map_segment_spans, ((shared, data, bounds) for data, bounds in batches)):
            yield ids.astype(np.int64) - NUM_SPECIAL, ntok
    finally:
        forget(packed)


# ---------------------------------------------------------------------------
# pruning

def _canonical(pieces, counts):
    """Sort pieces (list of bytes) and counts by (len, bytes)."""
    order = sorted(range(len(pieces)), key=lambda i: (len(pieces[i]), pieces[i]))
    return [pieces[i] for i in order], counts[np.asarray(order, np.int64)]


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


def _split_into(pieces, counts, batches, integral, engine):
    """Tokenize the spans of ``batches`` (``_span_batches``) with the vocabulary
    ``pieces`` (canonical order, ``counts``) and add each span's weight to
    every piece of its tokenization, once per occurrence.

    Returns ``(sums, hits)`` indexed like ``pieces``; ``hits`` counts tokens."""
    k = len(pieces)
    sums = np.zeros(k, np.int64 if integral else np.float64)
    hits = np.zeros(k, np.int64)
    pending = deque()  # the weights of the batches in flight, in order

    def spans():
        for data, bounds, weights in batches:
            pending.append(weights)
            yield data, bounds

    for idx, ntok in tokenize_spans(pieces, counts, spans(), engine):
        per_token = np.repeat(pending.popleft(), ntok)
        if integral:
            np.add.at(sums, idx, per_token)
        else:
            sums += np.bincount(idx, weights=per_token, minlength=k)
        hits += np.bincount(idx, minlength=k)
    return sums, hits


def _prune_wasted(pieces, counts, bar, engine):
    """Re-tokenize the pieces with themselves, dropping those no tokenization
    uses, until none is dropped."""
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
    """Tokenize the dropped pieces with the kept ones and add their counts.

    ``drop = [data, bounds, counts]`` of the dropped pieces; the list is
    emptied: the arrays go to a temporary file in batches, so that they are
    not in memory while the vocabulary is compiled."""
    data, bounds, weights = drop
    drop.clear()
    if weights.shape[0] == 0:
        return keep_counts
    integral = weights.dtype.kind == 'i'
    with ArraySpill(tmpdir) as spill:
        for batch in _span_batches(data, bounds, weights):
            spill.write(*batch)
        del data, bounds, weights, batch
        release_memory()
        sums, _ = _split_into(keep_pieces, keep_counts, iter(spill), integral, engine)
    return keep_counts + sums


def _add_missing_bytes(counted):
    """Add every single byte missing from ``counted = [data, bounds, counts]``,
    with count 1, replacing the arrays in the list one at a time (each old
    array is freed before the next new one is built)."""
    data, bounds, counts = counted
    lens = np.diff(bounds)
    present = np.zeros(256, bool)
    present[data[bounds[:-1][lens == 1]]] = True
    missing = np.flatnonzero(~present).astype(np.uint8)
    n = missing.shape[0]
    del data, bounds, counts, lens
    if n:
        counted[0] = np.concatenate([counted[0], missing])
        counted[1] = np.concatenate([counted[1], counted[1][-1] + 1 + np.arange(n, dtype=np.int64)])
        counted[2] = np.concatenate([counted[2], np.ones(n, counted[2].dtype)])


def _split_off(pieces, counts, limit):
    """The ``limit`` pieces kept for a vocabulary size: single bytes first, then
    by (-count, -length, canonical order). Returns ``(kept pieces, their
    counts, [data, bounds, counts] of the others)``."""
    k = len(pieces)
    plens = np.fromiter(map(len, pieces), np.int64, k)
    order = np.lexsort((np.arange(k), -plens, -counts, plens > 1))
    kept_idx = np.sort(order[:limit])
    drop_idx = order[limit:]
    drop = [*pack_bytes([pieces[i] for i in drop_idx.tolist()]), counts[drop_idx]]
    return [pieces[i] for i in kept_idx.tolist()], counts[kept_idx], drop


def prune_pieces(counted, sizes, max_piece_length, min_count, progress, engine, tmpdir=None):
    """Prune the counted pieces ``counted = [data, bounds, counts]`` (piece i is
    ``data[bounds[i]:bounds[i+1]]``; the list is emptied so that the arrays can
    be freed early). Returns one ``{piece: count}`` dict per size in ``sizes``
    (largest first)."""
    _add_missing_bytes(counted)
    data, bounds, counts = counted
    counted.clear()
    lens = np.diff(bounds)
    keep = (lens == 1) | ((lens <= max_piece_length) & (counts >= min_count))
    del lens
    pieces, kcounts = _canonical(
        [data[s:e].tobytes() for s, e in zip(bounds[:-1][keep].tolist(), bounds[1:][keep].tolist())],
        counts[keep])
    # the dropped pieces, moved to the front of the same arrays (no copies)
    n_drop, n_bytes = bnlm.compact_spans(data, bounds, counts, ~keep)
    drop = [data[:n_bytes], bounds[:n_drop + 1], counts[:n_drop]]
    del data, bounds, counts, keep
    with progress_bar(progress, desc='Prune pieces', unit=' rounds') as bar:
        kcounts = _redistribute(pieces, kcounts, drop, engine, tmpdir)
        release_memory()
        bar.update(1)
        return prune_to_sizes(pieces, kcounts, sizes, bar, engine, tmpdir)


def prune_to_sizes(pieces, counts, sizes, bar, engine, tmpdir=None):
    """From the kept pieces (canonical order) with their counts, dropped ones
    already handed over: the wasted pieces pruned, then for each size
    (largest first) the vocabulary cut to it. Returns one ``{piece: count}``
    dict per size."""
    pieces, counts = _prune_wasted(pieces, counts, bar, engine)
    results = []
    for size in sizes:
        if len(pieces) > size - NUM_SPECIAL:
            pieces, counts, drop = _split_off(pieces, counts, size - NUM_SPECIAL)
            counts = _redistribute(pieces, counts, drop, engine, tmpdir)
            bar.update(1)
            pieces, counts = _prune_wasted(pieces, counts, bar, engine)
        results.append(dict(zip(pieces, counts.tolist())))
    return results


def map_redistribute(packed, path):
    """Task: tokenize the dropped pieces saved at ``path`` with the
    ``PackedVocabulary`` and sum their counts onto the pieces of their
    tokenizations (by id)."""
    with np.load(path) as saved:
        data, bounds, weights = saved['data'], saved['bounds'], saved['counts']
    sums = np.zeros(packed.counts.size + NUM_SPECIAL, np.int64)
    for batch_data, batch_bounds, batch_weights in _span_batches(data, bounds, weights):
        ids, ntok = map_segment_spans(packed, batch_data, batch_bounds)
        np.add.at(sums, ids, np.repeat(batch_weights, ntok))
    return sums


# a piece kept for pruning: its bytes object, list entries, trie units and counts
PIECE_BYTES = 512


def prune_saved(tasks, work, settings, names, report):
    """Prune the pieces a counting phase saved in ``pieces/kept/<name>`` and
    ``pieces/dropped/<name>``: one ``{piece: count}`` dict per size. At most
    a quarter of the memory limit goes to the kept pieces: past it, the most
    frequent are kept (single bytes always) and the others handed over like
    the dropped ones (``report.pieces_cap``)."""
    pieces, counts = _saved_kept(work, names)
    most = max(tasks.memory_limit // 4 // PIECE_BYTES, max(settings.max_vocab_size))
    dropped = [work.file(f'pieces/dropped/{name}') for name in names]
    if len(pieces) > most:
        pieces, counts, extra = _split_off(pieces, counts, most)
        work.save('pieces/dropped/over-limit.npz', **dict(zip(('data', 'bounds', 'counts'), extra)))
        dropped.append(work.file('pieces/dropped/over-limit.npz'))
        report.pieces_cap = most
    with progress_bar(tasks.progress, desc='Prune pieces', unit=' rounds') as bar:
        packed = PackedVocabulary(pieces, counts)
        shared = tasks.share(packed)
        for sums in tasks.imap(map_redistribute, [(shared, path) for path in dropped]):
            counts = counts + sums[NUM_SPECIAL:]
        forget(packed)
        del packed, shared
        bar.update(1)
        return prune_to_sizes(pieces, counts, settings.max_vocab_size, bar, tasks.engine)


def _saved_kept(work, names):
    """The kept pieces of the saved counts, every single byte among them,
    in canonical order with their counts."""
    pieces, counts = [], []
    for name in names:
        with np.load(work.file(f'pieces/kept/{name}')) as kept:
            pieces.extend(unpack_bytes(kept['data'], kept['bounds']))
            counts.append(kept['counts'])
    counts = np.concatenate(counts) if counts else np.zeros(0, np.int64)
    present = {p[0] for p in pieces if len(p) == 1}
    missing = [bytes([b]) for b in range(256) if b not in present]
    return _canonical(pieces + missing, np.concatenate([counts, np.ones(len(missing), np.int64)]))


# ---------------------------------------------------------------------------
# external vocabularies

def _vocab_arrays(pieces):
    """The pieces of ``{piece (str or bytes): count}`` as ``(list of bytes,
    counts)``: int64 counts if all are ints, else float64."""
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
    # the pruning sums counts in int64 (or float64): the total must fit
    total = sum(items.values())
    if all_int and total >= 2**63:
        raise ValueError(f'the integer counts add up to {shown_value(total)}, more than int64 holds; '
                         f'scale them down or pass them as floats')
    if not finite_float(total):
        raise ValueError('the counts add up to more than the largest float64 (1.8e308)')
    plist = list(items)
    return plist, np.array([items[p] for p in plist], np.int64 if all_int else np.float64)


def convert_to_bytepiece(pieces: dict, path, progress: bool = False) -> dict:
    """Build a BytePiece model file at ``path`` from an external vocabulary
    ``{piece (str or bytes): count}``: all 256 bytes are added (count 1 when
    missing), pieces with a count below 1 are split into the others, and
    wasted pieces (those that no tokenization of the pieces uses) are
    pruned. Returns the model's ``{piece bytes: count}``.

    >>> import os, tempfile
    >>> from bytepiece import Tokenizer, convert_to_bytepiece
    >>> path = os.path.join(tempfile.mkdtemp(), 'words.model')
    >>> pieces = convert_to_bytepiece({'hello': 50, ' world': 40, 'hello world': 10}, path)
    >>> len(pieces), Tokenizer(path).tokenize('hello world, hello!')
    (259, [b'hello world', b',', b' ', b'hello', b'!'])
    """
    plist, counts = _vocab_arrays(pieces)
    data, bounds = pack_bytes(plist) if plist else (np.zeros(0, np.uint8), np.zeros(1, np.int64))
    result = prune_pieces([data, bounds, counts], [len(plist) + MIN_VOCAB_SIZE], math.inf, 1, progress,
                          Engine('inline'))
    save_model(result[0], path)
    return result[0]
