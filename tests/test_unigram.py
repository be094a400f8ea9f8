"""The unigram training method (docs/design.md, Training: the unigram
method): the same model on every engine, hard EM's guarantee, the pruning
loss against a brute-force recomputation, exact sizes, the model file, exact
sampling on a trained model, and bad input."""

import json
import math
import os
import subprocess
import sys
import unicodedata
from collections import Counter

import numpy as np
import pytest

from bytepiece import Tokenizer, Trainer
from bytepiece.demo import SAMPLE_DIR
from bytepiece.core.model import NUM_SPECIAL
from bytepiece.train import unigram as unigram_method
from bytepiece.train.boundaries import crossing_mask, crosses_boundary
from bytepiece.train.chunks import is_held_back, load_shard
from bytepiece.train.settings import DEFAULT_HOLDOUT
from bytepiece.kernels import ngrams, unigram as kernels
from bytepiece.train.unigram_loss import objective, pruning_losses
from bytepiece.core.text import pack_bytes

from conftest import chunk_segmentations, g_test, logsumexp, segmentations
from unigram_passes import best_paths, path_stats, random_vocab

SIZES = [1000, 700]  # largest first, as trained
THREE_BYTE_CHARS = [chr(cp) for cp in range(0x800, 0x10000)  # assigned, and left alone by NFC
                    if unicodedata.category(chr(cp)) not in ('Cn', 'Cs')
                    and unicodedata.normalize('NFC', chr(cp)) == chr(cp)]


def sample_files():
    return sorted(os.path.join(SAMPLE_DIR, n) for n in os.listdir(SAMPLE_DIR) if not n.startswith('.'))


def training_chars():
    """Characters of several bytes in the sample's documents (its non-empty
    lines) that a run with the default holdout trains on."""
    lines = [line for p in sample_files() for line in open(p, encoding='utf-8').read().split('\n') if line]
    return Counter(c for line in lines if not is_held_back(line, DEFAULT_HOLDOUT['unigram'])
                   for c in line if len(c.encode('utf-8')) > 1)


def unigram_trainer(**kwargs):
    return Trainer(method='unigram', max_vocab_size=kwargs.pop('max_vocab_size', SIZES), min_count=3, **kwargs)


@pytest.fixture(scope='module')
def trained():
    """A unigram model of two sizes, trained on the bundled sample with threads."""
    trainer = unigram_trainer()
    report = trainer.train(files=sample_files(), workers=2, progress=False)
    return trainer, report


# --- engines and sizes -----------------------------------------------------


def test_exactly_the_sizes_asked_for(trained):
    trainer, report = trained
    assert [len(p) + NUM_SPECIAL for p in trainer.pieces] == SIZES
    assert report.sizes == {size: size for size in SIZES} and not report.short
    for pieces in trainer.pieces:
        assert all(bytes([b]) in pieces for b in range(256))
        assert max(map(len, pieces)) <= 32, 'the default longest piece of the method'


@pytest.mark.parametrize('engine, workers', [('inline', 1), ('threads', 2), ('processes', 2)])
def test_same_model_on_every_engine(trained, engine, workers, monkeypatch):
    monkeypatch.setattr('bytepiece.train.chunks.SHARD_BYTES', 100_000)  # several shards
    trainer = unigram_trainer()
    trainer.train(files=sample_files(), engine=engine, workers=workers, progress=False)
    assert trainer.pieces == trained[0].pieces


def test_same_model_on_a_dask_cluster(trained, dask_client, tmp_path):
    trainer = unigram_trainer()
    trainer.train(files=sample_files(), engine=dask_client, work_dir=tmp_path / 'w', progress=False)
    assert trainer.pieces == trained[0].pieces


