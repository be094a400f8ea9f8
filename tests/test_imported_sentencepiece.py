"""SentencePiece unigram models loaded by ``Tokenizer``: SentencePiece itself
is the oracle (ids, decoded text, offsets, n-best, the sampling
distribution). The models are trained here, by SentencePiece, on the
bundled sample texts."""

import io
import math
import random
from collections import Counter

import numpy as np
import pytest

from bytepiece import Tokenizer
from conftest import CONFIGS, HARD_STRINGS, chi2_sf

spm = pytest.importorskip('sentencepiece')
model_pb2 = pytest.importorskip('sentencepiece.sentencepiece_model_pb2')

def processor(path):
    return spm.SentencePieceProcessor(model_file=path)


@pytest.mark.parametrize('config', sorted(CONFIGS))
def test_ids_and_decode_match_sentencepiece(sp_models, corpus, config):
    sp = processor(sp_models[config])
    tok = Tokenizer(sp_models[config])
    texts = corpus[1] + HARD_STRINGS + [' '.join(corpus[1][:200])]
    assert tok.encode_batch(texts) == sp.encode(texts)
    for text in texts:
        ids = sp.encode(text)
        assert tok.decode(ids) == sp.decode(ids), text
    assert tok.vocab_size == sp.get_piece_size()
    assert [tok.id_to_piece(i) for i in range(tok.vocab_size)] == [sp.id_to_piece(i) for i in range(tok.vocab_size)]


def test_random_text_and_ties(sp_models):
    """Runs of one character have many segmentations of equal score: the
    choice among them follows SentencePiece's float32 sums."""
    rng = random.Random(1)
    alphabet = 'ab -=.日本語é\u0301𐀀'
    texts = [''.join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))) for _ in range(300)]
    texts += [c * k for c in '-=*#0 a.' for k in range(1, 80)]
    for config in ('default', 'byte_fallback', 'identity'):
        sp = processor(sp_models[config])
        tok = Tokenizer(sp_models[config])
        assert tok.encode_batch(texts) == sp.encode(texts), config


def test_long_texts_rebase_as_sentencepiece_does(sp_models, corpus):
    """Past a path score of 100,000 in magnitude SentencePiece subtracts it
    from its scores, and its float32 sums round differently after that: on
    texts of 150 kB some near-ties go the other way than without it."""
    lines = corpus[0] + corpus[1]
    texts = []
    for seed in range(20):
        pool = list(lines)
        random.Random(seed).shuffle(pool)
        texts.append(' '.join(pool)[:150_000])
    for config in ('default', 'byte_fallback'):
        sp = processor(sp_models[config])
        tok = Tokenizer(sp_models[config])
        expected = sp.encode(texts)
        assert tok.encode_batch(texts) == expected, config
        assert [tok.encode(text) for text in texts] == expected, config
        # the texts do reach such near-ties: without rebasing, some differ
        vocab = tok._vocab
        vocab.rebase_floor, rebase_floor = -np.inf, vocab.rebase_floor
        assert tok.encode_batch(texts) != expected, config
        vocab.rebase_floor = rebase_floor


@pytest.mark.parametrize('factor', [1000.0, 123457.0])
def test_rebasing_when_every_few_pieces_pass_the_bound(sp_models, corpus, tmp_path, factor):
    """Scores scaled up so that SentencePiece rebases every few pieces (with
    scale 123457, at every piece): one end's candidates then come from
    several frames. User-defined pieces score above 0, which leaves no
    floor to skip the check by."""
    lines = corpus[0]
    texts = [' '.join(lines[i:i + 40]) for i in range(0, 4000, 40)] + ['a' * 2000, 'ab ' * 500]
    for config in ('default', 'user_defined'):
        proto = model_pb2.ModelProto()
        with open(sp_models[config], 'rb') as f:
            proto.ParseFromString(f.read())
        for piece in proto.pieces:
            if piece.type == model_pb2.ModelProto.SentencePiece.NORMAL:
                piece.score *= factor
        path = str(tmp_path / f'{config}.model')
        with open(path, 'wb') as f:
            f.write(proto.SerializeToString())
        assert Tokenizer(path).encode_batch(texts) == processor(path).encode(texts), config


def test_decode_of_any_ids(sp_models):
    """Ids no encoding gives (control pieces, byte pieces that are not
    UTF-8, the unknown piece, leading spaces) decode as SentencePiece decodes them."""
    rng = random.Random(2)
    for config in ('byte_fallback', 'no_dummy_prefix', 'whitespace_kept', 'default'):
        sp = processor(sp_models[config])
        tok = Tokenizer(sp_models[config])
        size = sp.get_piece_size()
        special = [i for i in range(size) if sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i)]
        for _ in range(300):
            ids = [rng.choice(special) if rng.random() < 0.4 else rng.randrange(size) for _ in range(rng.randrange(8))]
            assert tok.decode(ids) == sp.decode(ids), (config, ids)


