"""The vocabulary: pieces, ids, counts and scores, compiled for the kernels.

A ``Vocabulary`` is read-only and public: the exports (SentencePiece, HF
``tokenizer.json``), the command line and the trainer's pruning read it.
"""

import math

import numpy as np

from ..kernels.lattice import KEEP_KNOWN_CHARS, MODE_SAMPLE, MODE_SAMPLE_LOG, MODE_VITERBI, Draw
from ..kernels.trie import build_trie
from .model import NUM_SPECIAL, canonical_order
from .text import pack_bytes

# Below this, exp(alpha * score) may underflow in the linear-space sampler
# (with forward values down to 2**-100): the log-space kernel is used instead.
_MIN_LOG_WEIGHT = -600 * math.log(2)

# Sampling weights are cached for this many alphas per vocabulary.
_WEIGHT_CACHE = 8


class SamplingDraws:
    """How the kernels sample over one trie at each ``alpha >= 0``: in
    linear space with weights ``exp(alpha * score)`` cached per alpha, or in
    log space where those weights could underflow (``min_score``: the
    lowest score of a piece; ``window``: the longest piece's length)."""

    def __init__(self, trie, min_score, window):
        self.trie = trie
        self.min_score = min_score
        self.window = window
        self._weights = {}

    def draw(self, alpha, keep_known_chars):
        """The ``Draw`` of sampling at ``alpha`` (a checked float >= 0)."""
        keep = KEEP_KNOWN_CHARS if keep_known_chars else 0
        if alpha * self.min_score < _MIN_LOG_WEIGHT:
            return Draw(MODE_SAMPLE_LOG | keep, float(alpha), self.trie.unit_score, self.window)
        weights = self._weights.get(alpha)
        if weights is None:
            if len(self._weights) >= _WEIGHT_CACHE:
                self._weights.clear()
            unit_score = self.trie.unit_score
            weights = np.zeros_like(unit_score)
            ends_piece = self.trie.unit_token >= 0
            weights[ends_piece] = np.exp(alpha * unit_score[ends_piece])
            self._weights[alpha] = weights
        return Draw(MODE_SAMPLE | keep, float(alpha), weights, self.window)


class Vocabulary:
    """The pieces of a model, by id, compiled into the trie the kernels walk.

    Ids 0..2 (``<pad>``, ``<bos>``, ``<eos>``) have the empty piece ``b''``
    and score -inf; ``pieces[i]`` is the bytes of id ``i``, ``counts[i]`` its
    count as given (ints stay exact), ``scores[i]`` its log probability
    ``log(count) - log(total)``, less ``token_penalty`` if the model has one
    (a cost per token, docs/format.md), or as given in ``scores`` (by
    position, as ``pieces``). ``size`` counts the ids, 0..2 included.

    >>> from bytepiece.core.vocab import Vocabulary
    >>> counts = {bytes([b]): 1 for b in range(256)}
    >>> counts[b'ab'] = 100
    >>> vocab = Vocabulary.from_counts(counts)
    >>> vocab.size, vocab.pieces[-1], vocab.max_piece_length
    (260, b'ab', 2)
    """

    def __init__(self, pieces, ids, counts, token_penalty=0.0, scores=None):
        n = len(pieces)
        size = n + NUM_SPECIAL
        self.size = size
        id_array = np.fromiter(ids, np.int64, n)
        by_id = np.empty(size, object)
        by_id[:NUM_SPECIAL] = b''
        piece_objects = np.empty(n, object)
        piece_objects[:] = pieces  # an object array keeps bytes as they are (no NUL stripping)
        by_id[id_array] = piece_objects
        self.pieces = by_id.tolist()
        count_objects = np.zeros(size, object)
        count_objects[id_array] = np.array(counts, dtype=object)
        self.counts = count_objects.tolist()
        count_by_id = count_objects.astype(np.float64)
        self.scores = np.full(size, -np.inf)
        # float(total) then log: the value BytePiece's np.log(int) gives, and
        # integer totals past 2**64 still work.
        self.scores[NUM_SPECIAL:] = np.log(count_by_id[NUM_SPECIAL:]) - np.log(float(sum(counts)))
        self.token_penalty = float(token_penalty)
        if self.token_penalty:
            self.scores[NUM_SPECIAL:] -= self.token_penalty
        if scores is not None:  # the exact scores of a file that holds scores, not counts
            self.scores[id_array] = scores
        self.piece_data, self.piece_offsets = pack_bytes(self.pieces)
        self.max_piece_length = int(np.diff(self.piece_offsets).max())
        self.min_score = float(self.scores[NUM_SPECIAL:].min())
        # Ids 0..2 have empty pieces, so the pieces proper start at offset 0.
        self.trie = build_trie(self.piece_data, self.piece_offsets[NUM_SPECIAL:],
                               np.arange(NUM_SPECIAL, size), self.scores)
        self._sampling = SamplingDraws(self.trie, self.min_score, self.max_piece_length)

    @classmethod
    def from_counts(cls, counts, token_penalty=0.0):
        """Compile ``{piece bytes: count}``, ids in canonical (length, bytes) order."""
        pieces = canonical_order(counts)
        return cls(pieces, range(NUM_SPECIAL, len(pieces) + NUM_SPECIAL), [counts[p] for p in pieces], token_penalty)

    @property
    def nbytes(self):
        """Memory held by the compiled arrays."""
        arrays = (*self.trie, self.piece_data, self.piece_offsets, self.scores)
        return sum(a.nbytes for a in arrays)

    @property
    def piece_lengths(self):
        """Length in bytes of each id's piece (0 for ids 0..2)."""
        return np.diff(self.piece_offsets)

    def draw(self, alpha, keep_known_chars=False):
        """How the kernels choose a path at ``alpha``: Viterbi for
        ``alpha < 0``, else exact sampling, in linear space with weights
        ``exp(alpha * score)`` cached per alpha, or in log space where those
        weights could underflow. ``keep_known_chars``: sampling never takes a
        lone byte piece inside a character whose whole UTF-8 is a piece."""
        if alpha < 0:
            return Draw(MODE_VITERBI, -1.0, self.scores, self.max_piece_length)
        return self._sampling.draw(alpha, keep_known_chars)
