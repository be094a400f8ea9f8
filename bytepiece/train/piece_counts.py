"""Segmenting the corpus with the BNLM and counting its pieces (see docs/design.md, Training).

Each shard's pieces are counted by content in a string table; the per-shard
counts are spilled to disk and merged only once the n-gram model is freed,
so the two never take memory at the same time. The merge runs in hash
partitions of the pieces when there are many.
"""

import math

import numpy as np

from ..kernels import bnlm, hashtable
from ..progress import progress_bar
from .memory import release_memory
from .spill import ArraySpill

__all__ = ['segment_shards', 'merge_piece_counts']


def map_count_pieces(buf, bounds, model):
    """Shard -> ``(data, bounds, counts)`` of its pieces."""
    return bnlm.count_pieces(buf, bounds, model)


def segment_shards(model, engine, shards, progress):
    """Segment the spilled ``shards`` with the ``Bnlm`` ``model``; returns a
    spill of each shard's pieces and counts, ``(data, bounds, counts)``."""
    per_shard = ArraySpill(shards.directory)
    try:
        shared = engine.share(model)
        tasks = ((*shard, shared) for shard in shards)
        with progress_bar(progress, desc='Count Pieces', total=shards.total_length(0), unit='B',
                          unit_scale=True) as bar:
            for i, counted in enumerate(engine.imap(map_count_pieces, tasks)):
                per_shard.write(*counted)
                bar.update(shards.lengths(i)[0])
    except BaseException:
        per_shard.close()
        raise
    return per_shard


def merge_piece_counts(per_shard, table_entries):
    """Merge (and close) the spill of ``segment_shards``: ``(data, bounds,
    counts)`` of every distinct piece, piece ``i`` being
    ``data[bounds[i]:bounds[i+1]]``."""
    with per_shard, ArraySpill(per_shard.directory) as parts:
        # the per-shard counts hold each distinct piece about 3 times
        total = per_shard.total_length(2)
        nparts = max(1, int(math.ceil(total / 3 / max(table_entries // 4, 1))))
        for part in range(nparts):
            parts.write(*_merge_part(per_shard, part, nparts))  # (data, starts, counts)
            release_memory()
        per_shard.close()
        return _concatenated(parts)


def _merge_part(per_shard, part, nparts):
    """The summed counts of the pieces of hash partition ``part`` of ``nparts``,
    as ``hashtable.strtab_items``."""
    table = hashtable.strtab_new(1 << 16, 1 << 20)
    for data, bounds, counts in per_shard:
        table = hashtable.strtab_add(table, data, bounds[:-1], bounds[1:], counts, part, nparts)
    return hashtable.strtab_items(table)


def _concatenated(parts):
    """The pieces of all ``(data, starts, counts)`` of ``parts``, one after the other."""
    n_bytes, n_pieces = parts.total_length(0), parts.total_length(2)
    data = np.empty(n_bytes, np.uint8)
    bounds = np.empty(n_pieces + 1, np.int64)
    counts = np.empty(n_pieces, np.int64)
    n_pieces = n_bytes = 0
    for pdata, pstarts, pcounts in parts:
        k = pcounts.shape[0]
        data[n_bytes:n_bytes + pdata.shape[0]] = pdata
        bounds[n_pieces:n_pieces + k] = pstarts + n_bytes
        counts[n_pieces:n_pieces + k] = pcounts
        n_pieces += k
        n_bytes += pdata.shape[0]
    bounds[n_pieces] = n_bytes
    return data, bounds, counts