def test_offsets_match_sentencepiece(sp_models, corpus):
    for config in ('default', 'byte_fallback', 'no_dummy_prefix'):
        sp = processor(sp_models[config])
        tok = Tokenizer(sp_models[config])
        for text in corpus[1][:50] + HARD_STRINGS:
            proto = sp.encode(text, out_type='proto')
            data = text.encode('utf-8')
            expected = [(len(data[:p.begin].decode('utf-8', 'ignore')), len(data[:p.end].decode('utf-8', 'ignore')))
                        for p in proto.pieces]
            ids, offsets = tok.encode_with_offsets(text)
            assert ids == [p.id for p in proto.pieces]
            assert offsets == expected, (config, text)


def test_nbest_matches_sentencepiece(sp_models):
    for config in ('default', 'byte_fallback', 'user_defined'):
        sp = processor(sp_models[config])
        tok = Tokenizer(sp_models[config])
        for text in ('the cat sat on the mat', 'Linear B 𐀀𐀁 日本', 'x', '<sep> of §§'):
            ours = tok.nbest(text, 8)
            assert [ids for ids, _ in ours] == sp.nbest_encode(text, nbest_size=8), (config, text)
            assert all(a[1] >= b[1] for a, b in zip(ours, ours[1:]))


def two_sample_p(first, second):
    """p-value of a G-test that two samples of outcomes come from one
    distribution (categories with fewer than 10 draws in all pooled)."""
    total = first + second
    pooled = [k for k, c in total.items() if c < 10]
    cells = [k for k in total if k not in pooled]
    rows = [[first[k] for k in cells], [second[k] for k in cells]]
    if pooled:
        rows[0].append(sum(first[k] for k in pooled))
        rows[1].append(sum(second[k] for k in pooled))
    n = [sum(r) for r in rows]
    columns = [a + b for a, b in zip(*rows)]
    g = 0.0
    for r, row in enumerate(rows):
        for c, observed in enumerate(row):
            expected = n[r] * columns[c] / sum(n)
            if observed:
                g += 2 * observed * math.log(observed / expected)
    df = len(columns) - 1
    return 1.0 if df < 1 else chi2_sf(g, df)


@pytest.mark.parametrize('config', ['default', 'byte_fallback', 'user_defined'])
def test_sampling_distribution_matches_sentencepiece(sp_models, config):
    sp = processor(sp_models[config])
    tok = Tokenizer(sp_models[config])
    texts = ['the cat', 'print(x)', '日本語の', 'Linear 𐀀', '<sep> ab', 'naïve café']
    draws = 3000
    for alpha in (0.1, 1.0):
        for k, text in enumerate(texts):
            ours = Counter(tuple(ids) for ids in tok.encode_batch([text] * draws, alpha=alpha, seed=k))
            spm.set_random_generator_seed(k + 1)  # a fixed draw: the test passes or fails every time alike
            theirs = Counter(tuple(sp.encode(text, enable_sampling=True, alpha=alpha, nbest_size=-1))
                             for _ in range(draws))
            assert set(ours) <= set(theirs) | {ids for ids, c in ours.items() if c < 5}, text
            assert two_sample_p(ours, theirs) > 1e-4, (config, alpha, text)


def test_sampling_is_reproducible(sp_models):
    tok = Tokenizer(sp_models['default'], seed=5)
    texts = ['the cat sat', 'on the mat']
    first = tok.encode_batch(texts, alpha=0.5, seed=3)
    assert first == tok.encode_batch(texts, alpha=0.5, seed=3, num_threads=1)
    assert tok.encode_batch([texts[0]], alpha=0.5, seed=3)[0] == tok.encode(texts[0], alpha=0.5, seed=3)


def test_arrays_markers_save_and_pickle(sp_models, tmp_path):
    import pickle
    path = sp_models['byte_fallback']
    sp = processor(path)
    tok = Tokenizer(path)
    texts = ['the cat', '', 'Linear 𐀀']
    arrays = tok.encode_batch_to_numpy(texts, add_bos=True, add_eos=True)
    expected = [[sp.bos_id()] + ids + [sp.eos_id()] for ids in sp.encode(texts)]
    assert [arrays.ids[a:b].tolist() for a, b in zip(arrays.bounds[:-1], arrays.bounds[1:])] == expected
    assert tok.encode('the cat', add_bos=True) == [sp.bos_id()] + sp.encode('the cat')
    saved = tmp_path / 'copy.model'
    tok.save(saved)
    assert saved.read_bytes() == open(path, 'rb').read()
    clone = pickle.loads(pickle.dumps(tok))
    assert clone.encode_batch(texts) == sp.encode(texts)
    assert tok.model_format == 'sentencepiece'


