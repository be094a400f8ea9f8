"""Lattice kernels: Viterbi, exact sampling, n-best and forward statistics.

All kernels take a byte buffer ``buf`` and span bounds ``bounds`` (span ``i``
is ``buf[bounds[i]:bounds[i+1]]``); no token crosses a span. They go end
position by end position ``e`` and walk the reversed-piece trie
(``kernels.trie``) over ``buf[e-1], buf[e-2], ...``, which meets the pieces
ending at ``e`` shortest first. A dynamic-programming value is therefore
final when it is read, and each end's best is kept in registers.

Ties: BytePiece scans the pieces ending at ``e`` longest first and keeps
the first best (strict ``>``); we scan shortest first and keep the last best
(``>=``): the same choice, so ids equal BytePiece's.

The walk is written out in every kernel, being their innermost loop::

    node = root_base + buf[e - 1]       # always valid: all bytes are pieces
    for k in range(e - 2, a - 1, -1):   # extend the piece one byte leftward
        child = units[2 * node] + buf[k]    # base of node, plus the byte
        if units[2 * child + 1] != node: break  # check of child
        node = child
"""

import math

import numpy as np
from numba import njit, prange

from .rng import advance, stream_seed

MODE_VITERBI = 0
MODE_SAMPLE = 1  # linear-space weights with exact power-of-two rescaling
MODE_SAMPLE_LOG = 2  # log-space weights: for alphas whose weights underflow

# Linear-space forward values are kept within [2**-RESCALE_EXP, 2**RESCALE_EXP].
RESCALE_EXP = 100


@njit(cache=True, nogil=True)
def chunk_bounds(buf):
    """Chunk bounds of UTF-8 text: a chunk is a run of non-newline bytes plus
    the newlines that follow it (SPEC section 1). Byte 0x0A never occurs inside
    a multi-byte character, so this equals the character-level rule."""
    bounds, _ = _texts_chunk_bounds(buf, np.array([0, buf.size], np.int64), 0, 1)
    return bounds


@njit(inline='always')
def _viterbi_span(buf, a, m, units, unit_score, best, back, back_node):
    """Best path of the span ``buf[a:a+m]`` into ``best``, ``back`` and
    ``back_node`` (indexed from the span start). Indices are unsigned: numba
    then skips the negative-index wraparound on every access (measured ~35%
    faster); the span is indexed from ``a`` rather than sliced, as a slice
    costs reference counting per span."""
    one = np.uint64(1)
    two = np.uint64(2)
    a = np.uint64(a)
    m = np.uint64(m)
    root_base = np.uint64(units[0])
    best[0] = 0.0
    last = 0.0  # best[e - 1], kept in a register
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
def _sample_span(buf, a, m, units, unit_weight, window, z, back, back_node, cand_total, cand_node, state):
    """Draw ``back[e]`` for each end of the span ``buf[a:a+m]`` from its
    incoming edges in proportion to their weights ``c = Z[k] * w(piece)``,
    in linear space: the distribution SPEC section 4's reservoir gives, in the
    same single forward pass. The walk already meets every edge into ``e``,
    so instead of a coin flip per edge it keeps the running totals
    (``cand_total``, ``cand_node``, shortest piece first) and then draws one
    uniform ``u``: the chosen edge is the first whose running total exceeds
    ``u * Z[e]``, found by counting the totals at or below it (no branch per
    edge; an edge of weight 0 is never chosen). An end with a single edge
    draws nothing. Indexed as ``_viterbi_span``. Returns the random stream's
    new state."""
    one = np.uint64(1)
    two = np.uint64(2)
    a = np.uint64(a)
    m = np.uint64(m)
    root_base = np.uint64(units[0])
    hi = 2.0 ** RESCALE_EXP
    lo = 2.0 ** -RESCALE_EXP
    z[0] = 1.0
    for e in range(one, m + one):
        node = root_base + np.uint64(buf[a + e - one])
        total = z[e - one] * unit_weight[node]
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
        if total > hi or total < lo:
            # Scale every value a later end may read by one power of two:
            # exact, and sampling only uses their ratios.
            factor = math.ldexp(1.0, -math.frexp(total)[1])
            for k in range(max(0, np.int64(e) - window), np.int64(e) + 1):
                z[k] *= factor
    return state


