"""Lattice kernels over spans of bytes: Viterbi and exact sampling.

A span is ``buf[a:a+m]``; no token crosses it. The kernels go end position
by end position ``e`` and walk the reversed-piece trie (``kernels.trie``)
over ``buf[e-1], buf[e-2], ...``, which meets the pieces ending at ``e``
shortest first. A dynamic-programming value is therefore final when it is
read, and each end's best is kept in registers.

Ties: the best path keeps, among equal scores, the one whose last piece is
longest (BytePiece's rule: it scans the pieces ending at ``e`` longest first
and replaces only on a strictly higher score); we scan shortest first and
replace on ``>=``, which is the same choice.

The walk is written out in every kernel, being their innermost loop (a shared
helper costs registers there)::

    node = root_base + buf[e - 1]       # always valid: all bytes are pieces
    for k in range(e - 2, a - 1, -1):   # extend the piece one byte leftward
        child = units[2 * node] + buf[k]    # base of node, plus the byte
        if units[2 * child + 1] != node: break  # check of child
        node = child
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .rng import advance

MODE_VITERBI = 0
MODE_SAMPLE = 1  # linear-space weights with exact power-of-two rescaling
MODE_SAMPLE_LOG = 2  # log-space weights: for alphas whose weights underflow
# Added to a sampling mode: no lone byte piece inside a known character, one
# of several bytes whose whole UTF-8 is a piece (the edge gets weight 0).
KEEP_KNOWN_CHARS = 4
_SAMPLING = 3  # the mode without KEEP_KNOWN_CHARS

# Linear-space forward values are kept within [2**-RESCALE_EXP, 2**RESCALE_EXP].
RESCALE_EXP = 100


class Draw(NamedTuple):
    """How a path is chosen: ``mode``, ``alpha`` (log-space sampling),
    ``unit_weight`` (``exp(alpha * unit_score)``, 0 where no piece ends:
    linear-space sampling) and ``window``, the longest piece's length."""
    mode: int
    alpha: float
    unit_weight: np.ndarray
    window: int


class SpanWork(NamedTuple):
    """Work arrays for spans of up to ``n - 1`` bytes: forward values, and
    each end's chosen start and trie unit."""
    value: np.ndarray
    back: np.ndarray
    back_node: np.ndarray


class TokenOut(NamedTuple):
    """Outputs: token ids, token end offsets, and where each span's tokens
    start (one more entry than spans)."""
    ids: np.ndarray
    ends: np.ndarray
    span_tok_start: np.ndarray


@njit(inline='always')
def longest_span(bounds):
    """The most bytes of a span ``[bounds[i], bounds[i+1])`` (0 if none)."""
    longest = 0
    for i in range(bounds.size - 1):
        longest = max(longest, bounds[i + 1] - bounds[i])
    return longest


@njit(inline='always')
def span_work(longest):
    """Work arrays for spans of up to ``longest`` bytes."""
    return SpanWork(np.empty(longest + 1, np.float64), np.empty(longest + 1, np.uint64),
                    np.empty(longest + 1, np.int32))


@njit(inline='always')
def viterbi_span(buf, a, m, units, unit_score, best, back, back_node):
    """Best path of the span ``buf[a:a+m]`` into ``best``, ``back`` and
    ``back_node`` (indexed from the span start). Scores are added and
    compared in the precision of ``best`` and ``unit_score`` (float32 arrays
    give float32 sums, as SentencePiece computes). Indices are unsigned: numba
    then skips the negative-index wraparound on every access; the span is
    indexed from ``a`` rather than sliced, as a slice costs reference
    counting per span."""
    one = np.uint64(1)
    two = np.uint64(2)
    a = np.uint64(a)
    m = np.uint64(m)
    root_base = np.uint64(units[0])
    best[0] = 0.0
    last = best[0]  # best[e - 1], kept in a register, in best's precision
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
            if score >= top:
                top = score
                top_start = k
                top_node = node
        best[e] = top
        last = top
        back[e] = top_start
        back_node[e] = np.int32(top_node)


@njit(inline='always')
def _known_char_end(buf, a, p, m, units, unit_token):
    """If a multi-byte character starts at byte ``p`` of the span
    ``buf[a:a+m]`` and its whole UTF-8 is a piece, the position just past it
    (its lone bytes are excluded up to there), else 0. Looks the character up
    in the reversed-piece trie."""
    lead = buf[a + p]
    if lead < 0xC0:
        return 0
    width = 2 + (lead >= 0xE0) + (lead >= 0xF0)
    if p + width > m:
        return 0
    node = units[0] + buf[a + p + width - 1]
    for k in range(a + p + width - 2, a + p - 1, -1):
        child = units[2 * node] + buf[k]
        if units[2 * child + 1] != node:
            return 0
        node = child
    return p + width if unit_token[node] >= 0 else 0


