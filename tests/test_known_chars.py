"""Sampling that keeps known characters whole (``keep_known_chars=True``):
segmentations that use a lone byte piece inside a character whose whole UTF-8
is a piece are excluded, and the others keep their relative probabilities,
``p(s) ∝ exp(alpha * score(s))`` over the allowed set (docs/design.md).

Exactness is checked as in test_sampling.py: every segmentation of short
texts is enumerated, 20,000 draws are G-tested against the restricted
distribution, and the same test rejects a biased sampler that excludes the
lone bytes only when it draws (its forward sums still count the excluded
paths)."""

import math
import os
import pickle
import random
import unicodedata
from collections import Counter

import numpy as np
import pytest

from bytepiece import Tokenizer
from bytepiece.kernels import lattice
from bytepiece.core.model import model_dict

from conftest import backtracked_counts, g_test, logsumexp, model_path, scores_of, segmentations, small_vocab

N_SAMPLES = 20000
P_MIN = 1e-4


def known_char_spans(data, vocab):
    """Byte spans ``(start, end)`` of the multi-byte characters of ``data``
    whose whole UTF-8 is a piece of ``vocab``."""
    spans, pos = [], 0
    for char in data.decode('utf-8'):
        width = len(char.encode('utf-8'))
        if width > 1 and data[pos:pos + width] in vocab:
            spans.append((pos, pos + width))
        pos += width
    return spans


def allowed(seg, spans):
    """Whether a segmentation uses no lone byte inside a known character."""
    pos = 0
    for piece in seg:
        if len(piece) == 1 and any(a <= pos < b for a, b in spans):
            return False
        pos += len(piece)
    return True


def restricted_distribution(data, vocab, alpha):
    """``{segmentation: probability}`` over the allowed segmentations only."""
    score = scores_of(vocab)
    spans = known_char_spans(data, vocab)
    segs = [s for s in segmentations(data, vocab) if allowed(s, spans)]
    logw = [alpha * sum(score[p] for p in seg) for seg in segs]
    top = max(logw)
    total = sum(math.exp(w - top) for w in logw)
    return {seg: math.exp(w - top) / total for seg, w in zip(segs, logw)}


def char_case(seed, scale=1):
    """A short text of 1- to 4-byte characters and a vocabulary with some of
    them whole, and pieces over the text's bytes that may cross or cut
    characters (partial-UTF-8 pieces stay allowed). ``scale`` multiplies the
    counts of the pieces the text can use (not of the other bytes), to force
    the log-space kernel."""
    rng = random.Random(seed)
    text = ''.join(rng.choice('ab中é😀') for _ in range(rng.randint(5, 6)))
    data = text.encode('utf-8')
    pieces = {c.encode('utf-8'): rng.randint(1, 1000) * scale for c in sorted(set(text))
              if len(c.encode('utf-8')) > 1 and rng.random() < 0.7}
    for _ in range(rng.randint(6, 12)):
        a = rng.randrange(len(data))
        piece = data[a:a + rng.randint(2, 6)]
        if len(piece) >= 2:
            pieces[piece] = rng.randint(1, 1000) * scale
    used = set(data)
    vocab = small_vocab(pieces, byte_count=lambda b: rng.randint(1, 1000) * scale if b in used else 1)
    return text, vocab


def keep_tokenizer(vocab):
    return Tokenizer(model_dict(vocab), seed=0, normalization=None, keep_known_chars=True)


def sampled(tok, text, alpha, seed):
    return Counter(map(tuple, tok.tokenize_batch([text] * N_SAMPLES, alpha=alpha, seed=seed)))