@njit(inline='always')
def _sample_span_log(buf, a, m, units, unit_score, unit_token, alpha, z, back, back_node, state):
    """SPEC section 4's reservoir sampling as written, in log space (one coin
    flip per edge), for any alpha."""
    root_base = units[0]
    z[0] = 0.0
    for e in range(1, m + 1):
        node = root_base + buf[a + e - 1]
        total = z[e - 1] + alpha * unit_score[node]
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
            total = _logaddexp(total, w)
            state, u = advance(state)
            if u < math.exp(w - total):
                chosen_start = k
                chosen_node = node
        z[e] = total
        back[e] = chosen_start
        back_node[e] = chosen_node
    return state


@njit(nogil=True, cache=True)
def _logaddexp(x, y):
    if x == -np.inf:
        return y
    if y == -np.inf:
        return x
    if x >= y:
        return x + math.log1p(math.exp(y - x))
    return y + math.log1p(math.exp(x - y))


@njit(inline='always')
def _longest_span(bounds):
    longest = 0
    for i in range(bounds.size - 1):
        longest = max(longest, bounds[i + 1] - bounds[i])
    return longest


@njit(inline='always')
def _emit_span(back, back_node, unit_token, m, offset, out_ids, out_ends, ntok):
    """Append the path ending at ``m`` (back to 0) to the outputs, token ends
    shifted by ``offset``; tokens are looked up only here, for the units on
    the path."""
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
        _viterbi_span(buf, a, m, units, unit_score, work, back, back_node)
        ntok = _emit_span(back, back_node, unit_token, m, a, out_ids, out_ends, ntok)
    return ntok


@njit(nogil=True, cache=True)
def _sample_spans(buf, bounds, i0, i1, units, unit_weight, unit_token, window, state, work, back, back_node,
                  out_ids, out_ends, span_tok_start, ntok):
    cand_total = np.empty(window + 1, np.float64)  # a walk meets at most window units
    cand_node = np.empty(window + 1, np.uint64)
    for i in range(i0, i1):
        a = bounds[i]
        m = bounds[i + 1] - a
        span_tok_start[i] = ntok
        state = _sample_span(buf, a, m, units, unit_weight, window, work, back, back_node,
                             cand_total, cand_node, state)
        ntok = _emit_span(back, back_node, unit_token, m, a, out_ids, out_ends, ntok)
    return ntok


@njit(nogil=True, cache=True)
def _sample_spans_log(buf, bounds, i0, i1, units, unit_score, unit_token, alpha, state, work, back, back_node,
                      out_ids, out_ends, span_tok_start, ntok):
    for i in range(i0, i1):
        a = bounds[i]
        m = bounds[i + 1] - a
        span_tok_start[i] = ntok
        state = _sample_span_log(buf, a, m, units, unit_score, unit_token, alpha, work, back, back_node, state)
        ntok = _emit_span(back, back_node, unit_token, m, a, out_ids, out_ends, ntok)
    return ntok


@njit(nogil=True, cache=True)
def _segment_into(buf, bounds, i0, i1, trie, mode, alpha, unit_weight, window, seed,
                  work, back, back_node, out_ids, out_ends, span_tok_start, ntok):
    """Segment spans ``i0..i1-1`` of ``bounds``, appending their tokens to the
    outputs from position ``ntok``; returns the new ``ntok``. The work arrays
    need the longest span's length plus one."""
    # One compiled function per mode, each keeping only its own values in
    # registers (one function for all three spilled the array pointers of the
    # inner loop to the stack).
    units, unit_score, unit_token = trie
    state = np.uint64(seed)
    if mode == MODE_VITERBI:
        ntok = _viterbi_spans(buf, bounds, i0, i1, units, unit_score, unit_token, work, back, back_node,
                              out_ids, out_ends, span_tok_start, ntok)
    elif mode == MODE_SAMPLE:
        ntok = _sample_spans(buf, bounds, i0, i1, units, unit_weight, unit_token, window, state,
                             work, back, back_node, out_ids, out_ends, span_tok_start, ntok)
    else:
        ntok = _sample_spans_log(buf, bounds, i0, i1, units, unit_score, unit_token, alpha, state,
                                 work, back, back_node, out_ids, out_ends, span_tok_start, ntok)
    span_tok_start[i1] = ntok
    return ntok


