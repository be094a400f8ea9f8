"""The compiled vocabulary: pieces, ids, scores and the trie the kernels walk."""

import contextlib
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral

import numba
import numpy as np

from .kernels import lattice
from .kernels.trie import build_trie, trie_nbytes
from .model import NUM_SPECIAL, canonical_order
from .text import pack_bytes

# Below this, exp(alpha * score) may underflow in the linear-space sampler
# (with forward values down to 2**-100): use the log-space kernel instead.
_MIN_LOG_WEIGHT = -600 * math.log(2)


# Batches smaller than this run on the calling thread: starting the thread
# pool costs more than it saves (measured 1-9 ms for one tiny text).
PARALLEL_MIN_BYTES = 1 << 16

# Parallel batches are cut into this many ranges of texts per thread, of
# about equal bytes: enough to even out uneven texts and a busy core.
RANGES_PER_THREAD = 8


# One parallel kernel at a time in the process: numba's workqueue threading
# layer (its fallback without TBB or OpenMP) aborts the process when two Python
# threads run parallel kernels at once. Each call uses every core it is given.
_PARALLEL_KERNEL_LOCK = threading.Lock()


def check_threads(num_threads):
    """``num_threads`` as an int (None: every core numba may use)."""
    if num_threads is None:
        return numba.config.NUMBA_NUM_THREADS
    if isinstance(num_threads, bool) or not isinstance(num_threads, Integral):
        raise TypeError(f'num_threads must be an int or None, got {type(num_threads).__name__}')
    if not 1 <= num_threads <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f'num_threads must be in [1, {numba.config.NUMBA_NUM_THREADS}], got {num_threads}')
    return int(num_threads)


@contextlib.contextmanager
def thread_limit(num_threads):
    """Run numba parallel kernels on ``num_threads`` threads (None: all)."""
    if num_threads is None:
        yield
        return
    check_threads(num_threads)
    previous = numba.get_num_threads()
    numba.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


