"""A unigram vocabulary over characters: the lattice of SentencePiece's and
HF tokenizers' unigram models, compiled for ``kernels.charlattice``.

The two libraries build the same lattice (docs/design.md, "Models of other
libraries") but differ in which pieces it holds, in the precision of path
scores, and in what becomes of unknown characters:

- SentencePiece: normal and user-defined pieces (a user-defined piece scores
  ``0.1 * (length - 1)``, ``length`` in bytes for Viterbi and in characters
  for sampling, as its two encoders count it); float32 scores, rebased on
  long texts; a run of unknown characters is one unknown token, or with
  byte fallback one byte piece per byte.
- HF: every piece of the vocabulary; float64 scores; a run of unknown
  characters (with the unknown piece itself where it is matched) is fused,
  then looked up as a piece, else split into byte pieces with byte
  fallback, else the unknown id.
"""

from typing import NamedTuple

import numpy as np

from ..kernels.charlattice import SCORE_RESET, known_char_bytes, resolve_sentencepiece, segment_whole
from ..kernels.lattice import MODE_VITERBI, Draw
from ..kernels.trie import Trie, build_trie, unit_scores
from .text import pack_bytes
from .vocab import SamplingDraws

SENTENCEPIECE = 'sentencepiece'
HUGGINGFACE = 'huggingface'

# What both libraries subtract from the lowest score for an unknown character.
UNKNOWN_PENALTY = 10.0


def _rebase_floor(edge_scores, longest, flavor):
    """``segment_whole``'s ``rebase_floor``: a best path score at or above it
    means no score on the way passed SentencePiece's ``SCORE_RESET``. With
    no positive edge score, every position is within ``longest`` bytes (one
    byte edge each) of a position of the best path, whose scores only fall,
    so every score lies between 0 and the best score less ``longest`` steps
    (and a rounding margin). With a positive one there is no such floor."""
    if flavor != SENTENCEPIECE:
        return -np.inf
    if edge_scores.max(initial=0.0) > 0:
        return np.inf
    step = float(np.abs(edge_scores).max(initial=0.0))
    return -SCORE_RESET + longest * (step + 1.0)


class Tokens(NamedTuple):
    """Kernel output: ``ids`` (int32), ``ends`` (int64 byte ends in the
    buffer, or empty) and ``seg_start``: segment ``s``'s tokens are
    ``ids[seg_start[s]:seg_start[s+1]]``."""
    ids: np.ndarray
    ends: np.ndarray
    seg_start: np.ndarray


