"""Byte n-gram counting kernels for the trainer (no Python object per n-gram).

An n-gram of ``n <= 7`` bytes is packed into one uint64 key: its bytes,
big-endian, in the low ``8 * n`` bits, and ``n`` in the top byte, so keys of
different lengths never collide and 0 is never a key (it marks empty slots).

Counting is apriori-style, one length per pass over the corpus buffer: an
n-gram (n >= 3) is only counted where its (n-1)-byte prefix and suffix were
both kept at the previous length. Every n-gram with a count >= min_count has
both, so the kept counts are exact while the tables stay small. A pass can
further be split into ``nparts`` hash partitions (each counts only the keys
whose partition hash matches) to bound the size of the count tables.

Hash tables are open-addressing arrays with linear probing and any capacity
(the slot is ``hi32(key * C) * cap >> 32``): ``keys uint64[cap]`` (0 = empty)
and a values array alongside. All kernels are ``nogil``, so shards can be
counted on threads.
"""

import numpy as np
from numba import njit

MAX_ORDER = 7
LEN_SHIFT = np.uint64(56)
MAX_LOAD = 0.7


# The slot's hash multiplier. Counter tables (``counter_add``) use their own:
# they are fed the keys of ``count_level``'s tables in slot order, i.e. in the
# order of those tables' hash, and with the same hash the keys would land in
# one ever longer run of occupied slots (quadratic time on a long text).
TABLE_MULT = np.uint64(0x9E3779B97F4A7C15)
COUNTER_MULT = np.uint64(0xC2B2AE3D27D4EB4F)


@njit(cache=True, inline='always')
def _slot_by(key, cap, mult):
    h = (key * mult) >> np.uint64(32)
    return np.int64((h * np.uint64(cap)) >> np.uint64(32))


@njit(cache=True, inline='always')
def _slot(key, cap):
    return _slot_by(key, cap, TABLE_MULT)


@njit(cache=True, inline='always')
def _part(key, nparts):
    # an independent hash (another multiplier, other bits) picks the partition
    h = (key * np.uint64(0xD6E8FEB86659FD93)) >> np.uint64(32)
    return np.int64((h * np.uint64(nparts)) >> np.uint64(32))


@njit(cache=True, nogil=True)
def table_capacity(n):
    """Capacity for ``n`` keys at a load factor of at most ``MAX_LOAD``."""
    return max(np.int64(n / MAX_LOAD) + 1, 16)


@njit(cache=True, nogil=True)
def build_set(keys):
    """A hash set (keys array) holding ``keys`` (none of them 0)."""
    cap = table_capacity(keys.shape[0])
    table = np.zeros(cap, np.uint64)
    for k in keys:
        s = _slot(k, cap)
        while table[s] != 0 and table[s] != k:
            s += 1
            if s == cap:
                s = 0
        table[s] = k
    return table


@njit(cache=True, nogil=True)
def map_new(n):
    """An empty hash map for ``n`` keys to float64 values, as one uint64 array
    of ``(key, value bits)`` pairs, so that a lookup touches one cache line.
    Read it with ``map_get(table, table.view(np.float64), key, default)``."""
    return np.zeros(2 * table_capacity(n), np.uint64)


@njit(cache=True, nogil=True)
def map_insert(table, fview, keys, vals):
    """Insert ``keys`` with ``vals`` into a ``map_new`` table (with room)."""
    cap = table.shape[0] // 2
    for i in range(keys.shape[0]):
        k = keys[i]
        s = _slot(k, cap)
        while table[2 * s] != 0 and table[2 * s] != k:
            s += 1
            if s == cap:
                s = 0
        table[2 * s] = k
        fview[2 * s + 1] = vals[i]


def build_map(keys, vals):
    """A ``map_new`` table holding ``keys`` -> ``vals``."""
    table = map_new(keys.shape[0])
    map_insert(table, table.view(np.float64), keys, vals)
    return table


