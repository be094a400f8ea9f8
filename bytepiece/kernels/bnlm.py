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

from .ngrams import LEN_SHIFT, _slot, map_get_from

NEG_INF = -np.inf


@njit(cache=True, nogil=True)
def _viterbi_buffers(maxlen, order):
    """Work arrays of ``_viterbi_chunk`` for chunks of up to ``maxlen`` bytes:
    ``(routes, states, prev, cur, node)``."""
    return (np.zeros((maxlen, order), np.int8), np.empty(maxlen, np.int8),
            np.empty(order, np.float64), np.empty(order, np.float64), np.empty(order, np.float64))


@njit(cache=True, nogil=True)
def _viterbi_chunk(buf, start, end, order, ensure_unicode, l1, l2, tk, tv,
                   routes, states, prev, cur, node, out):
    """Segment ``buf[start:end]``; writes the piece starts to ``out`` and
    returns how many. Work arrays: ``routes int8[>=len, order]``,
    ``states int8[>=len]``, ``prev, cur, node float64[order]``."""
    length = end - start
    last = order - 1
    low56 = (np.uint64(1) << LEN_SHIFT) - np.uint64(1)
    tcap = tk.shape[0] // 2
    qkey = np.empty(order + 1, np.uint64)
    qslot = np.empty(order + 1, np.int64)
    qfirst = np.empty(order + 1, np.uint64)
    qneed = np.zeros(order + 1, np.bool_)
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
            top = min(t, last)  # longest state to look up
            if v != NEG_INF and top >= 2:
                # node[j] only matters where the previous byte can be in state
                # j-1 (or, for the last state, in it): other lookups are skipped.
                # First probes of all needed lengths at once (independent loads
                # overlap their cache misses), then resolve in order; a kept
                # n-gram has a kept suffix, so stop at the first miss
                for j in range(2, top + 1):
                    need = prev[j - 1] != NEG_INF or (j == last and prev[last] != NEG_INF)
                    qneed[j] = need
                    if need:
                        n = j + 1
                        key = (np.uint64(n) << LEN_SHIFT) | (w & ((np.uint64(1) << np.uint64(8 * n)) - np.uint64(1)))
                        qkey[j] = key
                        q = _slot(key, tcap)
                        qslot[j] = q
                        qfirst[j] = tk[2 * q]
                for j in range(2, top + 1):
                    if not qneed[j]:
                        continue
                    key = qkey[j]
                    x = qfirst[j]
                    if x == key:
                        v = tv[2 * qslot[j] + 1]
                    elif x == 0:
                        v = NEG_INF
                    else:
                        q = qslot[j] + 1
                        if q == tcap:
                            q = 0
                        v = map_get_from(tk, tv, key, q, NEG_INF)
                    node[j] = v
                    if v == NEG_INF:
                        break
        if t == 0:
            for j in range(order):
                cur[j] = node[j]
        else:
            # state 0: from any state; first maximum of prev[jp] + node[0]
            best = prev[0] + node[0]
            arg = 0
            for jp in range(1, order):
                s = prev[jp] + node[0]
                if s > best:
                    best = s
                    arg = jp
            cur[0] = best
            routes[t, 0] = arg
            # states 1..order-2: only from j-1 (all -inf: argmax is 0)
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
    nout = 0
    for t in range(length):
        if states[t] == 0:
            out[nout] = start + t
            nout += 1
    return nout


@njit(cache=True, nogil=True)
def _max_chunk(bounds):
    maxlen = 1
    for c in range(bounds.shape[0] - 1):
        if bounds[c + 1] - bounds[c] > maxlen:
            maxlen = bounds[c + 1] - bounds[c]
    return maxlen


@njit(cache=True, nogil=True)
def segment(buf, bounds, order, ensure_unicode, l1, l2, tk, tv):
    """Viterbi segmentation of each chunk ``buf[bounds[c]:bounds[c+1]]``.

    ``l1[b]``: L1 of byte b; ``l2[256*a+b]``: L2 of bytes ab (``-inf`` if
    pruned); ``tk``: ``ngrams.build_map`` table from n-gram key (n >= 3) to Ln,
    ``tv`` its float64 view.
    Returns the sorted start offsets (into ``buf``) of all pieces; every chunk
    start is among them and a piece ends at the next start or chunk end.
    """
    maxlen = _max_chunk(bounds)
    starts = np.empty(max(bounds[-1] - bounds[0], 1), np.int64)
    routes, states, prev, cur, node = _viterbi_buffers(maxlen, order)
    nout = 0
    for c in range(bounds.shape[0] - 1):
        if bounds[c + 1] > bounds[c]:
            nout += _viterbi_chunk(buf, bounds[c], bounds[c + 1], order, ensure_unicode, l1, l2, tk, tv,
                                   routes, states, prev, cur, node, starts[nout:])
    return starts[:nout].copy()