class CharVocabulary:
    """The pieces of a SentencePiece or HF unigram model by id, compiled.

    Args:
        pieces: every id's piece (str), as the file has them.
        lattice_ids: the ids whose pieces are lattice edges.
        viterbi_scores, sample_scores: float64 arrays by id, the edge scores
            Viterbi and sampling use.
        unk_id: the unknown piece's id (-1: none, and an unknown character
            is an error, as in HF); ``unk_score``: an unknown edge's score.
        flavor: ``SENTENCEPIECE`` (float32 path scores) or ``HUGGINGFACE``.
        byte_fallback: unknown characters become byte pieces ``<0xXX>``.
        keys: each id's bytes as the normalized text holds them (default: its
            UTF-8); another one-to-one map of the characters keeps the lattice.
    """

    def __init__(self, pieces, lattice_ids, viterbi_scores, sample_scores, unk_id, unk_score, flavor,
                 byte_fallback, keys=None):
        self.pieces = list(pieces)
        self.size = len(self.pieces)
        self.flavor = flavor
        self.unk_id = int(unk_id)
        self.byte_fallback = bool(byte_fallback)
        precision = np.float32 if flavor == SENTENCEPIECE else np.float64
        self.precision = precision
        self.unk_score = precision(unk_score)
        # Pseudo ids size + b stand for byte b of an unknown character.
        self.byte_base = self.size
        lattice_ids = np.asarray(lattice_ids, np.int64)
        keys = [p.encode('utf-8') for p in self.pieces] if keys is None else list(keys)
        encoded = [keys[i] for i in lattice_ids.tolist()]
        self.max_piece_length = max(map(len, encoded), default=1)
        self.lattice_lengths = np.array([len(k) for k in keys], np.int64)

        singles = {p[0] for p in encoded if len(p) == 1}
        pseudo = [b for b in range(256) if b not in singles]
        data, offsets = pack_bytes(encoded + [bytes([b]) for b in pseudo])
        ids = np.concatenate([lattice_ids, self.size + np.asarray(pseudo, np.int64)])
        scores = np.zeros((2, self.size + 256), np.float64)
        scores[0, :self.size] = viterbi_scores
        scores[1, :self.size] = sample_scores
        for b in pseudo:
            scores[:, self.size + b] = 0.0 if 0x80 <= b < 0xC0 else float(self.unk_score)
        self.reversed = build_trie(data, offsets, ids, scores[1])  # sampling's scores
        # Viterbi's scores, in the precision the library adds them in
        viterbi_units = unit_scores(self.reversed.unit_token, scores[0])
        self.viterbi_trie = Trie(self.reversed.units, viterbi_units.astype(precision), self.reversed.unit_token)
        self.rebase_floor = _rebase_floor(scores[0][ids], self.max_piece_length, flavor)
        self._viterbi_draw = Draw(MODE_VITERBI, -1.0, self.reversed.unit_score, self.max_piece_length)
        # the kernels grow a copy when a text needs more: these are never written
        self._viterbi_value = np.empty(1, precision)
        self._sample_value = np.empty(1, np.float64)
        lattice_scores = scores[1][ids]
        self.min_score = float(lattice_scores.min()) if lattice_scores.size else 0.0
        self._sampling = SamplingDraws(self.reversed, self.min_score, self.max_piece_length)

        self.piece_ids = {}
        for i, piece in enumerate(self.pieces):
            self.piece_ids.setdefault(piece, i)  # the first id of a piece, as a lookup finds it
        self.byte_ids = np.full(256, -1, np.int64)
        if self.byte_fallback:
            for b in range(256):
                self.byte_ids[b] = self.piece_ids.get(f'<0x{b:02X}>', -1)
        self._byte_id_list = self.byte_ids.tolist()

    # --- the kernels ----------------------------------------------------------

    def kernel_arguments(self, alpha):
        """For a kernel that segments at ``alpha``: the ``Trie`` and the
        ``Draw`` one by one (``units, unit_score, unit_token, mode, alpha,
        unit_weight, window``), then ``value``, a work array in the
        precision Viterbi adds in, and ``rebase_floor`` (``segment_whole``)."""
        if alpha < 0:
            trie, draw, value = self.viterbi_trie, self._viterbi_draw, self._viterbi_value
        else:
            trie, draw, value = self.reversed, self.draw(alpha), self._sample_value
        return (*trie, *draw, value, self.rebase_floor)

    def segment(self, buf, seg_bounds, text_seg, alpha, seed, first_stream, with_ends):
        """The best (``alpha < 0``) or a random segmentation of every segment
        (``Tokens``, pseudo ids unresolved); sampling draws with probability
        proportional to ``exp(alpha * score)``, text ``t`` (segments
        ``text_seg[t]..text_seg[t+1]-1``) on stream ``first_stream + t``."""
        longest = int(np.diff(seg_bounds).max(initial=0))
        if alpha < 0:
            trie, draw, value = self.viterbi_trie, self._viterbi_draw, np.empty(longest + 1, self.precision)
        else:
            trie, draw, value = self.reversed, self.draw(alpha), np.empty(longest + 1, np.float64)
        return Tokens(*segment_whole(buf, seg_bounds, text_seg, trie, draw, np.uint64(seed), first_stream,
                                     with_ends, value, self.rebase_floor))

    def draw(self, alpha):
        """How ``sample`` draws at ``alpha >= 0`` (a ``lattice.Draw``; unknown
        edges only where the character lattice has them)."""
        return self._sampling.draw(alpha, True)

    def known_chars(self, buf):
        """Bytes of ``buf`` inside characters that are pieces (no lone-byte edge there)."""
        return known_char_bytes(buf, self.reversed.units, self.reversed.unit_token)

    # --- unknown characters ------------------------------------------------------

    def resolve(self, tokens):
        """``tokens`` (fresh kernel output, changed in place) with pseudo ids
        turned into the library's ids: runs of unknown characters merged, or
        byte pieces with byte fallback."""
        if self.flavor == SENTENCEPIECE:  # (which always has an unknown piece); byte pieces go in place
            return Tokens(*resolve_sentencepiece(*tokens, self.byte_base, self.unk_id, self.byte_ids,
                                                 self.byte_fallback))
        ids = tokens.ids
        pseudo = (ids >= self.byte_base) | (ids == self.unk_id)
        if not pseudo.any():
            return tokens
        if self.unk_id < 0:
            raise ValueError('the text has a character no piece covers, and the model has no unknown piece '
                             '(unk_id) to give it')
        return self._fuse(tokens, pseudo)

    def _fuse(self, tokens, pseudo):
        """HF's fusing: each run of ``pseudo`` tokens within a segment
        becomes ``_run_ids`` of it, every new token ending where the run ends."""
        ids, ends, seg_start = tokens
        n = ids.size
        first_of_seg = np.zeros(n + 1, bool)
        first_of_seg[seg_start[:-1][seg_start[:-1] < n]] = True
        run_start = pseudo & (first_of_seg[:n] | ~np.concatenate([[False], pseudo[:-1]]))
        run_end = pseudo & (first_of_seg[1:] | ~np.concatenate([pseudo[1:], [False]]))
        last = np.flatnonzero(run_end)
        id_list = ids.tolist()
        runs = [self._run_ids(id_list[a:b]) for a, b in zip(np.flatnonzero(run_start).tolist(), (last + 1).tolist())]
        counts = np.where(pseudo, 0, 1)  # new tokens for each old one: a run's on its last token
        counts[last] = [len(run) for run in runs]
        source = np.repeat(np.arange(n), counts)  # the old token of each new one
        new_ids = ids[source]
        cum = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=cum[1:])
        if runs:
            new_ids[pseudo[source]] = [i for run in runs for i in run]
        return Tokens(new_ids.astype(np.int32), ends[source] if ends.size else ends, cum[seg_start])

    def _run_ids(self, run):
        """HF's ids of one run of unknown characters (a list of pseudo
        bytes, and the unknown piece where it was matched)."""
        base = self.byte_base
        if min(run) >= base:
            data = bytes([i - base for i in run])
        else:
            data = b''.join(bytes([i - base]) if i >= base else self.pieces[i].encode('utf-8') for i in run)
        found = self.piece_ids.get(data.decode('utf-8'))
        if found is not None:
            return [found]
        if self.byte_fallback:
            byte_ids = [self._byte_id_list[b] for b in data]
            if min(byte_ids) >= 0:
                return byte_ids
        return [self.unk_id]
