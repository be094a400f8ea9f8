"""Shared fixtures and helpers for the test suite.

Everything the tests read is bundled under ``tests/fixtures`` (the suite never
reads ``../shared``):

- ``bytepiece.eu.plus.80k.zip``, ``bytepiece.plus.40k.zip``: the public
  BytePiece models (Apache-2.0, Jianlin Su).
- ``golden/encode-sample.<model>.jsonl``: BytePiece 0.6.3's ids and pieces for
  213 texts whose licences allow bundling.
- ``dev_chars.txt``: the 400 commonest non-ASCII characters of a multilingual
  web corpus and its rarer marks, symbols, separators and controls (random
  texts of the normalizer tests are drawn from them).

The helpers at the end (brute-force segmentation, exact distributions,
goodness-of-fit test) are used by several test files; import them with
``from conftest import ...``.
"""

import base64
import io
import itertools
import json
import math
import os
import random
import re
from collections import Counter

import pytest

from bytepiece import Tokenizer
from bytepiece.core.model import model_dict
from bytepiece.demo import SAMPLE_DIR

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
MODEL_NAMES = ('bytepiece.eu.plus.80k', 'bytepiece.plus.40k')


def model_path(name):
    return os.path.join(FIXTURES, f'{name}.zip')


def golden_path(name):
    return os.path.join(FIXTURES, 'golden', f'encode-sample.{name}.jsonl')


def read_golden(name):
    """``[{"text", "ids", "pieces"}]`` of the bundled golden file, pieces as bytes."""
    records = []
    with open(golden_path(name), encoding='utf-8') as f:
        for line in f:
            record = json.loads(line)
            record['pieces'] = [base64.b64decode(p) for p in record.pop('pieces_b64')]
            records.append(record)
    return records


@pytest.fixture(scope='session')
def tok80k():
    """The 80k public model (ensure_unicode on), NFC normalization."""
    return Tokenizer(model_path('bytepiece.eu.plus.80k'), seed=0)


@pytest.fixture(scope='session')
def tok40k():
    """The 40k public model (pieces may be partial UTF-8)."""
    return Tokenizer(model_path('bytepiece.plus.40k'), seed=0)


@pytest.fixture(scope='session')
def tok80k_raw():
    """The 80k model with normalization off (byte-exact round trip)."""
    return Tokenizer(model_path('bytepiece.eu.plus.80k'), seed=0, normalization=None)


@pytest.fixture(scope='session', params=MODEL_NAMES)
def golden(request):
    """``(model name, tokenizer, records)`` for each bundled golden file."""
    name = request.param
    tok = request.getfixturevalue({'bytepiece.eu.plus.80k': 'tok80k', 'bytepiece.plus.40k': 'tok40k'}[name])
    return name, tok, read_golden(name)


@pytest.fixture(scope='session')
def golden80k():
    return read_golden('bytepiece.eu.plus.80k')


# --- small vocabularies ----------------------------------------------------


def small_vocab(pieces, byte_count=1):
    """``{piece bytes: count}`` with all 256 single bytes added (count
    ``byte_count``, or a callable ``byte -> count``) unless already given."""
    vocab = {}
    for b in range(256):
        vocab[bytes([b])] = byte_count(b) if callable(byte_count) else byte_count
    vocab.update(pieces)
    return vocab


