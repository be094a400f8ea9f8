"""The data-loader case of ``benchmarks/sample.py --dataloader``: sampling in
2 worker processes through the per-example API.

Each worker draws its shard of the texts (worker ``w`` takes texts ``w, w + 2,
...``), one call per text, and times its own loop (wall clock and its process
CPU time); the ids stay in the worker, so the figures are those of the calls,
not of sending tokens back. The rows:

- bytepiece, per-example seeds: ``encode(text, alpha=0.1, seed=(run, round, index))``;
- bytepiece, the tokenizer's stream: ``encode(text, alpha=0.1)`` (seed 0, so the
  stream is keyed by the worker's identity at its first draw);
- SentencePiece: ``sp.encode(text, enable_sampling=True, alpha=0.1, nbest_size=-1)``;
- kernel (a reference): the sampling kernel alone on each text's bytes,
  prepared before the workers start, with a stream per text: what a call
  with no cost of its own would reach;

each run three ways, in interleaved rounds (the order rotating; fresh worker
processes every round, as a DataLoader starts them every epoch):

- ``loader``: the 2 workers of a PyTorch DataLoader (an IterableDataset,
  ``num_workers=2``, fork), if torch is installed;
- ``processes``: the same calls in one plain forked process per worker, both
  at once (the stream row's processes get their identity from ``set_seed``);
- ``one process``: the same calls in this process, shard after shard.

Rates are per worker (a shard's bytes over the time of its own loop). Bars:
per worker, our per-example rate in the DataLoader >= 0.9x the same calls'
in one process per worker (so 2 processes sharing the machine either way),
and >= 10x SentencePiece's in the same workers. The ratio to this one
process alone is also shown: it adds the machine's own cost of running two
processes at once (docs/benchmarks.md, machine scaling).
"""

import os
import statistics
import time

from benchmarks.common import busy_seconds

ALPHA = 0.1
RUN_SEED = 20240601
WORKERS = 2
IDENTITY_BAR = 0.9
SP_BAR = 10.0

# What the forked workers inherit: set by ``measure`` before they start.
_STATE = {}


def sample_shard(row, shard, round_index):
    """Draw every text of ``shard`` once; ``(bytes, wall s, CPU s)`` of the loop."""
    items = _STATE['shards'][shard]
    tok, sp = _STATE['tokenizer'], _STATE['sp']
    tokens = 0
    wall, cpu = time.perf_counter(), time.process_time()
    if row == 'per-example':
        for index, text in items:
            tokens += len(tok.encode(text, alpha=ALPHA, seed=(RUN_SEED, round_index, index)))
    elif row == 'stream':
        for _, text in items:
            tokens += len(tok.encode(text, alpha=ALPHA))
    elif row == 'kernel':
        from bytepiece.kernels.segment import segment_text
        args = _STATE['kernel_args']
        for buf, bits in _STATE['prepared'][shard]:
            tokens += segment_text(buf, *args, bits).size
    else:
        for _, text in items:
            tokens += len(sp.encode(text, enable_sampling=True, alpha=ALPHA, nbest_size=-1))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert tokens >= _STATE['shard_bytes'][shard] // 64  # the calls happened
    return _STATE['shard_bytes'][shard], wall, cpu


def _dataloader_rounds():
    """A function running a row in a fresh DataLoader's 2 workers, or None without torch."""
    try:
        from torch.utils.data import DataLoader, IterableDataset, get_worker_info
    except ImportError:
        return None

    class Shards(IterableDataset):
        def __init__(self, row, round_index):
            self.row, self.round_index = row, round_index

        def __iter__(self):
            shard = get_worker_info().id
            yield sample_shard(self.row, shard, self.round_index)

    def run(row, round_index):
        loader = DataLoader(Shards(row, round_index), batch_size=None, num_workers=WORKERS,
                            multiprocessing_context='fork')
        return [tuple(map(float, item)) for item in loader]
    return run