def trained_proto(corpus, **options):
    model = io.BytesIO()
    lines = [line for line in corpus[0] if line.isascii()][:2000]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=300,
                                   hard_vocab_limit=False, num_threads=1, minloglevel=2, **options)
    proto = model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto


@pytest.mark.parametrize('model_type,name', [('bpe', 'BPE'), ('word', 'word'), ('char', 'char')])
def test_other_model_types_are_refused(corpus, tmp_path, model_type, name):
    proto = trained_proto(corpus, model_type=model_type)
    path = tmp_path / f'{model_type}.model'
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ValueError, match=f'is a SentencePiece {name} model; bytepiece reads SentencePiece unigram'):
        Tokenizer(str(path))


def test_damaged_files_are_refused(sp_models, tmp_path):
    data = open(sp_models['default'], 'rb').read()
    cut = tmp_path / 'cut.model'
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match='truncated'):
        Tokenizer(str(cut))
    with pytest.raises(ValueError, match='normalization'):
        Tokenizer(sp_models['default'], normalization='NFKC')
    with pytest.raises(ValueError, match='special_tokens'):
        Tokenizer(sp_models['default'], special_tokens=['<x>'])
    tok = Tokenizer(sp_models['default'])
    with pytest.raises(ValueError, match='add_special_tokens'):
        tok.add_special_tokens(['<x>'])
    with pytest.raises(ValueError, match='allowed_special'):
        tok.encode('x', allowed_special='all')


def test_statistics_are_finite(sp_models):
    tok = Tokenizer(sp_models['byte_fallback'])
    text = 'the cat 𐀀 日本'
    assert tok.log_likelihood(text) >= tok.nbest(text, 1)[0][1]
    assert tok.entropy(text, 0.5) > 0
    assert np.isfinite(tok.log_likelihood(text, 0.1))


def cli_run(argv, capsys):
    from bytepiece import cli
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_command_line_on_a_sentencepiece_model(sp_models, corpus, tmp_path, capsys):
    path = sp_models['byte_fallback']
    sp = processor(path)
    code, out, _ = cli_run(['info', '-m', path, '--text', 'Linear 𐀀 the cat'], capsys)
    assert code == 0 and 'SentencePiece unigram model' in out and 'byte fallback: on' in out
    lines = corpus[1][:50]
    infile = tmp_path / 'in.txt'
    infile.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    ids_file = tmp_path / 'ids.txt'
    assert cli_run(['encode', '-m', path, infile, '-o', ids_file], capsys)[0] == 0
    got = [[int(x) for x in line.split()] for line in ids_file.read_text().splitlines()]
    assert got == sp.encode(lines)
    code, out, _ = cli_run(['decode', '-m', path, ids_file], capsys)
    assert code == 0 and out.splitlines() == [sp.decode(ids) for ids in got]
    code, _, err = cli_run(['convert', '-m', path, '--to', 'bytepiece', tmp_path / 'x.model'], capsys)
    assert code == 2 and 'is a sentencepiece model' in err and not (tmp_path / 'x.model').exists()
    code, _, err = cli_run(['encode', '-m', path, '--normalization', 'NFKC', infile], capsys)
    assert code != 0 and 'normalization' in err


def test_decode_errors_apply_to_every_byte_piece(sp_models):
    tok = Tokenizer(sp_models['byte_fallback'])
    sp = processor(sp_models['byte_fallback'])
    word, cut = sp.piece_to_id('▁the'), sp.piece_to_id('<0xE6>')
    for ids in ([word, cut], [word, word, cut]):
        assert tok.decode(ids) == sp.decode(ids)
        with pytest.raises(UnicodeDecodeError):
            tok.decode(ids, errors='strict')
        assert '\ufffd' not in tok.decode(ids, errors='ignore')
    assert tok.decode_bytes([word, cut]) == b'the\xe6'


def test_a_subclass_reads_bytepiece_models_only(sp_models):
    class Mine(Tokenizer):
        pass
    with pytest.raises(ValueError, match='a subclass of Tokenizer reads BytePiece models only'):
        Mine(sp_models['default'])
