"""Kernels for lattices over characters, as SentencePiece and HF tokenizers
build them for their unigram models.

Such a lattice has an edge for every piece that starts at a character, and
for a character no one-character piece covers, an *unknown* edge of score
``unk_score``. The byte lattice's kernels (``kernels.lattice``) walk it as a
byte lattice whose reversed trie also holds *pseudo bytes*: the lead byte
of a character with score ``unk_score``, each continuation byte with score
0, so that a character's bytes add up to one unknown edge. Their token id is
``byte_base + b``, which the caller turns into the library's unknown or
byte-fallback ids. Where a character is a piece, the pseudo bytes are not
edges of the character lattice: sampling and the statistics leave them out
(``KEEP_KNOWN_CHARS``, ``known_char_bytes``), and Viterbi never takes them
(they score at least ``UNKNOWN_PENALTY`` below the piece).

Viterbi matches the libraries' choices exactly, ties included: both keep,
among equal scores at an end, the path whose last piece starts first (the
longest), as ``viterbi_span`` does; both add scores in float32
(SentencePiece, measured: float64 sums choose differently) or float64 (HF),
the precision of the arrays passed. SentencePiece also keeps its float32
sums small: at a character whose best score passes ``SCORE_RESET`` in
magnitude, it subtracts that score from every score reached so far, and the
sums after it round differently. ``viterbi_span_rebased`` does the same; it
serves the spans that can get there (``segment_whole``).
"""

import numpy as np
from numba import njit

from .lattice import MODE_VITERBI, Draw, SpanWork, TokenOut, emit_path, longest_span, segment_into
from .normalize import normalize_batch
from .rng import stream_seed
from .trie import Trie

SCORE_RESET = 100000.0  # SentencePiece's bound on the magnitude of a path score


@njit(inline='always')
def char_length(lead):
    """Bytes of the UTF-8 character whose first byte is ``lead``, as
    SentencePiece's ``OneCharLen`` counts them."""
    top = lead >> 4
    if top < 12:
        return 1
    if top < 14:
        return 2
    if top == 14:
        return 3
    return 4


@njit(nogil=True, cache=True)
def segment_whole(buf, seg_bounds, text_seg, trie, draw, seed, first_stream, with_ends, value, rebase_floor):
    """Segment every segment ``buf[seg_bounds[s]:seg_bounds[s+1]]`` whole
    (no chunks). Text ``t`` (segments ``text_seg[t]..text_seg[t+1]-1``)
    draws on the stream ``stream_seed(seed, first_stream + t)``. ``value``:
    the forward values' work array, at least the longest segment plus one
    long, in the precision Viterbi adds in. Viterbi rebases its scores as
    SentencePiece does (``viterbi_span_rebased``) where a segment's best
    score comes out below ``rebase_floor`` and a score on the way did pass
    ``SCORE_RESET`` (-inf: never, as HF). Returns ``(ids int32, token_ends
    int64, seg_token_start int64)``; ``token_ends`` is empty unless
    ``with_ends``."""
    n_segs = seg_bounds.size - 1
    longest = longest_span(seg_bounds)
    n_bytes = seg_bounds[n_segs] - seg_bounds[0]
    out = TokenOut(np.empty(n_bytes, np.int32), np.empty(n_bytes if with_ends else 0, np.int64),
                   np.empty(n_segs + 1, np.int64))
    out.span_tok_start[0] = 0
    work = SpanWork(value, np.empty(longest + 1, np.uint64), np.empty(longest + 1, np.int32))
    rebasing = draw.mode == MODE_VITERBI and rebase_floor > -np.inf
    ntok = 0
    for t in range(text_seg.size - 1):
        s0, s1 = text_seg[t], text_seg[t + 1]
        if not rebasing:
            ntok = segment_into(buf, seg_bounds, s0, s1, trie, draw, stream_seed(seed, first_stream + t), work, out,
                                ntok)
            continue
        for s in range(s0, s1):  # one at a time, so that the work arrays still hold the segment's scores
            start = ntok
            ntok = segment_into(buf, seg_bounds, s, s + 1, trie, draw, 0, work, out, ntok)
            a = seg_bounds[s]
            m = seg_bounds[s + 1] - a
            if work.value[m] < rebase_floor:
                first = _first_reset(buf, a, m, work.value)
                if first > 0:
                    viterbi_span_rebased(buf, a, m, trie.units, trie.unit_score, work.value, work.back, work.back_node,
                                         first, draw.window)
                    ntok = emit_path(work.back, work.back_node, trie.unit_token, m, a, out.ids, out.ends, start)
                    out.span_tok_start[s + 1] = ntok
    return out.ids[:ntok], out.ends[:ntok], out.span_tok_start


