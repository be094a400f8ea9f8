"""Kernels of the unigram trainer: best-path statistics of a corpus shard,
the alternative segmentation of each piece, and character pairs.

Pair keys are ``(left id << 32) | right id``: ids are at least 3, so a key is
never 0 (the hash tables' empty mark).

Dropout leaves an edge of the lattice out when a hash of the span's bytes,
the edge's start in the span and its id falls below a threshold: the same
for a span wherever it lies (and for every copy of a repeated span), so
counts do not depend on how the corpus is cut into shards. The hash of an
edge is ``((span_hash + start * _START_MULT) ^ (id * _ID_MULT)) *
_EDGE_MULT`` (mod 2**64): no mixing step beyond that last multiply.
"""

import numpy as np
from numba import njit

from .hashtable import COUNTER_MULT, capacity, counter_add, counter_items, counter_new, hash_bytes, same_bytes, scale
from .lattice import longest_span, span_work, viterbi_span
from .ngrams import LEN_SHIFT
from .rng import mix64

PAIR_SHIFT = np.uint64(32)
PAIR_BATCH = 1 << 16
_START_MULT = np.uint64(0x9E3779B97F4A7C15)
_ID_MULT = np.uint64(0xC2B2AE3D27D4EB4F)
_EDGE_MULT = np.uint64(0xBF58476D1CE4E5B9)


