"""Segmenting the corpus with the BNLM and counting its pieces (see docs/design.md, Training).

A map task segments one shard with the model and counts its pieces by
content; it writes them grouped by a hash of their bytes into ``N_BUCKETS``
buckets. A reduce task sums a range of buckets over all shards and splits the
pieces into those kept for pruning (single bytes, and pieces within
``max_piece_length`` reaching ``min_count``) and those dropped, whose counts
pruning hands to the kept pieces.
"""

import numpy as np

from ..kernels import bnlm, hashtable
from ..runtime.workdir import WorkDir, bucket_rows, read_buckets, write_buckets
from .chunks import load_shard
from .ngram_counts import N_BUCKETS, load_model

# a counted piece in a reduce table: its entry, slot, and a dozen bytes
ROW_BYTES = 64


def map_pieces(work_path, shard, settings):
    """Task: the pieces of one shard with their counts, bucketed; returns rows per bucket."""
    work = WorkDir.attach(work_path)
    path = work.file(f'pieces/map/{shard}.bin')
    if not work.exists(f'pieces/map/{shard}.bin'):
        buf, bounds = load_shard(work, shard)
        data, piece_bounds, counts = bnlm.count_pieces(buf, bounds, load_model(work, settings))
        buckets = hashtable.string_partitions(data, piece_bounds, N_BUCKETS)
        write_buckets(path, buckets, N_BUCKETS, counts, strings=(data, piece_bounds))
    return bucket_rows(path)


def reduce_pieces(work_path, shards, lo, hi, rows, settings):
    """Task: the pieces of buckets ``lo..hi-1`` summed over all shards, saved
    as kept and dropped; returns how many of each."""
    work = WorkDir.attach(work_path)
    names = (f'pieces/kept/{lo:03d}-{hi:03d}.npz', f'pieces/dropped/{lo:03d}-{hi:03d}.npz')
    if not work.exists(names[1]):
        table = hashtable.strtab_new(max(rows // 2, 1 << 10), 8 * max(rows // 2, 1 << 10))
        for shard in shards:
            counts, (data, bounds) = read_buckets(work.file(f'pieces/map/{shard}.bin'), lo, hi)
            table = hashtable.strtab_add(table, data, bounds[:-1], bounds[1:], counts)
        data, starts, counts = hashtable.strtab_items(table)
        bounds = np.append(starts, data.shape[0])
        lengths = np.diff(bounds)
        keep = (lengths == 1) | ((lengths <= settings.max_piece_length) & (counts >= settings.min_count))
        for name, select in zip(names, (keep, ~keep)):
            work.save(name, **select_strings(data, bounds, counts, select))
    return tuple(work.load(name)['counts'].shape[0] for name in names)


def select_strings(data, bounds, counts, select):
    """The selected byte strings (and counts) as ``dict(data, bounds, counts)``."""
    lengths = np.diff(bounds)[select]
    new_bounds = np.zeros(lengths.shape[0] + 1, np.int64)
    np.cumsum(lengths, out=new_bounds[1:])
    return {'data': data[np.repeat(select, np.diff(bounds))], 'bounds': new_bounds, 'counts': counts[select]}


def count_pieces(tasks, work, settings, shards, report):
    """Segment the shards with the saved model and count the pieces; returns
    the names of the reduce outputs (``pieces/kept/<name>``,
    ``pieces/dropped/<name>``) and how many pieces were kept and dropped.
    Counts an earlier run saved are used (``report.reused`` says so)."""
    if work.exists('pieces/reduced.npz'):
        report.reused.append('piece counts')
    else:
        rows = np.zeros(N_BUCKETS, np.int64)
        for shard_rows in tasks.map('Count pieces', map_pieces, [(work.path, s, settings) for s in shards], shards):
            rows += shard_rows
        ranges = tasks.reduce_ranges(rows, ROW_BYTES)
        reduces = [(work.path, shards, lo, hi, int(rows[lo:hi].sum()), settings) for lo, hi in ranges]
        sizes = np.array(list(tasks.imap(reduce_pieces, reduces)), np.int64).reshape(-1, 2)
        names = np.array([f'{lo:03d}-{hi:03d}.npz' for lo, hi in ranges])
        work.save('pieces/reduced.npz', names=names, sizes=sizes)
        work.remove('pieces/map')
    reduced = work.load('pieces/reduced.npz')
    names = [str(name) for name in reduced['names'].tolist()]
    return names, int(reduced['sizes'][:, 0].sum()), int(reduced['sizes'][:, 1].sum())