def test_rounds_are_reported_and_the_last_pass_is_a_hard_em_step(trained, monkeypatch):
    """The rounds grow, then prune down to the size. The last round, with the
    size's vocabulary, is one pass of hard EM over the training shards:
    recomputed from the state it started from, it gives the objective
    reported; its counts score at least as well, and the next pass at least
    as well again."""
    rounds = trained[1].rounds
    assert rounds[0]['phase'] == 'grow' and rounds[-1]['phase'] == 'prune'
    assert rounds[-1]['pieces'] == min(SIZES) - NUM_SPECIAL
    assert 'rounds:' in str(trained[1])
    last = {}
    real = unigram_method.run_round

    def spy(tasks, work, settings, shards, size, state, chars, rounds):
        result = real(tasks, work, settings, shards, size, state, chars, rounds)
        if result is None:  # the size is saved: its texts are still in the work directory
            texts = [load_shard(work, shard) for shard in shards]
            last.update(state=state, penalty=settings.token_penalty, texts=texts, objective=rounds[-1]['objective'])
        return result

    monkeypatch.setattr(unigram_method, 'run_round', spy)
    unigram_trainer(max_vocab_size=min(SIZES)).train(files=sample_files(), workers=2, progress=False)
    state, penalty = last['state'], last['penalty']

    def one_pass(counts):
        results = [best_paths(state.pieces, counts, penalty, buf, bounds) for buf, bounds in last['texts']]
        return sum(c for c, _ in results), sum(s for _, s in results)

    counts, score = one_pass(state.counts)
    assert score == pytest.approx(last['objective'], rel=1e-12)
    j = objective(counts, penalty)
    _, next_score = one_pass(counts)
    assert j >= score - 1e-9 * abs(score) and next_score >= j - 1e-9 * abs(j)


def test_growth_that_no_longer_adds_pieces_ends():
    """On the small sample, new pairs at 8,000 ids soon only replace pieces
    that fall out of use: growth stops there, not after its last allowed round."""
    report = Trainer(max_vocab_size=8000, min_count=4).train(files=sample_files(), workers=2, progress=False)
    grown = [r['pieces'] for r in report.rounds if r['phase'] == 'grow']  # the pieces entering each round
    pruned = [r['pieces'] for r in report.rounds if r['phase'] == 'prune']
    assert len(grown) < unigram_method.MAX_GROWTH_ROUNDS
    assert all(a < b for a, b in zip(grown, grown[1:]))
    assert pruned[0] <= grown[-1], 'it ends at the first round that does not grow'
    assert report.sizes == {8000: 8000}


def test_a_failed_run_resumes_from_its_last_round(trained, tmp_path, monkeypatch):
    real = unigram_method.run_round
    calls, killed = [], []

    def failing(tasks, work, settings, shards, size, state, *args):
        calls.append((size, state.round))
        if len(calls) == 4 and not killed:  # once: the fourth round of the first run
            killed.append(True)
            raise RuntimeError('killed')
        return real(tasks, work, settings, shards, size, state, *args)

    monkeypatch.setattr(unigram_method, 'run_round', failing)
    work = tmp_path / 'work'
    trainer = unigram_trainer()
    with pytest.raises(RuntimeError, match='killed'):
        trainer.train(files=sample_files(), workers=2, work_dir=work, progress=False)
    calls.clear()
    report = trainer.train(files=sample_files(), workers=2, work_dir=work, progress=False)
    assert calls[0] == (max(SIZES), 3), 'the three finished rounds are not run again'
    assert f'size {max(SIZES)} from round 3' in report.reused and 'character counts' in report.reused
    assert trainer.pieces == trained[0].pieces


# --- hard EM and the pruning loss ------------------------------------------


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('penalty', [0.0, 2.5])
@pytest.mark.parametrize('dropout', [0.0, 0.3])
def test_hard_em_never_worsens_its_objective(seed, penalty, dropout):
    """Best paths under counts c score S; J of their counts c' is at least S;
    the best paths under c' score at least J(c'). With dropout, on the one
    lattice that dropout leaves, which does not depend on the counts."""
    rng = np.random.default_rng(seed)
    texts = [bytes(rng.choice(list(b'abcde  '), int(rng.integers(20, 60))).tolist()) for _ in range(40)]
    buf, bounds = pack_bytes(texts)
    pieces, counts = random_vocab(rng, texts, 30)
    previous = -math.inf
    for _ in range(4):
        counts, score = best_paths(pieces, counts, penalty, buf, bounds, dropout)
        j = objective(counts, penalty)
        assert score >= previous - 1e-9 * abs(score)
        assert j >= score - 1e-9 * abs(score)
        previous = j


