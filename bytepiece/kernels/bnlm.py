"""Byte n-gram language model (BNLM) segmentation and piece counting kernels.

``segment`` runs the BNLM Viterbi over many chunks of one byte buffer and
returns where pieces start. Byte ``i`` in state ``j`` (its position in the
current piece, capped at ``order - 1``) scores ``L(j+1)`` of the ``j + 1``
bytes ending at ``i``; the next byte goes to state 0 (new piece) or to
``min(j + 1, order - 1)``. Floating point and tie-breaking follow the
reference's numpy formulation exactly: every candidate is the sum
``prev[jp] + node[j]`` and the first maximum over ``jp`` wins (an all ``-inf``
column picks state 0).

Pieces are then counted by content in a byte-string hash table (``strtab``):
``slots int64[cap]`` (-1 empty) index entries whose bytes live in one
``pool``; entries have ``hash``, ``offset``, ``length`` and ``count``.
"""

import numpy as np
from numba import njit

from .ngrams import LEN_SHIFT, map_get

NEG_INF = -np.inf


@njit(cache=True, nogil=True)
def segment(buf, bounds, order, ensure_unicode, l1, l2, tk, tv):
    """Viterbi segmentation of each chunk ``buf[bounds[c]:bounds[c+1]]``.

    ``l1[b]``: L1 of byte b; ``l2[256*a+b]``: L2 of bytes ab (``-inf`` if
    pruned); ``(tk, tv)``: hash map from n-gram key (n >= 3) to Ln.
    Returns the sorted start offsets (into ``buf``) of all pieces; every chunk
    start is among them and a piece ends at the next start or chunk end.
    """
    nbytes = bounds[-1] - bounds[0]
    starts = np.empty(max(nbytes, 1), np.int64)
    nout = 0
    maxlen = 0
    for c in range(bounds.shape[0] - 1):
        if bounds[c + 1] - bounds[c] > maxlen:
            maxlen = bounds[c + 1] - bounds[c]
    routes = np.zeros((max(maxlen, 1), order), np.int8)
    prev = np.empty(order, np.float64)
    cur = np.empty(order, np.float64)
    node = np.empty(order, np.float64)
    states = np.empty(max(maxlen, 1), np.int8)
    last = order - 1
    low56 = (np.uint64(1) << LEN_SHIFT) - np.uint64(1)
    for c in range(bounds.shape[0] - 1):
        start = bounds[c]
        end = bounds[c + 1]
        length = end - start
        if length <= 0:
            continue
        w = np.uint64(0)
        for t in range(length):
            b = buf[start + t]
            w = ((w << np.uint64(8)) | np.uint64(b)) & low56
            # node scores of this byte in each state
            node[0] = l1[b]
            if ensure_unicode and b >= 0x80 and b < 0xC0:
                node[0] = NEG_INF
            for j in range(1, order):
                node[j] = NEG_INF
            if order > 1 and t >= 1:
                v = l2[(np.int64(buf[start + t - 1]) << 8) | np.int64(b)]
                node[1] = v
                if v != NEG_INF:
                    for j in range(2, order):
                        if t < j:
                            break
                        n = j + 1
                        key = (np.uint64(n) << LEN_SHIFT) | (w & ((np.uint64(1) << np.uint64(8 * n)) - np.uint64(1)))
                        v = map_get(tk, tv, key, NEG_INF)
                        node[j] = v
                        if v == NEG_INF:
                            break
            if t == 0:
                for j in range(order):
                    cur[j] = node[j]
            else:
                # state 0: any predecessor
                best = prev[0] + node[0]
                arg = 0
                for jp in range(1, order):
                    s = prev[jp] + node[0]
                    if s > best:
                        best = s
                        arg = jp
                cur[0] = best
                routes[t, 0] = arg
                # states 1..order-2: only from j-1
                for j in range(1, last):
                    s = prev[j - 1] + node[j]
                    if s > NEG_INF:
                        cur[j] = s
                        routes[t, j] = j - 1
                    else:
                        cur[j] = NEG_INF
                        routes[t, j] = 0
                # state order-1: from order-2 or order-1
                if last >= 1:
                    a = prev[last - 1] + node[last]
                    bb = prev[last] + node[last]
                    if a == NEG_INF and bb == NEG_INF:
                        cur[last] = NEG_INF
                        routes[t, last] = 0
                    elif bb > a:
                        cur[last] = bb
                        routes[t, last] = last
                    else:
                        cur[last] = a
                        routes[t, last] = last - 1
            for j in range(order):
                prev[j] = cur[j]
        # final argmax (first max), then backtrack
        best = prev[0]
        st = 0
        for j in range(1, order):
            if prev[j] > best:
                best = prev[j]
                st = j
        for t in range(length - 1, -1, -1):
            states[t] = st
            if t > 0:
                st = routes[t, st]
        for t in range(length):
            if states[t] == 0:
                starts[nout] = start + t
                nout += 1
    return starts[:nout].copy()


# ---------------------------------------------------------------------------
# byte-string counting table