def random_case(seed, alphabet=b'abc', text_len=(5, 8), n_pieces=(4, 12), max_len=4, newline=False):
    """A random short text and a small random vocabulary that segments it many ways.

    Returns ``(text bytes, {piece: count})``. Pieces are mostly substrings of
    the text (so the lattice is dense), plus a few that never match.
    """
    rng = random.Random(seed)
    length = rng.randint(*text_len)
    text = bytes(rng.choice(alphabet) for _ in range(length))
    if newline and length > 2:
        pos = rng.randint(1, length - 1)
        text = text[:pos] + b'\n' * rng.randint(1, 2) + text[pos:]
    pieces = {}
    for _ in range(rng.randint(*n_pieces)):
        if rng.random() < 0.85:
            a = rng.randrange(len(text))
            b = min(len(text), a + rng.randint(2, max_len))
            piece = text[a:b]
        else:
            piece = bytes(rng.choice(alphabet) for _ in range(rng.randint(2, max_len)))
        if len(piece) >= 2:
            pieces[piece] = rng.randint(1, 1000)
    vocab = small_vocab(pieces, byte_count=lambda b: rng.randint(1, 1000) if b in alphabet or b == 10 else 1)
    return text, vocab


def make_tokenizer(vocab, seed=0, normalization=None):
    return Tokenizer(model_dict(vocab), seed=seed, normalization=normalization)


def scores_of(vocab):
    """Piece scores as the model defines them: log(count) - log(total)."""
    log_total = math.log(sum(vocab.values()))
    return {p: math.log(c) - log_total for p, c in vocab.items()}


def chunks(text):
    """The chunks of a bytes text (docs/design.md, chunking; no normalization)."""
    return re.findall(rb'[^\n]*\n+|[^\n]+', text)


def chunk_segmentations(chunk, vocab):
    """Every segmentation of one chunk (bytes) into pieces of ``vocab``."""
    n = len(chunk)
    out = []

    def walk(pos, acc):
        if pos == n:
            out.append(tuple(acc))
            return
        for end in range(pos + 1, n + 1):
            piece = chunk[pos:end]
            if piece in vocab:
                acc.append(piece)
                walk(end, acc)
                acc.pop()

    walk(0, [])
    return out


def segmentations(text, vocab):
    """Every segmentation of a bytes text, chunk by chunk (no piece crosses a chunk)."""
    per_chunk = [chunk_segmentations(c, vocab) for c in chunks(text)]
    return [tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*per_chunk)]


def logsumexp(values):
    values = list(values)
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def exact_distribution(text, vocab, alpha):
    """``{segmentation (tuple of pieces): probability}`` with
    p proportional to exp(alpha * score), computed in log space."""
    score = scores_of(vocab)
    segs = segmentations(text, vocab)
    logw = [alpha * sum(score[p] for p in seg) for seg in segs]
    log_z = logsumexp(logw)
    return {seg: math.exp(w - log_z) for seg, w in zip(segs, logw)}


def backtracked_counts(text, back):
    """``{segmentation: count}`` of the draws a Python sampler made:
    ``back[e, j]`` is where draw ``j``'s piece ending at ``e`` starts."""
    counts = Counter()
    for j in range(back.shape[1]):
        e, seg = len(text), []
        while e > 0:
            s = int(back[e, j])
            seg.append(text[s:e])
            e = s
        counts[tuple(reversed(seg))] += 1
    return counts


# --- goodness of fit -------------------------------------------------------


def _gamma_q(a, x):
    """Regularized upper incomplete gamma Q(a, x) (Numerical Recipes)."""
    if x <= 0:
        return 1.0
    gln = math.lgamma(a)
    if x < a + 1:  # series for P, then Q = 1 - P
        term = total = 1.0 / a
        ap = a
        for _ in range(10000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - gln))
    tiny = 1e-300  # continued fraction (modified Lentz)
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - gln) * h


def chi2_sf(x, df):
    """P(X >= x) for X chi-square with ``df`` degrees of freedom."""
    return _gamma_q(df / 2.0, x / 2.0)