@pytest.mark.parametrize('dropout', [0.0, 0.3])
def test_a_pass_counts_every_copy_of_a_repeated_span(dropout):
    """A pass segments each distinct span once and weights it by its copies:
    its counts, pairs and score are those of every span taken alone."""
    rng = np.random.default_rng(7)
    lines = [bytes(rng.choice(list(b'abcde  '), int(rng.integers(1, 40))).tolist()) for _ in range(25)]
    texts = [lines[int(i)] for i in rng.zipf(1.5, 400) % len(lines)] + [b'']
    buf, bounds = pack_bytes(texts)
    first, _, copies = kernels.distinct_spans(buf, bounds)
    expected = Counter(texts)
    assert [texts[i] for i in first.tolist()] == list(expected)  # in order of first appearance
    assert copies.tolist() == list(expected.values())
    pieces, counts = random_vocab(rng, [t for t in lines if len(t) > 2], 40)
    whole = path_stats(pieces, counts, 1.0, buf, bounds, dropout, max_length=8)
    alone_counts, alone_score, alone_pairs = np.zeros(whole[0].size, np.int64), 0.0, Counter()
    for text in texts:
        b, bb = pack_bytes([text])
        c, sc, keys, pair_counts = path_stats(pieces, counts, 1.0, b, bb, dropout, max_length=8)
        alone_counts += c
        alone_score += sc
        alone_pairs.update(dict(zip(keys.tolist(), pair_counts.tolist())))
    assert (whole[0] == alone_counts).all()
    assert whole[1] == pytest.approx(alone_score, rel=1e-12)
    assert dict(zip(whole[2].tolist(), whole[3].tolist())) == dict(alone_pairs)


def _brute_best(text, allowed, score):
    """The best segmentation of ``text`` into ``allowed`` pieces (pure Python enumeration)."""
    return max(chunk_segmentations(text, allowed), key=lambda seg: sum(score[p] for p in seg))


def _brute_j(token_counts, penalty):
    total = sum(token_counts.values())
    return sum(c * math.log(c / total) for c in token_counts.values() if c) - penalty * total


@pytest.mark.parametrize('seed', range(3))
@pytest.mark.parametrize('penalty', [0.0, 1.5])
def test_pruning_loss_equals_a_brute_force_recomputation(seed, penalty):
    """Each piece's loss: J of the corpus' best paths, less J after every
    token of the piece is replaced by the best segmentation of its bytes
    into the other pieces (enumerated), counts estimated again."""
    rng = np.random.default_rng(100 + seed)
    texts = [bytes(rng.choice(list(b'abcd'), int(rng.integers(8, 14))).tolist()) for _ in range(12)]
    buf, bounds = pack_bytes(texts)
    pieces, counts = random_vocab(rng, texts, 12)
    counts, _ = best_paths(pieces, counts, penalty, buf, bounds)
    losses = pruning_losses(pieces, counts, penalty)
    total = counts.sum()
    floor = math.log(0.5) - math.log(total) - penalty
    score = {p: (math.log(c) - math.log(total) - penalty) if c else floor for p, c in zip(pieces, counts.tolist())}
    tokens = Counter({p: c for p, c in zip(pieces, counts.tolist()) if c})
    before = _brute_j(tokens, penalty)
    checked = 0
    for x, loss in zip(pieces, losses.tolist()):
        if len(x) == 1:
            assert loss == math.inf
            continue
        alternative = _brute_best(x, set(pieces) - {x}, score)
        after = Counter(tokens)
        moved = after.pop(x, 0)
        for p in alternative:
            after[p] += moved
        assert loss == pytest.approx(before - _brute_j(after, penalty), rel=1e-9, abs=1e-7)
        checked += moved > 0
    assert checked >= 3, 'the case should remove pieces that best paths use'


# --- the model file ----------------------------------------------------------


def test_save_load_round_trip(trained, tmp_path):
    trainer, _ = trained
    paths = trainer.save(str(tmp_path / 'u.model'))
    texts = [open(p, encoding='utf-8').read()[:3000] for p in sample_files()]
    for size, path in zip(SIZES, paths):
        saved = Tokenizer(path)
        assert saved.encode_batch(texts) == trainer.tokenizer(size).encode_batch(texts)
        assert saved.vocab_size == size
        # the default token penalty, 10.0, is stored and taken from every score
        assert saved.vocab.token_penalty == 10.0
        assert np.exp(saved.vocab.scores[NUM_SPECIAL:]).sum() == pytest.approx(math.exp(-10.0))
        with open(path, encoding='utf-8') as f:
            metadata = json.load(f)['AA=='][2]['bytepiece']
        assert metadata['training']['method'] == 'unigram' and metadata['token_penalty'] == 10.0


