"""Byte n-gram language model (BNLM) segmentation and piece counting kernels.

``segment`` runs the BNLM Viterbi over many chunks of one byte buffer and
returns where pieces start. Byte ``i`` in state ``j`` (its position in the
current piece, capped at ``order - 1``) scores ``L(j+1)`` of the ``j + 1``
bytes ending at ``i``; the next byte goes to state 0 (new piece) or to
``min(j + 1, order - 1)``. Floating point and tie-breaking follow BytePiece's
numpy formulation exactly: every candidate is the sum ``prev[jp] + node[j]``
and the first maximum over ``jp`` wins (an all ``-inf`` column picks state
0). ``count_pieces`` then counts the pieces by content in a string table.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from .hashtable import (hash_bytes, map_get_from, map_home, strtab_bump, strtab_grow, strtab_has_room, strtab_items,
                        strtab_new)
from .ngrams import LEN_SHIFT

NEG_INF = -np.inf


class Bnlm(NamedTuple):
    """The model: ``order`` 1..7; ``ensure_unicode``: no piece starts with a
    UTF-8 continuation byte; ``l1 float64[256]``: the log probability of each
    byte; ``l2 float64[65536]``: at ``256 * a + b``, that of ``b`` after ``a``
    (``-inf`` if pruned); ``ngrams``: a ``hashtable`` map from the keys of the
    kept n-grams (3 <= n <= order, keys as in ``ngrams``) to the log
    probability of their last byte after the others."""
    order: int
    ensure_unicode: bool
    l1: np.ndarray
    l2: np.ndarray
    ngrams: np.ndarray


class ViterbiWork(NamedTuple):
    """Work arrays of ``_viterbi_chunk`` for chunks of up to ``maxlen`` bytes:
    back pointers ``routes int8[maxlen, order]``, ``states int8[maxlen]``,
    the score columns ``prev, cur, node float64[order]``, the piece starts
    ``starts int64[maxlen]``, and per-length probe state (``order + 1``)."""
    routes: np.ndarray
    states: np.ndarray
    prev: np.ndarray
    cur: np.ndarray
    node: np.ndarray
    starts: np.ndarray
    probe_key: np.ndarray
    probe_slot: np.ndarray
    probe_first: np.ndarray
    probe_need: np.ndarray


@njit(cache=True, nogil=True)
def viterbi_work(maxlen, order):
    """Work arrays for chunks of up to ``maxlen`` bytes."""
    return ViterbiWork(np.zeros((maxlen, order), np.int8), np.empty(maxlen, np.int8),
                       np.empty(order, np.float64), np.empty(order, np.float64), np.empty(order, np.float64),
                       np.empty(maxlen, np.int64), np.empty(order + 1, np.uint64), np.empty(order + 1, np.int64),
                       np.empty(order + 1, np.uint64), np.zeros(order + 1, np.bool_))


@njit(cache=True, nogil=True)
def _viterbi_chunk(buf, start, end, model, values, work, out):
    """Segment ``buf[start:end]``; writes the piece starts to ``out`` and
    returns how many. ``values``: the float64 view of ``model.ngrams``."""
    order, ensure_unicode, l1, l2, tk = model.order, model.ensure_unicode, model.l1, model.l2, model.ngrams
    routes, states, prev, cur, node = work.routes, work.states, work.prev, work.cur, work.node
    qkey, qslot, qfirst, qneed = work.probe_key, work.probe_slot, work.probe_first, work.probe_need
    length = end - start
    last = order - 1
    low56 = (np.uint64(1) << LEN_SHIFT) - np.uint64(1)
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
                        q = map_home(tk, key)
                        qslot[j] = q
                        qfirst[j] = tk[2 * q]
                for j in range(2, top + 1):
                    if not qneed[j]:
                        continue
                    key = qkey[j]
                    x = qfirst[j]
                    if x == key:
                        v = values[2 * qslot[j] + 1]
                    elif x == 0:
                        v = NEG_INF
                    else:
                        v = map_get_from(tk, values, key, qslot[j], NEG_INF)
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
    return _backtrack(prev, routes, states, order, start, length, out)


@njit(cache=True, nogil=True)
def _backtrack(prev, routes, states, order, start, length, out):
    """The best final state (first maximum), back along ``routes``: writes
    the piece starts (offsets into the buffer) to ``out``, returns how many."""
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
def segment(buf, bounds, model):
    """Viterbi segmentation of each chunk ``buf[bounds[c]:bounds[c+1]]`` with
    the ``Bnlm`` ``model``. Returns the sorted start offsets (into ``buf``) of
    all pieces; every chunk start is among them and a piece ends at the next
    start or chunk end."""
    values = model.ngrams.view(np.float64)
    work = viterbi_work(_max_chunk(bounds), model.order)
    starts = np.empty(max(bounds[-1] - bounds[0], 1), np.int64)
    nout = 0
    for c in range(bounds.shape[0] - 1):
        if bounds[c + 1] > bounds[c]:
            nout += _viterbi_chunk(buf, bounds[c], bounds[c + 1], model, values, work, starts[nout:])
    return starts[:nout].copy()


@njit(cache=True, nogil=True)
def _pieces_run(buf, bounds, c, model, values, work, table):
    # from chunk c on, while the table surely has room for a whole chunk's pieces
    starts = work.starts
    nchunks = bounds.shape[0] - 1
    while c < nchunks:
        length = bounds[c + 1] - bounds[c]
        if not strtab_has_room(table, length, length):
            break
        if length > 0:
            n = _viterbi_chunk(buf, bounds[c], bounds[c + 1], model, values, work, starts)
            for i in range(n):
                s = starts[i]
                e = starts[i + 1] if i + 1 < n else bounds[c + 1]
                strtab_bump(table, buf, s, e, hash_bytes(buf, s, e), 1)
        c += 1
    return c


@njit(cache=True, nogil=True)
def count_pieces(buf, bounds, model):
    """Segment the chunks (see ``segment``) and count the pieces by content.

    Returns ``(data, piece_bounds, counts)``: piece ``i`` is
    ``data[piece_bounds[i]:piece_bounds[i+1]]``, in order of first occurrence."""
    nbytes = bounds[-1] - bounds[0]
    maxlen = _max_chunk(bounds)
    table = strtab_new(max(nbytes // 16, 2 * maxlen), max(nbytes // 4, 2 * maxlen))
    values = model.ngrams.view(np.float64)
    work = viterbi_work(maxlen, model.order)
    c = 0
    while True:
        c = _pieces_run(buf, bounds, c, model, values, work, table)
        if c >= bounds.shape[0] - 1:
            break
        length = bounds[c + 1] - bounds[c]
        table = strtab_grow(table, length, length)
    data, starts, counts = strtab_items(table)
    piece_bounds = np.empty(starts.shape[0] + 1, np.int64)
    piece_bounds[:-1] = starts
    piece_bounds[-1] = data.shape[0]
    return data.copy(), piece_bounds, counts.copy()


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
