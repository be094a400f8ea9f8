"""The unigram trainer's scores, objective and pruning (see docs/design.md,
Training: the unigram method).

A vocabulary is a list of pieces (bytes) with integer counts: the tokens of
each on the corpus' best paths. Its scores are ``log(count / total) -
token_penalty``. The objective of a segmentation with counts ``c`` (total
``N``) is ``J = sum(c * log(c / N)) - token_penalty * N``: the best paths'
log-likelihood less a cost per token. Re-estimating the counts from the best
paths and segmenting again never lowers ``J`` (hard EM).

The loss of a piece is what ``J`` loses when every token of it is replaced
by its alternative, the best segmentation of its bytes by the other pieces,
and the counts are estimated again from the result.
"""

import numpy as np

from ..core.model import NUM_SPECIAL
from ..core.text import pack_bytes
from ..kernels import unigram
from ..kernels.trie import build_trie


def scores(counts, token_penalty, floor=False):
    """Scores by id (ids 0..2 and unused pieces -inf). With ``floor``, an
    unused piece scores as half a token, below every used one: alternatives
    may then use single bytes that no best path does."""
    counts = np.asarray(counts, np.float64)
    total = counts.sum()
    out = np.full(counts.size + NUM_SPECIAL, -np.inf)
    used = counts > 0
    out[NUM_SPECIAL:][used] = np.log(counts[used]) - np.log(total) - token_penalty
    if floor:
        out[NUM_SPECIAL:][~used] = np.log(0.5) - np.log(total) - token_penalty
    return out


def lattice_scores(pieces, counts, token_penalty, dropout):
    """The scores a pass segments with: ``scores``; with dropout, a single
    byte of count 0 scores as an unused piece does in alternatives, since a
    byte under a left-out piece may be the only way through a span."""
    out = scores(counts, token_penalty)
    if dropout:
        single = NUM_SPECIAL + np.flatnonzero(np.fromiter(map(len, pieces), np.int64, len(pieces)) == 1)
        out[single] = scores(counts, token_penalty, floor=True)[single]
    return out


def compile_pieces(pieces, token_scores):
    """``(trie, data, offsets)`` of ``pieces`` (id ``i + 3`` for piece ``i``)
    with the scores by id ``token_scores``."""
    data, offsets = pack_bytes(pieces)
    trie = build_trie(data, offsets, np.arange(NUM_SPECIAL, len(pieces) + NUM_SPECIAL), token_scores)
    return trie, data, offsets


def xlogx(x):
    """``x * log(x)``, 0 at 0."""
    x = np.asarray(x, np.float64)
    return x * np.log(np.where(x > 0, x, 1.0))


def objective(counts, token_penalty):
    """``J`` of a segmentation with these counts."""
    counts = np.asarray(counts, np.float64)
    total = counts.sum()
    return float(xlogx(counts).sum() - xlogx(total) - token_penalty * total)


def alternatives(pieces, counts, token_penalty):
    """Each piece's alternative as ``(ids, starts)``: piece ``i``'s is
    ``ids[starts[i]:starts[i+1]] - 3`` (none for a single byte)."""
    trie, data, offsets = compile_pieces(pieces, scores(counts, token_penalty, floor=True))
    ids, starts, _ = unigram.alternatives(data, offsets, *trie)
    return ids.astype(np.int64) - NUM_SPECIAL, starts


def pruning_losses(pieces, counts, token_penalty):
    """The loss of ``J`` when each piece alone is removed (inf for single
    bytes, which stay): its tokens become its alternative's and the counts
    are estimated again, ``c[y] += c[x] * (times y is in x's alternative)``
    and the total grows by ``c[x] * (alternative tokens - 1)``."""
    counts = np.asarray(counts, np.int64)
    n = counts.size
    alt, starts = alternatives(pieces, counts, token_penalty)
    lengths = np.diff(starts)
    owner = np.repeat(np.arange(n, dtype=np.int64), lengths)
    pair, times = np.unique(owner * n + alt, return_counts=True)
    x, y = pair // n, pair % n
    cf = counts.astype(np.float64)
    gained = xlogx(cf[y] + cf[x] * times) - xlogx(cf[y])
    change = np.bincount(x, weights=gained, minlength=n) - xlogx(cf)  # of sum(c * log c)
    total = cf.sum()
    new_total = total + cf * (lengths - 1)
    loss = -change + xlogx(new_total) - xlogx(total) + token_penalty * (new_total - total)
    loss[lengths == 0] = np.inf
    return loss


def prune(pieces, counts, keep, token_penalty, kept=None, crossing=None, crossing_room=None):
    """The ``keep`` pieces of least loss removed last: single bytes and the
    pieces ``kept`` (a mask) always stay, of the pieces ``crossing`` (a mask)
    at most ``crossing_room`` stay, and each removed piece's count goes to
    the pieces of its best segmentation by the kept ones. Returns
    ``(pieces, counts)``, in their order."""
    counts = np.asarray(counts, np.int64)
    loss = pruning_losses(pieces, counts, token_penalty)
    if kept is not None:
        loss[kept] = np.inf
    order = np.lexsort((np.arange(counts.size), -loss))  # highest loss first; ties: earlier pieces
    if crossing is not None:  # crossing pieces past their room go first
        over = crossing[order] & (np.cumsum(crossing[order]) > crossing_room)
        order = np.concatenate([order[~over], order[over]])
    kept = np.sort(order[:keep])
    dropped = np.sort(order[keep:])
    kept_pieces = [pieces[i] for i in kept.tolist()]
    kept_counts = counts[kept]
    if dropped.size == 0:
        return kept_pieces, kept_counts
    trie, _, _ = compile_pieces(kept_pieces, scores(kept_counts, token_penalty, floor=True))
    data, offsets = pack_bytes([pieces[i] for i in dropped.tolist()])
    ids, starts, _ = unigram.alternatives(data, offsets, *trie)
    moved = np.repeat(counts[dropped], np.diff(starts))
    kept_counts = kept_counts + np.bincount(ids.astype(np.int64) - NUM_SPECIAL, weights=moved,
                                            minlength=keep).astype(np.int64)
    return kept_pieces, kept_counts