@njit(nogil=True, cache=True)
def _first_reset(buf, a, m, best):
    """The first character start ``e < m`` of the span ``buf[a:a+m]`` whose
    score ``best[e]`` passes ``SCORE_RESET`` in magnitude, or -1."""
    for e in range(m):
        if (best[e] > SCORE_RESET or best[e] < -SCORE_RESET) and (buf[a + e] < 0x80 or buf[a + e] >= 0xC0):
            return e
    return -1


@njit(nogil=True, cache=True)
def viterbi_span_rebased(buf, a, m, units, unit_score, best, back, back_node, first, window):
    """``viterbi_span`` (float32 arrays) with SentencePiece's rebasing: once
    the best score at a character start passes ``SCORE_RESET`` in magnitude,
    it is subtracted (in float32) from it and from every later end reached.
    An end's candidates fall into frames (rebases made before each was
    added); each frame's best is rebased into the next and replaced there
    only by a strictly higher score (``_fold_frames``). ``first``: the first
    such start (``viterbi_span``'s results up to it stand); ``window``: the
    longest piece's length. Indices are unsigned, as in ``viterbi_span``."""
    one, two = np.uint64(1), np.uint64(2)
    a, m = np.uint64(a), np.uint64(m)
    # per frame: where its rebase was made, what it subtracted; per newer frame
    # met at an end, its best (np.empty: pages never touched cost nothing)
    frame_start, offset = np.empty(m + one, np.uint64), np.empty(m + one, best.dtype)
    group_top, group_start = np.empty(m + one, best.dtype), np.empty(m + one, np.uint64)
    group_node, group_frame = np.empty(m + one, np.uint64), np.empty(m + one, np.int64)
    root_base = np.uint64(units[0])
    first, window = np.uint64(first), np.uint64(window)
    rebases = 1
    frame_start[0] = 0
    frame_start[1] = first
    offset[1] = best[first]
    best[first] = best[first] - best[first]
    for e in range(first + one, m + one):
        k = e - one
        node = root_base + np.uint64(buf[a + k])
        top = best[k] + unit_score[node]
        top_start = k
        top_node = node
        current = rebases  # the frame of e - 1
        boundary = frame_start[current]
        groups = 0
        if e >= boundary + window:  # no piece reaches back into an older frame
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
        else:
            while k > 0:
                k -= one
                child = np.uint64(units[two * node]) + np.uint64(buf[a + k])
                if np.uint64(units[two * child + one]) != node:
                    break
                node = child
                score = best[k] + unit_score[node]
                if k < boundary:  # an older frame: keep the newer one's best aside
                    group_top[groups] = top
                    group_start[groups] = top_start
                    group_node[groups] = top_node
                    group_frame[groups] = current
                    groups += 1
                    while k < frame_start[current]:
                        current -= 1
                    boundary = frame_start[current]
                    top = score
                    top_start = k
                    top_node = node
                elif score >= top:
                    top = score
                    top_start = k
                    top_node = node
        if groups:
            top, top_start, top_node = _fold_frames(top, top_start, top_node, current, groups, group_top,
                                                    group_start, group_node, group_frame, offset)
        best[e] = top
        back[e] = top_start
        back_node[e] = np.int32(top_node)
        if e < m and (buf[a + e] < 0x80 or buf[a + e] >= 0xC0) and (top > SCORE_RESET or top < -SCORE_RESET):
            rebases += 1
            frame_start[rebases] = e
            offset[rebases] = top
            best[e] = top - top


@njit(inline='always')
def _fold_frames(top, top_start, top_node, current, groups, group_top, group_start, group_node, group_frame,
                 offset):
    """The best of an end: the oldest frame's (``top``, in frame
    ``current``) and the newer frames' (``group_*``, newest first) taken
    oldest first, each rebased into the next frame as SentencePiece did and
    replaced only by a strictly higher score."""
    for g in range(groups - 1, -1, -1):
        for f in range(current + 1, group_frame[g] + 1):
            top = top - offset[f]
        current = group_frame[g]
        if group_top[g] > top:
            top = group_top[g]
            top_start = group_start[g]
            top_node = group_node[g]
    return top, top_start, top_node


