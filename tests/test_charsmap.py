"""SentencePiece's normalization rules and normalizer (bytepiece.imports.charsmap)
against SentencePiece itself, and the HF reading of the rules against HF's
``Precompiled`` normalizer."""

import io
import itertools
import os
import pickle
import random
import sys

import numpy as np
import pytest

spm = pytest.importorskip('sentencepiece')
pb = pytest.importorskip('sentencepiece.sentencepiece_model_pb2')

from conftest import FIXTURES  # noqa: E402

from bytepiece.imports.charsmap import SentencePieceNormalizer, parse_charsmap  # noqa: E402
from bytepiece.imports.hf_precompiled import hf_inert, precompiled_hf  # noqa: E402

SAMPLE = os.path.join(os.path.dirname(FIXTURES), '..', 'bytepiece', 'data', 'sample', 'python-tutorial.rst')
RULE_NAMES = ['nmt_nfkc', 'nfkc', 'nmt_nfkc_cf', 'nfkc_cf', 'identity']
USER_DEFINED = ['<b>', 'ab', 'ﬁ', 'x y', '\u3000']
FLAG_NAMES = ('add_dummy_prefix', 'remove_extra_whitespaces', 'escape_whitespaces', 'treat_whitespace_as_suffix')
# Custom rules (source code points, replacement code points): multi-character
# keys sharing prefixes, deletions, expansions, rules that make spaces.
CUSTOM_RULES = [
    ('41', '61'), ('41 42', '58'), ('41 42 43', '59 20'), ('43', ''), ('44', '45 20 46'),
    ('3000', '20'), ('20 20', '20'), ('9', '20 20'), ('65 301', 'E9'), ('200D', ''),
    ('1F44D 1F3FD', '1F44D'), ('FB01', '66 69'), ('915 93C', '958'), ('1100 1161', 'AC00'),
]
HARD_TEXTS = [
    '', ' ', '   ', ' a', 'a ', '  a  b  ', 'a\tb\nc\rd\r\n', '\t', ' \t \n ', '\x00', 'a\x00b', '\x01\x1f\x7f\x85',
    '\u3000', '\u3000a\u3000\u3000b\u3000', 'Ｈｅｌｌｏ，ｗｏｒｌｄ！', 'ﬁﬂﬃ', '\u0301', 'a\u0301', 'e\u0301\u0302\u0323',
    'A\u0301', 'Ａ\u0301', '\u1100\u1161\u11a8', '\u1100\u1161', 'क़ क़ क्ष क्षि', '👨\u200d👩\u200d👧\u200d👦',
    '🇯🇵🇺🇸', '👍🏽 👍', '\ufffd', '\ue000\U000F0000\U0010FFFD\u0378\U000E0001', '²³½ ™ ℃', 'ﷺ', 'ｶﾞ ﾊﾟ',
    '\u2126 Ω', 'ǅ İ ß ẞ', '\u00a0\u2002\u202f', '▁', 'a ▁', '▁ ▁', '<b>', ' <b> ', 'abab cab', 'x y', 'x  y',
    'ABC ABD AB A', 'DDD', 'CCC', ' C ', 'C a C', '\t\t', 'e\u0301 é', '\u200d', 'ﬁ ab',
]


def dev_chars():
    with open(os.path.join(FIXTURES, 'dev_chars.txt'), encoding='utf-8') as f:
        return f.read().strip()


def random_texts(count, seed, max_length=40):
    """Texts mostly of ASCII and the dev corpus's characters, with spaces and
    the hard strings mixed in."""
    rng = random.Random(seed)
    alphabet = dev_chars() + 'abcdeABCDxy  \t\n'
    pieces = HARD_TEXTS + [c for c, _ in CUSTOM_RULES]
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randrange(max_length)):
            if rng.random() < 0.1:
                parts.append(rng.choice(pieces))
            else:
                parts.append(rng.choice(alphabet))
        texts.append(''.join(parts))
    return texts


def custom_tsv(path):
    path.write_text(''.join(f'{src}\t{dst}\n' for src, dst in CUSTOM_RULES), encoding='utf-8')
    return str(path)


