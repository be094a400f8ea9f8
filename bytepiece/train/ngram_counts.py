"""Counting and pruning byte n-grams: the BNLM of a corpus (see docs/design.md, Training).

The 1- and 2-grams are counted densely while the corpus is prepared. Each
length n = 3..order is then a map-reduce over the shards: a map task counts
the n-grams of one shard whose (n-1)-byte prefix and suffix were kept (exact
for every n-gram that can reach ``min_count``) and writes them grouped by a
hash of the key into ``N_BUCKETS`` buckets; a reduce task sums a range of
buckets over all shards and keeps what reaches ``min_count``. Reduce ranges
are cut so that no task holds more than its share of the memory limit. The
kept n-grams of all lengths make the model, saved as arrays that every
segmentation task maps from the work directory.
"""

import numpy as np

from ..kernels import hashtable, ngrams
from ..kernels.bnlm import Bnlm
from ..runtime.workdir import WorkDir, bucket_rows, mapped_array, read_buckets, write_buckets
from .chunks import load_shard

N_BUCKETS = 256
ROW_BYTES = 48  # a counted key in a reduce table, with its share of empty slots and of the inputs
MODEL_BYTES = 24  # an n-gram of the model's table, with its share of empty slots


def map_level(work_path, shard, n):
    """Task: the n-grams of one shard, bucketed; returns rows per bucket."""
    work = WorkDir.attach(work_path)
    path = work.file(f'level{n}/map/{shard}.bin')
    if not work.exists(f'level{n}/map/{shard}.bin'):
        buf, bounds = load_shard(work, shard)
        keys, counts = ngrams.count_level(buf, bounds, n, mapped_array(work.file(f'level{n - 1}/filter.npy')))
        write_buckets(path, hashtable.key_partitions(keys, N_BUCKETS), N_BUCKETS, keys, counts)
    return bucket_rows(path)


def reduce_level(work_path, n, shards, lo, hi, rows, min_count):
    """Task: the n-grams of buckets ``lo..hi-1`` reaching ``min_count``, summed
    over all shards and saved sorted by key; returns how many."""
    work = WorkDir.attach(work_path)
    name = f'level{n}/reduce/{lo:03d}-{hi:03d}.npz'
    if not work.exists(name):
        keys, counts = sum_buckets(work, f'level{n}/map', shards, lo, hi, rows, min_count, by_key=True)
        work.save(name, keys=keys, counts=counts)
    return work.load(name)['keys'].shape[0]