@njit(inline='always')
def _work_arrays(longest):
    return (np.empty(longest + 1, np.float64), np.empty(longest + 1, np.uint64),
            np.empty(longest + 1, np.int32))


@njit(cache=True, nogil=True)
def segment(buf, bounds, trie, mode, alpha, unit_weight, window, seed):
    """Segment every span of ``buf``; returns ``(ids, token_ends, span_token_start)``.

    ``mode``: MODE_VITERBI, MODE_SAMPLE (needs ``unit_weight = exp(alpha *
    unit_score)``, 0 where no piece ends, and ``window`` = the longest piece
    length) or MODE_SAMPLE_LOG (needs ``alpha``). ``seed`` starts the random
    stream.
    """
    n = buf.size
    work, back, back_node = _work_arrays(_longest_span(bounds))
    out_ids = np.empty(n, np.int32)
    out_ends = np.empty(n, np.int64)
    span_tok_start = np.empty(bounds.size, np.int64)
    ntok = _segment_into(buf, bounds, 0, bounds.size - 1, trie, mode, alpha, unit_weight, window, seed,
                         work, back, back_node, out_ids, out_ends, span_tok_start, 0)
    return out_ids[:ntok], out_ends[:ntok], span_tok_start


@njit(cache=True, nogil=True)
def segment_text(buf, units, unit_score, unit_token, unit_weight, mode, alpha, window, seed):
    """Token ids of one text, cut into chunks as by ``chunk_bounds``: the
    per-text fast path. The arrays come one by one, the seed as int64 bits
    and only ids go back: numba's dispatch handles these fastest (a call
    costs ~3 us instead of ~6 us with a tuple, a numpy scalar and three
    returned arrays)."""
    bounds = chunk_bounds(buf)
    work, back, back_node = _work_arrays(_longest_span(bounds))
    out_ids = np.empty(buf.size, np.int32)
    out_ends = np.empty(buf.size, np.int64)
    span_tok_start = np.empty(bounds.size, np.int64)
    ntok = _segment_into(buf, bounds, 0, bounds.size - 1, (units, unit_score, unit_token), mode, alpha,
                         unit_weight, window, np.uint64(seed), work, back, back_node, out_ids, out_ends,
                         span_tok_start, 0)
    return out_ids[:ntok]


@njit(nogil=True, cache=True)
def _texts_chunk_bounds(buf, text_bounds, t0, t1):
    """Chunk bounds (absolute offsets) of texts ``t0..t1-1``, chunks cut as by
    ``chunk_bounds`` and never crossing a text; text ``t``'s chunks are
    ``first[t - t0]..first[t - t0 + 1] - 1``."""
    count = 0
    for t in range(t0, t1):
        a = text_bounds[t]
        b = text_bounds[t + 1]
        if b > a:
            count += 1
        for i in range(a + 1, b):
            if buf[i - 1] == 10 and buf[i] != 10:
                count += 1
    bounds = np.empty(count + 1, np.int64)
    first = np.empty(t1 - t0 + 1, np.int64)
    bounds[0] = text_bounds[t0]
    c = 0
    for t in range(t0, t1):
        first[t - t0] = c
        i = text_bounds[t]
        b = text_bounds[t + 1]
        while i < b:
            while i < b and buf[i] != 10:
                i += 1
            while i < b and buf[i] == 10:
                i += 1
            c += 1
            bounds[c] = i
    first[t1 - t0] = c
    return bounds, first