# ---------------------------------------------------------------------------
# byte-string counting table: (slots int32[cap], offsets int64[m],
# lengths int32[m], counts int64[m], pool uint8[P], used, pool_used)

MAX_LOAD = 0.7


@njit(cache=True, inline='always')
def _hash_bytes(buf, s, e):
    h = np.uint64(0xCBF29CE484222325)
    for i in range(s, e):
        h = (h ^ np.uint64(buf[i])) * np.uint64(0x100000001B3)
    return h


@njit(cache=True, inline='always')
def _str_part(h, nparts):
    return np.int64(((h >> np.uint64(32)) * np.uint64(nparts)) >> np.uint64(32))


@njit(cache=True, nogil=True)
def strtab_new(n_entries, pool_bytes):
    """An empty table sized for about ``n_entries`` strings of ``pool_bytes``."""
    m = max(n_entries, 16)
    cap = np.int64(m / MAX_LOAD) + 1
    return (np.full(cap, -1, np.int32), np.zeros(m, np.int64), np.zeros(m, np.int32),
            np.zeros(m, np.int64), np.zeros(max(pool_bytes, 64), np.uint8), 0, 0)


@njit(cache=True, nogil=True)
def _rehash(offsets, lengths, pool, used, cap):
    slots = np.full(cap, -1, np.int32)
    for e in range(used):
        o = offsets[e]
        q = _slot(_hash_bytes(pool, o, o + lengths[e]), cap)
        while slots[q] >= 0:
            q += 1
            if q == cap:
                q = 0
        slots[q] = e
    return slots


@njit(cache=True, inline='always')
def _add(slots, offsets, lengths, counts, pool, used, pool_used, src, s0, e0, w):
    """Add ``w`` to the count of ``src[s0:e0]``; the caller guarantees room for
    one more entry. Returns ``(used, pool_used)``."""
    cap = slots.shape[0]
    ln = e0 - s0
    p = _slot(_hash_bytes(src, s0, e0), cap)
    while True:
        ent = slots[p]
        if ent < 0:
            break
        if lengths[ent] == ln:
            off = offsets[ent]
            same = True
            for k in range(ln):
                if pool[off + k] != src[s0 + k]:
                    same = False
                    break
            if same:
                counts[ent] += w
                return used, pool_used
        p += 1
        if p == cap:
            p = 0
    for k in range(ln):
        pool[pool_used + k] = src[s0 + k]
    offsets[used] = pool_used
    lengths[used] = ln
    counts[used] = w
    slots[p] = used
    return used + 1, pool_used + ln


