"""Exact n-best segmentations (k-best Viterbi over the lattice).

Each span gets its own exact k-best lists, scored from 0.0 at the span start
as Viterbi does (so float sums, hence ties, are the same); then the spans'
lists are merged into the best sums. Within a span, a candidate goes before
entries it ties with, and candidates arrive shortest piece first and, for one
start, worst rank first; in the merge, ties keep the lower (prefix rank, span
rank). So rank 0 is exactly the Viterbi path.
"""

from typing import NamedTuple

import numpy as np
from numba import njit


class KBest(NamedTuple):
    """Per end position, up to ``k`` partial paths, best first: their score,
    previous end and rank there, and last token (int32 links keep a cell at
    20 bytes)."""
    score: np.ndarray
    prev_pos: np.ndarray
    prev_rank: np.ndarray
    tok_of: np.ndarray
    count: np.ndarray


@njit(nogil=True, cache=True)
def _span_kbest(buf, a, b, trie, kb, lone_ok):
    """The k-best lists of every end of the span ``buf[a:b]``; a one-byte
    edge at ``k`` is left out where ``lone_ok`` (empty: all allowed) is
    False there."""
    units, unit_score, unit_token = trie
    score, prev_pos, prev_rank, tok_of, count = kb
    k_max = score.shape[1]
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
            if tok < 0 or (k == e - 1 and lone_ok.size and not lone_ok[k]):
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


@njit(nogil=True, cache=True)
def _merge(merged_score, merged_count, span_score, span_count, new_score, new_prev, new_rank):
    """The best sums of (previous merged list) x (this span's list); candidates
    come in (prefix, rank) order and only a strictly better one passes a tie.
    Returns how many entries ``new_*`` hold."""
    k_max = new_score.size
    new_count = 0
    for j in range(merged_count):
        for r in range(span_count):
            cand = merged_score[j] + span_score[r]
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
    return new_count


@njit(nogil=True, cache=True)
def _span_path(kb, a, b, rank, ids, pos):
    """Write the span's path of this rank at ``ids[pos:]`` (if ``ids`` has
    room; pass an empty array to count); returns its token count."""
    length = 0
    e = b
    r = rank
    while e > a:
        length += 1
        e, r = kb.prev_pos[e, r], kb.prev_rank[e, r]
    if ids.size:
        e = b
        r = rank
        q = pos + length
        while e > a:
            q -= 1
            ids[q] = kb.tok_of[e, r]
            e, r = kb.prev_pos[e, r], kb.prev_rank[e, r]
    return length


@njit(nogil=True, cache=True)
def _emit_paths(bounds, kb, link_prev, link_rank, n_paths):
    """The merged paths' ids, path ``r`` at ``ids[starts[r]:starts[r+1]]``."""
    n_spans = bounds.size - 1
    path_tok_start = np.zeros(n_paths + 1, np.int64)
    span_rank = np.zeros(max(n_spans, 1), np.int64)
    ids = np.empty(0, np.int32)
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
            pos = path_tok_start[r]
            for i in range(n_spans):
                length = _span_path(kb, bounds[i], bounds[i + 1], span_rank[i], ids, pos)
                if pass_ == 0:
                    path_tok_start[r + 1] += length
                pos += length
    return ids, path_tok_start


@njit(cache=True, nogil=True)
def nbest(buf, bounds, trie, n_best, lone_ok):
    """The ``n_best`` highest-scoring segmentations of the whole buffer (spans
    concatenated), best first; ``lone_ok``: see ``_span_kbest``. Returns
    ``(scores, ids, path_tok_start)``: path ``r`` is
    ``ids[path_tok_start[r]:path_tok_start[r+1]]``."""
    n = buf.size
    n_spans = bounds.size - 1
    kb = KBest(np.full((n + 1, n_best), -np.inf), np.zeros((n + 1, n_best), np.int32),
               np.zeros((n + 1, n_best), np.int32), np.zeros((n + 1, n_best), np.int32), np.zeros(n + 1, np.int64))
    # Merged lists after each span: entry j's score, its entry in the previous
    # span's merged list, and its rank within this span.
    merged_score = np.zeros(n_best)
    merged_count = 1
    link_prev = np.zeros((max(n_spans, 1), n_best), np.int64)
    link_rank = np.zeros((max(n_spans, 1), n_best), np.int64)
    new_score = np.empty(n_best)
    new_prev = np.empty(n_best, np.int64)
    new_rank = np.empty(n_best, np.int64)
    for i in range(n_spans):
        a = bounds[i]
        b = bounds[i + 1]
        _span_kbest(buf, a, b, trie, kb, lone_ok)
        merged_count = _merge(merged_score, merged_count, kb.score[b], kb.count[b], new_score, new_prev, new_rank)
        merged_score[:merged_count] = new_score[:merged_count]
        link_prev[i, :merged_count] = new_prev[:merged_count]
        link_rank[i, :merged_count] = new_rank[:merged_count]
    ids, path_tok_start = _emit_paths(bounds, kb, link_prev, link_rank, merged_count)
    return merged_score[:merged_count].copy(), ids, path_tok_start