@njit(nogil=True, cache=True)
def known_char_bytes(buf, units, unit_token):
    """For each byte of ``buf``, whether it lies inside a multi-byte
    character whose whole UTF-8 is a piece of the reversed trie: the
    character lattice has no lone-byte edge there."""
    inside = np.zeros(buf.size, np.bool_)
    p = 0
    while p < buf.size:
        width = char_length(buf[p])
        if width > 1 and p + width <= buf.size:
            node = units[0] + buf[p + width - 1]
            found = True
            for k in range(p + width - 2, p - 1, -1):
                child = units[2 * node] + buf[k]
                if units[2 * child + 1] != node:
                    found = False
                    break
                node = child
            if found and unit_token[node] >= 0:
                inside[p:p + width] = True
        p += width
    return inside


@njit(nogil=True, cache=True)
def merge_unknown_runs(ids, ends, seg_start, byte_base, unk_id):
    """Each run of pseudo ids (``>= byte_base``) within a segment as one
    ``unk_id`` token that ends where the run ends, as SentencePiece merges
    consecutive unknown characters. ``ends`` may be empty. Returns the new
    ``(ids, ends, seg_start)``."""
    out_ids = np.empty(ids.size, np.int32)
    out_ends = np.empty(ends.size, np.int64)
    new_start = np.empty(seg_start.size, np.int64)
    j = 0
    for s in range(seg_start.size - 1):
        new_start[s] = j
        in_run = False
        for i in range(seg_start[s], seg_start[s + 1]):
            if ids[i] >= byte_base:
                if in_run:
                    if ends.size:
                        out_ends[j - 1] = ends[i]
                    continue
                out_ids[j] = unk_id
                in_run = True
            else:
                out_ids[j] = ids[i]
                in_run = False
            if ends.size:
                out_ends[j] = ends[i]
            j += 1
    new_start[seg_start.size - 1] = j
    return out_ids[:j], out_ends[:j], new_start


@njit(nogil=True, cache=True)
def encode_sentencepiece(buf, pool, pool_bounds, rule_units, rule_value, user_units, user_value, classes,
                         add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces, whitespace_as_suffix,
                         one_byte_space, units, unit_score, unit_token, mode, alpha, unit_weight, window, seed, value,
                         rebase_floor, byte_base, unk_id, byte_ids, byte_fallback):
    """The ids of one text's UTF-8 ``buf`` under a SentencePiece model, in
    one call: normalized (``normalize_batch``'s arguments, its flags one by
    one), segmented whole (the ``Trie`` and ``Draw`` of ``segment_whole``
    one by one: numba dispatches arrays and scalars faster than named
    tuples; ``value`` is grown as needed), unknown characters resolved (byte
    pieces ``byte_ids`` with ``byte_fallback``, else runs merged into
    ``unk_id``)."""
    bounds = np.zeros(2, np.int64)
    bounds[1] = buf.size
    flags = (add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces, whitespace_as_suffix, False,
             one_byte_space)
    out, out_bounds, _ = normalize_batch(buf, bounds, pool, pool_bounds, rule_units, rule_value, user_units,
                                         user_value, classes, flags)
    if value.size < out.size + 1:
        value = np.empty(out.size + 1, value.dtype)
    text_seg = np.arange(2)
    ids, ends, seg_start = segment_whole(out, out_bounds, text_seg, Trie(units, unit_score, unit_token),
                                         Draw(mode, alpha, unit_weight, window), np.uint64(seed), 0, False, value,
                                         rebase_floor)
    for i in range(ids.size):
        if ids[i] >= byte_base:  # (rare: most texts have no unknown character)
            return resolve_sentencepiece(ids, ends, seg_start, byte_base, unk_id, byte_ids, byte_fallback)[0]
    return ids


@njit(nogil=True, cache=True)
def resolve_sentencepiece(ids, ends, seg_start, byte_base, unk_id, byte_ids, byte_fallback):
    """SentencePiece's ids for pseudo ids (``>= byte_base``): with
    ``byte_fallback`` each byte's piece ``byte_ids[b]`` (in place), else each
    run merged into ``unk_id`` (``merge_unknown_runs``). Returns ``(ids,
    ends, seg_start)``, the arguments themselves when there is none."""
    unknown = False
    for i in range(ids.size):
        if ids[i] >= byte_base:
            unknown = True
            break
    if not unknown:
        return ids, ends, seg_start
    if byte_fallback:
        for i in range(ids.size):
            if ids[i] >= byte_base:
                ids[i] = byte_ids[ids[i] - byte_base]
        return ids, ends, seg_start
    return merge_unknown_runs(ids, ends, seg_start, byte_base, unk_id)
