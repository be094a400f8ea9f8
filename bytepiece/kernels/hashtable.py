"""Open-addressing hash tables over numpy arrays, for the n-gram and BNLM kernels.

Three tables: a map from uint64 keys to float64 values (one ``uint64[2 * cap]``
array of ``(key, value bits)`` pairs, so that a lookup touches one cache
line; values go through its float64 view); a ``Counter`` from uint64 keys to
int64 counts; a ``StrTable`` from byte strings to int64 counts. uint64 keys
are never 0, which marks an empty slot. Probing is linear from the home slot
``scale(key * multiplier, cap)``, so any capacity works. Each table has one
probe loop, which acts on the slot it finds (finding the slot first and
acting after the loop measured slower).

Load and growth, one rule for all tables: a table holds at most ``MAX_LOAD``
of its capacity; one that would pass that is rebuilt at
``grown_capacity(used, n_new)``, room for twice as many keys as it holds or
is about to take. The string table's entry arrays and byte pool are
append-only storage: they grow by a quarter (or to what is needed), a lower
peak than doubling in a large merge.

Hash multipliers: a counter is fed the keys of other tables in their slot
order, i.e. sorted by those tables' hash. With the same hash, those keys
would pile into one ever longer run of occupied slots: quadratic time on a
long text. So the tables that feed counters hash with ``TABLE_MULT``, and the
counters that reduce them with ``COUNTER_MULT`` (a ``Counter`` carries its
multiplier). ``partition`` uses a third one, so that a pass can count the
keys of one hash partition only, bounding the size of its table.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

MAX_LOAD = 0.7
TABLE_MULT = np.uint64(0x9E3779B97F4A7C15)
COUNTER_MULT = np.uint64(0xC2B2AE3D27D4EB4F)
PART_MULT = np.uint64(0xD6E8FEB86659FD93)


@njit(cache=True, inline='always')
def scale(h, n):
    """The high 32 bits of the hash ``h`` scaled to ``0..n-1``."""
    return np.int64(((h >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@njit(cache=True, inline='always')
def slot(key, cap, mult):
    """The home slot of ``key`` in a table of ``cap`` slots hashing with ``mult``."""
    return scale(key * mult, cap)


@njit(cache=True, inline='always')
def partition(key, nparts):
    """The hash partition (``0..nparts-1``) of a uint64 key."""
    return scale(key * PART_MULT, nparts)


@njit(cache=True, nogil=True)
def key_partitions(keys, nparts):
    """The hash partition of each uint64 key."""
    out = np.empty(keys.shape[0], np.int64)
    for i in range(keys.shape[0]):
        out[i] = partition(keys[i], nparts)
    return out


@njit(cache=True, nogil=True)
def string_partitions(data, bounds, nparts):
    """The hash partition (``0..nparts-1``) of each byte string
    ``data[bounds[i]:bounds[i+1]]``."""
    out = np.empty(bounds.shape[0] - 1, np.int64)
    for i in range(out.shape[0]):
        out[i] = scale(hash_bytes(data, bounds[i], bounds[i + 1]), nparts)
    return out


@njit(cache=True, nogil=True)
def capacity(n):
    """The capacity that holds ``n`` keys within ``MAX_LOAD``."""
    return max(np.int64(n / MAX_LOAD) + 1, 16)


@njit(cache=True, inline='always')
def load_limit(cap):
    """The most keys a table of ``cap`` slots holds."""
    return np.int64(MAX_LOAD * cap)


@njit(cache=True, inline='always')
def grown_capacity(used, n_new):
    """The capacity of a table holding ``used`` keys rebuilt to take ``n_new`` more."""
    return capacity(2 * max(used, n_new))


@njit(cache=True, inline='always')
def _map_probe(table, values, key, s, value, store):
    """From slot ``s``: with ``store``, set ``key`` to ``value``; else the
    value of ``key``, or ``value`` if it is absent."""
    cap = table.shape[0] // 2
    while True:
        t = table[2 * s]
        if t == key:
            if store:
                values[2 * s + 1] = value
            return values[2 * s + 1]
        if t == 0:
            if store:
                table[2 * s] = key
                values[2 * s + 1] = value
            return value
        s += 1
        if s == cap:
            s = 0


@njit(cache=True, nogil=True)
def map_new(n):
    """An empty map with room for ``n`` keys."""
    return np.zeros(2 * capacity(n), np.uint64)


@njit(cache=True, nogil=True)
def map_insert(table, keys, vals):
    """Set ``keys`` to ``vals`` in a ``map_new`` table with room for them."""
    values = table.view(np.float64)
    for i in range(keys.shape[0]):
        _map_probe(table, values, keys[i], map_home(table, keys[i]), vals[i], True)


@njit(cache=True, inline='always')
def map_home(table, key):
    """The slot where the probe for ``key`` starts; its key is ``table[2 * slot]``."""
    return slot(key, table.shape[0] // 2, TABLE_MULT)


@njit(cache=True, inline='always')
def map_get_from(table, values, key, s, default):
    """The value of ``key`` (``default`` if absent), probing from slot ``s``;
    ``values`` is the table's float64 view."""
    return _map_probe(table, values, key, s, default, False)