@njit(nogil=True, cache=True)
def _segment_text_range(buf, text_bounds, t0, t1, trie, mode, alpha, unit_weight, window, seed,
                        first_stream, out_ids, out_ends, ntok, range_ntok):
    """Segment texts ``t0..t1-1`` one after the other, appending their tokens
    to the outputs from position ``ntok`` (text ``t`` on its own random
    stream ``stream_seed(seed, first_stream + t)``); sets ``range_ntok[t - t0]``, returns
    the new ``ntok``. Tokens never outnumber bytes, so a range may write over
    its own bytes' positions."""
    if t1 <= t0:
        return ntok
    bounds, first = _texts_chunk_bounds(buf, text_bounds, t0, t1)
    work, back, back_node = _work_arrays(_longest_span(bounds))
    span_tok_start = np.empty(bounds.size, np.int64)
    for t in range(t0, t1):
        start = ntok
        ntok = _segment_into(buf, bounds, first[t - t0], first[t - t0 + 1], trie, mode, alpha, unit_weight,
                             window, stream_seed(seed, first_stream + t), work, back, back_node, out_ids, out_ends,
                             span_tok_start, ntok)
        range_ntok[t - t0] = ntok - start
    return ntok


@njit(inline='always')
def _text_token_starts(text_ntok):
    n_texts = text_ntok.size
    text_tok_start = np.zeros(n_texts + 1, np.int64)
    for t in range(n_texts):
        text_tok_start[t + 1] = text_tok_start[t] + text_ntok[t]
    return text_tok_start


@njit(cache=True, nogil=True, parallel=True)
def segment_texts(buf, text_bounds, trie, mode, alpha, unit_weight, window, seed, cuts):
    """Segment many texts packed in ``buf`` (text ``t`` is
    ``buf[text_bounds[t]:text_bounds[t+1]]``), in parallel over ranges of
    texts: range ``r`` is texts ``cuts[r]..cuts[r+1]-1`` (see
    ``automaton.byte_balanced_cuts``).

    Each text is cut into chunks as by ``chunk_bounds``; text ``t`` draws from
    its own random stream ``stream_seed(seed, t)``, so the result does not
    depend on the number of threads. Token ``j`` of text ``t`` is at
    ``ids[text_tok_start[t] + j]``; ``token_ends`` are offsets into ``buf``.
    """
    n_texts = text_bounds.size - 1
    n_ranges = cuts.size - 1
    out_ids = np.empty(buf.size, np.int32)
    out_ends = np.empty(buf.size, np.int64)
    text_ntok = np.zeros(n_texts, np.int64)
    for r in prange(n_ranges):
        t0 = cuts[r]
        t1 = cuts[r + 1]
        _segment_text_range(buf, text_bounds, t0, t1, trie, mode, alpha, unit_weight, window, seed, 0,
                            out_ids, out_ends, text_bounds[t0], text_ntok[t0:t1])
    # Gather each range's tokens into fresh arrays, in parallel (an in-place
    # move would be serial: a target may overlap the previous range's source).
    text_tok_start = _text_token_starts(text_ntok)
    ids = np.empty(text_tok_start[n_texts], np.int32)
    ends = np.empty(text_tok_start[n_texts], np.int64)
    for r in prange(n_ranges):
        src = text_bounds[cuts[r]]
        dst = text_tok_start[cuts[r]]
        for j in range(text_tok_start[cuts[r + 1]] - dst):
            ids[dst + j] = out_ids[src + j]
            ends[dst + j] = out_ends[src + j]
    return ids, ends, text_tok_start


@njit(cache=True, nogil=True)
def segment_text_range(buf, text_bounds, t0, t1, trie, mode, alpha, unit_weight, window, seed, first_stream=0):
    """``segment_texts`` for texts ``t0..t1-1`` only, on the calling thread
    (no thread pool to start: milliseconds saved on a small batch). Text
    ``t`` still draws from ``stream_seed(seed, first_stream + t)``
    (``first_stream``: where these texts start in a batch packed in parts).
    Returns ``(ids, token_ends, range_tok_start)``, text ``t`` being
    ``ids[range_tok_start[t - t0]:range_tok_start[t - t0 + 1]]``."""
    size = text_bounds[t1] - text_bounds[t0]
    out_ids = np.empty(size, np.int32)
    out_ends = np.empty(size, np.int64)
    range_ntok = np.zeros(t1 - t0, np.int64)
    total = _segment_text_range(buf, text_bounds, t0, t1, trie, mode, alpha, unit_weight, window, seed,
                                first_stream, out_ids, out_ends, 0, range_ntok)
    return out_ids[:total], out_ends[:total], _text_token_starts(range_ntok)