def python_keep_sampler(data, vocab, alpha, n, seed, forward):
    """Forward filtering, backward sampling in Python, vectorized over ``n``
    draws, never choosing an excluded lone byte nor a start no allowed path
    reaches. An edge from ``s`` weighs ``Z[s] * w(piece)``: with
    ``forward='restricted'`` ``Z`` sums the allowed paths only (exact); with
    ``'full'`` it sums every path (biased)."""
    rng = np.random.default_rng(seed)
    score = scores_of(vocab)
    spans = known_char_spans(data, vocab)
    edges = [(s, e, data[s:e]) for e in range(1, len(data) + 1) for s in range(e) if data[s:e] in vocab]
    excluded = {(s, e) for s, e, piece in edges if len(piece) == 1 and any(a <= s < b for a, b in spans)}
    z_kept = [0.0] + [-math.inf] * len(data)
    z_full = list(z_kept)
    back = np.zeros((len(data) + 1, n), np.int64)
    for e in range(1, len(data) + 1):
        into = [(s, alpha * score[piece]) for s, end, piece in edges if end == e]
        z_full[e] = logsumexp([z_full[s] + w for s, w in into])
        choices = [(s, (z_kept[s] if forward == 'restricted' else z_full[s]) + w) for s, w in into
                   if (s, e) not in excluded and z_kept[s] > -math.inf]
        if choices:
            z_kept[e] = logsumexp([z_kept[s] + alpha * score[data[s:e]] for s, _ in choices])
            weights = np.exp(np.array([w for _, w in choices]) - max(w for _, w in choices))
            picked = rng.choice(len(choices), size=n, p=weights / weights.sum())
            back[e] = np.array([s for s, _ in choices])[picked]
    return backtracked_counts(data, back)


# --- exactness -----------------------------------------------------------------------

CASES = (3, 6, 12, 20)  # char_case seeds: 8 to 15 of 33 to 732 segmentations kept


def test_cases_are_restricted_and_rich():
    partial = 0
    for case in CASES:
        text, vocab = char_case(case)
        data = text.encode('utf-8')
        kept = restricted_distribution(data, vocab, 1.0)
        assert len(kept) >= 8 and len(segmentations(data, vocab)) >= 2 * len(kept), case
        partial += sum(any(len(p) >= 2 and p.decode('utf-8', 'ignore').encode('utf-8') != p for p in seg)
                       for seg in kept)
    assert partial >= 10, 'allowed segmentations with partial-UTF-8 pieces must occur'


@pytest.mark.parametrize('case', CASES)
@pytest.mark.parametrize('alpha', [0.0, 0.1, 1.0, 2.0])
def test_keep_known_chars_matches_restricted_distribution(case, alpha):
    text, vocab = char_case(case)
    tok = keep_tokenizer(vocab)
    assert tok.vocab.draw(alpha, True).mode == lattice.MODE_SAMPLE | lattice.KEEP_KNOWN_CHARS
    exact = restricted_distribution(text.encode('utf-8'), vocab, alpha)
    g, df, p = g_test(sampled(tok, text, alpha, seed=100 + case), exact)
    assert p > P_MIN, f'G={g:.1f} df={df} p={p:.2e} for {text!r} alpha={alpha}'


def test_keep_known_chars_in_log_space_is_exact():
    """Counts scaled by 10**200 (the other bytes left at 1) force the
    log-space kernel at alpha 1 without changing the distribution."""
    text, vocab = char_case(CASES[1], scale=10**200)
    tok = keep_tokenizer(vocab)
    assert tok.vocab.draw(1.0, True).mode == lattice.MODE_SAMPLE_LOG | lattice.KEEP_KNOWN_CHARS
    exact = restricted_distribution(text.encode('utf-8'), vocab, 1.0)
    g, df, p = g_test(sampled(tok, text, 1.0, seed=5), exact)
    assert p > P_MIN, (g, df, p)


@pytest.mark.parametrize('case', CASES)
def test_goodness_of_fit_rejects_the_biased_sampler(case):
    """The harness has power: excluding the lone bytes only when drawing is
    rejected, excluding them from the forward sums too is accepted."""
    text, vocab = char_case(case)
    data = text.encode('utf-8')
    exact = restricted_distribution(data, vocab, 0.5)
    g, df, p = g_test(python_keep_sampler(data, vocab, 0.5, N_SAMPLES, 7, 'restricted'), exact)
    assert p > P_MIN, ('exact', g, df, p)
    g, df, p = g_test(python_keep_sampler(data, vocab, 0.5, N_SAMPLES, 7, 'full'), exact)
    assert p < 1e-12, f'biased sampler not rejected: G={g:.1f} df={df} p={p:.2e}'