@njit(cache=True, nogil=True)
def _reserve(slots, offsets, lengths, counts, pool, used, pool_used, n_new, n_bytes):
    """Grow the table to take ``n_new`` more entries of ``n_bytes`` in all."""
    if used + n_new > offsets.shape[0]:
        m = max(offsets.shape[0] + offsets.shape[0] // 4, used + n_new)
        no = np.zeros(m, np.int64)
        no[:used] = offsets[:used]
        nl = np.zeros(m, np.int32)
        nl[:used] = lengths[:used]
        nc = np.zeros(m, np.int64)
        nc[:used] = counts[:used]
        offsets, lengths, counts = no, nl, nc
    if pool_used + n_bytes > pool.shape[0]:
        m = max(pool.shape[0] + pool.shape[0] // 4, pool_used + n_bytes)
        npool = np.zeros(m, np.uint8)
        npool[:pool_used] = pool[:pool_used]
        pool = npool
    if used + n_new > MAX_LOAD * slots.shape[0]:
        slots = _rehash(offsets, lengths, pool, used, np.int64(2 * (used + n_new) / MAX_LOAD) + 1)
    return slots, offsets, lengths, counts, pool


@njit(cache=True, inline='always')
def _has_room(slots, offsets, pool, used, pool_used, n_new, n_bytes):
    return (used + n_new <= offsets.shape[0] and pool_used + n_bytes <= pool.shape[0]
            and used + n_new <= MAX_LOAD * slots.shape[0])


@njit(cache=True, nogil=True)
def _add_run(slots, offsets, lengths, counts, pool, used, pool_used, src, span_starts, span_ends, weights, i,
             part, nparts):
    n = span_starts.shape[0]
    while i < n:
        s0 = span_starts[i]
        e0 = span_ends[i]
        if nparts > 1 and _str_part(_hash_bytes(src, s0, e0), nparts) != part:
            i += 1
            continue
        if not _has_room(slots, offsets, pool, used, pool_used, 1, e0 - s0):
            break
        used, pool_used = _add(slots, offsets, lengths, counts, pool, used, pool_used, src, s0, e0, weights[i])
        i += 1
    return i, used, pool_used


@njit(cache=True, nogil=True)
def strtab_add(slots, offsets, lengths, counts, pool, used, pool_used,
               src, span_starts, span_ends, weights, part=0, nparts=1):
    """Add ``weights[i]`` to the count of ``src[span_starts[i]:span_ends[i]]``
    (only the strings of hash partition ``part`` of ``nparts``).

    Returns the (possibly reallocated) table tuple."""
    i = 0
    n = span_starts.shape[0]
    while True:
        i, used, pool_used = _add_run(slots, offsets, lengths, counts, pool, used, pool_used,
                                      src, span_starts, span_ends, weights, i, part, nparts)
        if i >= n:
            return slots, offsets, lengths, counts, pool, used, pool_used
        slots, offsets, lengths, counts, pool = _reserve(
            slots, offsets, lengths, counts, pool, used, pool_used, 1, span_ends[i] - span_starts[i])


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
def _pieces_run(buf, bounds, c, order, ensure_unicode, l1, l2, tk, tv,
                routes, states, prev, cur, node, starts,
                slots, offsets, lengths, counts, pool, used, pool_used):
    nchunks = bounds.shape[0] - 1
    while c < nchunks:
        length = bounds[c + 1] - bounds[c]
        if not _has_room(slots, offsets, pool, used, pool_used, length, length):
            break
        if length > 0:
            n = _viterbi_chunk(buf, bounds[c], bounds[c + 1], order, ensure_unicode, l1, l2, tk, tv,
                               routes, states, prev, cur, node, starts)
            for i in range(n):
                e = starts[i + 1] if i + 1 < n else bounds[c + 1]
                used, pool_used = _add(slots, offsets, lengths, counts, pool, used, pool_used,
                                       buf, starts[i], e, 1)
        c += 1
    return c, used, pool_used


@njit(cache=True, nogil=True)
def count_pieces(buf, bounds, order, ensure_unicode, l1, l2, tk, tv):
    """Segment the chunks (see ``segment``) and count the pieces by content.

    Returns ``(data, piece_bounds, counts)`` as ``strtab_compact``."""
    nbytes = bounds[-1] - bounds[0]
    maxlen = _max_chunk(bounds)
    slots, offsets, lengths, counts, pool, used, pool_used = strtab_new(
        max(nbytes // 16, 2 * maxlen), max(nbytes // 4, 2 * maxlen))
    starts = np.empty(maxlen, np.int64)
    routes, states, prev, cur, node = _viterbi_buffers(maxlen, order)
    c = 0
    while True:
        c, used, pool_used = _pieces_run(buf, bounds, c, order, ensure_unicode, l1, l2, tk, tv,
                                         routes, states, prev, cur, node, starts,
                                         slots, offsets, lengths, counts, pool, used, pool_used)
        if c >= bounds.shape[0] - 1:
            break
        length = bounds[c + 1] - bounds[c]
        slots, offsets, lengths, counts, pool = _reserve(
            slots, offsets, lengths, counts, pool, used, pool_used, length, length)
    return strtab_compact(offsets, lengths, counts, pool, used)


@njit(cache=True, nogil=True)
def compact_spans(data, bounds, counts, select):
    """Move the selected spans ``data[bounds[i]:bounds[i+1]]`` (and their
    counts) to the front of the same arrays, in order; ``bounds[:n + 1]`` then
    bounds them. Returns ``(n, total bytes)``."""
    n = 0
    pos = 0
    for i in range(select.shape[0]):
        if select[i]:
            s = bounds[i]
            e = bounds[i + 1]
            for k in range(s, e):  # pos <= s: moving left never overwrites unread bytes
                data[pos + k - s] = data[k]
            counts[n] = counts[i]
            bounds[n] = pos  # i >= n: bounds[i + 1] is still unread
            pos += e - s
            n += 1
    bounds[n] = pos
    return n, pos
