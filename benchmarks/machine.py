"""How far two threads can go on this machine: the ceiling for issue 5's
"2 threads at least 1.7x one thread".

It times the same work on one thread and on two (numba ``prange``, one job
per thread), for loops of three kinds:

- ``multiply chains``: arithmetic only, no memory traffic;
- ``loads, N KB``: a chain of dependent loads over a random cycle of N KB,
  the access pattern of the lattice kernels' trie walks;
- ``lattice kernel``: bytepiece's serial batch kernel (Viterbi) on the two
  halves of the corpus texts, in two Python threads (the kernel releases the
  GIL).

    python benchmarks/machine.py [--corpus PATH] [--model PATH] [--mb 2] [--runs 5]
"""

import argparse
import datetime
import os
import statistics
import sys
import threading
import time

import numba
import numpy as np
from numba import njit, prange

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from benchmarks.common import add_common_args, load_texts_mb, machine  # noqa: E402


@njit(nogil=True)
def _multiply_chains(n):
    m = np.uint64(6364136223846793005)
    a, b, c, d = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
    e, f, g, h = np.uint64(5), np.uint64(6), np.uint64(7), np.uint64(8)
    for _ in range(n):
        a, b, c, d = a * m + b, b * m + c, c * m + d, d * m + e
        e, f, g, h = e * m + f, f * m + g, g * m + h, h * m + a
    return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h


@njit(nogil=True)
def _dependent_loads(next_index, n, start):
    p = start
    for _ in range(n):
        p = next_index[p]
    return p


@njit(parallel=True)
def _compute_jobs(n, jobs):
    out = np.zeros(jobs, np.uint64)
    for j in prange(jobs):
        out[j] = _multiply_chains(n)
    return out


@njit(parallel=True)
def _load_jobs(next_index, n, jobs):
    out = np.zeros(jobs, np.int64)
    for j in prange(jobs):
        out[j] = _dependent_loads(next_index, n, np.int64(j))
    return out


def random_cycle(n_bytes, rng):
    """int64 array whose entries form one random cycle (every load misses the
    prefetcher)."""
    n = n_bytes // 8
    order = rng.permutation(n)
    next_index = np.empty(n, np.int64)
    next_index[order] = np.roll(order, 1)
    return next_index


def speedup(run, runs):
    """Median of per-round (1-thread time / 2-thread time), same work."""
    ratios = []
    for _ in range(runs):
        times = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            start = time.perf_counter()
            run(threads)
            times.append(time.perf_counter() - start)
        ratios.append(times[0] / times[1])
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return statistics.median(ratios)


def kernel_runner(args):
    from bytepiece import Tokenizer
    from bytepiece.kernels.segment import segment_texts
    from bytepiece.core.text import encode_texts, pack_bytes
    vocab = Tokenizer(args.model).vocab
    texts = load_texts_mb(args.corpus, args.mb)
    half = int(np.searchsorted(np.cumsum([len(t) for t in texts]), sum(map(len, texts)) / 2))  # about equal halves
    halves = [pack_bytes(encode_texts(part, 'NFC')) for part in (texts[:half], texts[half:])]
    fixed = (vocab.trie, vocab.draw(-1), np.uint64(0), 0, False)

    def segment(buf, bounds):
        segment_texts(buf, bounds, np.arange(bounds.size), *fixed)

    def run(threads):
        if threads == 1:
            for buf, bounds in halves:
                segment(buf, bounds)
            return
        workers = [threading.Thread(target=segment, args=half_) for half_ in halves]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return run, sum(buf.size for buf, _ in halves)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, corpus_mb=2.0)
    args = parser.parse_args()
    if numba.config.NUMBA_NUM_THREADS < 2:
        sys.exit('needs at least 2 cores')
    rng = np.random.default_rng(0)
    rows = [('multiply chains (no memory traffic)', lambda threads: _compute_jobs(50_000_000, 2))]
    for kb in (32, 1024, 3072, 16384):
        next_index = random_cycle(kb * 1024, rng)
        rows.append((f'dependent loads, {kb} KB', lambda threads, ni=next_index: _load_jobs(ni, 10_000_000, 2)))
    kernel, size = kernel_runner(args)
    rows.append((f'lattice kernel, {size / 1e6:.1f} MB in two halves', kernel))
    print(f'{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}; '
          f'medians of {args.runs} rounds')
    print('| loop | 2 threads / 1 thread |\n|---|---:|')
    for name, run in rows:
        run(2)  # compile and warm up
        print(f'| {name} | {speedup(run, args.runs):.2f}x |')


if __name__ == '__main__':
    main()