@njit(inline='always')
def _sample_span(buf, a, m, units, unit_weight, unit_token, window, z, back, back_node, cand_total, cand_node, state,
                 keep_chars):
    """Draw ``back[e]`` for each end of the span ``buf[a:a+m]`` from its
    incoming edges in proportion to their weights ``c = Z[k] * w(piece)``,
    in linear space: the distribution of the reservoir of ``_sample_span_log``,
    in the same single forward pass. The walk already meets every edge into ``e``,
    so instead of a coin flip per edge it keeps the running totals
    (``cand_total``, ``cand_node``, shortest piece first) and then draws one
    uniform ``u``: the chosen edge is the first whose running total exceeds
    ``u * Z[e]``, found by counting the totals at or below it (no branch per
    edge; an edge of weight 0 is never chosen). An end with a single edge
    draws nothing. ``keep_chars`` (a constant at every call, so the default
    loop keeps none of its code): ``KEEP_KNOWN_CHARS``. Indexed as
    ``viterbi_span``. Returns the random stream's new state."""
    one = np.uint64(1)
    two = np.uint64(2)
    a = np.uint64(a)
    m = np.uint64(m)
    root_base = np.uint64(units[0])
    hi = 2.0 ** RESCALE_EXP
    lo = 2.0 ** -RESCALE_EXP
    z[0] = 1.0
    guard = np.uint64(0)  # lone bytes before this position lie inside a known character
    for e in range(one, m + one):
        node = root_base + np.uint64(buf[a + e - one])
        total = z[e - one] * unit_weight[node]
        if keep_chars:
            guard = max(guard, np.uint64(_known_char_end(buf, np.int64(a), np.int64(e - one), np.int64(m), units,
                                                          unit_token)))
            if e - one < guard:
                total = 0.0
        cand_total[0] = total
        cand_node[0] = node
        n = 0  # longer pieces' units met (a unit where no piece ends has weight 0)
        k = e - one
        while k > 0:
            k -= one
            child = np.uint64(units[two * node]) + np.uint64(buf[a + k])
            if np.uint64(units[two * child + one]) != node:
                break
            node = child
            total += z[k] * unit_weight[node]
            n += 1
            cand_total[n] = total
            cand_node[n] = node
        chosen = 0
        if n > 0:
            state, u = advance(state)
            target = u * total  # < total = cand_total[n], so chosen <= n
            for j in range(n):
                chosen += cand_total[j] <= target
        z[e] = total
        back[e] = e - one - np.uint64(chosen)
        back_node[e] = np.int32(cand_node[chosen])
        if total > hi or (total < lo and not (keep_chars and total == 0.0)):
            # Scale every value a later end may read by one power of two:
            # exact, and sampling only uses their ratios. (An end that no
            # allowed path reaches has 0: nothing to scale.)
            factor = math.ldexp(1.0, -math.frexp(total)[1])
            for k in range(max(0, np.int64(e) - window), np.int64(e) + 1):
                z[k] *= factor
    return state


@njit(inline='always')
def _sample_span_log(buf, a, m, units, unit_score, unit_token, alpha, z, back, back_node, state, keep_chars):
    """Reservoir sampling in log space, for any alpha: each edge into ``e``,
    of log weight ``w = Z[k] + alpha * score``, replaces the end's choice with
    probability ``exp(w - Z[e] so far)``; by induction the path is drawn with
    exactly its probability. A lone byte that ``keep_chars`` excludes has
    ``w = -inf``: the first allowed edge replaces it with probability 1."""
    root_base = units[0]
    z[0] = 0.0
    guard = 0
    for e in range(1, m + 1):
        node = root_base + buf[a + e - 1]
        total = z[e - 1] + alpha * unit_score[node]
        if keep_chars:
            guard = max(guard, _known_char_end(buf, a, e - 1, m, units, unit_token))
            if e - 1 < guard:
                total = -np.inf
        chosen_start = e - 1
        chosen_node = node
        for k in range(e - 2, -1, -1):
            child = units[2 * node] + buf[a + k]
            if units[2 * child + 1] != node:
                break
            node = child
            if unit_token[node] < 0:
                continue
            w = z[k] + alpha * unit_score[node]
            total = logaddexp(total, w)
            state, u = advance(state)
            if u < math.exp(w - total):
                chosen_start = k
                chosen_node = node
        z[e] = total
        back[e] = chosen_start
        back_node[e] = chosen_node
    return state


@njit(nogil=True, cache=True)
def logaddexp(x, y):
    if x == -np.inf:
        return y
    if y == -np.inf:
        return x
    if x >= y:
        return x + math.log1p(math.exp(y - x))
    return y + math.log1p(math.exp(x - y))