def train(rule_name=None, rule_tsv=None, user_defined=()):
    with open(SAMPLE, encoding='utf-8') as f:
        lines = f.read().splitlines()[:400]
    model = io.BytesIO()
    kwargs = {'normalization_rule_tsv': rule_tsv} if rule_tsv else {'normalization_rule_name': rule_name}
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=150,
                                   user_defined_symbols=list(user_defined), minloglevel=2, **kwargs)
    return pb.ModelProto.FromString(model.getvalue())


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """Per rule set: the model proto (user-defined symbols included) and its parsed rules."""
    tsv = custom_tsv(tmp_path_factory.mktemp('rules') / 'custom.tsv')
    found = {name: train(name, user_defined=USER_DEFINED) for name in RULE_NAMES}
    found['custom'] = train(rule_tsv=tsv, user_defined=USER_DEFINED)
    return {name: (proto, parse_charsmap(proto.normalizer_spec.precompiled_charsmap)) for name, proto in found.items()}


def processor(proto, flags):
    """SentencePiece's processor of ``proto`` with its normalizer's flags set."""
    proto = pb.ModelProto.FromString(proto.SerializeToString())
    for name, value in flags.items():
        spec = proto.trainer_spec if name == 'treat_whitespace_as_suffix' else proto.normalizer_spec
        setattr(spec, name, value)
    return spm.SentencePieceProcessor(model_proto=proto.SerializeToString())


def ours(rules, flags, user_defined=USER_DEFINED):
    return SentencePieceNormalizer(rules, user_defined=user_defined, **flags)


def assert_same(normalizer, sp, texts):
    """Our batch, with alignment and without, against SentencePiece text by text."""
    buf, bounds, align = normalizer.normalize_batch(texts, alignment=True)
    plain_buf, plain_bounds, none = normalizer.normalize_batch(texts)
    assert none is None and plain_buf.tobytes() == buf.tobytes() and plain_bounds.tolist() == bounds.tolist()
    assert align.size == buf.size + len(texts)
    for t, text in enumerate(texts):
        expected, expected_align = sp.Normalize(text.encode('utf-8'), with_offsets=True)
        assert buf[bounds[t]:bounds[t + 1]].tobytes() == expected, (t, text)
        got_align = align[bounds[t] + t:bounds[t + 1] + t + 1].tolist()
        # SentencePiece gives no entry for an empty or all-space text; we give where it ends
        assert got_align == (expected_align or [len(text.encode('utf-8'))]), (t, text)


def all_flags():
    for values in itertools.product((False, True), repeat=4):
        yield dict(zip(FLAG_NAMES, values))


@pytest.mark.parametrize('name', ['nmt_nfkc', 'custom'])
def test_every_flag_combination_matches_sentencepiece(models, name):
    proto, rules = models[name]
    normalizer = ours(rules, dict.fromkeys(FLAG_NAMES, False))
    texts = HARD_TEXTS + random_texts(60, seed=len(name))
    for flags in all_flags():
        assert_same(normalizer.with_options(**flags), processor(proto, flags), texts)


@pytest.mark.parametrize('name', ['nmt_nfkc', 'custom'])
def test_one_byte_space_is_sentencepieces_text_with_each_u2581_as_a_space(models, name):
    """The encoders' form: every U+2581 of SentencePiece's result (escaped
    spaces and the text's own) is the one byte 0x20, aligned as its first
    byte was."""
    proto, rules = models[name]
    texts = HARD_TEXTS + random_texts(60, seed=7) + ['\u2581x \u2581', ' \u2581\u2581 ', 'a\u2581\u2581b  c\u2581']
    for flags in all_flags():
        if not flags['escape_whitespaces']:
            continue
        normalizer = ours(rules, flags).with_options()
        compact = SentencePieceNormalizer(rules, user_defined=USER_DEFINED, one_byte_space=True, **flags)
        sp = processor(proto, flags)
        buf, bounds, align = compact.normalize_batch(texts, alignment=True)
        for t, text in enumerate(texts):
            expected, expected_align = sp.Normalize(text.encode('utf-8'), with_offsets=True)
            expected_align = expected_align or [len(text.encode('utf-8'))]
            keep = [True] * len(expected) + [True]
            for j in range(len(expected) - 2):
                if expected[j:j + 3] == '\u2581'.encode('utf-8') and keep[j]:
                    keep[j + 1] = keep[j + 2] = False
            assert buf[bounds[t]:bounds[t + 1]].tobytes() == expected.replace('\u2581'.encode('utf-8'), b' '), text
            assert align[bounds[t] + t:bounds[t + 1] + t + 1].tolist() == [
                a for a, k in zip(expected_align, keep) if k], text
        assert normalizer.one_byte_space is False


