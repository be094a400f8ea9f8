"""Reading HF Unigram tokenizer.json files: ``split`` and ``decode`` against
the ``tokenizers`` library itself, on files its converters and API write."""

import io
import json
import os
import random
import re
import sys
import types
import unicodedata
import warnings

import pytest

from bytepiece.imports.huggingface import is_bytepiece_export, read_tokenizer_json, serde_f64

tokenizers = pytest.importorskip('tokenizers')
from tokenizers import AddedToken, Regex  # noqa: E402
from tokenizers import decoders as D  # noqa: E402
from tokenizers import normalizers as N  # noqa: E402
from tokenizers import pre_tokenizers as P  # noqa: E402
from tokenizers.models import Unigram  # noqa: E402

SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'bytepiece', 'data', 'sample')

HARD = [
    '', ' ', '  ', '   a', 'a   ', ' a  b ', 'a\tb', '\t', '\n', 'a\nb\n', '\r\n', ' \n ', 'x\x00y', '\x1c\x1f',
    '\x85\xa0\u3000', '▁', '▁▁a', ' ▁', 'a▁b', '<s>', 'a<s>b', ' <s> ', '<s><s>', '</s>x', '[MASK]', 'a [MASK] b',
    'a[MASK]b', 'Hello', 'hello HELLO', 'xHello', '😀', 'e\u0301', '\u0301a', 'ﬁ', 'İ', 'ΑΣ ΣΑ', '中文 字',
    '``quoted\'\'', '٣4', '\u200b\ufeff', 'Café', '  <s>  a', '▁<s>▁',
]
ALPHABET = ['a', 'b', 'ab', 'Hello', ' ', '  ', '\t', '\n', '\r', '\x00', '\x1c', '\x85', '\xa0', '\u3000', '▁',
            '<s>', '</s>', '[MASK]', 'é', 'e\u0301', 'ﬁ', 'İ', 'Σ', '中文', '😀', '``', "''", '٣', '\u200b', '.',
            '\ufeff']


def texts(n=150, seed=0):
    rng = random.Random(seed)
    return HARD + [''.join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 12))) for _ in range(n)]


def oracle(json_text):
    """The same tokenizer with every unknown character one token of its own text."""
    obj = json.loads(json_text)
    obj['model']['byte_fallback'] = False
    if obj['model']['unk_id'] is None:
        obj['model']['unk_id'] = 0
    return tokenizers.Tokenizer.from_str(json.dumps(obj))


def hf_split(tok, text):
    """HF's pre-tokens and added-token ids, from the tokens of each word."""
    added = {i: t.content for i, t in tok.get_added_tokens_decoder().items()}
    enc = tok.encode(text, add_special_tokens=False)
    words = {}
    for token_id, token, word in zip(enc.ids, enc.tokens, enc.word_ids):
        words.setdefault(word, []).append((token_id, token))
    out = []
    for word in words.values():
        alone = len(word) == 1 and word[0][0] in added
        out.append(word[0][0] if alone else ''.join(token for _, token in word))
    return out


def check(tok, tmp_path, strings=None):
    json_text = tok.to_str()
    path = tmp_path / 'tokenizer.json'
    path.write_text(json_text, encoding='utf-8')
    ours = read_tokenizer_json(path)
    reference = oracle(json_text)
    for text in strings or texts():
        assert ours.split(text) == hf_split(reference, text), repr(text)
    return ours


def char_model(extra=()):
    chars = sorted(set(''.join(ALPHABET)) | set('▁ "abcdefghijklmnopqrstuvwxyzσ.i\u0307') | set(extra))
    return Unigram([('<unk>', 0.0)] + [(c, -1.0 - i / 100) for i, c in enumerate(chars)], 0, False)


def with_added(tok):
    tok.add_tokens([AddedToken('<s>', normalized=False, special=True),
                    AddedToken('</s>', normalized=False, special=True, lstrip=True, rstrip=True),
                    AddedToken('[MASK]', normalized=False, special=True, single_word=True),
                    AddedToken('Hello', normalized=True)])
    return tok


