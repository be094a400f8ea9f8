"""The passes of the unigram trainer over the corpus (see docs/design.md,
Training: the unigram method): each is a map over the shards and a reduce
over hash buckets, on the run's engine.

- Characters: the multi-byte characters and the pairs of adjacent characters
  of every chunk, counted: the seed candidates.
- Best paths: every chunk segmented by Viterbi with a round's vocabulary; a
  map task counts the tokens of each piece and sums the paths' scores, and,
  when the vocabulary grows, counts the pairs of adjacent tokens, written
  grouped by a hash into ``N_BUCKETS`` buckets. A reduce task sums the pairs
  of a range of buckets over all shards and keeps those reaching
  ``min_count``.

Counts are integers summed in shard order, scores are summed per shard and
then in shard order: the results do not depend on the engine or the number
of workers.
"""

import numpy as np

from ..kernels import hashtable, unigram
from ..runtime.workdir import WorkDir, bucket_rows, write_buckets
from .chunks import load_shard
from .ngram_counts import N_BUCKETS, ROW_BYTES, sum_buckets


def map_chars(work_path, shard, whole_chars):
    """Task: the characters and character pairs of one shard, bucketed;
    returns rows per bucket."""
    work = WorkDir.attach(work_path)
    name = f'unigram/chars/map/{shard}.bin'
    if not work.exists(name):
        buf, bounds = load_shard(work, shard)
        keys, counts = unigram.char_pairs(buf, bounds, whole_chars)
        write_buckets(work.file(name), hashtable.key_partitions(keys, N_BUCKETS), N_BUCKETS, keys, counts)
    return bucket_rows(work.file(name))


def map_paths(work_path, shard, round_dir, max_length):
    """Task: the best paths of one shard with the vocabulary of ``round_dir``.
    Returns ``(counts by id, sum of scores, pair rows per bucket)``; pairs
    are counted only if ``max_length`` > 0."""
    work = WorkDir.attach(work_path)
    name = f'{round_dir}/map/{shard}'
    if not work.exists(name + '.npz'):  # written last
        vocab = work.load(f'{round_dir}/vocab.npz')
        buf, bounds = load_shard(work, shard)
        counts, score, keys, pair_counts = unigram.best_path_stats(
            buf, bounds, vocab['units'], vocab['unit_score'], vocab['unit_token'], vocab['lengths'].size,
            vocab['pair_ok'], vocab['lengths'], max_length, vocab['droppable'], vocab['drop_below'][()])
        write_buckets(work.file(name + '.bin'), hashtable.key_partitions(keys, N_BUCKETS), N_BUCKETS, keys,
                      pair_counts)
        work.save(name + '.npz', counts=counts, score=np.float64(score))
    result = work.load(name + '.npz')
    return result['counts'], float(result['score']), bucket_rows(work.file(name + '.bin'))


def reduce_keys(work_path, folder, shards, lo, hi, rows, min_count):
    """Task: the keys of buckets ``lo..hi-1`` of ``folder/map/<shard>.bin``
    summed over all shards; returns those reaching ``min_count``."""
    return sum_buckets(WorkDir.attach(work_path), f'{folder}/map', shards, lo, hi, rows, min_count)


def _reduce(tasks, work, folder, shards, rows, min_count):
    """Keys and counts summed over the shards' bucket files, those reaching
    ``min_count``, sorted by descending count then key."""
    name = f'{folder}/reduced.npz'
    if work.exists(name):
        reduced = work.load(name)
        return reduced['keys'], reduced['counts']
    ranges = tasks.reduce_ranges(rows, ROW_BYTES)
    reduces = [(work.path, folder, shards, lo, hi, int(rows[lo:hi].sum()), min_count) for lo, hi in ranges]
    parts = list(tasks.imap(reduce_keys, reduces))
    # millions of pairs at 1 GB: each array is let go as soon as it is used
    keys = np.concatenate([p[0] for p in parts] + [np.zeros(0, np.uint64)])
    counts = np.concatenate([p[1] for p in parts] + [np.zeros(0, np.int64)])
    parts = None
    order = np.lexsort((keys, -counts))
    keys = keys[order]
    counts = counts[order]
    order = None
    work.save(name, keys=keys, counts=counts)
    return keys, counts


def count_chars(tasks, work, settings, shards):
    """The characters of more than one byte and the pairs of adjacent
    characters of at most 7 bytes (n-gram keys, ``kernels.ngrams``) reaching
    ``min_count``, by descending count. Without ``ensure_unicode`` every
    byte is a character."""
    rows = np.zeros(N_BUCKETS, np.int64)
    if not work.exists('unigram/chars/reduced.npz'):
        maps = [(work.path, s, settings.ensure_unicode) for s in shards]
        for shard_rows in tasks.map('Count characters', map_chars, maps, shards):
            rows += shard_rows
    return _reduce(tasks, work, 'unigram/chars', shards, rows, settings.min_count)


def count_paths(tasks, work, shards, round_dir, max_length, min_count, desc):
    """One pass of best paths with the vocabulary saved in ``round_dir``:
    ``(counts by id, total score, pair keys, pair counts)``, the pairs (only
    with ``max_length`` > 0) reaching ``min_count``, by descending count."""
    rows = np.zeros(N_BUCKETS, np.int64)
    counts, score = None, 0.0
    maps = [(work.path, s, round_dir, max_length) for s in shards]
    for shard_counts, shard_score, shard_rows in tasks.map(desc, map_paths, maps, shards,
                                                           lambda: f'{int(counts.sum()):,} tokens'):
        counts = shard_counts if counts is None else counts + shard_counts
        score += shard_score
        rows += shard_rows
    keys, pair_counts = _reduce(tasks, work, round_dir, shards, rows, min_count)
    return counts, score, keys, pair_counts