@pytest.mark.parametrize('name', RULE_NAMES + ['custom'])
def test_each_rule_set_matches_sentencepiece(models, name):
    proto, rules = models[name]
    texts = HARD_TEXTS + random_texts(200, seed=7)
    spec = proto.normalizer_spec
    flags = {'add_dummy_prefix': spec.add_dummy_prefix, 'remove_extra_whitespaces': spec.remove_extra_whitespaces,
             'escape_whitespaces': spec.escape_whitespaces}
    normalizer = ours(rules, flags)
    assert_same(normalizer, processor(proto, {}), texts)
    for flags in ({'treat_whitespace_as_suffix': True}, {'remove_extra_whitespaces': False}):
        assert_same(normalizer.with_options(**flags), processor(proto, flags), texts)


def test_without_user_symbols_matches_sentencepieces_normalizer(models):
    proto, rules = models['nmt_nfkc_cf']
    sp = spm.SentencePieceNormalizer(rule_name='nmt_nfkc_cf', add_dummy_prefix=True, escape_whitespaces=True,
                                     remove_extra_whitespaces=True)
    normalizer = ours(rules, dict.fromkeys(FLAG_NAMES[:3], True), user_defined=())
    texts = HARD_TEXTS + random_texts(100, seed=3)
    assert_same(normalizer, sp, texts)
    assert [normalizer.normalize(t) for t in texts] == [sp.normalize(t) for t in texts]


def test_long_text(models):
    proto, rules = models['nmt_nfkc']
    text = ''.join(random_texts(1000, seed=11, max_length=100))
    assert len(text) > 40_000
    assert_same(ours(rules, dict.fromkeys(FLAG_NAMES[:3], True)), processor(proto, {}), [text, text[::-1]])


def test_custom_rules_parse_back_exactly(models):
    _, rules = models['custom']
    expected = {''.join(chr(int(c, 16)) for c in src.split()).encode('utf-8'):
                ''.join(chr(int(c, 16)) for c in dst.split()).encode('utf-8') for src, dst in CUSTOM_RULES}
    assert rules == expected


def test_empty_charsmap_is_the_identity(models):
    assert parse_charsmap(b'') == {} and models['identity'][1] == {}


def test_broken_charsmaps_are_value_errors(models):
    blob = models['custom'][0].normalizer_spec.precompiled_charsmap
    trie_size = int.from_bytes(blob[:4], 'little')
    with pytest.raises(ValueError, match='truncated'):
        parse_charsmap(blob[:3])
    with pytest.raises(ValueError, match='exceeds'):
        parse_charsmap(blob[:trie_size])
    with pytest.raises(ValueError, match='multiple of 4'):
        parse_charsmap((trie_size + 2).to_bytes(4, 'little') + blob[4:])
    with pytest.raises(ValueError, match='terminating NUL|past the end of the replacements'):
        parse_charsmap(blob[:4 + trie_size + 1])
    with pytest.raises(ValueError, match='past the end of the double array'):
        parse_charsmap((8).to_bytes(4, 'little') + (0xFFFFFC00).to_bytes(4, 'little') * 2 + b'x\0')
    units = np.zeros(256, '<u4')
    units[0] = 2 << 10  # the root's child along byte 3 is unit 2 ^ 3 = 1
    units[1] = 3 | (3 << 10)  # label 3, and its own child along byte 3 (1 ^ 3 ^ 3)
    with pytest.raises(ValueError, match='cycle'):
        parse_charsmap((units.size * 4).to_bytes(4, 'little') + units.tobytes() + b'x\0')


def test_lone_surrogate_names_the_text_and_character(models):
    normalizer = ours(models['custom'][1], dict.fromkeys(FLAG_NAMES, False))
    with pytest.raises(ValueError, match='at character 1 of text 1'):
        normalizer.normalize_batch(['ok', 'a\ud800b'])
    with pytest.raises(ValueError, match='at character 2'):
        normalizer.normalize('ab\udfff')