def g_test(observed, expected_probs, min_expected=5.0):
    """G-test (log-likelihood ratio) of sampled outcomes against exact probabilities.

    ``observed``: ``{outcome: count}``; ``expected_probs``: ``{outcome: p}``.
    An outcome with probability 0 (not in ``expected_probs``) fails outright.
    Outcomes with expected count below ``min_expected`` are pooled (the
    rarest first) into one bin. Returns ``(G, degrees of freedom, p-value)``.
    """
    unknown = set(observed) - set(expected_probs)
    assert not unknown, f'sampled outcomes outside the support: {sorted(unknown)[:3]}'
    n = sum(observed.values())
    bins = []
    pooled_o = pooled_e = 0.0
    for outcome, p in sorted(expected_probs.items(), key=lambda kv: kv[1]):
        e = n * p
        if e < min_expected:
            pooled_o += observed.get(outcome, 0)
            pooled_e += e
        else:
            bins.append((observed.get(outcome, 0), e))
    if pooled_e > 0:
        if pooled_e < min_expected and bins:  # too small on its own: merge into the smallest bin
            o, e = bins.pop(0)
            pooled_o += o
            pooled_e += e
        bins.append((pooled_o, pooled_e))
    g = 2.0 * sum(o * math.log(o / e) for o, e in bins if o > 0)
    df = len(bins) - 1
    if df < 1:
        return g, df, 1.0
    return g, df, chi2_sf(g, df)


@pytest.fixture(scope='session')
def dask_client():
    """A real Dask cluster on this machine: two worker processes, one thread each."""
    import distributed
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


# --- SentencePiece models trained here, for the imported-model tests ----------

HARD_STRINGS = [
    '', ' ', '   ', 'a', ' a', 'a ', '  a  b  ', 'a\tb\nc\r\nd', '\x00', 'x\x00y', '\x01\x02\x1f\x7f',
    '\u3000全角\u3000スペース', 'ＡＢＣ１２３', 'ﬁ ﬂ ﬃ', '\u0301', 'e\u0301', 'e\u0301\u0302\u0303',
    '\u1100\u1161\u11a8', 'क़ ऩ', '👩\u200d👩\u200d👧', '🇫🇷🇩🇪', '👍🏽', '\ufffd', '\ue000\U000f0000',
    '\U0001f9ff\U0010ffff', '𐀀𐀁𐀂 Linear B', 'a𐀀b𐀁c', '<unk> <s> </s>', '<0x41>', '▁', '▁▁x', '<sep>',
    '[MASK] @@ §§', '1234567890 3.14159', 'the ' * 50, '  leading and trailing  ',
]


def sample_lines():
    lines = []
    for name in sorted(os.listdir(SAMPLE_DIR)):
        with open(os.path.join(SAMPLE_DIR, name), encoding='utf-8') as f:
            lines += [line for line in f.read().splitlines() if line.strip()]
    return lines


CONFIGS = {
    'default': {},
    'identity': {'normalization_rule_name': 'identity'},
    'nmt_nfkc_cf': {'normalization_rule_name': 'nmt_nfkc_cf'},
    'byte_fallback': {'byte_fallback': True},
    'user_defined': {'user_defined_symbols': ['<sep>', '[MASK]', '@@', '§§']},
    'split_digits': {'split_digits': True},
    'no_dummy_prefix': {'add_dummy_prefix': False},
    'whitespace_kept': {'remove_extra_whitespaces': False, 'normalization_rule_name': 'identity'},
}


@pytest.fixture(scope='session')
def corpus():
    lines = sample_lines()
    random.Random(0).shuffle(lines)
    held = lines[:300]  # never trained on
    return lines[300:], held


@pytest.fixture(scope='session')
def sp_models(tmp_path_factory, corpus):
    """Trained by SentencePiece on the bundled sample texts (session-wide)."""
    spm = pytest.importorskip('sentencepiece')
    train, _ = corpus
    folder = tmp_path_factory.mktemp('spm')
    paths = {}
    for name, options in CONFIGS.items():
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(train), model_writer=model, vocab_size=1500,
                                       character_coverage=0.98, num_threads=1, minloglevel=2, **options)
        paths[name] = str(folder / f'{name}.model')
        with open(paths[name], 'wb') as f:
            f.write(model.getvalue())
    return paths