@pytest.fixture(scope='module')
def plain(tmp_path_factory):
    """A unigram model without a token penalty, saved: BytePiece's own format."""
    trainer = unigram_trainer(max_vocab_size=600, token_penalty=0.0)
    trainer.train(files=sample_files(), workers=2, progress=False)
    return trainer.save(str(tmp_path_factory.mktemp('plain') / 'p.model'))[0]


def test_without_a_penalty_the_scores_are_log_probabilities(plain):
    tok = Tokenizer(plain)
    assert tok.vocab.token_penalty == 0.0
    assert np.exp(tok.vocab.scores[NUM_SPECIAL:]).sum() == pytest.approx(1.0)
    with open(plain, encoding='utf-8') as f:
        metadata = json.load(f)['AA=='][2]['bytepiece']
    assert 'token_penalty' not in metadata


# --- exact sampling on a trained model ---------------------------------------


@pytest.mark.parametrize('penalty', [0.0, 10.0])  # 10: the default
@pytest.mark.parametrize('alpha', [0.1, 1.0])
def test_sampling_is_exact_on_a_trained_model(trained, plain, penalty, alpha):
    tok = trained[0].tokenizer(SIZES[0]) if penalty else Tokenizer(plain)
    assert tok.vocab.token_penalty == penalty
    text = 'def print(self):'
    data = text.encode('utf-8')
    vocab = {tok.vocab.pieces[i]: float(tok.vocab.scores[i]) for i in range(NUM_SPECIAL, tok.vocab_size)}
    segs = segmentations(data, vocab)
    assert len(segs) >= 20
    logw = [alpha * sum(vocab[p] for p in seg) for seg in segs]
    log_z = logsumexp(logw)
    exact = {seg: math.exp(w - log_z) for seg, w in zip(segs, logw)}
    draws = tok.tokenize_batch([text] * 20000, alpha=alpha, seed=11)
    g, df, p = g_test(Counter(map(tuple, draws)), exact)
    assert p > 1e-4, (g, df, p)
    assert tok.log_likelihood(text, alpha) == pytest.approx(log_z, rel=1e-9)


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize('kwargs, match', [
    ({'method': 'bpe'}, "unknown training method 'bpe'"),
    ({'method': 'unigram', 'order': 5}, "order is an option of method='bytepiece' only"),
    ({'order': 6, 'token_penalty': 1.0}, "token_penalty is an option of method='unigram' only"),
    ({'method': 'bytepiece', 'growth': 2.0}, "growth is an option of method='unigram' only"),
    ({'method': 'unigram', 'growth': 0.5}, 'growth must be in'),
    ({'method': 'unigram', 'token_penalty': -1.0}, 'token_penalty must be in'),
    ({'method': 'unigram', 'boundary_share': 1.5}, r'boundary_share must be in \[0.0, 1.0\], got 1.5'),
    ({'method': 'unigram', 'boundary_share': -0.1}, 'boundary_share must be in'),
    ({'order': 6, 'boundary_share': 0.5}, "boundary_share is an option of method='unigram' only"),
    ({'method': 'unigram', 'dropout': 1.0}, r'dropout must be in \[0.0, 1.0\), got 1.0'),
    ({'method': 'unigram', 'dropout': -0.1}, 'dropout must be in'),
    ({'method': 'unigram', 'dropout': float('nan')}, 'dropout must be in'),
    ({'method': 'bytepiece', 'dropout': 0.1}, "dropout is an option of method='unigram' only"),
])
def test_bad_method_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Trainer(**kwargs)


def test_a_size_the_corpus_cannot_reach_is_an_error():
    trainer = unigram_trainer(max_vocab_size=5000)
    texts = ['abc abd abe'] * 50
    with pytest.raises(ValueError, match='the corpus supports only'):
        trainer.train(texts, workers=1, progress=False)


def test_cli_method_choices_and_errors(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, '-m', 'bytepiece.cli', *args], capture_output=True, text=True)

    assert 'unigram' in run('train', '--help').stdout
    out = str(tmp_path / 'm.model')
    bad = run('train', sample_files()[2], '-o', out, '--method', 'unigram', '--order', '5', '-q')
    assert bad.returncode != 0 and "--order is an option of --method bytepiece only" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    good = run('train', sample_files()[2], '-o', out, '--method', 'unigram', '--vocab-size', '400', '-q')
    assert good.returncode == 0, good.stderr
    assert Tokenizer(out).vocab_size == 400