@njit(inline='always')
def emit_path(back, back_node, unit_token, m, offset, out_ids, out_ends, ntok):
    """Append the path ending at ``m`` (back to 0) to the outputs, token ends
    shifted by ``offset`` (none if ``out_ends`` is empty); tokens are looked
    up only here, for the units on the path."""
    count = 0
    e = np.uint64(m)
    while e > 0:
        count += 1
        e = back[e]
    pos = ntok + count
    e = np.uint64(m)
    while e > 0:
        pos -= 1
        out_ids[pos] = unit_token[back_node[e]]
        if out_ends.size:
            out_ends[pos] = np.int64(e) + offset
        e = back[e]
    return ntok + count


@njit(nogil=True, cache=True)
def _viterbi_spans(buf, bounds, i0, i1, units, unit_score, unit_token, work, back, back_node,
                   out_ids, out_ends, span_tok_start, ntok):
    for i in range(i0, i1):
        a = bounds[i]
        m = bounds[i + 1] - a
        span_tok_start[i] = ntok
        viterbi_span(buf, a, m, units, unit_score, work, back, back_node)
        ntok = emit_path(back, back_node, unit_token, m, a, out_ids, out_ends, ntok)
    return ntok


@njit(nogil=True, cache=True)
def _sample_spans(buf, bounds, i0, i1, units, unit_weight, unit_token, window, state, work, back, back_node,
                  out_ids, out_ends, span_tok_start, ntok, keep_chars):
    cand_total = np.empty(window + 1, np.float64)  # a walk meets at most window units
    cand_node = np.empty(window + 1, np.uint64)
    for i in range(i0, i1):
        a = bounds[i]
        m = bounds[i + 1] - a
        span_tok_start[i] = ntok
        # one span loop per value of keep_chars, each compiled with it as a constant
        if keep_chars:
            state = _sample_span(buf, a, m, units, unit_weight, unit_token, window, work, back, back_node,
                                 cand_total, cand_node, state, True)
        else:
            state = _sample_span(buf, a, m, units, unit_weight, unit_token, window, work, back, back_node,
                                 cand_total, cand_node, state, False)
        ntok = emit_path(back, back_node, unit_token, m, a, out_ids, out_ends, ntok)
    return ntok


@njit(nogil=True, cache=True)
def _sample_spans_log(buf, bounds, i0, i1, units, unit_score, unit_token, alpha, state, work, back, back_node,
                      out_ids, out_ends, span_tok_start, ntok, keep_chars):
    for i in range(i0, i1):
        a = bounds[i]
        m = bounds[i + 1] - a
        span_tok_start[i] = ntok
        if keep_chars:
            state = _sample_span_log(buf, a, m, units, unit_score, unit_token, alpha, work, back, back_node,
                                     state, True)
        else:
            state = _sample_span_log(buf, a, m, units, unit_score, unit_token, alpha, work, back, back_node,
                                     state, False)
        ntok = emit_path(back, back_node, unit_token, m, a, out_ids, out_ends, ntok)
    return ntok


@njit(nogil=True, cache=True)
def segment_into(buf, bounds, i0, i1, trie, draw, seed, work, out, ntok):
    """Segment spans ``i0..i1-1`` of ``bounds`` (span ``i`` is
    ``buf[bounds[i]:bounds[i+1]]``), appending their tokens to ``out`` from
    position ``ntok`` and setting ``out.span_tok_start[i0..i1]``; the random
    stream starts at state ``seed``. Returns the new ``ntok``. ``work``
    must hold the longest span plus one."""
    # One compiled loop per mode, each keeping only its own values in
    # registers (one loop for all three spilled the inner loop's pointers).
    units, unit_score, unit_token = trie
    value, back, back_node = work
    out_ids, out_ends, span_tok_start = out
    state = np.uint64(seed)
    keep_chars = draw.mode & KEEP_KNOWN_CHARS != 0
    if draw.mode == MODE_VITERBI:
        ntok = _viterbi_spans(buf, bounds, i0, i1, units, unit_score, unit_token, value, back, back_node,
                              out_ids, out_ends, span_tok_start, ntok)
    elif draw.mode & _SAMPLING == MODE_SAMPLE:
        ntok = _sample_spans(buf, bounds, i0, i1, units, draw.unit_weight, unit_token, draw.window, state,
                             value, back, back_node, out_ids, out_ends, span_tok_start, ntok, keep_chars)
    else:
        ntok = _sample_spans_log(buf, bounds, i0, i1, units, unit_score, unit_token, draw.alpha, state,
                                 value, back, back_node, out_ids, out_ends, span_tok_start, ntok, keep_chars)
    span_tok_start[i1] = ntok
    return ntok