def build(normalizer=None, pre_tokenizer=None, decoder=None, added=True):
    tok = tokenizers.Tokenizer(char_model())
    if normalizer is not None:
        tok.normalizer = normalizer
    if pre_tokenizer is not None:
        tok.pre_tokenizer = pre_tokenizer
    if decoder is not None:
        tok.decoder = decoder
    return with_added(tok) if added else tok


META_DECODE = D.Sequence([D.Replace('▁', ' '), D.ByteFallback(), D.Fuse(), D.Strip(' ', 1, 0)])

# What transformers' converters write around a SentencePiece model, and rarer components.
PIPELINES = {
    'none': (None, None),
    'llama-legacy': (N.Sequence([N.Prepend('▁'), N.Replace(' ', '▁')]), None),
    'llama': (None, P.Metaspace('▁', prepend_scheme='first', split=False)),
    't5': (N.Sequence([N.Strip(left=False, right=True), N.Replace(Regex(' {2,}'), '▁')]),
           P.Metaspace('▁', prepend_scheme='always')),
    'albert': (N.Sequence([N.Replace('``', '"'), N.Replace("''", '"'), N.NFKD(), N.StripAccents(), N.Lowercase(),
                           N.Replace(Regex(' {2,}'), ' ')]), P.Metaspace('▁', prepend_scheme='always')),
    'deberta-v2': (N.Sequence([N.Lowercase(), N.Strip(), N.Replace(Regex(' {2,}'), ' ')]),
                   P.Sequence([P.Metaspace('▁', prepend_scheme='first')])),
    'pegasus': (None, P.Sequence([P.WhitespaceSplit(), P.Metaspace('▁', prepend_scheme='first')])),
    'spm-no-legacy': (N.Sequence([N.Replace(Regex(r'\A +| +\z'), ''), N.Replace(Regex(' {2,}'), ' '),
                                  N.Replace(' ', '▁')]),
                      P.Sequence([P.Metaspace('▁', prepend_scheme='first', split=False),
                                  P.Split(Regex(r'<s>|\-x|\ y'), behavior='isolated')])),
    'spm-legacy': (N.Sequence([N.Replace(' ', '▁'), N.Replace(Regex('\\A▁'), '▁▁')]),
                   P.Metaspace('▁', prepend_scheme='always', split=False)),
    'gemma': (N.Replace(' ', '▁'), P.Split(' ', 'merged_with_previous')),
    'helium': (N.Sequence([N.Prepend(' '), N.Replace(' ', '▁')]), P.Split('\n', 'contiguous')),
    'omni-asr': (N.Sequence([N.Strip(), N.Replace(Regex(' {2,}'), ' ')]), P.Split(' ', behavior='merged_with_next')),
    'clip-like': (N.Sequence([N.NFC(), N.Replace(Regex(r'\s+'), ' '), N.Lowercase()]), P.Whitespace()),
    'nfkc-nmt': (N.Sequence([N.Nmt(), N.NFKC()]), P.Metaspace('▁', prepend_scheme='never')),
    'nfd-strip-left': (N.Sequence([N.NFD(), N.Strip(left=True, right=False)]),
                       P.Metaspace('▁', prepend_scheme='first', split=True)),
    'anchors': (N.Sequence([N.Replace(Regex('^a|b$'), 'X'), N.Replace(Regex(r'\Z'), '!'), N.Replace(Regex('x*'), '-')]),
                None),
    'empty-matches': (N.Sequence([N.Strip(), N.Replace(Regex('^|(?=b)|$'), '_')]),
                      P.Sequence([P.Split('_', 'isolated'), P.Metaspace('▁', prepend_scheme='first')])),
    'classes': (N.Replace(Regex(r'[\s\d][^a-c\x{e9}]?|\S{3,}?'), '_'), P.WhitespaceSplit()),
    'escapes-in-content': (N.Sequence([N.Replace(Regex(' {2,}'), '\\1\\g<0>\\'), N.Replace('a', '\\\\')]),
                           P.Metaspace('▁', prepend_scheme='first')),
}