@pytest.mark.parametrize('name, text', [('bytepiece.plus.40k', '我们的 ab'), ('bytepiece.eu.plus.80k', '分词器 the')])
@pytest.mark.parametrize('alpha', [0.1, 1.0])
def test_public_models_match_restricted_distribution(name, text, alpha):
    """Real vocabularies (the 40k one has partial-UTF-8 pieces)."""
    tok = Tokenizer(model_path(name), seed=0, keep_known_chars=True)
    vocab = {tok.id_to_piece(i): tok.vocab.counts[i] for i in range(3, tok.vocab_size)}
    data = text.encode('utf-8')
    exact = restricted_distribution(data, vocab, alpha)
    assert len(known_char_spans(data, vocab)) >= 2 and len(exact) >= 8
    g, df, p = g_test(sampled(tok, text, alpha, seed=9), exact)
    assert p > P_MIN, (g, df, p)


# --- the option on real text, through every path ---------------------------------------

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bytepiece', 'data', 'sample')


@pytest.fixture(scope='module')
def poems():
    """300 lines of Tang poems, with some Latin text and a special token."""
    with open(os.path.join(SAMPLE, 'tang300.txt'), encoding='utf-8') as f:
        lines = [line.strip() for line in f if line.strip()][:300]
    return [f'{line} café <|end|> {line}' if i % 5 == 0 else line for i, line in enumerate(lines)]


@pytest.fixture(scope='module')
def keep80k():
    return Tokenizer(model_path('bytepiece.eu.plus.80k'), seed=0, keep_known_chars=True, special_tokens=['<|end|>'])


def lone_bytes_in_known_chars(tok, text, ids):
    """How many tokens of ``ids`` are lone bytes inside a known character of ``text``."""
    data = unicodedata.normalize('NFC', text).encode('utf-8')
    spans = known_char_spans(data, set(tok.vocab.pieces))
    count = pos = 0
    for piece in tok.ids_to_pieces(ids):
        piece = piece.encode('utf-8') if isinstance(piece, str) else piece
        count += len(piece) == 1 and any(a <= pos < b for a, b in spans)
        pos += len(piece)
    assert pos == len(data)
    return count


def test_known_chars_stay_whole_on_real_text(tok80k, keep80k, poems):
    default = tok80k.encode_batch(poems, alpha=0.1, seed=3)
    assert sum(lone_bytes_in_known_chars(tok80k, t, ids) for t, ids in zip(poems, default)) > 100, (
        'the default draws split known characters (else this test shows nothing)')
    for alpha in (0.0, 0.1, 500.0):  # 500: the log-space kernel
        kept = keep80k.encode_batch(poems, alpha=alpha, seed=3, allowed_special='all')
        assert not any(lone_bytes_in_known_chars(keep80k, t, ids) for t, ids in zip(poems, kept)), alpha
        assert [keep80k.decode(ids) for ids in kept] == poems
        text = poems[0]
        assert keep80k.encode(text, alpha=alpha, seed=4) == keep80k.encode_batch([text], alpha=alpha, seed=4)[0]
        ids, offsets = keep80k.encode_with_offsets(text, alpha=alpha, seed=4)
        assert ids == keep80k.encode(text, alpha=alpha, seed=4)
    assert keep80k.encode_batch(poems) == tok80k.encode_batch(poems), 'Viterbi is unchanged'


def test_keep_known_chars_option(keep80k):
    assert keep80k.keep_known_chars and not Tokenizer(model_path('bytepiece.plus.40k')).keep_known_chars
    copy = pickle.loads(pickle.dumps(keep80k))
    assert copy.keep_known_chars
    text = '字节级分词' * 20
    assert copy.encode(text, alpha=0.0, seed=1) == keep80k.encode(text, alpha=0.0, seed=1)
    copy.add_special_tokens(['<|other|>'])
    assert copy.keep_known_chars and copy.encode(text, alpha=0.0, seed=1) == keep80k.encode(text, alpha=0.0, seed=1)
    for bad in (1, 'yes', None):
        with pytest.raises(TypeError, match='keep_known_chars must be a bool'):
            Tokenizer(model_path('bytepiece.plus.40k'), keep_known_chars=bad)