# --- sizes, the alphabet, held-back documents, the default method -------------


def test_a_size_is_the_same_alone_and_with_other_sizes(trained):
    trainer, _ = trained
    for size, pieces in zip(SIZES, trainer.pieces):
        alone = unigram_trainer(max_vocab_size=size)
        alone.train(files=sample_files(), workers=2, progress=False)
        assert alone.pieces[0] == pieces, f'{size} trained alone'


def test_the_alphabet_is_never_pruned(trained):
    """The most frequent characters reaching min_count, up to a quarter of
    the room above the bytes, are pieces of every size, used or not."""
    trainer, _ = trained
    chars = training_chars()
    for size, pieces in zip(SIZES, trainer.pieces):
        share = int(0.25 * (size - NUM_SPECIAL - 256))
        frequent = [c.encode('utf-8') for c, n in chars.most_common() if n >= 3][:share]
        assert len(frequent) == share, 'the sample has more such characters than the room'
        # characters counted alike may stand in either order at the cut
        missing = [c for c in frequent if c not in pieces]
        assert all(chars[c.decode('utf-8')] == chars[frequent[-1].decode('utf-8')] for c in missing), missing


def test_lead_prefixes_are_kept_and_an_unseen_character_of_their_block_costs_two_tokens(trained):
    """The bytes but the last of the corpus' characters of three and four
    bytes that two characters or more share, the most frequent up to their
    share of the room, are pieces of every size; a character the corpus
    never holds costs two tokens where its prefix is one, three otherwise."""
    trainer, _ = trained
    chars = training_chars()
    totals, sharing = Counter(), Counter()
    for c, n in chars.items():
        if n >= 3 and len(c.encode('utf-8')) >= 3:
            totals[c.encode('utf-8')[:-1]] += n
            sharing[c.encode('utf-8')[:-1]] += 1
    ranked = sorted((t, p) for p, t in totals.items() if sharing[p] > 1)[::-1]
    for size, pieces in zip(SIZES, trainer.pieces):
        share = int(unigram_method.LEAD_SHARE * (size - NUM_SPECIAL - 256))
        assert 0 < share < len(ranked), 'the sample has more shared prefixes than the room'
        partial = {p for p in pieces if len(p) > 1 and not _is_utf8(p)}
        assert partial == {p for _, p in ranked[:share]}, size
        tok = trainer.tokenizer(size)
        kept = ranked[0][1]
        unseen = next(c for c in THREE_BYTE_CHARS if c.encode('utf-8')[:-1] == kept and c not in chars)
        assert tok.tokenize(unseen) == [kept, unseen.encode('utf-8')[-1:]]
        other = next(c for c in THREE_BYTE_CHARS
                     if c.encode('utf-8')[:-1] not in pieces and c.encode('utf-8') not in pieces)
        assert len(tok.encode(other)) == 3


def test_lead_prefixes_of_made_up_counts():
    """Three- and four-byte characters give their bytes but the last, shared
    by two characters or more, by summed count (ties by the bytes), up to the
    share; pairs, characters of one and two bytes, and a lone character's
    prefix give none."""
    chars = {'\u4e00': 5, '\u4e01': 4, '\u4e40': 50, '\u4e41': 1, '\u4e80': 9, '\u4e81': 9, '\U0001f600': 7,
             '\U0001f601': 2, '\u0416': 99, '\u0417': 99, '\u2500': 80, 'ab': 1000}
    keys = np.array([ngrams.pack(c.encode('utf-8')) for c in chars], np.uint64)
    is_char = np.array([len(c) == 1 for c in chars])
    alphabet = unigram_method.Alphabet(keys, np.array(list(chars.values()), np.int64), is_char)
    # summed counts 51, 18, then 9 and 9, the larger bytes first
    everything = [b'\xe4\xb9', b'\xe4\xba', b'\xf0\x9f\x98', b'\xe4\xb8']
    room = int(len(everything) / unigram_method.LEAD_SHARE) + 1
    assert alphabet.lead_prefixes(room + NUM_SPECIAL + 256) == everything
    assert alphabet.lead_prefixes(int(2 / unigram_method.LEAD_SHARE) + 1 + NUM_SPECIAL + 256) == everything[:2]
    assert alphabet.lead_prefixes(NUM_SPECIAL + 256) == []
    no_chars = unigram_method.Alphabet(keys, alphabet.counts, np.zeros(keys.size, bool))  # ensure_unicode off
    assert no_chars.lead_prefixes(room + NUM_SPECIAL + 256) == []