@njit(cache=True, inline='always')
def map_get(table, values, key, default):
    return map_get_from(table, values, key, map_home(table, key), default)


class Counter(NamedTuple):
    """``keys uint64[cap]`` (0: empty), ``counts int64[cap]``, ``used`` keys
    held, the hash multiplier ``mult``."""
    keys: np.ndarray
    counts: np.ndarray
    used: int
    mult: np.uint64


@njit(cache=True, nogil=True)
def counter_new(n, mult):
    """An empty counter for about ``n`` keys, hashing with ``mult``."""
    cap = capacity(n)
    return Counter(np.zeros(cap, np.uint64), np.zeros(cap, np.int64), 0, mult)


@njit(cache=True, inline='always')
def counter_bump(keys, counts, mult, key, count):
    """Add ``count`` at ``key`` in a counter's arrays (with room for one more
    key); 1 if the key is new, else 0. The counter's probe loop."""
    cap = keys.shape[0]
    s = slot(key, cap, mult)
    while True:
        t = keys[s]
        if t == key:
            counts[s] += count
            return 0
        if t == 0:
            keys[s] = key
            counts[s] = count
            return 1
        s += 1
        if s == cap:
            s = 0


@njit(cache=True, nogil=True)
def counter_grow(table, n_new):
    """``table`` rebuilt with room for ``n_new`` more keys."""
    cap = grown_capacity(table.used, n_new)
    keys = np.zeros(cap, np.uint64)
    counts = np.zeros(cap, np.int64)
    for i in range(table.keys.shape[0]):
        if table.keys[i] != 0:
            counter_bump(keys, counts, table.mult, table.keys[i], table.counts[i])
    return Counter(keys, counts, table.used, table.mult)


@njit(cache=True, nogil=True)
def _add_run(keys, counts, mult, used, new_keys, new_counts, i):
    # from key i on, while the table has room; the table's arrays stay fixed
    limit = load_limit(keys.shape[0])
    n = new_keys.shape[0]
    while i < n and used < limit:
        used += counter_bump(keys, counts, mult, new_keys[i], new_counts[i])
        i += 1
    return i, used


@njit(cache=True, nogil=True)
def counter_add(table, keys, counts):
    """Add ``counts`` at ``keys``; returns the counter, rebuilt if it had to grow."""
    i = 0
    while True:
        i, used = _add_run(table.keys, table.counts, table.mult, table.used, keys, counts, i)
        table = Counter(table.keys, table.counts, used, table.mult)
        if i >= keys.shape[0]:
            return table
        table = counter_grow(table, 1)


@njit(cache=True, nogil=True)
def counter_items(table, min_count=1, by_key=False):
    """``(keys, counts)`` counted at least ``min_count`` times, in slot order or by key."""
    n = table.used  # every key has a count >= 1
    if min_count > 1:
        n = 0
        for i in range(table.keys.shape[0]):
            n += table.keys[i] != 0 and table.counts[i] >= min_count
    keys = np.empty(n, np.uint64)
    counts = np.empty(n, np.int64)
    j = 0
    for i in range(table.keys.shape[0]):
        if table.keys[i] != 0 and table.counts[i] >= min_count:
            keys[j] = table.keys[i]
            counts[j] = table.counts[i]
            j += 1
    if not by_key:
        return keys, counts
    order = np.argsort(keys)
    return keys[order], counts[order]


class StrTable(NamedTuple):
    """``slots int32[cap]`` (-1: empty) hold entry numbers, in insertion order;
    entry ``e`` is ``pool[offsets[e]:offsets[e] + lengths[e]]``, its count
    ``counts[e]``. ``sizes int64[2]``: entries and pool bytes in use (in place)."""
    slots: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    counts: np.ndarray
    pool: np.ndarray
    sizes: np.ndarray


@njit(cache=True, inline='always')
def hash_bytes(src, s, e):
    """FNV-1a of ``src[s:e]``."""
    h = np.uint64(0xCBF29CE484222325)
    for i in range(s, e):
        h = (h ^ np.uint64(src[i])) * np.uint64(0x100000001B3)
    return h


@njit(cache=True, inline='always')
def same_bytes(x, i, y, j, n):
    """Whether ``x[i:i+n]`` and ``y[j:j+n]`` hold the same bytes."""
    for k in range(n):
        if x[i + k] != y[j + k]:
            return False
    return True