def test_bad_arguments_are_clear_errors():
    with pytest.raises(TypeError, match='bytes to bytes'):
        SentencePieceNormalizer({'a': b'b'}, add_dummy_prefix=True, remove_extra_whitespaces=True,
                                escape_whitespaces=True)
    with pytest.raises(ValueError, match='empty'):
        SentencePieceNormalizer({b'': b'b'}, add_dummy_prefix=True, remove_extra_whitespaces=True,
                                escape_whitespaces=True)
    with pytest.raises(ValueError, match=r'user_defined\[1\]'):
        SentencePieceNormalizer({}, add_dummy_prefix=True, remove_extra_whitespaces=True,
                                escape_whitespaces=True, user_defined=['a', ''])
    with pytest.raises(TypeError, match='flags'):
        SentencePieceNormalizer({}, add_dummy_prefix=True, remove_extra_whitespaces=True,
                                escape_whitespaces=True).with_options(user_defined=['a'])


def test_copied_characters_normalize_as_the_trie_walk_does():
    """The kernel copies a character without a trie walk where its class
    allows; with no character copied (every one walked) the result, and the
    alignment, must be the same, for keys cut inside a character, malformed
    keys, keys of two characters and user-defined symbols."""
    rules = {b'\xe4\xb8': b'X', b'\xcc': b'Y', b'\xe4A': b'Z', 'e\u0301'.encode(): b'E', 'ка'.encode(): b'K',
             'ж\u0306'.encode(): b'J', b'q\xd0': b'Q', '中'.encode(): '国'.encode(), b'\xf0\x9f': b'F'}
    user = ['иван', '한']
    rng = random.Random(3)
    alphabet = ['a', 'e', 'q', ' ', '\u0301', 'к', 'а', 'ж', '\u0306', 'и', 'в', 'н', '中', '一', '丁', '한', '국',
                '\U0001F600', 'ш', '\u2581', 'A']
    texts = [''.join(rng.choice(alphabet) for _ in range(rng.randrange(30))) for _ in range(300)]
    for flags in all_flags():
        for one_byte_space in (False, True):
            fast = SentencePieceNormalizer(rules, user_defined=user, one_byte_space=one_byte_space, **flags)
            walked = SentencePieceNormalizer(rules, user_defined=user, one_byte_space=one_byte_space, **flags)
            walked._tables = walked._tables[:-1] + (np.zeros_like(walked._tables[-1]),)
            got, expected = fast.normalize_batch(texts, True), walked.normalize_batch(texts, True)
            assert [a.tolist() for a in got] == [a.tolist() for a in expected], flags


def test_malformed_bytes_are_replacement_characters():
    from bytepiece.imports.charsmap import char_classes, compile_keys
    from bytepiece.kernels.normalize import normalize_batch
    rule_units, rule_value = compile_keys([b'A'])
    user_units, user_value = compile_keys([])
    text = b'\xffA\xc3\x28\xe0\x80\x80\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82'
    buf = np.frombuffer(bytearray(text), np.uint8)
    pool = np.frombuffer(bytearray(b'a\xef\xbf\xbd'), np.uint8)  # 'A' is replaced by 'a'; the last: U+FFFD
    out, bounds, align = normalize_batch(buf, np.array([0, len(text)], np.int64), pool, np.array([0, 1, 4]),
                                         rule_units, rule_value, user_units, user_value, char_classes([b'A'], []),
                                         (False, False, False, False, True, False))
    assert out.tobytes() == b'\xef\xbf\xbda' + b'\xef\xbf\xbd(' + b'\xef\xbf\xbd' * 12
    assert align[:8].tolist() == [0, 0, 0, 1, 2, 2, 2, 3]


def test_pickles(models):
    normalizer = ours(models['custom'][1], {'add_dummy_prefix': True, 'remove_extra_whitespaces': True,
                                            'escape_whitespaces': True, 'treat_whitespace_as_suffix': True})
    copy = pickle.loads(pickle.dumps(normalizer))
    assert copy.settings() == normalizer.settings()
    texts = HARD_TEXTS + random_texts(20, seed=5)
    assert [copy.normalize(t) for t in texts] == [normalizer.normalize(t) for t in texts]