class PieceAutomaton:
    """A vocabulary compiled into flat arrays for the lattice kernels.

    ``pieces[i]`` is the bytes of token id ``i`` (``b''`` for the special ids
    0..2), ``scores[i]`` its log probability ``log(count) - log(total)``.
    """

    def __init__(self, pieces, ids, counts):
        n = len(pieces)
        vocab_size = n + NUM_SPECIAL
        self.vocab_size = vocab_size
        id_array = np.fromiter(ids, np.int64, n)
        by_id = np.empty(vocab_size, object)
        by_id[:NUM_SPECIAL] = b''
        piece_objects = np.empty(n, object)
        piece_objects[:] = pieces  # an object array keeps bytes as they are (no NUL stripping)
        by_id[id_array] = piece_objects
        self.pieces = by_id.tolist()
        # The counts as given (ints of any size stay exact, for saving), by id.
        count_objects = np.zeros(vocab_size, object)
        count_objects[id_array] = np.array(counts, dtype=object)
        self.counts = count_objects.tolist()
        count_by_id = count_objects.astype(np.float64)
        self.scores = np.full(vocab_size, -np.inf)
        # float(total) then log: the value BytePiece's np.log(int) gives, and
        # integer totals past 2**64 still work.
        self.scores[NUM_SPECIAL:] = np.log(count_by_id[NUM_SPECIAL:]) - np.log(float(sum(counts)))

        self.piece_data, self.piece_offsets = pack_bytes(self.pieces)
        self.max_piece_length = int(np.diff(self.piece_offsets).max())
        self.min_score = float(self.scores[NUM_SPECIAL:].min())

        # Ids 0..2 have empty pieces, so the pieces proper start at offset 0.
        self.trie = build_trie(self.piece_data, self.piece_offsets[NUM_SPECIAL:],
                               np.arange(NUM_SPECIAL, vocab_size), self.scores)
        self._weights = {}
        # The Viterbi call's fixed arguments, built once (the per-text path).
        units, unit_score, unit_token = self.trie
        self._viterbi_args = (units, unit_score, unit_token, unit_score, lattice.MODE_VITERBI, -1.0,
                              self.max_piece_length, 0)

    @classmethod
    def from_counts(cls, counts):
        """Compile ``{piece bytes: count}``, ids in canonical (len, bytes) order."""
        pieces = canonical_order(counts)
        return cls(pieces, range(NUM_SPECIAL, len(pieces) + NUM_SPECIAL), [counts[p] for p in pieces])

    @property
    def nbytes(self):
        """Memory held by the compiled arrays."""
        return trie_nbytes(self.trie) + self.piece_data.nbytes + self.piece_offsets.nbytes + self.scores.nbytes

    def sampling_params(self, alpha):
        """``(mode, unit_weight)`` for the lattice kernels at this alpha:
        ``unit_weight = exp(alpha * unit_score)`` for the linear-space sampler."""
        if alpha < 0:
            return lattice.MODE_VITERBI, self.scores
        if alpha * self.min_score < _MIN_LOG_WEIGHT:
            return lattice.MODE_SAMPLE_LOG, self.scores
        weights = self._weights.get(alpha)
        if weights is None:
            if len(self._weights) >= 8:
                self._weights.clear()
            weights = np.zeros_like(self.trie[1])
            ends_piece = self.trie[2] >= 0
            weights[ends_piece] = np.exp(alpha * self.trie[1][ends_piece])
            self._weights[alpha] = weights
        return lattice.MODE_SAMPLE, weights

    def segment_spans(self, buf, bounds, alpha=-1.0, seed=0):
        """Segment each span ``buf[bounds[i]:bounds[i+1]]`` on its own.

        Returns ``(ids int32, token_ends int64, span_token_start int64)``.
        ``alpha < 0`` is Viterbi; otherwise one exact random draw.
        """
        mode, weights = self.sampling_params(alpha)
        return lattice.segment(buf, bounds, self.trie, mode, float(alpha), weights,
                               self.max_piece_length, np.uint64(seed))

    def segment_text(self, buf, alpha, seed_bits):
        """Token ids (int32) of one text's bytes, chunked as ``lattice.chunk_bounds``.
        ``seed_bits``: the random stream's start state as int64 bits (one
        compiled signature for every seed)."""
        mode, weights = self.sampling_params(alpha)
        units, unit_score, unit_token = self.trie
        return lattice.segment_text(buf, units, unit_score, unit_token, weights, mode, float(alpha),
                                    self.max_piece_length, seed_bits)

    def viterbi_text(self, buf):
        """``segment_text(buf)``: the best path's ids, with no argument to check."""
        return lattice.segment_text(buf, *self._viterbi_args)

    def segment_texts(self, buf, text_bounds, alpha=-1.0, seed=0, num_threads=None):
        """Segment the texts packed in ``buf`` (see ``lattice.segment_texts``)
        on ``num_threads`` threads (None: all); small batches run serially.
        Returns ``(ids, token_ends, text_token_start)``."""
        threads = check_threads(num_threads)
        mode, weights = self.sampling_params(alpha)
        args = (buf, text_bounds, self.trie, mode, float(alpha), weights, self.max_piece_length, np.uint64(seed))
        if threads == 1 or text_bounds.size <= 2 or buf.size < PARALLEL_MIN_BYTES:
            return lattice.segment_text_range(buf, text_bounds, 0, text_bounds.size - 1, *args[2:])
        # Ranges are handed to threads one at a time (chunk size 1), not in
        # one contiguous block per thread: equal bytes are not equal work.
        cuts = np.array(byte_balanced_cuts(text_bounds, RANGES_PER_THREAD * threads), np.int64)
        with _PARALLEL_KERNEL_LOCK, thread_limit(threads), numba.parallel_chunksize(1):
            return lattice.segment_texts(*args, cuts)

    def segment_packed_ranges(self, packed_ranges, alpha=-1.0, seed=0, num_threads=1):
        """Segment batch parts packed one by one: ``packed_ranges`` yields
        ``(t0, t1, buf, text_bounds)`` for texts ``t0..t1-1`` of the batch
        (``buf`` holding just these texts); text ``t`` draws from
        ``stream_seed(seed, t)``. Yields ``(t0, t1, ids, range_token_start)``
        in order. With more than one thread the parts are segmented on a
        thread pool (the kernel releases the GIL) as soon as each is packed,
        so packing the later parts and turning finished parts' ids into Python
        objects overlap the kernel."""
        threads = check_threads(num_threads)
        mode, weights = self.sampling_params(alpha)
        args = (self.trie, mode, float(alpha), weights, self.max_piece_length, np.uint64(seed))

        def run(t0, t1, buf, text_bounds):
            ids, _, starts = lattice.segment_text_range(buf, text_bounds, 0, t1 - t0, *args, t0)
            return t0, t1, ids, starts

        if threads == 1:
            for part in packed_ranges:
                yield run(*part)
            return
        with ThreadPoolExecutor(threads) as pool:
            futures = []
            try:
                for part in packed_ranges:
                    futures.append(pool.submit(run, *part))
                for future in futures:
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()


def byte_balanced_cuts(text_bounds, n_ranges):
    """Cut texts into at most ``n_ranges`` non-empty ranges of consecutive
    texts of about equal size (``text_bounds``: cumulative sizes, in bytes or
    characters): range ``r`` is texts ``cuts[r]..cuts[r+1]-1``."""
    n_texts = text_bounds.size - 1
    targets = np.linspace(0, text_bounds[-1], n_ranges + 1)[1:-1]
    inner = np.searchsorted(text_bounds[:n_texts], targets).tolist()
    return sorted(set([0] + [t for t in inner if 0 < t < n_texts] + [n_texts]))
