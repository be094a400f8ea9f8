"""HF Unigram ``tokenizer.json`` files loaded by ``Tokenizer``: HF tokenizers
is the oracle. The files are converted by transformers' converters from
SentencePiece models trained here (``sp_models``), and bytepiece's own
export loads back as the BytePiece model it holds."""

import json
import types
import warnings

import pytest

from bytepiece import Tokenizer
from conftest import HARD_STRINGS, model_path

tokenizers = pytest.importorskip('tokenizers')
converters = pytest.importorskip('transformers.convert_slow_tokenizer')
model_pb2 = pytest.importorskip('sentencepiece.sentencepiece_model_pb2')


def proto_of(path):
    proto = model_pb2.ModelProto()
    with open(path, 'rb') as f:
        proto.ParseFromString(f.read())
    return proto


def generic(path, legacy):
    proto = proto_of(path)
    return converters.SpmConverter.build_tokenizer_from_spm_proto(proto, [(p.piece, p.score) for p in proto.pieces],
                                                                  legacy=legacy)


def family(path, name):
    """transformers' converter for a model family, given what it reads of a slow tokenizer."""
    proto = proto_of(path)
    ids = {p.piece: i for i, p in enumerate(proto.pieces)}
    slow = types.SimpleNamespace(vocab_file=path, _extra_ids=0, add_prefix_space=True, legacy=True,
                                 do_lower_case=False, keep_accents=True, split_by_punct=False, eos_token='</s>',
                                 pad_token='<pad>', convert_ids_to_tokens=lambda i: proto.pieces[i].piece,
                                 convert_tokens_to_ids=lambda t: ids.get(t, 0))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return getattr(converters, name)(slow).converted()


def check(hf, tmp_path, texts):
    path = tmp_path / 'tokenizer.json'
    path.write_text(hf.to_str(), encoding='utf-8')
    hf = tokenizers.Tokenizer.from_file(str(path))  # HF's own reading of the file, as a user loads it
    tok = Tokenizer(str(path))
    assert tok.model_format == 'huggingface'
    expected = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    assert tok.encode_batch(texts) == expected
    for ids in expected:
        assert tok.decode(ids) == hf.decode(ids)
    return tok


CASES = [('default', 'generic'), ('default', 't5'), ('identity', 'generic'), ('nmt_nfkc_cf', 'generic'),
         ('byte_fallback', 'generic'), ('byte_fallback', 'LlamaConverter'), ('user_defined', 'generic'),
         ('split_digits', 't5'), ('no_dummy_prefix', 'generic'), ('whitespace_kept', 'generic')]


@pytest.mark.parametrize('config,converter', CASES)
def test_converted_files_give_hfs_ids(sp_models, corpus, tmp_path, config, converter):
    path = sp_models[config]
    if converter == 'generic':
        hf = generic(path, legacy=True)
    else:
        hf = family(path, 'T5Converter' if converter == 't5' else converter)
    check(hf, tmp_path, corpus[1] + HARD_STRINGS)


def test_non_legacy_conversion(sp_models, corpus, tmp_path):
    check(generic(sp_models['user_defined'], legacy=False), tmp_path, corpus[1][:100] + HARD_STRINGS)


def test_sampling_and_nbest_work_on_hf_files(sp_models, tmp_path):
    tok = check(generic(sp_models['byte_fallback'], legacy=True), tmp_path, ['x'])
    text = 'the cat 𐀀 sat'
    best = tok.nbest(text, 4)
    assert best[0][0] == tok.encode(text)
    draws = {tuple(tok.encode(text, alpha=0.5, seed=s)) for s in range(50)}
    assert len(draws) > 1 and all(tok.decode(list(d)) == tok.decode(tok.encode(text)) for d in draws)


