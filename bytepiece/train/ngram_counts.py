"""Counting and pruning byte n-grams: the BNLM of a corpus (see docs/design.md, Training).

The corpus is read once, cut into chunks and packed into shards that are
spilled to a temporary file, while the 1- and 2-grams are counted densely.
Then each length n = 3..order takes one pass over the spilled shards,
counting only n-grams whose (n-1)-byte prefix and suffix were kept (exact for
every n-gram that can reach ``min_count``). The per-shard counts are spilled
too, then reduced one hash partition of the keys at a time, so that no count
table exceeds ``table_entries / 2`` keys.

The task functions are top level, so that process pools can pickle them.
"""

import math

import numpy as np

from ..corpus import iter_shards
from ..kernels import hashtable, ngrams
from ..kernels.bnlm import Bnlm
from ..progress import progress_bar
from .memory import release_memory
from .spill import ArraySpill

__all__ = ['count_ngrams', 'SHARD_BYTES']

SHARD_BYTES = 1 << 19  # a shard of chunked text: the unit of work of the count tasks


def map_count_short(buf, bounds):
    """Shard -> ``(c1 int64[256], c2 int64[65536])``."""
    return ngrams.count_short(buf, bounds)


def map_count_level(buf, bounds, n, kept_prev):
    """Shard -> ``(keys, counts)`` of the n-grams whose (n-1)-grams pass ``kept_prev``."""
    return ngrams.count_level(buf, bounds, n, kept_prev, 0, 1)


def count_ngrams(corpus, settings, engine, shards, batch_size, progress, table_entries):
    """Read ``corpus`` into the spill ``shards`` (``(buf, bounds)`` of chunked
    text) and count its n-grams. Returns ``(model, kept)``: the ``Bnlm`` of
    the n-grams kept (count >= ``settings.min_count``), and how many were kept
    of each length."""
    c1, c2 = _read_corpus(corpus, settings.isolate_digits, engine, shards, batch_size, progress)
    l1, l2, kept2 = _short_log_probs(c1, c2, settings.min_count)
    prev_keys = (np.uint64(2) << ngrams.LEN_SHIFT) | np.flatnonzero(kept2).astype(np.uint64)  # sorted
    prev_counts = c2[kept2]
    kept = {1: 256, 2: int(kept2.sum())}
    del c2, kept2
    with ArraySpill(shards.directory) as levels:  # kept keys and log probabilities of each length
        for n in range(3, settings.order + 1):
            if prev_keys.shape[0] == 0:
                break
            keys, counts = _count_level(n, prev_keys, settings.min_count, engine, shards, progress, table_entries)
            prefix_counts = ngrams.lookup_counts(ngrams.prefix_keys(keys), prev_keys, prev_counts)
            vals = np.log(counts.astype(np.float64)) - np.log(prefix_counts.astype(np.float64))
            del prefix_counts
            levels.write(keys, vals)
            del vals
            kept[n] = int(keys.shape[0])
            prev_keys, prev_counts = keys, counts
        del prev_keys, prev_counts
        keys = counts = None
        release_memory()
        table = hashtable.map_new(levels.total_length(0))
        for i in range(len(levels)):
            hashtable.map_insert(table, *levels.read(i))  # one level in memory at a time
    release_memory()
    return Bnlm(settings.order, settings.ensure_unicode, l1, l2, table), kept


def _read_corpus(corpus, isolate_digits, engine, shards, batch_size, progress):
    """Chunk and pack the corpus into ``shards``; returns the 1- and 2-gram counts."""
    c1 = np.zeros(256, np.int64)
    c2 = np.zeros(65536, np.int64)
    ntexts = 0
    with progress_bar(progress, desc='Count Ngrams', unit=' texts') as bar:
        def tasks():
            nonlocal ntexts
            for buf, bounds, n in iter_shards(corpus, isolate_digits, batch_size, SHARD_BYTES):
                shards.write(buf, bounds)
                ntexts += n
                bar.update(n)
                yield buf, bounds

        for a, b in engine.imap(map_count_short, tasks()):
            c1 += a
            c2 += b
    if ntexts == 0:
        raise ValueError('the corpus is empty')
    return c1, c2


def _short_log_probs(c1, c2, min_count):
    """``(l1, l2, kept2)``: the log probabilities of bytes and of the kept 2-grams
    (``-inf`` for the others, as ``Bnlm`` has them), and which 2-grams are kept."""
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
    return l1, l2, kept2


def _count_level(n, prev_keys, min_count, engine, shards, progress, table_entries):
    """The kept n-grams of length ``n`` (their (n-1)-grams ``prev_keys`` kept):
    ``(keys, counts)`` sorted by key."""
    kept_prev = ngrams.build_filter(prev_keys)
    with ArraySpill(shards.directory) as shard_counts, \
            progress_bar(progress, desc=f'Count {n}-grams', total=len(shards), unit=' shards') as bar:
        for keys, counts in engine.imap(map_count_level, ((*shard, n, kept_prev) for shard in shards)):
            shard_counts.write(keys, counts)
            bar.update(1)
        del kept_prev
        release_memory()
        # a key shows up in about 4 shards' counts
        total = shard_counts.total_length(0)
        nparts = max(1, int(math.ceil(total / 4 / max(table_entries // 2, 1))))
        parts = [_reduce_part(shard_counts, part, nparts, total, min_count) for part in range(nparts)]
    release_memory()
    if nparts == 1:
        return parts[0]
    keys = np.concatenate([keys for keys, _ in parts])
    order = np.argsort(keys)
    return keys[order], np.concatenate([counts for _, counts in parts])[order]


def _reduce_part(shard_counts, part, nparts, total, min_count):
    """The summed counts of the keys of hash partition ``part`` of ``nparts``
    that reach ``min_count``, sorted by key."""
    table = hashtable.counter_new(max(total // (4 * nparts), 1 << 10), hashtable.COUNTER_MULT)
    for keys, counts in shard_counts:
        table = hashtable.counter_add(table, keys, counts, part, nparts)
    return hashtable.counter_items(table, min_count, True)