# Characters whose grapheme clusters are intricate: combining marks, ZWJ,
# emoji modifiers and flags, Hangul jamo, viramas (UAX #29's GB9c), prepend
# and spacing marks, tag characters.
GRAPHEME_CHARS = ('aAeE \r\n\t\x00\u0301\u0308\u0323\u200d\ufe0f\U0001F44D\U0001F3FD\U0001F1EF\U0001F1F5'
                  '\u1100\u1161\u11a8\u115f\u1160\uac00\u0915\u094d\u0937\u093c\u093f\u0903\u0600\u0e33'
                  '\U0001F468\u2764\u00a0\u3000Ａﬁ\U000E0020\U000E007F\U0001F3F4\u0d4e\U000110bd'
                  '\x07\u200c\u0995\u09cd\U0001F469')


def test_hf_grapheme_clusters(models):
    normalizers = pytest.importorskip('tokenizers.normalizers')
    proto, rules = models['custom']
    hf = normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap)
    rng = random.Random(17)
    texts = [''.join(rng.choice(GRAPHEME_CHARS) for _ in range(rng.randrange(1, 10))) for _ in range(3000)]
    texts += ['A\u094d\u0937', '\u0915\u094d\u0937', 'A\u0301\u094d\u0937', '\u0915\u093c\u0937']
    expected = [hf.normalize_str(t) for t in texts]
    assert [precompiled_hf(rules, t) for t in texts] == expected
    inert = hf_inert(rules)
    assert [precompiled_hf(rules, t, inert) for t in texts] == expected


@pytest.mark.parametrize('name', ['nmt_nfkc', 'nfkc_cf', 'custom'])
def test_hf_precompiled(models, name):
    normalizers = pytest.importorskip('tokenizers.normalizers')
    proto, rules = models[name]
    hf = normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap)
    texts = HARD_TEXTS + random_texts(300, seed=13) + ['A\u0301\u0301 Ａ\u0301 ABC\u0301 क़\u093c 👍🏽\u0301 ab\r\nc']
    expected = [hf.normalize_str(t) for t in texts]
    assert [precompiled_hf(rules, t) for t in texts] == expected
    inert = hf_inert(rules)  # the fast path: graphemes of one inert character copied
    assert [precompiled_hf(rules, t, inert) for t in texts] == expected


def test_hf_precompiled_needs_regex_only_for_non_ascii_text(models, monkeypatch):
    from bytepiece.imports import hf_precompiled
    _, rules = models['nmt_nfkc']
    inert = hf_inert(rules)
    ascii_text, other = 'a\r\nb \x07 c\t', 'e\u0301 \uff21'
    expected = precompiled_hf(rules, ascii_text)
    monkeypatch.setitem(sys.modules, 'regex', None)
    monkeypatch.setattr(hf_precompiled, '_JOINERS', [])  # as in a process that has not built the table
    assert precompiled_hf(rules, ascii_text, inert) == expected
    with pytest.raises(ImportError, match='pip install regex'):
        precompiled_hf(rules, other, inert)


def test_hf_inert_marks_cut_and_malformed_keys():
    rules = {b'\xe4': b'X', b'\xd0\xb8\xcc\x86': b'J', b'a': b'b', b'\xe5\xb8': b'Y', b'\xf0\x9f\x98\x80': b'!'}
    inert = hf_inert(rules)
    assert not inert[0x4E00] and not inert[0x4FFF] and inert[0x5000 - 0x1001]  # lead 0xE4: U+4000-U+4FFF
    assert not inert[0x5E00] and not inert[0x5E3F]  # 0xE5 0xB8 cut: its lead's characters at least
    assert inert[ord('и')]  # a key of two characters concerns graphemes of two
    assert not inert[ord('a')] and not inert[0x1F600] and inert[ord('b')]
    texts = ['一丁 a\u0301 и\u0306 😀 帀 b', 'abc', '']
    assert [precompiled_hf(rules, t, inert) for t in texts] == [precompiled_hf(rules, t) for t in texts]
