"""Helpers of the unigram trainer's tests: a random vocabulary, and the
best-path counts of one pass with the trainer's kernel."""

import numpy as np

from bytepiece.core.model import NUM_SPECIAL
from bytepiece.kernels import unigram as kernels
from bytepiece.train.unigram_loss import compile_pieces, scores


def random_vocab(rng, texts, n_pieces):
    """Random multi-byte substrings of ``texts`` with random counts, plus every byte."""
    pieces = {bytes([b]): int(rng.integers(1, 50)) for b in range(256)}
    while len(pieces) < 256 + n_pieces:
        t = texts[rng.integers(len(texts))]
        a = int(rng.integers(len(t) - 1))
        piece = t[a:a + int(rng.integers(2, 6))]
        if len(piece) >= 2:
            pieces[piece] = int(rng.integers(1, 500))
    return list(pieces), np.array(list(pieces.values()), np.int64)


def path_stats(pieces, counts, penalty, buf, bounds, dropout=0.0, max_length=0):
    """The kernel's ``(counts by id, score, pair keys, pair counts)`` of one
    pass, every piece pairing, pieces of several characters droppable."""
    trie, data, offsets = compile_pieces(pieces, scores(counts, penalty))
    lengths = np.zeros(len(pieces) + NUM_SPECIAL, np.int64)
    lengths[NUM_SPECIAL:] = np.diff(offsets)
    ok = np.ones(lengths.size, bool)
    droppable = np.zeros(lengths.size, bool)
    droppable[NUM_SPECIAL:] = kernels.several_chars(data, offsets, True)
    return kernels.best_path_stats(buf, bounds, *trie, lengths.size, ok, lengths, max_length, droppable,
                                   np.uint64(int(dropout * 2.0 ** 64)))


def best_paths(pieces, counts, penalty, buf, bounds, dropout=0.0):
    new_counts, score, _, _ = path_stats(pieces, counts, penalty, buf, bounds, dropout)
    return new_counts[NUM_SPECIAL:], score