@pytest.mark.parametrize('name', sorted(PIPELINES))
def test_split_matches_hf(name, tmp_path):
    normalizer, pre_tokenizer = PIPELINES[name]
    check(build(normalizer, pre_tokenizer), tmp_path)


@pytest.mark.parametrize('behavior', ['removed', 'isolated', 'merged_with_previous', 'merged_with_next', 'contiguous'])
@pytest.mark.parametrize('invert', [False, True])
def test_split_behaviors_match_hf(behavior, invert, tmp_path):
    pre = P.Sequence([P.Split(Regex(r'\s|a*'), behavior, invert), P.Split('▁', behavior, invert)])
    check(build(N.Replace(' ', '▁') if invert else None, pre), tmp_path, texts(60, seed=1))


@pytest.mark.parametrize('fields', [{'add_prefix_space': True}, {'add_prefix_space': False, 'prepend_scheme': 'never'},
                                    {'add_prefix_space': True, 'str_rep': '▁', 'split': False}])
def test_metaspace_legacy_fields_are_read(fields):
    obj = json.loads(build(None, P.Metaspace()).to_str())
    obj['pre_tokenizer'] = {'type': 'Metaspace', 'replacement': '▁', **fields}
    ours = read_tokenizer_json(obj)
    reference = oracle(json.dumps(obj))
    for text in texts(40):
        assert ours.split(text) == hf_split(reference, text)


def test_normalize_is_hfs_normalizer():
    tok = build(*PIPELINES['albert'])
    ours = read_tokenizer_json(json.loads(tok.to_str()))
    for text in texts(40):
        assert ours.normalize(text) == tok.normalizer.normalize_str(text)


def test_added_token_ids_are_hfs(tmp_path):
    tok = build(N.Lowercase())
    tok.add_tokens([AddedToken('a', normalized=False), AddedToken('NEW', special=True)])
    obj = json.loads(tok.to_str())
    for i, token in enumerate(obj['added_tokens']):
        token['id'] = 1000 + i  # HF does not use the file's ids
    reference = tokenizers.Tokenizer.from_str(json.dumps(obj))
    ours = read_tokenizer_json(obj)
    assert {t.id: t.content for t in ours.added_tokens} == {
        i: t.content for i, t in reference.get_added_tokens_decoder().items()}
    assert ours.split('a NEW new hello') == hf_split(reference, 'a NEW new hello')


def ids_to_decode(tok, rng, n=40):
    size = tok.get_vocab_size(with_added_tokens=True)
    byte_ids = [tok.token_to_id(f'<0x{b:02X}>') for b in (0xE4, 0xB8, 0xAD, 0xFF, 0x41)]
    pool = list(range(size)) + [i for i in byte_ids if i is not None] * 8 + [size + 5]
    return [[rng.choice(pool) for _ in range(rng.randint(0, 12))] for _ in range(n)]


DECODERS = {
    'spm': META_DECODE,
    'metaspace': D.Metaspace('▁', prepend_scheme='always'),
    'metaspace-never': D.Metaspace('▁', prepend_scheme='never'),
    'replace-regex': D.Sequence([D.Replace(Regex('▁+'), ' '), D.Fuse(), D.Strip('a', 2, 0)]),
    'none': None,
}


