"""The Tokenizer's lattice statistics: n-best paths, log-likelihood and entropy.

They describe the full lattice of a text, at any alpha, whatever the
tokenizer's ``keep_known_chars`` (which only restricts sampling draws).
"""

from numbers import Integral
from typing import List, Optional, Tuple

import numpy as np

from ..kernels.forward import forward_stats
from ..kernels.nbest import nbest
from ..kernels.segment import chunk_bounds
from .charvocab import Tokens
from .seeds import check_alpha
from .special import merge_specials
from .text import check_text, text_bytes
from .vocab import Vocabulary

# nbest keeps n partial paths per byte position (20 bytes each): at most ~1.3 GiB.
MAX_NBEST_CELLS = 1 << 26

_ALL_EDGES = np.zeros(0, np.bool_)  # no edge left out of the lattice


class LatticeStatistics:
    """The statistics of texts under one vocabulary (its trie) after one
    normalization. A ``Tokenizer`` holds one and offers its methods.

    >>> from bytepiece.core.statistics import LatticeStatistics
    >>> stats = LatticeStatistics(tok.vocab, tok.normalization)
    >>> stats.nbest('the cat', 2) == tok.nbest('the cat', 2)
    True
    """

    def __init__(self, vocab: Vocabulary, normalization: Optional[str]) -> None:
        self.vocab = vocab
        self.normalization = normalization

    def nbest(self, text: str, n: int) -> List[Tuple[List[int], float]]:
        """The ``n`` best segmentations of ``text``, best first, as a list of
        ``(ids, score)``; ``score`` is the sum of the pieces' log
        probabilities. Fewer are returned if the text has fewer.

        >>> best = tok.nbest('the cat', 3)
        >>> best[0][0] == tok.encode('the cat') and best[0][1] >= best[1][1]
        True
        """
        check_n(n)
        buf, bounds, trie, lone_ok, context = self._lattice(text)
        check_cells(buf, n)
        scores, ids, starts = nbest(buf, bounds, trie, int(n), lone_ok)
        return [(self._path_ids(ids[starts[r]:starts[r + 1]], context), float(scores[r])) for r in range(len(scores))]

    def _lattice(self, text):
        """``(buf, span bounds, trie, lone_ok, context)`` of the lattice of
        ``text``: ``lone_ok`` as the kernels take it, ``context`` what
        ``_path_ids`` needs."""
        buf = text_bytes(text, self.normalization)
        return buf, chunk_bounds(buf), self.vocab.trie, _ALL_EDGES, None

    @staticmethod
    def _path_ids(path, context):
        """A path's ids as encode gives them."""
        return path.tolist()

    def _forward_stats(self, text, alpha):
        alpha = check_alpha(alpha)
        if alpha < 0:
            raise ValueError(f'alpha must be >= 0 for lattice statistics, got {alpha}')
        buf, bounds, trie, lone_ok, _ = self._lattice(text)
        return forward_stats(buf, bounds, trie, alpha, lone_ok)

    def log_likelihood(self, text: str, alpha: float = 1.0) -> float:
        """log Z: the log of the sum over all segmentations of
        ``exp(alpha * score)`` (with alpha = 1, the log marginal probability
        of the text under the unigram model).

        >>> tok.log_likelihood('the cat') >= tok.nbest('the cat', 1)[0][1]
        True
        """
        return float(self._forward_stats(text, alpha)[0])

    def entropy(self, text: str, alpha: float = 1.0) -> float:
        """Entropy (nats) of the segmentation distribution at ``alpha``.

        >>> tok.entropy('the cat', alpha=0.0) > 0
        True
        """
        # log Z - alpha * E[score] cancels: with one likely path, rounding can
        # leave a tiny negative value where the entropy is 0.
        return max(0.0, float(self._forward_stats(text, alpha)[1]))


def check_n(n):
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f'n must be an int, got {type(n).__name__}')
    if n <= 0:
        raise ValueError(f'n must be positive, got {n}')


def check_cells(buf, n):
    cells = (buf.size + 1) * n  # the kernel keeps n partial paths per byte position, 20 bytes each
    if cells > MAX_NBEST_CELLS:
        raise ValueError(f'nbest of {buf.size} bytes with n={n} needs {cells * 20 / 2**30:.1f} GiB; '
                         f'(bytes + 1) * n must be at most {MAX_NBEST_CELLS}: split the text or lower n')


class CharLatticeStatistics(LatticeStatistics):
    """``LatticeStatistics`` for a SentencePiece or HF model: over its
    character lattice (``CharVocabulary``), after its text pipeline
    (``splitter``, see ``core.charencoding``); n-best paths get the
    library's ids for unknown characters, and scores are those of the
    lattice's edges (unknown characters score the library's unknown score)."""

    def __init__(self, vocab, splitter):
        super().__init__(vocab, None)
        self.splitter = splitter

    def _lattice(self, text):
        check_text(text)
        segments = self.splitter.split([text], None, False)
        lone_ok = ~self.vocab.known_chars(segments.buf)
        return segments.buf, segments.seg_bounds, self.vocab.reversed, lone_ok, segments

    def _path_ids(self, path, segments):
        """A path's ids as encode gives them: unknown characters resolved,
        fixed tokens put in."""
        vocab = self.vocab
        lengths = np.where(path >= vocab.byte_base, 1, vocab.lattice_lengths[np.minimum(path, vocab.byte_base - 1)])
        ends = segments.seg_bounds[0] + np.cumsum(lengths)
        seg_start = np.searchsorted(ends, segments.seg_bounds, side='right')
        tokens = vocab.resolve(Tokens(path.astype(np.int32), ends, seg_start))
        ids, _, _ = merge_specials(tokens.ids, tokens.ends, tokens.seg_start[segments.text_seg], segments.seg_bounds,
                                   segments.fixed)
        return ids.tolist()
