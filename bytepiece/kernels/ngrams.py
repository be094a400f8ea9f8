"""Byte n-gram counting kernels for the trainer (no Python object per n-gram).

An n-gram of ``n <= 7`` bytes is packed into one uint64 key: its bytes,
big-endian, in the low ``8 * n`` bits, and ``n`` in the top byte, so keys of
different lengths never collide and 0 is never a key.

Counting is apriori-style, one length per pass over the corpus buffer: an
n-gram (n >= 3) is only counted where its (n-1)-byte prefix and suffix were
both kept at the previous length. Every n-gram with a count >= min_count has
both, so the kept counts are exact while the tables stay small. The tables
are those of ``hashtable``; all kernels are ``nogil``, so shards can be counted
on threads.
"""

import numpy as np
from numba import njit

from .hashtable import TABLE_MULT, Counter, counter_bump, counter_grow, counter_items, counter_new, load_limit, slot

MAX_ORDER = 7
LEN_SHIFT = np.uint64(56)
FILTER_MULT = np.uint64(0xC2B2AE3D27D4EB4F)  # picks a key's two bits in its word


@njit(cache=True, nogil=True)
def build_filter(keys):
    """A blocked Bloom filter of ``keys``: 16 bits per key, two bits set in one
    64-bit word per key (about 1% false positives; small enough to stay in
    cache). Query with ``filter_contains``."""
    nwords = max(keys.shape[0] // 4, 1)
    words = np.zeros(nwords, np.uint64)
    for k in keys:
        words[slot(k, nwords, TABLE_MULT)] |= _filter_mask(k)
    return words


@njit(cache=True, inline='always')
def _filter_mask(key):
    h = key * FILTER_MULT
    return (np.uint64(1) << (h >> np.uint64(58))) | (np.uint64(1) << ((h >> np.uint64(52)) & np.uint64(63)))


@njit(cache=True, inline='always')
def filter_contains(words, key):
    """True if ``key`` may be in the filter (always True for its keys)."""
    m = _filter_mask(key)
    return (words[slot(key, words.shape[0], TABLE_MULT)] & m) == m


@njit(cache=True, nogil=True)
def count_short(buf, bounds):
    """Counts of 1-grams (``int64[256]``) and 2-grams (``int64[65536]``, index
    ``256 * first + second``) inside the chunks ``buf[bounds[i]:bounds[i+1]]``."""
    c1 = np.zeros(256, np.int64)
    c2 = np.zeros(65536, np.int64)
    for c in range(bounds.shape[0] - 1):
        start = bounds[c]
        end = bounds[c + 1]
        if end <= start:
            continue
        c1[buf[start]] += 1
        for i in range(start + 1, end):
            c1[buf[i]] += 1
            c2[(np.int64(buf[i - 1]) << 8) | np.int64(buf[i])] += 1
    return c1, c2


@njit(cache=True, nogil=True)
def _level_run(buf, bounds, c, n, kept_prev, table):
    """Count from chunk ``c`` on while the table surely has room for a whole
    chunk; returns ``(next chunk, keys held)``."""
    tk, tc, mult, used = table.keys, table.counts, table.mult, table.used
    limit = load_limit(tk.shape[0])
    m = n - 1
    mask_prev = (np.uint64(1) << np.uint64(8 * m)) - np.uint64(1)
    mask_n = (np.uint64(1) << np.uint64(8 * n)) - np.uint64(1)
    tag_prev = np.uint64(m) << LEN_SHIFT
    tag_n = np.uint64(n) << LEN_SHIFT
    nchunks = bounds.shape[0] - 1
    while c < nchunks:
        start = bounds[c]
        end = bounds[c + 1]
        if used + (end - start) > limit:
            break
        c += 1
        if end - start < n:
            continue
        w = np.uint64(0)
        for i in range(start, start + m - 1):
            w = (w << np.uint64(8)) | np.uint64(buf[i])
        prev_ok = -1  # is the (n-1)-gram ending at i-1 kept? (-1: unknown)
        for i in range(start + m - 1, end):
            w = ((w << np.uint64(8)) | np.uint64(buf[i])) & mask_n
            if i - start + 1 < n:
                continue
            k = tag_n | w
            # the n-gram ending at i: its prefix ends at i-1, its suffix at i
            if prev_ok < 0:
                prev_ok = 1 if filter_contains(kept_prev, tag_prev | ((w >> np.uint64(8)) & mask_prev)) else 0
            ok = 1 if filter_contains(kept_prev, tag_prev | (w & mask_prev)) else 0
            if ok == 1 and prev_ok == 1:
                used += counter_bump(tk, tc, mult, k, 1)
            prev_ok = ok
    return c, used


@njit(cache=True, nogil=True)
def count_level(buf, bounds, n, kept_prev):
    """Count the n-grams (3 <= n <= 7) of the chunks whose (n-1)-byte prefix and
    suffix both pass the filter ``kept_prev`` (``build_filter`` of the kept
    (n-1)-grams). Returns ``(keys, counts)`` (unique keys, in the table's slot order). A
    false positive of the filter only adds an n-gram whose prefix or suffix
    was pruned, so its count is below min_count: the kept n-grams and their
    counts are exact."""
    nbytes = bounds[-1] - bounds[0]
    longest = 1
    for c in range(bounds.shape[0] - 1):
        longest = max(longest, bounds[c + 1] - bounds[c])
    table = counter_new(max(nbytes // 8, 2 * longest, 1 << 10), TABLE_MULT)
    c = 0
    while True:
        c, used = _level_run(buf, bounds, c, n, kept_prev, table)
        table = Counter(table.keys, table.counts, used, table.mult)
        if c >= bounds.shape[0] - 1:
            return counter_items(table)
        table = counter_grow(table, longest)


@njit(cache=True, nogil=True)
def prefix_keys(keys):
    """The key of each n-gram's (n-1)-byte prefix (n >= 2)."""
    out = np.empty(keys.shape[0], np.uint64)
    for i in range(keys.shape[0]):
        k = keys[i]
        n = k >> LEN_SHIFT
        body = k & ((np.uint64(1) << LEN_SHIFT) - np.uint64(1))
        out[i] = ((n - np.uint64(1)) << LEN_SHIFT) | (body >> np.uint64(8))
    return out


@njit(cache=True, nogil=True)
def lookup_counts(keys, sorted_keys, sorted_counts):
    """``sorted_counts`` at each of ``keys`` (all present in ``sorted_keys``)."""
    idx = np.searchsorted(sorted_keys, keys)
    return sorted_counts[idx]


def pack(ngram):
    """The uint64 key of a bytes n-gram (1 <= n <= 7); for tests and tools."""
    n = len(ngram)
    if not 1 <= n <= MAX_ORDER:
        raise ValueError(f'n-gram length must be 1..{MAX_ORDER}, got {n}')
    return np.uint64((n << 56) | int.from_bytes(ngram, 'big'))


def unpack(key):
    """The bytes of a uint64 n-gram key."""
    key = int(key)
    n = key >> 56
    return (key & ((1 << 56) - 1)).to_bytes(n, 'big')