@pytest.mark.parametrize('name', sorted(DECODERS))
def test_decode_matches_hf(name):
    pieces = [('<unk>', 0.0)] + [(f'<0x{b:02X}>', -5.0) for b in range(256)] + [
        (p, -1.0) for p in ('▁', '▁a', 'a▁', '▁▁', 'ab', '中', '😀', ' ', 'aa', '<0x+F>', '<0x 1>', '<0xfg>')]
    tok = with_added(tokenizers.Tokenizer(Unigram(pieces, 0, True)))
    tok.add_tokens([AddedToken('hello', normalized=True), AddedToken('SPECIAL', normalized=True, special=True)])
    tok.normalizer = N.Lowercase()  # a normalized special token decodes lowercased, and is not skipped
    if DECODERS[name] is not None:
        tok.decoder = DECODERS[name]
    ours = read_tokenizer_json(json.loads(tok.to_str()))
    rng = random.Random(2)
    for ids in ids_to_decode(tok, rng) + [[1 + 0xE4, 1 + 0xB8, 1 + 0xAD], [1 + 0xE4, 1 + 0xB8], []]:
        for skip in (True, False):
            assert ours.decode(ids, skip_special_tokens=skip) == tok.decode(ids, skip_special_tokens=skip), ids


def sample_lines():
    with open(os.path.join(SAMPLE, 'python-tutorial.rst'), encoding='utf-8') as f:
        lines = f.read().splitlines()[:1500]
    return [line for line in lines if line.strip()]


def spm_proto(**options):
    sentencepiece = pytest.importorskip('sentencepiece')
    from sentencepiece import sentencepiece_model_pb2
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sample_lines()), model_writer=model, model_type='unigram',
        character_coverage=0.995, minloglevel=2, num_threads=1, **{'vocab_size': 300, **options})
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto


SPM_OPTIONS = {
    'identity-bytes': dict(normalization_rule_name='identity', byte_fallback=True, vocab_size=600,
                           user_defined_symbols=['<sep>', '-x']),
    'identity-no-prefix': dict(normalization_rule_name='identity', add_dummy_prefix=False),
    'identity-keep-spaces': dict(normalization_rule_name='identity', remove_extra_whitespaces=False,
                                 user_defined_symbols=[' y', '[MASK]']),
}


@pytest.mark.parametrize('legacy', [True, False])
@pytest.mark.parametrize('name', sorted(SPM_OPTIONS))
def test_sentencepiece_conversions_match_hf(name, legacy, tmp_path):
    converter = pytest.importorskip('transformers.convert_slow_tokenizer')
    proto = spm_proto(**SPM_OPTIONS[name])
    vocab = [(p.piece, p.score) for p in proto.pieces]
    tok = converter.SpmConverter.build_tokenizer_from_spm_proto(proto, vocab, legacy=legacy)
    tok.add_tokens([AddedToken(p.piece, normalized=False, special=p.type == 3)
                    for p in proto.pieces if p.type in (3, 4)])
    ours = check(tok, tmp_path, texts(80) + sample_lines()[:40])
    assert ours.pieces == [p for p, _ in vocab] and ours.byte_fallback == proto.trainer_spec.byte_fallback
    rng = random.Random(3)
    for ids in ids_to_decode(tok, rng) + [tok.encode(t, add_special_tokens=False).ids for t in texts(30)]:
        assert ours.decode(ids) == tok.decode(ids), ids


@pytest.fixture(scope='module')
def spm_file(tmp_path_factory):
    proto = spm_proto(normalization_rule_name='identity', byte_fallback=True, vocab_size=600,
                      user_defined_symbols=['<sep>'])
    path = tmp_path_factory.mktemp('spm') / 'spm.model'
    path.write_bytes(proto.SerializeToString())
    return proto, str(path)


def slow_tokenizer(proto, path, legacy):
    """What transformers' converters read from a slow tokenizer."""
    ids = {p.piece: i for i, p in enumerate(proto.pieces)}
    return types.SimpleNamespace(
        vocab_file=path, _extra_ids=3, add_prefix_space=True, legacy=legacy, do_lower_case=True,
        keep_accents=False, split_by_punct=False, eos_token='</s>', pad_token='<pad>',
        convert_ids_to_tokens=lambda i: proto.pieces[i].piece, convert_tokens_to_ids=lambda t: ids.get(t, 0))