@njit(cache=True, inline='always')
def _hash_bytes(buf, s, e):
    h = np.uint64(0xCBF29CE484222325)
    for i in range(s, e):
        h = (h ^ np.uint64(buf[i])) * np.uint64(0x100000001B3)
    h ^= h >> np.uint64(32)
    return h


@njit(cache=True, nogil=True)
def strtab_new(cap_entries, pool_bytes):
    """An empty table: ``(slots, hashes, offsets, lengths, counts, pool, used, pool_used)``."""
    cap = 16
    while cap < 2 * cap_entries:
        cap *= 2
    slots = np.full(cap, -1, np.int64)
    m = max(cap_entries, 16)
    return (slots, np.zeros(m, np.uint64), np.zeros(m, np.int64), np.zeros(m, np.int64),
            np.zeros(m, np.int64), np.zeros(max(pool_bytes, 64), np.uint8), 0, 0)


@njit(cache=True, nogil=True)
def strtab_add(slots, hashes, offsets, lengths, counts, pool, used, pool_used,
               src, span_starts, span_ends, weights):
    """Add ``weights[i]`` to the count of ``src[span_starts[i]:span_ends[i]]``.

    Returns the (possibly reallocated) table tuple."""
    cap = slots.shape[0]
    for i in range(span_starts.shape[0]):
        s0 = span_starts[i]
        e0 = span_ends[i]
        ln = e0 - s0
        h = _hash_bytes(src, s0, e0)
        mask = np.uint64(cap - 1)
        p = np.int64((h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(17) & mask)
        while True:
            ent = slots[p]
            if ent < 0:
                break
            if hashes[ent] == h and lengths[ent] == ln:
                off = offsets[ent]
                same = True
                for k in range(ln):
                    if pool[off + k] != src[s0 + k]:
                        same = False
                        break
                if same:
                    break
            p = (p + 1) & (cap - 1)
        if ent >= 0:
            counts[ent] += weights[i]
            continue
        # new entry
        if used == hashes.shape[0]:
            m = hashes.shape[0] * 2
            nh = np.zeros(m, np.uint64)
            nh[:used] = hashes[:used]
            no = np.zeros(m, np.int64)
            no[:used] = offsets[:used]
            nl = np.zeros(m, np.int64)
            nl[:used] = lengths[:used]
            nc = np.zeros(m, np.int64)
            nc[:used] = counts[:used]
            hashes, offsets, lengths, counts = nh, no, nl, nc
        if pool_used + ln > pool.shape[0]:
            m = max(pool.shape[0] * 2, pool_used + ln)
            npool = np.zeros(m, np.uint8)
            npool[:pool_used] = pool[:pool_used]
            pool = npool
        for k in range(ln):
            pool[pool_used + k] = src[s0 + k]
        hashes[used] = h
        offsets[used] = pool_used
        lengths[used] = ln
        counts[used] = weights[i]
        slots[p] = used
        used += 1
        pool_used += ln
        if 2 * used > cap:
            cap *= 2
            slots = np.full(cap, -1, np.int64)
            mask = np.uint64(cap - 1)
            for e in range(used):
                q = np.int64((hashes[e] * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(17) & mask)
                while slots[q] >= 0:
                    q = (q + 1) & (cap - 1)
                slots[q] = e
    return slots, hashes, offsets, lengths, counts, pool, used, pool_used


@njit(cache=True, nogil=True)
def strtab_compact(offsets, lengths, counts, pool, used):
    """The table's entries as ``(data uint8, bounds int64[n+1], counts int64[n])``
    in insertion order, with entry i at ``data[bounds[i]:bounds[i+1]]``."""
    bounds = np.zeros(used + 1, np.int64)
    for i in range(used):
        bounds[i + 1] = bounds[i] + lengths[i]
    data = np.empty(bounds[used], np.uint8)
    for i in range(used):
        o = offsets[i]
        b = bounds[i]
        for k in range(lengths[i]):
            data[b + k] = pool[o + k]
    return data, bounds, counts[:used].copy()


@njit(cache=True, nogil=True)
def count_pieces(buf, bounds, order, ensure_unicode, l1, l2, tk, tv):
    """Segment the chunks (see ``segment``) and count the pieces by content.

    Returns ``(data, piece_bounds, counts)`` as ``strtab_compact``."""
    starts = segment(buf, bounds, order, ensure_unicode, l1, l2, tk, tv)
    n = starts.shape[0]
    ends = np.empty(n, np.int64)
    # a piece ends at the next piece start, or at its chunk's end
    c = 0
    for i in range(n):
        while bounds[c + 1] <= starts[i]:
            c += 1
        if i + 1 < n and starts[i + 1] < bounds[c + 1]:
            ends[i] = starts[i + 1]
        else:
            ends[i] = bounds[c + 1]
    weights = np.ones(n, np.int64)
    tab = strtab_new(max(n // 4, 16), max(n, 64))
    tab = strtab_add(tab[0], tab[1], tab[2], tab[3], tab[4], tab[5], tab[6], tab[7],
                     buf, starts, ends, weights)
    return strtab_compact(tab[2], tab[3], tab[4], tab[5], tab[6])