@njit(cache=True, nogil=True)
def build_filter(keys):
    """A blocked Bloom filter of ``keys``: 16 bits per key, two bits set in one
    64-bit word per key (about 1% false positives; small enough to stay in
    cache). Query with ``filter_contains``."""
    nwords = max(keys.shape[0] // 4, 1)
    words = np.zeros(nwords, np.uint64)
    for k in keys:
        words[_filter_word(k, nwords)] |= _filter_mask(k)
    return words


@njit(cache=True, inline='always')
def _filter_word(key, nwords):
    return _slot(key, nwords)


@njit(cache=True, inline='always')
def _filter_mask(key):
    h = key * np.uint64(0xC2B2AE3D27D4EB4F)
    return (np.uint64(1) << (h >> np.uint64(58))) | (np.uint64(1) << ((h >> np.uint64(52)) & np.uint64(63)))


@njit(cache=True, inline='always')
def filter_contains(words, key):
    """True if ``key`` may be in the filter (always True for its keys)."""
    m = _filter_mask(key)
    return (words[_filter_word(key, words.shape[0])] & m) == m


@njit(cache=True, inline='always')
def set_contains(table, key):
    cap = table.shape[0]
    s = _slot(key, cap)
    while True:
        t = table[s]
        if t == key:
            return True
        if t == 0:
            return False
        s += 1
        if s == cap:
            s = 0


@njit(cache=True, inline='always')
def map_get(table, fview, key, default):
    """The value of ``key`` in a ``build_map`` table (``fview`` is its float64 view)."""
    return map_get_from(table, fview, key, _slot(key, table.shape[0] // 2), default)


@njit(cache=True, inline='always')
def map_get_from(table, fview, key, s, default):
    """``map_get`` continuing the probe at slot ``s``."""
    cap = table.shape[0] // 2
    while True:
        t = table[2 * s]
        if t == key:
            return fview[2 * s + 1]
        if t == 0:
            return default
        s += 1
        if s == cap:
            s = 0


@njit(cache=True, nogil=True)
def _grow(tk, tc, used, mult):
    cap = table_capacity(2 * used)
    nk = np.zeros(cap, np.uint64)
    nc = np.zeros(cap, np.int64)
    for i in range(tk.shape[0]):
        k = tk[i]
        if k != 0:
            s = _slot_by(k, cap, mult)
            while nk[s] != 0:
                s += 1
                if s == cap:
                    s = 0
            nk[s] = k
            nc[s] = tc[i]
    return nk, nc


@njit(cache=True, inline='always')
def _full(used, cap):
    return used + 1 > MAX_LOAD * cap


@njit(cache=True, nogil=True)
def counter_new(n):
    """An empty counter table ``(keys, counts)`` for about ``n`` keys."""
    cap = table_capacity(n)
    return np.zeros(cap, np.uint64), np.zeros(cap, np.int64)


@njit(cache=True, nogil=True)
def _add_run(tk, tc, used, keys, counts, i, limit, part, nparts):
    # the hot loop never reassigns the table arrays (keeps numba's loop tight)
    cap = tk.shape[0]
    n = keys.shape[0]
    while i < n and used < limit:
        k = keys[i]
        if nparts > 1 and _part(k, nparts) != part:
            i += 1
            continue
        s = _slot_by(k, cap, COUNTER_MULT)
        while True:
            t = tk[s]
            if t == k:
                tc[s] += counts[i]
                break
            if t == 0:
                tk[s] = k
                tc[s] = counts[i]
                used += 1
                break
            s += 1
            if s == cap:
                s = 0
        i += 1
    return i, used


@njit(cache=True, nogil=True)
def counter_add(tk, tc, used, keys, counts, part=0, nparts=1):
    """Add ``counts`` at ``keys`` (those of hash partition ``part`` of
    ``nparts``) to the counter table ``(tk, tc)`` holding ``used`` keys;
    grows as needed. Returns ``(tk, tc, used)``."""
    i = 0
    while True:
        i, used = _add_run(tk, tc, used, keys, counts, i, np.int64(MAX_LOAD * tk.shape[0]), part, nparts)
        if i >= keys.shape[0]:
            return tk, tc, used
        tk, tc = _grow(tk, tc, used, COUNTER_MULT)


@njit(cache=True, nogil=True)
def counter_items(tk, tc, min_count):
    """The ``(keys, counts)`` of a counter table with count >= min_count, by key."""
    n = 0
    for i in range(tk.shape[0]):
        if tk[i] != 0 and tc[i] >= min_count:
            n += 1
    keys = np.empty(n, np.uint64)
    counts = np.empty(n, np.int64)
    j = 0
    for i in range(tk.shape[0]):
        if tk[i] != 0 and tc[i] >= min_count:
            keys[j] = tk[i]
            counts[j] = tc[i]
            j += 1
    order = np.argsort(keys)
    return keys[order], counts[order]


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
def _level_run(buf, bounds, c, n, kept_prev, part, nparts, tk, tc, used):
    """Count from chunk ``c`` on while the table surely has room for a whole
    chunk; returns ``(next chunk, used)``."""
    cap = tk.shape[0]
    limit = np.int64(MAX_LOAD * cap)
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
            if nparts > 1 and _part(k, nparts) != part:
                prev_ok = -1
                continue
            # the n-gram ending at i: its prefix ends at i-1, its suffix at i
            if prev_ok < 0:
                prev_ok = 1 if filter_contains(kept_prev, tag_prev | ((w >> np.uint64(8)) & mask_prev)) else 0
            ok = 1 if filter_contains(kept_prev, tag_prev | (w & mask_prev)) else 0
            if ok == 1 and prev_ok == 1:
                s = _slot(k, cap)
                while True:
                    x = tk[s]
                    if x == k:
                        tc[s] += 1
                        break
                    if x == 0:
                        tk[s] = k
                        tc[s] = 1
                        used += 1
                        break
                    s += 1
                    if s == cap:
                        s = 0
            prev_ok = ok
    return c, used


@njit(cache=True, nogil=True)
def count_level(buf, bounds, n, kept_prev, part, nparts):
    """Count the n-grams (3 <= n <= 7) of the chunks whose (n-1)-byte prefix and
    suffix both pass the filter ``kept_prev`` (``build_filter`` of the kept
    (n-1)-grams), among the keys of hash partition ``part`` of ``nparts``.
    Returns ``(keys, counts)`` (unique keys, unordered). A false positive of the
    filter only adds an n-gram whose prefix or suffix was pruned, so its count
    is below min_count: the kept n-grams and their counts are exact."""
    nbytes = bounds[-1] - bounds[0]
    longest = 1
    for c in range(bounds.shape[0] - 1):
        longest = max(longest, bounds[c + 1] - bounds[c])
    tk, tc = counter_new(max(nbytes // (8 * nparts), 2 * longest, 1 << 10))
    used = 0
    c = 0
    while True:
        c, used = _level_run(buf, bounds, c, n, kept_prev, part, nparts, tk, tc, used)
        if c >= bounds.shape[0] - 1:
            break
        tk, tc = _grow(tk, tc, max(used, longest), TABLE_MULT)
    keys = np.empty(used, np.uint64)
    counts = np.empty(used, np.int64)
    j = 0
    for s in range(tk.shape[0]):
        if tk[s] != 0:
            keys[j] = tk[s]
            counts[j] = tc[s]
            j += 1
    return keys, counts


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