@pytest.mark.parametrize('legacy', [True, False])
@pytest.mark.parametrize('name', ['T5Converter', 'LlamaConverter', 'AlbertConverter', 'XLNetConverter',
                                  'DebertaV2Converter', 'SpmConverter'])
def test_transformers_converters_match_hf(name, legacy, spm_file, tmp_path):
    converter = pytest.importorskip('transformers.convert_slow_tokenizer')
    proto, path = spm_file
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        tok = getattr(converter, name)(slow_tokenizer(proto, path, legacy)).converted()
    tok.add_tokens([AddedToken('[MASK]', normalized=True, lstrip=True), AddedToken('<extra_id_0>', special=True)])
    ours = check(tok, tmp_path, texts(80) + sample_lines()[:30])
    rng = random.Random(5)
    for ids in ids_to_decode(tok, rng) + [tok.encode(t, add_special_tokens=False).ids for t in texts(30)]:
        assert ours.decode(ids) == tok.decode(ids), ids


def nmt_nfkc_tokenizer():
    converter = pytest.importorskip('transformers.convert_slow_tokenizer')
    proto = spm_proto(normalization_rule_name='nmt_nfkc', byte_fallback=True, vocab_size=600)
    vocab = [(p.piece, p.score) for p in proto.pieces]
    tok = converter.SpmConverter.build_tokenizer_from_spm_proto(proto, vocab, legacy=False)
    return with_added(tok)


PRECOMPILED_TEXTS = ['\x01a', '\x01 a', '\u200b a', 'ｈｅｌｌｏ\u3000ｗｏｒｌｄ', '①②', 'ﬁ\x7f', '\ufeffa',
                     'e\u0301\u0301 x', '\U0001F469\u200d\U0001F469', 'Å', '\x00']


def test_precompiled_pipeline_with_hfs_own_normalizer(tmp_path, monkeypatch):
    # the reader's part alone: HF's Precompiled stands in for bytepiece.imports.charsmap and .hf_precompiled
    charsmap = types.ModuleType('bytepiece.imports.charsmap')
    charsmap.parse_charsmap = lambda blob: N.Precompiled(blob)
    precompiled = types.ModuleType('bytepiece.imports.hf_precompiled')
    precompiled.hf_inert = lambda rules: None
    precompiled.precompiled_hf = lambda rules, text, inert, alone: rules.normalize_str(text)
    monkeypatch.setitem(sys.modules, 'bytepiece.imports.charsmap', charsmap)
    monkeypatch.setitem(sys.modules, 'bytepiece.imports.hf_precompiled', precompiled)
    check(nmt_nfkc_tokenizer(), tmp_path, texts() + PRECOMPILED_TEXTS)


def test_precompiled_nmt_nfkc_matches_hf(tmp_path):
    # needs bytepiece.imports.charsmap
    check(nmt_nfkc_tokenizer(), tmp_path, texts() + PRECOMPILED_TEXTS)


def test_scores_are_read_as_hf_reads_them(tmp_path):
    rng = random.Random(4)
    strings = [repr(-rng.expovariate(0.1)) for _ in range(3000)] + ['-12.345678901234567890123', '0', '-3e-2']
    vocab = [[f'p{i}', 0.0] for i in range(len(strings))]
    obj = json.loads(build(added=False).to_str())
    obj['model']['vocab'] = vocab
    json_text = json.dumps(obj).replace('"vocab": ' + json.dumps(vocab), '"vocab": [' + ','.join(
        f'["p{i}", {s}]' for i, s in enumerate(strings)) + ']')
    (tmp_path / 't.json').write_text(json_text)
    held = [v[1] for v in json.loads(tokenizers.Tokenizer.from_str(json_text).to_str())['model']['vocab']]
    assert read_tokenizer_json(tmp_path / 't.json').scores == held
    assert [serde_f64(s) for s in strings] == held