@njit(cache=True, nogil=True)
def forward_stats(buf, bounds, trie, alpha):
    """``(log Z, entropy)`` of the segmentation distribution
    p(seg) = exp(alpha * score(seg)) / Z, summed over the independent spans."""
    units, unit_score, unit_token = trie
    root_base = units[0]
    n = buf.size
    logz = np.empty(n + 1, np.float64)
    mean = np.empty(n + 1, np.float64)  # E[score of the path to e] under p
    total_logz = 0.0
    total_entropy = 0.0
    for i in range(bounds.size - 1):
        a = bounds[i]
        b = bounds[i + 1]
        if a == b:
            continue
        logz[a] = 0.0
        mean[a] = 0.0
        for e in range(a + 1, b + 1):
            node = root_base + buf[e - 1]
            acc_logz = logz[e - 1] + alpha * unit_score[node]
            acc_mean = mean[e - 1] + unit_score[node]
            for k in range(e - 2, a - 1, -1):
                child = units[2 * node] + buf[k]
                if units[2 * child + 1] != node:
                    break
                node = child
                if unit_token[node] < 0:
                    continue
                score = unit_score[node]
                w = logz[k] + alpha * score
                new = _logaddexp(acc_logz, w)
                acc_mean = acc_mean * math.exp(acc_logz - new) + math.exp(w - new) * (mean[k] + score)
                acc_logz = new
            logz[e] = acc_logz
            mean[e] = acc_mean
        total_logz += logz[b]
        total_entropy += logz[b] - alpha * mean[b]
    return total_logz, total_entropy