def _is_utf8(piece):
    try:
        piece.decode('utf-8')
    except UnicodeDecodeError:
        return False
    return True


def _documents():
    """The sample cut at blank lines: many small documents."""
    docs = []
    for path in sample_files():
        docs += [d for d in open(path, encoding='utf-8').read().split('\n\n') if d.strip()]
    return docs


def test_held_back_documents_are_chosen_by_their_text(tmp_path):
    """The same documents are held back, and the same model trained, for any
    partitioning of the files, engine and form of input."""
    docs = _documents()

    def jsonl(name, part):
        (tmp_path / name).write_text(''.join(json.dumps({'text': d}) + '\n' for d in part), encoding='utf-8')
        return str(tmp_path / name)

    whole = jsonl('all.jsonl', docs)
    thirds = [jsonl(f'{k}.jsonl', docs[k::3]) for k in range(3)]  # other partitions, other order
    runs = []
    for engine, corpus in [('threads', {'files': whole}), ('processes', {'files': thirds}),
                           ('inline', {'texts': docs})]:
        trainer = unigram_trainer(max_vocab_size=800)
        report = trainer.train(**corpus, engine=engine, workers=2, holdout=0.2, progress=False)
        runs.append((trainer.pieces, report.held_back, report.partitions))
    assert runs[1][2] == 3 * runs[0][2], 'the second run reads other partitions'
    assert 0.1 * len(docs) < runs[0][1] < 0.3 * len(docs)
    assert runs[0][1] == runs[1][1] == runs[2][1]
    assert runs[0][0] == runs[2][0], 'files and texts in the same order: the same model'
    assert runs[1][0] == runs[0][0], 'the documents in another order: the same model'


def test_the_held_back_choice_of_a_long_text_is_its_hash_taken_a_slice_at_a_time(monkeypatch):
    """A long text is hashed a slice at a time, with no copy of its UTF-8:
    the choice is that of the hash of the whole text's UTF-8, whatever the
    slices (here of 3 characters, across multi-byte and lone surrogate
    characters)."""
    import hashlib
    from bytepiece.train import chunks
    rng = np.random.default_rng(5)
    alphabet = list('ab \n') + ['é', '中', '😀', '\ud800']
    texts = [''.join(rng.choice(alphabet, int(rng.integers(0, 30)))) for _ in range(300)]

    def whole(text):
        digest = hashlib.blake2b(text.encode('utf-8', 'surrogatepass'), digest_size=8).digest()
        return (int.from_bytes(digest, 'little') >> 11) / float(1 << 53) < 0.5

    expected = [whole(t) for t in texts]
    assert 60 < sum(expected) < 240
    monkeypatch.setattr(chunks, 'SLICE_CHARS', 3)
    assert [is_held_back(t, 0.5) for t in texts] == expected


def test_the_held_back_sample_keeps_at_most_its_size(monkeypatch):
    """The held-back text kept for the report is at most ``SAMPLE_BYTES``
    characters per partition: a longer document is kept cut short; every
    held-back document is counted."""
    from bytepiece.train import chunks
    monkeypatch.setattr(chunks, 'SAMPLE_BYTES', 10)
    held = chunks.HeldBack()
    for text in ['abcd', 'efghijklmnop', 'q']:
        held.add(text)
    assert held.texts == ['abcd', 'efghij'] and held.documents == 3


def test_the_report_measures_every_size_on_held_back_and_training_text(tmp_path):
    trainer = unigram_trainer()
    report = trainer.train(texts=_documents(), workers=2, holdout=0.1, progress=False)
    assert report.held_back > 0 and report.sample == 'held-back'
    assert list(report.compression) == SIZES
    for size in SIZES:
        measured = report.compression[size]
        assert set(measured) == {'held-back', 'training'} and all(v > 1.0 for v in measured.values())
    assert report.bytes_per_token == report.compression[max(SIZES)]['held-back']
    text = str(report)
    assert f'bytes per token, {SIZES[1]}: ' in text and 'on held-back text' in text and 'held back:' in text


