"""Segmentation drivers: cut texts into chunks and run the lattice kernels.

A chunk is a run of non-newline bytes plus the newlines that follow it (a
text of newlines only is one chunk); every chunk is segmented on its own, so
no token crosses a chunk. Byte 0x0A never occurs inside a multi-byte UTF-8
character, so cutting bytes equals cutting characters.

Texts may be made of several segments (the plain text between special tokens):
chunks never cross a segment either. Text ``t`` of a batch draws from its own
random stream ``stream_seed(seed, first_stream + t)``, so a draw never depends
on how a batch is cut into parts, nor on threads.

How a path is chosen comes with each call as a ``lattice.Draw``: Viterbi, or
exact sampling (linear or log space), optionally keeping known characters
whole (``lattice.KEEP_KNOWN_CHARS``).

None of these kernels is parallel: parallelism is the caller's
(``bytepiece.runtime.parallel``), over parts of a batch.
"""

import numpy as np
from numba import njit

from .lattice import Draw, TokenOut, longest_span, segment_into, span_work
from .rng import stream_seed
from .trie import Trie


@njit(nogil=True, cache=True)
def segments_chunk_bounds(buf, seg_bounds, s0, s1):
    """Chunk bounds (offsets into ``buf``) of segments ``s0..s1-1``; segment
    ``s``'s chunks are ``first[s - s0]..first[s - s0 + 1] - 1``."""
    count = 0
    for s in range(s0, s1):
        a = seg_bounds[s]
        b = seg_bounds[s + 1]
        if b > a:
            count += 1
        for i in range(a + 1, b):
            if buf[i - 1] == 10 and buf[i] != 10:
                count += 1
    bounds = np.empty(count + 1, np.int64)
    first = np.empty(s1 - s0 + 1, np.int64)
    bounds[0] = seg_bounds[s0]
    c = 0
    for s in range(s0, s1):
        first[s - s0] = c
        i = seg_bounds[s]
        b = seg_bounds[s + 1]
        while i < b:
            while i < b and buf[i] != 10:
                i += 1
            while i < b and buf[i] == 10:
                i += 1
            c += 1
            bounds[c] = i
    first[s1 - s0] = c
    return bounds, first


@njit(nogil=True, cache=True)
def chunk_bounds(buf):
    """Chunk bounds of one text's bytes."""
    bounds, _ = segments_chunk_bounds(buf, np.array([0, buf.size], np.int64), 0, 1)
    return bounds


@njit(inline='always')
def _token_out(n_bytes, n_spans, with_ends):
    # tokens never outnumber bytes; without ends, the kernels write none
    return TokenOut(np.empty(n_bytes, np.int32), np.empty(n_bytes if with_ends else 0, np.int64),
                    np.empty(n_spans + 1, np.int64))


@njit(cache=True, nogil=True)
def segment_spans(buf, bounds, trie, draw, seed):
    """Segment every span ``buf[bounds[i]:bounds[i+1]]`` as it is (no chunk
    cutting), all on the random stream starting at ``seed``. Returns
    ``(ids int32, token_ends int64, span_token_start int64)``."""
    out = _token_out(buf.size, bounds.size - 1, True)
    ntok = segment_into(buf, bounds, 0, bounds.size - 1, trie, draw, np.uint64(seed),
                        span_work(longest_span(bounds)), out, 0)
    return out.ids[:ntok], out.ends[:ntok], out.span_tok_start


@njit(cache=True, nogil=True)
def segment_texts(buf, seg_bounds, text_seg, trie, draw, seed, first_stream, with_ends):
    """Segment texts made of segments: text ``t`` is segments
    ``text_seg[t]..text_seg[t+1]-1``, segment ``s`` is
    ``buf[seg_bounds[s]:seg_bounds[s+1]]``, each cut into chunks. Text ``t``
    draws from the stream ``stream_seed(seed, first_stream + t)``.
    Returns ``(ids, token_ends, text_token_start)``, text ``t`` being
    ``ids[text_token_start[t]:text_token_start[t+1]]``; ``token_ends`` is
    empty unless ``with_ends`` (writing them costs 8 bytes a token)."""
    n_texts = text_seg.size - 1
    s0 = text_seg[0]
    bounds, first = segments_chunk_bounds(buf, seg_bounds, s0, text_seg[n_texts])
    work = span_work(longest_span(bounds))
    out = _token_out(seg_bounds[text_seg[n_texts]] - seg_bounds[s0], bounds.size - 1, with_ends)
    text_tok_start = np.empty(n_texts + 1, np.int64)
    ntok = 0
    for t in range(n_texts):
        text_tok_start[t] = ntok
        ntok = segment_into(buf, bounds, first[text_seg[t] - s0], first[text_seg[t + 1] - s0], trie, draw,
                            stream_seed(seed, first_stream + t), work, out, ntok)
    text_tok_start[n_texts] = ntok
    return out.ids[:ntok], out.ends[:ntok], text_tok_start  # ends: empty without with_ends


@njit(cache=True, nogil=True)
def segment_text(buf, units, unit_score, unit_token, unit_weight, mode, alpha, window, seed_bits):
    """Token ids of one text: the per-text fast path. The arrays come one by
    one and the stream's start state as int64 bits, and only ids go back:
    numba dispatches such a call in a fraction of the time a named tuple
    argument takes."""
    bounds = chunk_bounds(buf)
    out = _token_out(buf.size, bounds.size - 1, False)
    ntok = segment_into(buf, bounds, 0, bounds.size - 1, Trie(units, unit_score, unit_token),
                        Draw(mode, alpha, unit_weight, window), np.uint64(seed_bits),
                        span_work(longest_span(bounds)), out, 0)
    return out.ids[:ntok]
