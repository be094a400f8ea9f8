"""Where a training phase's tasks run: the run's engine, a progress bar over
the bytes of the shards a map reads, and the memory limit phases plan by."""

import numpy as np

from ..runtime.progress import progress_bar


class Tasks:
    """The tasks of a run's phases: ``map`` over shards (with a bar),
    ``imap`` for reduce tasks, ``share`` for what many tasks read, and
    ``reduce_ranges`` to cut buckets within a task's memory."""

    def __init__(self, engine, shard_bytes, memory_limit, progress):
        self.engine = engine
        self.shard_bytes = shard_bytes  # bytes of each shard, by name
        self.memory_limit = memory_limit
        # a reduce task's share: the model, another task and the reads take the rest
        self.task_memory = memory_limit // 8
        self.progress = progress

    def map(self, desc, fn, tasks, shards, status=None):
        """``engine.imap(fn, tasks)``, one task per shard, with a bar over the
        shards' bytes; ``status()``, if given, is shown on the bar after each
        result (the caller's running totals)."""
        total = sum(self.shard_bytes[s] for s in shards)
        with progress_bar(self.progress, desc=desc, total=total, unit='B', unit_scale=True) as bar:
            for shard, result in zip(shards, self.engine.imap(fn, tasks)):
                yield result
                bar.update(self.shard_bytes[shard])
                if status is not None:
                    bar.set_postfix_str(status())

    def imap(self, fn, tasks):
        """``fn(*task)`` for each task, in order, on the engine."""
        return self.engine.imap(fn, tasks)

    def share(self, value):
        """``value`` sent once to every worker (see ``Engine.share``)."""
        return self.engine.share(value)

    def reduce_ranges(self, rows, row_bytes):
        """The bucket ranges of the reduce tasks of ``rows`` (per bucket) of
        ``row_bytes`` each: within a task's memory, two per worker at least."""
        return reduce_ranges(rows, self.task_memory // row_bytes, 2 * self.engine.workers)


def reduce_ranges(rows, most_rows, least_ranges):
    """Cut the buckets into ranges of consecutive buckets holding at most
    ``most_rows`` rows each (a bucket alone may hold more), and at least
    ``least_ranges`` ranges where there are rows enough."""
    limit = max(1, min(most_rows, int(np.ceil(rows.sum() / max(least_ranges, 1)))))
    ranges, lo, total = [], 0, 0
    for b, r in enumerate(rows.tolist()):
        if total and total + r > limit:
            ranges.append((lo, b))
            lo, total = b, 0
        total += r
    ranges.append((lo, len(rows)))
    return ranges