def test_our_export_loads_back_as_the_model_it_holds(tmp_path):
    tok = Tokenizer(model_path('bytepiece.plus.40k'))
    tok.add_special_tokens(['<|end|>'])
    path = tmp_path / 'tokenizer.json'
    tok.convert_to_huggingface(str(path))
    back = Tokenizer(str(path))
    assert type(back) is Tokenizer and back.model_format == 'bytepiece'
    texts = HARD_STRINGS + ['def f(x):\n    return x ** 2  # ünïcödé 🙂', '<|end|> of text']
    assert back.encode_batch(texts) == tok.encode_batch(texts)
    assert back.special_tokens == ['<|end|>'] and back.normalization == tok.normalization
    hf = tokenizers.Tokenizer.from_file(str(path))
    assert back.encode_batch(texts[:-1]) == [e.ids for e in hf.encode_batch(texts[:-1], add_special_tokens=False)]


def test_other_hf_models_are_refused(tmp_path):
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(vocab={'a': 0, 'b': 1, 'ab': 2}, merges=[('a', 'b')]))
    path = tmp_path / 'bpe.json'
    path.write_text(bpe.to_str(), encoding='utf-8')
    with pytest.raises(ValueError, match='is a Hugging Face BPE tokenizer; bytepiece reads Unigram models only'):
        Tokenizer(str(path))
    obj = json.loads(bpe.to_str())
    with pytest.raises(ValueError, match='BPE'):
        Tokenizer(obj)


def test_hf_files_refuse_what_they_cannot_do(sp_models, tmp_path):
    tok = check(generic(sp_models['default'], legacy=True), tmp_path, ['x'])
    with pytest.raises(ValueError, match='offsets'):
        tok.encode_with_offsets('the cat')
    with pytest.raises(ValueError, match='add_bos'):
        tok.encode('the cat', add_bos=True)
    with pytest.raises(ValueError, match='normalization'):
        Tokenizer(str(tmp_path / 'tokenizer.json'), normalization='NFC')


def test_our_export_converts_back_with_the_same_scores(tmp_path, capsys):
    from bytepiece import cli
    tok = Tokenizer(model_path('bytepiece.plus.40k'))
    exported = tmp_path / 'tokenizer.json'
    tok.convert_to_huggingface(str(exported))
    back = tmp_path / 'back.model'
    assert cli.main(['convert', '-m', str(exported), '--to', 'bytepiece', str(back)]) == 0
    capsys.readouterr()
    again = Tokenizer(str(back))
    assert (again.vocab.scores == Tokenizer(str(exported)).vocab.scores).all()
    texts = HARD_STRINGS + ['def f(x):\n    return x ** 2  # ünïcödé 🙂']
    assert again.encode_batch(texts) == tok.encode_batch(texts)


def test_hf_tokenizers_pickle_and_read_files_starting_with_a_newline(sp_models, tmp_path):
    import pickle
    tok = check(generic(sp_models['default'], legacy=True), tmp_path, ['x'])
    clone = pickle.loads(pickle.dumps(tok))
    assert clone.encode_batch(HARD_STRINGS) == tok.encode_batch(HARD_STRINGS)
    shifted = tmp_path / 'newline.json'
    shifted.write_text('\n' + (tmp_path / 'tokenizer.json').read_text(encoding='utf-8'), encoding='utf-8')
    assert Tokenizer(str(shifted)).encode_batch(HARD_STRINGS) == tok.encode_batch(HARD_STRINGS)


def test_an_unknown_character_without_unk_id_is_an_error(tmp_path):
    path = tmp_path / 'no_unk.json'
    path.write_text(json.dumps({'model': {'type': 'Unigram', 'vocab': [['a', -1.0], ['b', -2.0]]}}))
    tok = Tokenizer(str(path))
    assert tok.encode('ab') == [0, 1]
    with pytest.raises(ValueError, match='no unknown piece'):
        tok.encode('abc')
    with pytest.raises(ValueError, match='names no type'):
        Tokenizer({'model': {'a': 1}})