def _process_rounds(row, round_index):
    """A row in 2 fresh forked processes (no torch), each given its identity."""
    import multiprocessing
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()

    def worker(shard):
        _STATE['tokenizer'].set_seed(0, worker=(round_index, shard))
        queue.put(sample_shard(row, shard, round_index))
    procs = [ctx.Process(target=worker, args=(s,)) for s in range(WORKERS)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return results


def others_cores(fn):
    """``(fn(), cores that other processes used meanwhile)``: the machine's
    CPU time less this process's and its waited-for children's, over the wall
    time (0 where /proc/stat cannot be read)."""
    busy, mine, wall = busy_seconds(), os.times(), time.perf_counter()
    result = fn()
    wall = time.perf_counter() - wall
    if busy is None:
        return result, 0.0
    busy = busy_seconds() - busy
    mine = sum(os.times()[:4]) - sum(mine[:4])  # user, system, children's user and system
    return result, max(0.0, busy - mine) / wall


def measure(tokenizer, sp, texts, runs, max_others=-1.0, max_wait=600.0):
    """Medians over ``runs`` rounds: ``{(row, where): (MB/s wall, MB/s CPU)}``
    per worker (``where``: 'loader', 'processes', 'one process'), what ran the workers,
    and how many rounds were discarded: with ``max_others >= 0``, a round
    during any case of which other processes used more than that many cores
    is run again (until ``max_wait`` seconds have passed)."""
    shards = [[(i, texts[i]) for i in range(s, len(texts), WORKERS)] for s in range(WORKERS)]
    from bytepiece.core.seeds import SeedStream
    from bytepiece.core.text import text_bytes
    seeds, form = SeedStream(), tokenizer.normalization  # explicit seeds: the stream's own state is unused
    _STATE.update(tokenizer=tokenizer, sp=sp, shards=shards,
                  shard_bytes=[sum(len(t.encode('utf-8')) for _, t in shard) for shard in shards],
                  kernel_args=tokenizer.encoder.sampling_args(ALPHA),
                  prepared=[[(text_bytes(t, form), seeds.text_bits((RUN_SEED, 0, i))) for i, t in shard]
                            for shard in shards])
    in_loader = _dataloader_rounds()
    runs_in = {'processes': _process_rounds,
               'one process': lambda row, r: [sample_shard(row, s, r) for s in range(WORKERS)]}
    if in_loader:
        runs_in = dict(loader=in_loader, **runs_in)
    runner = ('a PyTorch DataLoader (2 workers, fork)' if in_loader else 'no DataLoader (torch not installed)')
    rows = ['per-example', 'stream', 'kernel'] + (['sentencepiece'] if sp is not None else [])
    cases = [(row, where) for row in rows for where in runs_in]
    rates = {case: [] for case in cases}
    kept = discarded = 0
    deadline = time.time() + max_wait
    for r in range(runs * 100):  # round 0 warms up; the seeds' round number never repeats
        shift = r % len(cases)
        round_rates, busiest = {}, 0.0
        for row, where in cases[shift:] + cases[:shift]:
            results, others = others_cores(lambda: runs_in[where](row, r))
            size, wall, cpu = (sum(x[k] for x in results) for k in range(3))
            round_rates[row, where] = (size / wall / 1e6, size / cpu / 1e6)  # per worker: summed over the shards
            busiest = max(busiest, others)
        if r == 0:
            continue
        if max_others >= 0 and busiest > max_others and time.time() < deadline:
            discarded += 1
            continue
        for case, rate in round_rates.items():
            rates[case].append(rate)
        kept += 1
        if kept == runs:
            break
    medians = {case: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
               for case, v in rates.items()}
    return medians, runner, discarded


def checks(medians):
    """The bars: ``(what, wall ratio, CPU ratio, bar or None)``."""
    def ratio(a, b, what, bar=None):
        if a not in medians or b not in medians:
            return []
        return [(what, medians[a][0] / medians[b][0], medians[a][1] / medians[b][1], bar)]
    workers = 'loader' if ('per-example', 'loader') in medians else 'processes'
    return (ratio(('per-example', 'loader'), ('per-example', 'processes'),
                  'per-example in the DataLoader / the same calls in one process per worker', IDENTITY_BAR)
            + ratio(('per-example', workers), ('per-example', 'one process'),
                    f'per-example in the {workers} / the same calls in this one process alone (reference)')
            + ratio(('stream', 'loader'), ('stream', 'processes'),
                    'stream in the DataLoader / the same calls in one process per worker (reference)')
            + ratio(('per-example', workers), ('sentencepiece', workers),
                    f'per-example / SentencePiece sampling, in the same {workers}', SP_BAR)
            + ratio(('kernel', workers), ('sentencepiece', workers),
                    f'the kernel alone / SentencePiece sampling, in the same {workers} (reference)'))


def report(medians, runner, loads):
    """The results as printed lines and as markdown lines."""
    wheres = list(dict.fromkeys(where for _, where in medians))
    printed = [f'workers: {runner}; load average {loads[0]:.2f} at the start, {loads[1]:.2f} at the end',
               'MB/s per worker, medians, wall clock (process CPU time): ' + ' | '.join(wheres)]
    table = ['| row | ' + ' | '.join(wheres) + ' |', '|---|' + '---:|' * len(wheres)]
    for row in dict.fromkeys(row for row, _ in medians):
        cells = [f'{medians[row, where][0]:.2f} ({medians[row, where][1]:.2f})' for where in wheres]
        printed.append(f'  {row:<14} ' + ' | '.join(cells))
        table.append(f'| {row} | ' + ' | '.join(cells) + ' |')
    printed.append('bars:')
    notes = []
    for what, wall, cpu, bar in checks(medians):
        verdict = '' if bar is None else f' (bar {bar}x): wall {"PASS" if wall >= bar else "FAIL"}, ' \
                                         f'CPU {"PASS" if cpu >= bar else "FAIL"}'
        printed.append(f'  {what}: {wall:.2f}x wall, {cpu:.2f}x CPU{verdict}')
        notes.append(f'- {what}: **{wall:.2f}x** wall clock, **{cpu:.2f}x** CPU time{verdict}')
    return printed, table + [''] + notes


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float('nan')