@njit(cache=True, nogil=True)
def strtab_new(n_entries, pool_bytes):
    """An empty string table for about ``n_entries`` strings of ``pool_bytes`` in all."""
    m = max(n_entries, 16)
    return StrTable(np.full(capacity(m), -1, np.int32), np.zeros(m, np.int64), np.zeros(m, np.int32),
                    np.zeros(m, np.int64), np.zeros(max(pool_bytes, 64), np.uint8), np.zeros(2, np.int64))


@njit(cache=True, inline='always')
def strtab_has_room(table, n_new, n_bytes):
    """Whether ``table`` takes ``n_new`` more entries of ``n_bytes`` in all without growing."""
    used = table.sizes[0]
    return (used + n_new <= table.offsets.shape[0] and table.sizes[1] + n_bytes <= table.pool.shape[0]
            and used + n_new <= load_limit(table.slots.shape[0]))


@njit(cache=True, inline='always')
def strtab_bump(table, src, s0, e0, h, w):
    """Add ``w`` to the count of ``src[s0:e0]`` (hash ``h``, from ``hash_bytes``),
    which the table has room for (``strtab_has_room``). The table's probe loop."""
    slots, offsets, lengths, pool = table.slots, table.offsets, table.lengths, table.pool
    cap = slots.shape[0]
    ln = e0 - s0
    p = slot(h, cap, TABLE_MULT)
    while True:
        ent = slots[p]
        if ent < 0:
            break
        if lengths[ent] == ln and same_bytes(pool, offsets[ent], src, s0, ln):
            table.counts[ent] += w
            return
        p += 1
        if p == cap:
            p = 0
    used = table.sizes[0]
    pool_used = table.sizes[1]
    for k in range(ln):
        pool[pool_used + k] = src[s0 + k]
    offsets[used] = pool_used
    lengths[used] = ln
    table.counts[used] = w
    slots[p] = used
    table.sizes[0] = used + 1
    table.sizes[1] = pool_used + ln


@njit(cache=True, nogil=True)
def _grown(a, in_use, n):
    # append-only storage grows by a quarter, or to what is needed
    b = np.zeros(max(a.shape[0] + a.shape[0] // 4, n), a.dtype)
    b[:in_use] = a[:in_use]
    return b


@njit(cache=True, nogil=True)
def strtab_grow(table, n_new, n_bytes):
    """``table`` with room for ``n_new`` more entries of ``n_bytes`` in all."""
    used, pool_used = table.sizes[0], table.sizes[1]
    offsets, lengths, counts, pool, slots = table.offsets, table.lengths, table.counts, table.pool, table.slots
    if used + n_new > offsets.shape[0]:
        offsets = _grown(offsets, used, used + n_new)
        lengths = _grown(lengths, used, used + n_new)
        counts = _grown(counts, used, used + n_new)
    if pool_used + n_bytes > pool.shape[0]:
        pool = _grown(pool, pool_used, pool_used + n_bytes)
    if used + n_new <= load_limit(slots.shape[0]):
        return StrTable(slots, offsets, lengths, counts, pool, table.sizes)
    # new slots: the entries are re-added in order, so each is rewritten where it is
    table = StrTable(np.full(grown_capacity(used, n_new), -1, np.int32), offsets, lengths, counts, pool,
                     np.zeros(2, np.int64))
    for e in range(used):
        s0, e0 = offsets[e], offsets[e] + lengths[e]
        strtab_bump(table, pool, s0, e0, hash_bytes(pool, s0, e0), counts[e])
    return table


@njit(cache=True, nogil=True)
def _strtab_add_run(table, src, span_starts, span_ends, weights, i):
    # from span i on, while the table has room; returns the next span
    n = span_starts.shape[0]
    while i < n:
        s0 = span_starts[i]
        e0 = span_ends[i]
        if not strtab_has_room(table, 1, e0 - s0):
            break
        strtab_bump(table, src, s0, e0, hash_bytes(src, s0, e0), weights[i])
        i += 1
    return i


@njit(cache=True, nogil=True)
def strtab_add(table, src, span_starts, span_ends, weights):
    """Add ``weights[i]`` to the count of ``src[span_starts[i]:span_ends[i]]``;
    returns the table, rebuilt if it grew."""
    i = 0
    while True:
        i = _strtab_add_run(table, src, span_starts, span_ends, weights, i)
        if i >= span_starts.shape[0]:
            return table
        table = strtab_grow(table, 1, span_ends[i] - span_starts[i])


@njit(cache=True, nogil=True)
def strtab_items(table):
    """The entries as views ``(data, starts, counts)``: entry ``i`` is
    ``data[starts[i]:starts[i + 1]]`` (the last to the end of ``data``)."""
    return table.pool[:table.sizes[1]], table.offsets[:table.sizes[0]], table.counts[:table.sizes[0]]