def test_bytepiece_exports_are_recognised(tmp_path):
    from bytepiece.exports.huggingface import CHUNK_REGEX
    obj = json.loads(build(added=False).to_str())
    obj['model']['vocab'][:3] = [['<pad>', 0.0], ['<bos>', 0.0], ['<eos>', 0.0]]
    obj['pre_tokenizer'] = {'type': 'Sequence', 'pretokenizers': [
        {'type': 'Split', 'pattern': {'Regex': CHUNK_REGEX}, 'behavior': 'Isolated', 'invert': False},
        {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': False, 'use_regex': False}]}
    obj['decoder'] = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': False, 'use_regex': False}
    assert is_bytepiece_export(obj) and not is_bytepiece_export(json.loads(build().to_str()))
    with pytest.raises(ValueError, match='bytepiece exported'):
        read_tokenizer_json(obj)


def _file(tmp_path, obj):
    path = tmp_path / 'x.json'
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_errors_name_the_file_and_the_component(tmp_path):
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE({'a': 0}, []))
    with pytest.raises(ValueError, match=r"'.*x\.json' is a Hugging Face BPE tokenizer; bytepiece reads Unigram"):
        read_tokenizer_json(_file(tmp_path, bpe.to_str()))
    obj = json.loads(build(N.Sequence([N.NFC(), N.BertNormalizer()])).to_str())
    message = r"x\.json': normalizer\.normalizers\[1\]: the normalizer type 'BertNormalizer'"
    with pytest.raises(ValueError, match=message):
        read_tokenizer_json(_file(tmp_path, obj))
    obj = json.loads(build(None, P.ByteLevel()).to_str())
    with pytest.raises(ValueError, match="pre_tokenizer: the pre-tokenizer type 'ByteLevel' is not supported"):
        read_tokenizer_json(_file(tmp_path, obj))
    obj = json.loads(build(N.Replace(Regex(r'\w+'), '')).to_str())
    with pytest.raises(ValueError, match=r"normalizer\.pattern\.Regex '\\\\w\+' is not supported"):
        read_tokenizer_json(_file(tmp_path, obj))
    with pytest.raises(ValueError, match='not valid JSON'):
        read_tokenizer_json(_file(tmp_path, '{"model": '))
    obj = json.loads(build().to_str())
    del obj['model']['vocab']
    with pytest.raises(ValueError, match="model: missing key 'vocab'"):
        read_tokenizer_json(_file(tmp_path, obj))
    obj = json.loads(build().to_str())
    obj['model']['vocab'][3] = ['a', 'high']
    with pytest.raises(ValueError, match=r'model\.vocab\[3\]: expected \[piece, score\]'):
        read_tokenizer_json(_file(tmp_path, obj))
    obj = json.loads(build().to_str())
    obj['added_tokens'][0]['content'] = 7
    with pytest.raises(ValueError, match=r'added_tokens\[0\]\.content: expected str'):
        read_tokenizer_json(_file(tmp_path, obj))


PATTERNS = [r'\A +| +\z', ' {2,}', r'\A▁', r'\s+', r'[^\s]', r'\S+?', r'\d+', 'a{,2}', r'(a|b)*', r'(?<=a)b',
            r'(?<!a)b', r'(?!a).', r'\x41', r'\x{1F600}', r'\u00e9', r'[\x{e9}-\x{ff}]', r'\-|\ |\.', r'$\n?', '^$',
            r'\Z', '^', '$', r'\z', '.*', 'a|', '|a', 'a??', r'[\s\d]+', r'\D', r'[]a]', r'[^]a-]', r'\e|\v', '[$^]',
            'x{2,3}?', '{', '\u2581+', ' ?[^ ]+']
REFUSED = [r'\w+', r'\bx', r'\p{L}', '(?i)a', '(?<name>a)', 'a*+', '[[:alpha:]]', '[a-z&&[^b]]', r'\h', r'(a)\1', r'\K']


def test_oniguruma_patterns_match_hf():
    from bytepiece.imports.hf_regex import translate_oniguruma
    from bytepiece.imports.hf_text import replaced
    rng = random.Random(6)
    alphabet = ['a', 'b', 'ab', ' ', '  ', '\t', '\n', '\r', '\x0b', '\x1c', '\x85', '\xa0', '\u3000', '▁', 'é', '😀',
                '٣', '1', 'A', '.', '$', ']', '-', '\u200b']
    strings = ['', 'a', '\n', 'a\n', '\n\n', ' a '] + [
        ''.join(rng.choice(alphabet) for _ in range(rng.randint(1, 10))) for _ in range(300)]
    for pattern in PATTERNS:
        hf = N.Replace(Regex(pattern), '<>')
        ours = re.compile(translate_oniguruma(pattern))
        for s in strings:
            assert replaced(ours, '<>', s, None)[0] == hf.normalize_str(s), (pattern, s)


@pytest.mark.parametrize('pattern', REFUSED)
def test_untranslatable_patterns_are_refused(pattern):
    from bytepiece.imports.hf_regex import Untranslatable, translate_oniguruma
    with pytest.raises(Untranslatable):
        translate_oniguruma(pattern)


def assigned_characters():
    return [chr(cp) for cp in range(0x20, 0x30000)
            if not 0xD800 <= cp < 0xE000 and unicodedata.category(chr(cp)) != 'Cn']


def test_unicode_classes_match_hf_for_every_assigned_character():
    # HF's tables are newer than Python's: characters Python does not know are left out
    from bytepiece.imports.hf_text import normalizer, pre_tokenizer
    chars = assigned_characters()
    text = ' '.join(f'a{c}.' for c in chars)
    ours = pre_tokenizer({'type': 'Whitespace'}, 'test')
    assert [t for t, _ in ours([(text, None)])] == [t for t, _ in P.Whitespace().pre_tokenize_str(text)]
    text = ''.join(chars)
    assert normalizer({'type': 'Lowercase'}, 'test')(text, None)[0] == N.Lowercase().normalize_str(text)
    assert normalizer({'type': 'Strip', 'strip_left': True, 'strip_right': True}, 'test')(
        f'{text}x{text}', None)[0] == N.Strip().normalize_str(f'{text}x{text}')


@pytest.mark.parametrize('pattern', [r' {2,}', r'\A +| +\z', r'\A▁', r'a|bc', r'(?<=a)b+', r'b+(?=a)'])
def test_replace_by_sub_equals_hfs_iteration(pattern):
    from bytepiece.imports.hf_regex import compile_pattern, never_empty
    from bytepiece.imports.hf_text import replaced
    regex = compile_pattern({'Regex': pattern}, 'pattern')
    assert never_empty(regex)
    rng = random.Random(5)
    for _ in range(3000):
        text = ''.join(rng.choice('ab ▁') for _ in range(rng.randrange(0, 9)))
        for content in ('', 'X', 'YZ'):
            for head in (None, 0, 1, 2, 3, len(text)):
                assert replaced(regex, content, text, head, True) == replaced(regex, content, text, head), \
                    (text, content, head)


def test_a_lone_surrogate_made_by_the_file_names_the_text(tmp_path):
    from bytepiece import Tokenizer
    obj = json.loads(build(None, None, added=False).to_str())
    obj['normalizer'] = {'type': 'Replace', 'pattern': {'String': 'b'}, 'content': '\ud800'}  # HF refuses such a file
    path = tmp_path / 'tokenizer.json'
    path.write_text(json.dumps(obj), encoding='utf-8')
    tok = Tokenizer(str(path))
    assert tok.encode_batch(['a', 'a']) == [tok.encode('a')] * 2
    with pytest.raises(ValueError, match=r'lone surrogate') as error:
        tok.encode_batch(['a', 'ab'])
    assert 'text 1' in str(error.value) and type(error.value) is ValueError