def test_a_holdout_that_leaves_no_training_text_is_an_error():
    with pytest.raises(ValueError, match=r'holdout=0.9999 held back all 1 documents'):
        unigram_trainer(max_vocab_size=400).train(texts=['one short document'], holdout=0.9999, progress=False)
    with pytest.raises(ValueError, match='holdout must be a fraction in'):
        unigram_trainer(max_vocab_size=400).train(texts=['text'], holdout=1.5, progress=False)


def test_the_default_method_and_the_bytepiece_compatible_path():
    assert Trainer(max_vocab_size=1000).method == 'unigram'
    assert Trainer(max_vocab_size=1000).token_penalty == 10.0
    # code written for BytePiece names the order: BytePiece's method, nothing held back
    compatible = Trainer(order=6, max_vocab_size=1000, min_count=4)
    assert compatible.method == 'bytepiece'
    report = compatible.train(files=sample_files(), workers=2, progress=False)
    assert report.held_back == 0 and report.sample == 'training'
    assert Trainer(6, 1000).method == 'bytepiece'
    # BytePiece's train(texts, workers, batch_size), by position: the same vocabulary
    texts = _documents()
    by_position = Trainer(order=6, max_vocab_size=1000, min_count=4)
    by_position.train(texts, 2, 1000)
    by_keyword = Trainer(order=6, max_vocab_size=1000, min_count=4)
    by_keyword.train(texts=texts, workers=2, progress=False)
    assert by_position.pieces == by_keyword.pieces
    with pytest.raises(ValueError, match='batch_size must be >= 1'):
        by_position.train(texts, 2, 0)


def test_the_cli_trains_the_default_method_and_bytepiece_with_order(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, '-m', 'bytepiece.cli', *args], capture_output=True, text=True)
    default = run('train', sample_files()[2], '-o', str(tmp_path / 'd.model'), '--vocab-size', '500')
    assert default.returncode == 0, default.stderr
    assert 'warning' not in default.stderr and 'bytes per token, 500:' in default.stderr
    compatible = run('train', sample_files()[2], '-o', str(tmp_path / 'b.model'), '--order', '6', '-q')
    assert compatible.returncode == 0, compatible.stderr
    methods = []
    for name in ('d.model', 'b.model'):
        with open(tmp_path / name, encoding='utf-8') as f:
            methods.append(json.load(f)['AA=='][2]['bytepiece']['training']['method'])
    assert methods == ['unigram', 'bytepiece']


# --- pre-token boundaries ----------------------------------------------------


@pytest.mark.parametrize('piece, crosses', [
    ('the', False), (' the', False), ('the ', True), ('   ', False), ('\n\n  ', False), ('a,', True),
    (', ', True), ('123', False), (' 123', False), ('a1', True), ('世界', False), (' 世界', False),
    ('世界。', True), ('...', False), (' ...', False), ('    def', True), ('नमस्ते', False),
    ('e\u0301', False),
    ('\u2764\ufe0f', False), ('1\ufe0f\u20e3', False), (' \u2764\ufe0f', False), ('a\u2764\ufe0f', True),
])
def test_which_pieces_cross_a_pre_token_boundary(piece, crosses):
    assert crosses_boundary(piece.encode('utf-8')) is crosses


def _random_corpus(seed, n_docs=60):
    """Words, numbers, punctuation, CJK and whitespace in random order."""
    rng = np.random.default_rng(seed)
    letters = list('abcdefghijklmnoprstuéмир世界')
    words = [''.join(rng.choice(letters, int(rng.integers(2, 7))).tolist()) for _ in range(300)]
    words += ['42', '3.14', ',', '.', '(', ')', '::', '\n', '    ', '"'] + [' '] * 100
    return [''.join(rng.choice(words, int(rng.integers(50, 400))).tolist()) for _ in range(n_docs)]


@pytest.mark.parametrize('seed', range(3))
@pytest.mark.parametrize('share', [0.0, 0.1, 0.5])
def test_a_boundary_share_bounds_the_crossing_pieces(seed, share):
    """With share 0 no piece crosses a boundary; with share s at most s of
    the vocabulary does."""
    trainer = Trainer(method='unigram', max_vocab_size=[700, 400], min_count=2, boundary_share=share)
    trainer.train(texts=_random_corpus(seed), workers=1, holdout=0.0, progress=False)
    for size, pieces in zip([700, 400], trainer.pieces):
        crossing = crossing_mask(list(pieces)).sum()
        assert crossing <= share * size, (size, crossing)
        if share == 0.5:
            assert crossing > 0, 'the corpus has crossing pairs worth taking'