@njit(cache=True, nogil=True)
def best_path_stats(buf, bounds, units, unit_score, unit_token, n_ids, pair_ok, lengths, max_length, droppable,
                    drop_below):
    """Viterbi over every span ``buf[bounds[i]:bounds[i+1]]``. Returns
    ``(counts, score, pair_keys, pair_counts)``: the tokens of each id on the
    best paths, the sum of the best paths' scores, and the adjacent token
    pairs ``(a, b)`` with ``pair_ok[a] and pair_ok[b]`` and
    ``lengths[a] + lengths[b] <= max_length``, counted. With ``drop_below``
    (uint64) above 0, each edge of an id with ``droppable[id]`` is left out
    when its hash is below ``drop_below``: a share ``drop_below / 2**64`` of
    them. Single bytes are never left out; each needs a finite score, as a
    span may then have no other path.

    A span's best path depends on its bytes alone (dropout too), so each
    distinct span is segmented once and counted as often as it occurs (a
    quarter of the bytes of a shard of prose or code are repeated lines)."""
    longest = max(longest_span(bounds), 1)
    best, back, back_node = span_work(longest)
    path = np.empty(longest, np.int64)
    counts = np.zeros(n_ids, np.int64)
    first, span_bits, copies = distinct_spans(buf, bounds)
    # pairs go to the counter a batch at a time: a small batch stays in cache
    keys = np.empty(PAIR_BATCH + longest, np.uint64)
    weights = np.empty(keys.size, np.int64)
    n_keys = 0
    table = counter_new(buf.size // 12 if max_length > 0 else 0, COUNTER_MULT)  # a dozen bytes a distinct pair
    score = 0.0
    for j in range(first.size):  # each distinct span once, weighted by its copies
        a = bounds[first[j]]
        m = bounds[first[j] + 1] - a
        if m == 0:
            continue
        if drop_below > 0:
            viterbi_span_dropout(buf, a, m, span_bits[j], units, unit_score, unit_token, droppable, drop_below,
                                 best, back, back_node)
        else:
            viterbi_span(buf, a, m, units, unit_score, best, back, back_node)
        weight = copies[j]
        score += weight * best[m]
        n = 0
        e = np.uint64(m)
        while e > 0:  # the path, last token first
            path[n] = unit_token[back_node[e]]
            n += 1
            e = back[e]
        for t in range(n):
            counts[path[t]] += weight
        for t in range(n - 1):
            left = path[t + 1]
            right = path[t]
            if pair_ok[left] and pair_ok[right] and lengths[left] + lengths[right] <= max_length:
                keys[n_keys] = (np.uint64(left) << PAIR_SHIFT) | np.uint64(right)
                weights[n_keys] = weight
                n_keys += 1
        if n_keys >= PAIR_BATCH:
            table = counter_add(table, keys[:n_keys], weights[:n_keys])
            n_keys = 0
    table = counter_add(table, keys[:n_keys], weights[:n_keys])
    pair_keys, pair_counts = counter_items(table)
    return counts, score, pair_keys, pair_counts


@njit(cache=True, nogil=True)
def distinct_spans(buf, bounds):
    """The distinct spans ``buf[bounds[i]:bounds[i+1]]``: for each, in order
    of first appearance, ``(first, span_bits, copies)``, the index of its
    first copy, its ``span_hash`` and how many copies there are."""
    n_spans = bounds.size - 1
    seen = np.zeros(capacity(n_spans), np.int64)  # entry + 1; 0 is empty
    first = np.empty(n_spans, np.int64)
    span_bits = np.empty(n_spans, np.uint64)
    copies = np.zeros(n_spans, np.int64)
    n = 0
    for i in range(n_spans):
        a = bounds[i]
        m = bounds[i + 1] - a
        bits = span_hash(buf, a, m)
        s, j = _find_span(seen, first, span_bits, bounds, buf, a, m, bits)
        if j < 0:
            j = n
            n += 1
            seen[s] = j + 1
            first[j] = i
            span_bits[j] = bits
        copies[j] += 1
    return first[:n], span_bits[:n], copies[:n]


@njit(cache=True, inline='always')
def _find_span(seen, seen_start, seen_hash, bounds, buf, a, m, span_bits):
    """The slot of the span ``buf[a:a+m]`` in the table ``seen`` of entries
    (span index ``seen_start``, hash ``seen_hash``) and its entry, or the
    empty slot where it goes and -1."""
    cap = seen.shape[0]
    s = scale(span_bits, cap)
    while seen[s] != 0:
        j = seen[s] - 1
        if seen_hash[j] == span_bits:
            b = bounds[seen_start[j]]
            if bounds[seen_start[j] + 1] - b == m and same_bytes(buf, b, buf, a, m):
                return s, j
        s += 1
        if s == cap:
            s = 0
    return s, -1


@njit(cache=True, nogil=True)
def span_hash(buf, a, m):
    """A hash of the bytes ``buf[a:a+m]`` (FNV-1a, then mixed)."""
    return mix64(hash_bytes(buf, a, a + m))


@njit(inline='always')
def viterbi_span_dropout(buf, a, m, span_bits, units, unit_score, unit_token, droppable, drop_below, best, back,
                         back_node):
    """``lattice.viterbi_span`` without the edges that dropout leaves out (see
    ``best_path_stats``; ``span_bits`` is the span's ``span_hash``); a single
    byte is never droppable, so a path exists."""
    one = np.uint64(1)
    two = np.uint64(2)
    a = np.uint64(a)
    m = np.uint64(m)
    root_base = np.uint64(units[0])
    best[0] = 0.0
    last = best[0]  # best[e - 1], kept in a register
    for e in range(one, m + one):
        node = root_base + np.uint64(buf[a + e - one])
        top = last + unit_score[node]
        top_start = e - one
        top_node = node
        k = e - one
        while k > 0:
            k -= one
            child = np.uint64(units[two * node]) + np.uint64(buf[a + k])
            if np.uint64(units[two * child + one]) != node:
                break
            node = child
            score = best[k] + unit_score[node]
            # without branches on the drop (it would be mispredicted); a unit
            # where no piece ends (token -1) never wins, even against -inf
            token = unit_token[node]
            bits = ((span_bits + k * _START_MULT) ^ (np.uint64(token) * _ID_MULT)) * _EDGE_MULT
            if (score >= top) & (token >= 0) & ~(droppable[max(token, 0)] & (bits < drop_below)):
                top = score
                top_start = k
                top_node = node
        best[e] = top
        last = top
        back[e] = top_start
        back_node[e] = np.int32(top_node)


@njit(cache=True, nogil=True)
def alternatives(data, offsets, units, unit_score, unit_token):
    """The best segmentation of each piece ``data[offsets[i]:offsets[i+1]]``
    other than the piece itself (single bytes have none). Returns
    ``(ids, starts, score)``: piece ``i``'s alternative is
    ``ids[starts[i]:starts[i+1]]`` with total score ``score[i]``."""
    n_pieces = offsets.size - 1
    best, back, back_node = span_work(max(longest_span(offsets), 1))
    ids = np.empty(max(offsets[-1], 1), np.int32)
    starts = np.zeros(n_pieces + 1, np.int64)
    score = np.full(n_pieces, -np.inf)
    n_ids = 0
    root_base = units[0]
    for i in range(n_pieces):
        a = offsets[i]
        m = offsets[i + 1] - a
        starts[i] = n_ids
        if m < 2:
            continue
        # best paths into every end but the last, then the last end without the edge from 0
        viterbi_span(data, a, m - 1, units, unit_score, best, back, back_node)
        node = root_base + data[a + m - 1]
        top = best[m - 1] + unit_score[node]
        top_start = m - 1
        top_node = node
        for k in range(m - 2, 0, -1):
            child = units[2 * node] + data[a + k]
            if units[2 * child + 1] != node:
                break
            node = child
            s = best[k] + unit_score[node]
            if s >= top:
                top = s
                top_start = k
                top_node = node
        score[i] = top
        n = 1
        e = np.uint64(top_start)
        while e > 0:
            n += 1
            e = back[e]
        pos = n_ids + n - 1
        ids[pos] = unit_token[top_node]
        e = np.uint64(top_start)
        while e > 0:
            pos -= 1
            ids[pos] = unit_token[back_node[e]]
            e = back[e]
        n_ids += n
    starts[n_pieces] = n_ids
    return ids[:n_ids], starts, score


@njit(cache=True, nogil=True)
def _char_length(lead):
    if lead < 0xC0:
        return 1
    if lead < 0xE0:
        return 2
    if lead < 0xF0:
        return 3
    return 4


@njit(cache=True, nogil=True)
def char_pairs(buf, bounds, whole_chars):
    """Counts of the multi-byte characters and of the pairs of adjacent
    characters of at most 7 bytes in the spans, as n-gram keys
    (``kernels.ngrams``). With ``whole_chars`` False every byte is a
    character."""
    keys = np.empty(PAIR_BATCH + 2 * longest_span(bounds), np.uint64)  # a batch, and the keys of one more span
    ones = np.ones(keys.size, np.int64)
    n_keys = 0
    table = counter_new(buf.size // 12, COUNTER_MULT)
    for i in range(bounds.size - 1):
        p = bounds[i]
        end = bounds[i + 1]
        prev_start = -1
        while p < end:
            n = _char_length(buf[p]) if whole_chars else 1
            n = min(n, end - p)
            if n > 1:
                keys[n_keys] = _key(buf, p, p + n)
                n_keys += 1
            if prev_start >= 0 and p + n - prev_start <= 7:
                keys[n_keys] = _key(buf, prev_start, p + n)
                n_keys += 1
            prev_start = p
            p += n
        if n_keys >= PAIR_BATCH:
            table = counter_add(table, keys[:n_keys], ones[:n_keys])
            n_keys = 0
    table = counter_add(table, keys[:n_keys], ones[:n_keys])
    return counter_items(table)


@njit(cache=True, inline='always')
def _key(buf, s, e):
    k = np.uint64(e - s) << LEN_SHIFT
    for j in range(s, e):
        k |= np.uint64(buf[j]) << np.uint64(8 * (e - 1 - j))
    return k


@njit(cache=True, nogil=True)
def whole_chars(data, offsets):
    """Whether each piece ``data[offsets[i]:offsets[i+1]]`` is made of whole
    UTF-8 characters: it starts at a character and its last one is complete."""
    n = offsets.size - 1
    out = np.zeros(n, np.bool_)
    for i in range(n):
        p = offsets[i]
        end = offsets[i + 1]
        ok = p < end
        while ok and p < end:
            lead = data[p]
            if 0x80 <= lead < 0xC0:
                ok = False
                break
            size = _char_length(lead)
            for j in range(p + 1, p + size):
                if j >= end or not 0x80 <= data[j] < 0xC0:
                    ok = False
                    break
            p += size
        out[i] = ok
    return out


@njit(cache=True, nogil=True)
def several_chars(data, offsets, utf8):
    """Whether each piece ``data[offsets[i]:offsets[i+1]]`` has more than one
    character: UTF-8 characters with ``utf8``, else bytes."""
    n = offsets.size - 1
    out = np.zeros(n, np.bool_)
    for i in range(n):
        chars = 0
        for j in range(offsets[i], offsets[i + 1]):
            if not utf8 or not 0x80 <= data[j] < 0xC0:
                chars += 1
        out[i] = chars > 1
    return out
