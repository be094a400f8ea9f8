"""Dropout in the unigram trainer's passes: the lattice it leaves, a path
through bytes no path used, and what a trainer run does with it."""

import math

import numpy as np
import pytest

from bytepiece import Trainer
from bytepiece.core.model import NUM_SPECIAL
from bytepiece.core.text import pack_bytes
from bytepiece.demo import SAMPLE_DIR
from bytepiece.kernels import unigram as kernels
from bytepiece.train.unigram_loss import compile_pieces, lattice_scores, scores

from unigram_passes import best_paths, random_vocab


@pytest.mark.parametrize('seed', range(3))
def test_dropout_is_viterbi_over_the_lattice_it_leaves(seed):
    """With dropout, the best paths score as the best segmentation (by
    dynamic programming in Python) that uses no left-out edge: an edge
    (start k in its span, id) of a piece of several characters is left out
    when ``((span_hash + k * START_MULT) ^ (id * ID_MULT)) * EDGE_MULT`` is
    under the threshold, so about that share of them is."""
    rng = np.random.default_rng(200 + seed)
    texts = [bytes(rng.choice(list(b'abcd '), int(rng.integers(8, 30))).tolist()) for _ in range(30)]
    buf, bounds = pack_bytes(texts)
    pieces, counts = random_vocab(rng, texts, 20)
    score = scores(counts, 1.0)
    ids = {p: NUM_SPECIAL + i for i, p in enumerate(pieces)}
    dropout = 0.4
    threshold = int(dropout * 2 ** 64)
    total, edges, left_out = 0.0, 0, 0
    for i, text in enumerate(texts):
        seed_bits = int(kernels.span_hash(buf, int(bounds[i]), len(text)))
        best = [0.0] + [-math.inf] * len(text)
        for e in range(1, len(text) + 1):
            for k in range(e):
                piece = text[k:e]
                if piece not in ids:
                    continue
                if len(piece) > 1:
                    edges += 1
                    bits = ((seed_bits + k * int(kernels._START_MULT)) % 2 ** 64) ^ (ids[piece] * int(kernels._ID_MULT))
                    if bits * int(kernels._EDGE_MULT) % 2 ** 64 < threshold:
                        left_out += 1
                        continue
                best[e] = max(best[e], best[k] + score[ids[piece]])
        total += best[-1]
    _, with_dropout = best_paths(pieces, counts, 1.0, buf, bounds, dropout)
    _, whole = best_paths(pieces, counts, 1.0, buf, bounds)
    assert with_dropout == pytest.approx(total, rel=1e-12)
    assert with_dropout < whole
    assert abs(left_out / edges - dropout) < 0.1, (left_out, edges)


def test_dropout_finds_a_path_through_bytes_no_path_used():
    """A byte that best paths never used (count 0, score -inf) may be the
    only way through once the piece over it is left out: with dropout, the
    pass's scores give such bytes a finite score."""
    pieces = [bytes([b]) for b in range(256)] + ['aë'.encode()]
    counts = np.ones(len(pieces), np.int64)
    counts[0xC3] = 0  # the lead byte of ë, always inside 'aë' so far
    counts[-1] = 100
    buf, bounds = pack_bytes([f'aë x{i}aë'.encode() for i in range(50)])  # distinct spans, distinct draws
    lengths = np.array([0] * NUM_SPECIAL + [len(p) for p in pieces], np.int64)
    ok = np.ones(lengths.size, bool)
    droppable = np.zeros(lengths.size, bool)
    droppable[-1] = True
    below = np.uint64(int(0.9 * 2.0 ** 64))
    results = []
    for token_scores in (scores(counts, 1.0), lattice_scores(pieces, counts, 1.0, 0.9)):
        trie, _, _ = compile_pieces(pieces, token_scores)
        results.append(kernels.best_path_stats(buf, bounds, *trie, lengths.size, ok, lengths, 8, droppable, below))
    assert results[0][1] == -math.inf, 'the case needs the byte'
    new_counts, score, pair_keys, _ = results[1]
    assert math.isfinite(score)
    assert new_counts[NUM_SPECIAL + 0xC3] > 0 and new_counts[NUM_SPECIAL + 0xC3] == new_counts[NUM_SPECIAL + 0xAB]
    assert new_counts.sum() > 0 and (pair_keys >> np.uint64(32)).max() < lengths.size


def test_a_run_chooses_with_dropout_and_counts_its_sizes_on_the_whole_lattice(monkeypatch):
    """Every pass before a size is reached segments with dropout; the size's
    own pass with none; every pass's best paths have a finite score; and
    dropout changes the pieces chosen."""
    from bytepiece.train import unigram as unigram_method
    passes = []
    save = unigram_method._save_round_vocab

    def spy(work, settings, state, round_dir, dropout):
        passes.append((len(state.pieces), state.growing, dropout))
        return save(work, settings, state, round_dir, dropout)

    monkeypatch.setattr(unigram_method, '_save_round_vocab', spy)
    size = 1000
    with_dropout = Trainer(max_vocab_size=size, min_count=2)
    report = with_dropout.train(files=SAMPLE_DIR, workers=2, holdout=0.0, progress=False)
    goal = size - NUM_SPECIAL
    assert [d for n, g, d in passes if n == goal and not g] == [0.0]
    assert {d for n, g, d in passes if n != goal or g} == {0.2}
    assert all(math.isfinite(r['objective']) for r in report.rounds)
    without = Trainer(max_vocab_size=size, min_count=2, dropout=0.0)
    without.train(files=SAMPLE_DIR, workers=2, holdout=0.0, progress=False)
    assert len(with_dropout.pieces[0]) == len(without.pieces[0]) == goal
    assert set(with_dropout.pieces[0]) != set(without.pieces[0])