@pytest.mark.parametrize('flags, message', [
    (['--boundary-share', '2'], '--boundary-share must be in [0.0, 1.0], got 2.0'),
    (['--dropout', '1'], '--dropout must be in [0.0, 1.0), got 1.0'),
    (['--order', '6', '--dropout', '0.1'], '--dropout is an option of --method unigram only'),
    (['--vocab-size', '100'], '--vocab-size must be >= 259, got 100'),
    (['--holdout', '0.9999999'], '--holdout=0.9999999 held back all'),
    (['--vocab-size', '90000', '--min-count', '50'], 'ask for a smaller --vocab-size, lower --min-count'),
])
def test_bad_training_arguments_are_one_line_cli_errors_with_the_flags(tmp_path, flags, message):
    out = subprocess.run([sys.executable, '-m', 'bytepiece.cli', 'train', sample_files()[2], '-o',
                          str(tmp_path / 'm.model'), '-q', *flags], capture_output=True, text=True)
    assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert message in out.stderr and '_' not in out.stderr.split('error: ')[1].split(',')[0], out.stderr


def test_the_share_holds_when_growth_stops_short_of_its_target():
    """On the small sample, growth at 14,000 ids stalls a little above the
    size: the vocabulary still keeps within the crossing share."""
    trainer = Trainer(max_vocab_size=14000)
    trainer.train(files=sample_files(), workers=2, progress=False)
    assert len(trainer.pieces[0]) + NUM_SPECIAL == 14000
    assert crossing_mask(list(trainer.pieces[0])).sum() <= 0.35 * 14000


def test_a_held_back_text_with_a_lone_surrogate_is_an_error_before_training():
    docs = _documents()
    bad = next(f'{k} \ud800' for k in range(10000) if is_held_back(f'{k} \ud800', 0.5))
    with pytest.raises(ValueError, match=r'corpus item 3: cannot encode'):
        unigram_trainer(max_vocab_size=400).train(texts=docs[:3] + [bad] + docs[3:], holdout=0.5, progress=False)


def test_a_run_resumed_after_its_last_size_counts_nothing_again(tmp_path, monkeypatch):
    work = tmp_path / 'work'
    trainer = unigram_trainer()
    trainer.train(files=sample_files(), workers=1, work_dir=work, progress=False)
    expected = trainer.pieces
    def killed(self, run):
        raise RuntimeError('killed')

    monkeypatch.setattr(Trainer, '_measure', killed)
    with pytest.raises(RuntimeError, match='killed'):  # killed after every size is saved
        unigram_trainer().train(files=sample_files(), workers=1, work_dir=work, progress=False)
    monkeypatch.undo()
    counted = []
    monkeypatch.setattr(unigram_method, 'count_alphabet', lambda *a: counted.append(1))
    again = unigram_trainer()
    report = again.train(files=sample_files(), workers=1, work_dir=work, progress=False)
    assert again.pieces == expected and not counted
    assert report.reused[1:] == [f'size {size}' for size in sorted(SIZES, reverse=True)]
    assert 'rounds: none in this run' in str(report) and 'n-grams' not in str(report)


def test_the_default_holdout_holds_nothing_back_from_a_small_corpus():
    docs = _documents()[:30]
    report = unigram_trainer(max_vocab_size=400).train(texts=docs, workers=1, progress=False)
    assert report.documents == 30 and report.held_back == 0 and report.sample == 'training'
    if any(is_held_back(d, 0.02) for d in docs):
        assert report.holdout_dropped and 'held back: none (a corpus of 30 documents' in str(report)
    explicit = unigram_trainer(max_vocab_size=400).train(texts=docs, workers=1, holdout=0.02, progress=False)
    assert explicit.held_back == sum(is_held_back(d, 0.02) for d in docs)
    many = _documents()
    assert len(many) >= 50
    report = unigram_trainer(max_vocab_size=400).train(texts=many, workers=1, progress=False)
    assert report.held_back == sum(is_held_back(d, 0.02) for d in many) and not report.holdout_dropped