@njit(cache=True, nogil=True)
def nbest(buf, bounds, trie, n_best):
    """The ``n_best`` highest-scoring segmentations of the whole buffer (spans
    concatenated), best first. Returns ``(scores, ids, path_tok_start)``: path
    ``r`` is ``ids[path_tok_start[r]:path_tok_start[r+1]]``.

    Each span gets its own exact k-best lists, scored from 0.0 at the span
    start as Viterbi does (so float sums, hence ties, are the same); then the
    spans' lists are merged into the best sums. Within a span, a candidate goes
    before entries it ties with, and candidates arrive shortest piece first
    and, for one start, worst rank first; in the merge, ties keep the lower
    (prefix rank, span rank). So rank 0 is exactly the Viterbi path.
    """
    units, unit_score, unit_token = trie
    n = buf.size
    k_max = n_best
    n_spans = bounds.size - 1
    score = np.full((n + 1, k_max), -np.inf)
    # int32 links: 20 bytes per cell instead of 28 (the caller caps cells at 2**26).
    prev_pos = np.zeros((n + 1, k_max), np.int32)
    prev_rank = np.zeros((n + 1, k_max), np.int32)
    tok_of = np.zeros((n + 1, k_max), np.int32)
    count = np.zeros(n + 1, np.int64)
    # Merged lists after each span: entry j's score, its entry in the previous
    # span's merged list, and its rank within this span.
    merged_score = np.zeros(k_max)
    merged_count = 1
    link_prev = np.zeros((max(n_spans, 1), k_max), np.int64)
    link_rank = np.zeros((max(n_spans, 1), k_max), np.int64)
    new_score = np.empty(k_max)
    new_prev = np.empty(k_max, np.int64)
    new_rank = np.empty(k_max, np.int64)
    for i in range(n_spans):
        a = bounds[i]
        b = bounds[i + 1]
        count[a] = 1
        score[a, 0] = 0.0
        for e in range(a + 1, b + 1):
            node = 0
            for k in range(e - 1, a - 1, -1):
                child = units[2 * node] + buf[k]
                if units[2 * child + 1] != node:
                    break
                node = child
                tok = unit_token[node]
                if tok < 0:
                    continue
                for r in range(count[k] - 1, -1, -1):
                    cand = score[k, r] + unit_score[node]
                    m = count[e]
                    if m == k_max and cand < score[e, m - 1]:
                        continue
                    # Shift down the entries scoring <= cand, drop the last if full.
                    pos = m if m < k_max else k_max - 1
                    while pos > 0 and score[e, pos - 1] <= cand:
                        score[e, pos] = score[e, pos - 1]
                        prev_pos[e, pos] = prev_pos[e, pos - 1]
                        prev_rank[e, pos] = prev_rank[e, pos - 1]
                        tok_of[e, pos] = tok_of[e, pos - 1]
                        pos -= 1
                    score[e, pos] = cand
                    prev_pos[e, pos] = k
                    prev_rank[e, pos] = r
                    tok_of[e, pos] = tok
                    if m < k_max:
                        count[e] = m + 1
        # Merge: the best sums (previous list x this span's list); candidates
        # come in (prefix, rank) order and only a strictly better one passes a tie.
        new_count = 0
        for j in range(merged_count):
            for r in range(count[b]):
                cand = merged_score[j] + score[b, r]
                if new_count == k_max and not cand > new_score[k_max - 1]:
                    break  # later ranks of this span score no higher
                pos = new_count if new_count < k_max else k_max - 1
                while pos > 0 and new_score[pos - 1] < cand:
                    new_score[pos] = new_score[pos - 1]
                    new_prev[pos] = new_prev[pos - 1]
                    new_rank[pos] = new_rank[pos - 1]
                    pos -= 1
                new_score[pos] = cand
                new_prev[pos] = j
                new_rank[pos] = r
                if new_count < k_max:
                    new_count += 1
        merged_count = new_count
        merged_score[:new_count] = new_score[:new_count]
        link_prev[i, :new_count] = new_prev[:new_count]
        link_rank[i, :new_count] = new_rank[:new_count]

    n_paths = merged_count
    path_tok_start = np.zeros(n_paths + 1, np.int64)
    span_rank = np.zeros(max(n_spans, 1), np.int64)
    for pass_ in range(2):  # pass 0 counts tokens, pass 1 writes them
        if pass_ == 1:
            for r in range(n_paths):
                path_tok_start[r + 1] += path_tok_start[r]
            ids = np.empty(path_tok_start[n_paths], np.int32)
        for r in range(n_paths):
            j = r
            for i in range(n_spans - 1, -1, -1):  # each span's rank on path r
                span_rank[i] = link_rank[i, j]
                j = link_prev[i, j]
            pos = path_tok_start[r] if pass_ == 1 else 0
            for i in range(n_spans):
                a = bounds[i]
                b = bounds[i + 1]
                length = 0
                e = b
                rank = span_rank[i]
                while e > a:
                    length += 1
                    e, rank = prev_pos[e, rank], prev_rank[e, rank]
                if pass_ == 0:
                    path_tok_start[r + 1] += length
                else:
                    e = b
                    rank = span_rank[i]
                    q = pos + length
                    while e > a:
                        q -= 1
                        ids[q] = tok_of[e, rank]
                        e, rank = prev_pos[e, rank], prev_rank[e, rank]
                    pos += length
    return merged_score[:n_paths].copy(), ids, path_tok_start


@njit(cache=True, nogil=True)
def gather_bytes(ids, piece_data, piece_offsets):
    """Concatenate the bytes of the pieces ``ids`` (already range-checked)."""
    total = 0
    for i in range(ids.size):
        t = ids[i]
        total += piece_offsets[t + 1] - piece_offsets[t]
    out = np.empty(total, np.uint8)
    pos = 0
    for i in range(ids.size):
        t = ids[i]
        a = piece_offsets[t]
        b = piece_offsets[t + 1]
        out[pos:pos + b - a] = piece_data[a:b]
        pos += b - a
    return out