def sum_buckets(work, folder, shards, lo, hi, rows, min_count, by_key=False):
    """The keys of buckets ``lo..hi-1`` of ``folder/<shard>.bin`` (``rows`` in
    all) summed over ``shards``: ``(keys, counts)`` of those reaching
    ``min_count``, in table order or, with ``by_key``, sorted by key."""
    table = hashtable.counter_new(max(rows // 2, 1 << 10), hashtable.COUNTER_MULT)
    for shard in shards:
        keys, counts = read_buckets(work.file(f'{folder}/{shard}.bin'), lo, hi)
        table = hashtable.counter_add(table, keys, counts)
    return hashtable.counter_items(table, min_count, by_key)


def short_log_probs(c1, c2, min_count):
    """``(l1, l2, kept2)``: the log probabilities of bytes and of the kept 2-grams
    (``-inf`` for the others, as ``Bnlm`` has them), and which 2-grams are kept."""
    c0 = int(c1.sum())
    if c0 == 0:
        raise ValueError('the corpus holds no text (every text is empty)')
    # every byte counts at least once (and once more in the 0-gram)
    missing = c1 == 0
    c0 += int(missing.sum())
    c1 = np.where(missing, 1, c1)
    with np.errstate(divide='ignore'):
        l1 = np.log(c1.astype(np.float64)) - np.log(np.float64(c0))
        kept2 = c2 >= min_count
        first = np.repeat(np.arange(256), 256)
        l2 = np.full(65536, -np.inf)
        l2[kept2] = np.log(c2[kept2].astype(np.float64)) - np.log(c1[first[kept2]].astype(np.float64))
    return l1, l2, kept2


def count_ngrams(tasks, work, settings, shards, c1, c2, report):
    """Count the n-grams of the prepared ``shards`` and save the model (see
    ``load_model``). Returns how many n-grams of each length were kept.

    The model's table holds at most a quarter of the memory limit: past it,
    the rarest n-grams go, by raising the least count of each length from 3
    on as needed (never below that of the length before, so that counting
    only where the prefix and suffix were kept stays exact); the raised
    counts go to ``report.thresholds``, the lengths an earlier run counted
    to ``report.reused``."""
    l1, l2, kept2 = short_log_probs(c1, c2, settings.min_count)
    keys = (np.uint64(2) << ngrams.LEN_SHIFT) | np.flatnonzero(kept2).astype(np.uint64)  # sorted
    counts = c2[kept2]
    kept = {1: 256, 2: int(keys.shape[0])}
    budget = max(tasks.memory_limit // 4 // MODEL_BYTES, 1)
    threshold = settings.min_count
    for n in range(3, settings.order + 1):
        if keys.shape[0] == 0:
            break
        share = (budget - sum(v for k, v in kept.items() if k >= 3)) // (settings.order - n + 1)
        if work.exists(f'level{n}/kept.npz'):
            report.reused.append(f'{n}-grams')
        keys, counts, threshold = _level(tasks, work, shards, n, keys, counts, threshold, share, settings.min_count)
        kept[n] = int(keys.shape[0])
        if threshold > settings.min_count:
            report.thresholds[n] = threshold
    del keys, counts
    table = hashtable.map_new(sum(v for n, v in kept.items() if n >= 3))
    for n in range(3, settings.order + 1):
        if n in kept:
            level = work.load(f'level{n}/kept.npz')
            hashtable.map_insert(table, level['keys'], level['logp'])
            del level
    for name, array in (('l1', l1), ('l2', l2), ('table', table)):
        work.save_array(f'model/{name}.npy', array)
    return kept


def _level(tasks, work, shards, n, prev_keys, prev_counts, threshold, most, min_count):
    """The kept n-grams of length ``n`` (at most ``most`` of them, with counts
    of at least ``threshold``, raised if needed): ``(keys, counts, threshold)``,
    sorted by key."""
    name = f'level{n}/kept.npz'
    if not work.exists(name):
        work.save_array(f'level{n - 1}/filter.npy', ngrams.build_filter(prev_keys))
        rows = np.zeros(N_BUCKETS, np.int64)
        for shard_rows in tasks.map(f'Count {n}-grams', map_level, [(work.path, s, n) for s in shards], shards):
            rows += shard_rows
        ranges = tasks.reduce_ranges(rows, ROW_BYTES)
        list(tasks.imap(reduce_level, [(work.path, n, shards, lo, hi, int(rows[lo:hi].sum()), min_count)
                                       for lo, hi in ranges]))
        parts = [work.load(f'level{n}/reduce/{lo:03d}-{hi:03d}.npz') for lo, hi in ranges]
        keys = np.concatenate([p['keys'] for p in parts])
        counts = np.concatenate([p['counts'] for p in parts])
        del parts
        threshold = least_count(counts, threshold, most)
        select = counts >= threshold
        keys, counts = keys[select], counts[select]
        order = np.argsort(keys)
        keys, counts = keys[order], counts[order]
        del order, select
        prefix_counts = ngrams.lookup_counts(ngrams.prefix_keys(keys), prev_keys, prev_counts)
        logp = np.log(counts.astype(np.float64)) - np.log(prefix_counts.astype(np.float64))
        work.save(name, keys=keys, counts=counts, logp=logp, threshold=threshold)
        work.remove(f'level{n}/map')
        work.remove(f'level{n}/reduce')
        return keys, counts, threshold
    level = work.load(name)
    return level['keys'], level['counts'], int(level['threshold'])


def least_count(counts, threshold, most):
    """The least count, ``threshold`` or more, that at most ``most`` of ``counts`` reach."""
    if np.count_nonzero(counts >= threshold) <= most:
        return threshold
    if most <= 0:
        return int(counts.max()) + 1
    return max(threshold, int(np.partition(counts, counts.size - most - 1)[counts.size - most - 1]) + 1)


def load_model(work, settings):
    """The saved model as a ``Bnlm``, its arrays mapped from the work directory."""
    l1, l2, table = (mapped_array(work.file(f'model/{name}.npy')) for name in ('l1', 'l2', 'table'))
    return Bnlm(settings.order, settings.ensure_unicode, l1, l2, table)
