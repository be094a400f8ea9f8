"""The tokenizer: golden parity with BytePiece
0.6.3, round trips, the reference API and bad input."""

import os
import re
import unicodedata

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bytepiece import Tokenizer
from bytepiece.core.model import model_dict

from conftest import make_tokenizer, small_vocab

# --- golden parity ---------------------------------------------------------------


def test_golden_ids_and_pieces(golden):
    name, tok, records = golden
    assert len(records) == 213
    bad = []
    for index, record in enumerate(records):
        ids = tok.encode(record['text'])
        pieces = tok.tokenize(record['text'])
        if ids != record['ids'] or pieces != record['pieces']:
            bad.append(index)
    assert not bad, f'{name}: {len(bad)}/{len(records)} texts differ from BytePiece 0.6.3, first {bad[:5]}'


def test_golden_batch_equals_reference(golden):
    name, tok, records = golden
    texts = [r['text'] for r in records]
    assert tok.encode_batch(texts) == [r['ids'] for r in records]
    assert tok.tokenize_batch(texts, num_threads=1) == [r['pieces'] for r in records]


def test_golden_decode(golden):
    """decode() is the reference's: pieces joined, UTF-8 decoded with errors='ignore'."""
    name, tok, records = golden
    for record in records:
        expected = b''.join(record['pieces']).decode('utf-8', errors='ignore')
        assert tok.decode(record['ids']) == expected
        assert tok.decode_bytes(record['ids']) == b''.join(record['pieces'])


def test_golden_covers_edge_cases(golden80k):
    texts = [r['text'] for r in golden80k]
    assert '' in texts
    assert any(t and set(t) == {'\n'} for t in texts)


# --- round trips -------------------------------------------------------------------

SPECIAL_TEXTS = [
    '',
    '\n',
    '\n\n\n',
    ' ',
    '\t\r\n\x0b\x0c',
    'e\u0301 a\u0308 n\u0303 \u1100\u1161\u11a8',  # combining marks / conjoining jamo (not NFC)
    'Å Å Ω Ω ﬁ',  # composed / decomposed / compatibility forms
    '😀 👍🏽 👨‍👩‍👧 🇫🇷 🏳️‍🌈',  # emoji, modifiers, ZWJ sequences, flags
    '\x00\x01\x02\x7f\x80\x9f\u200b\u200d\ufeff',  # control and format characters
    'abc\n\ndef\n',
    '中文字节级分词，混合 English and ½ ² ٣ ๓ digits 12345',
    '\U0010ffff\ue000\ufffd',
]

text_strategy = st.text(
    alphabet=st.characters(blacklist_categories=('Cs',)), max_size=200
) | st.text(alphabet=st.sampled_from('ab \n\u0301e\u00e9\u4e2d😀\x00\t'), max_size=100)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=text_strategy)
def test_round_trip_nfc_property(tok80k, tok40k, text):
    nfc = unicodedata.normalize('NFC', text)
    assert tok80k.decode(tok80k.encode(text)) == nfc
    assert tok40k.decode(tok40k.encode(text)) == nfc
    assert b''.join(tok80k.tokenize(text)) == nfc.encode('utf-8')
    assert tok80k.decode(tok80k.encode(text, alpha=0.1)) == nfc


@settings(max_examples=200, deadline=None)
@given(text=text_strategy)
def test_round_trip_without_normalization_property(tok80k_raw, text):
    assert tok80k_raw.decode(tok80k_raw.encode(text)) == text
    assert tok80k_raw.decode(tok80k_raw.encode(text, alpha=0.5)) == text
    assert b''.join(tok80k_raw.tokenize(text)) == text.encode('utf-8')


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(text_strategy, max_size=8), seed=st.integers(0, 2**64 - 1))
def test_batch_equals_per_text_property(tok80k, texts, seed):
    assert tok80k.encode_batch(texts, num_threads=1) == [tok80k.encode(t) for t in texts]
    assert tok80k.tokenize_batch(texts, num_threads=1) == [tok80k.tokenize(t) for t in texts]
    sampled = tok80k.encode_batch(texts, alpha=0.3, seed=seed, num_threads=1)
    assert [tok80k.decode(x) for x in sampled] == [unicodedata.normalize('NFC', t) for t in texts]
    if texts:
        assert sampled[0] == tok80k.encode(texts[0], alpha=0.3, seed=seed)


@pytest.mark.parametrize('text', SPECIAL_TEXTS)
def test_round_trip_special_texts(tok80k, tok80k_raw, tok40k, text):
    nfc = unicodedata.normalize('NFC', text)
    assert tok80k.decode(tok80k.encode(text)) == nfc
    assert tok40k.decode(tok40k.encode(text)) == nfc
    assert tok80k_raw.decode(tok80k_raw.encode(text)) == text
    assert tok80k_raw.decode(tok80k_raw.encode(text, alpha=0.1)) == text


def test_non_nfc_text_needs_normalization_off(tok80k, tok80k_raw):
    text = 'Cafe\u0301'
    assert tok80k.decode(tok80k.encode(text)) == 'Café' != text
    assert tok80k_raw.decode(tok80k_raw.encode(text)) == text
    assert tok80k_raw.normalization is None and tok80k.normalization == 'NFC'


def test_empty_and_newline_only(tok80k):
    assert tok80k.encode('') == [] and tok80k.tokenize('') == []
    assert tok80k.encode('', add_bos=True, add_eos=True) == [1, 2]
    assert tok80k.decode([]) == ''
    ids = tok80k.encode('\n\n\n\n')
    assert tok80k.decode(ids) == '\n\n\n\n'
    assert tok80k.encode_batch(['', '\n']) == [[], tok80k.encode('\n')]


def test_one_megabyte_line(tok80k, tok80k_raw):
    """A 1 MB text without a newline is a single chunk: no cut, exact round trip."""
    unit = 'Lorem ipsum dolor sit amet, 字节 consectetur 😀 e\u0301 adipiscing elit; '
    text = unit * ((1 << 20) // len(unit.encode('utf-8')) + 1)
    assert '\n' not in text and len(text.encode('utf-8')) >= 1 << 20
    ids = tok80k.encode(text)
    assert tok80k.decode(ids) == unicodedata.normalize('NFC', text)
    assert tok80k_raw.decode(tok80k_raw.encode(text)) == text
    assert tok80k_raw.decode(tok80k_raw.encode(text, alpha=0.1, seed=1)) == text
    assert tok80k.encode_batch([text], num_threads=1)[0] == ids


def test_chunks_are_tokenized_independently(tok80k):
    """No piece crosses a chunk: the tokens of a text are those of its chunks."""
    text = 'first line\n\nsecond  line\nthird'
    joined = tok80k.encode('first line\n\n') + tok80k.encode('second  line\n') + tok80k.encode('third')
    assert tok80k.encode(text) == joined


# --- API -------------------------------------------------------------------------------

TEXT = 'BytePiece: 字节级的分词器 🙂\nwith two lines.\n'


def test_vocab_size_and_special_ids(tok80k, tok40k):
    # The public models hold 79,813 and 39,840 pieces (ids 3..).
    assert tok80k.vocab_size == 79813 + 3
    assert tok40k.vocab_size == 39840 + 3
    for i, name in enumerate(['<pad>', '<bos>', '<eos>']):
        assert tok80k.piece_to_id(name) == i
        assert tok80k.id_to_piece(i) == name


def test_ids_follow_canonical_order(tok80k):
    pieces = [tok80k.id_to_piece(i) for i in range(3, tok80k.vocab_size)]
    assert pieces == sorted(pieces, key=lambda p: (len(p), p))
    assert pieces[:256] == [bytes([b]) for b in range(256)]


def test_piece_id_round_trips(tok80k):
    ids = tok80k.encode(TEXT)
    pieces = tok80k.tokenize(TEXT)
    assert tok80k.ids_to_pieces(ids) == pieces
    assert tok80k.pieces_to_ids(pieces) == ids
    for i in list(range(tok80k.vocab_size))[::997] + [tok80k.vocab_size - 1]:
        assert tok80k.piece_to_id(tok80k.id_to_piece(i)) == i
    assert tok80k.id_to_piece(np.int64(300)) == tok80k.id_to_piece(300)
    with pytest.raises(KeyError):
        tok80k.piece_to_id(b'\xff\xfe not a piece \x00')
    with pytest.raises(KeyError):
        tok80k.piece_to_id('a')  # pieces are bytes


def test_positional_arguments_as_in_bytepiece(tok80k):
    """encode(text, add_bos, add_eos, alpha, iter), tokenize(text, alpha, iter), Tokenizer(model, seed)."""
    ids = tok80k.encode(TEXT)
    assert tok80k.encode(TEXT, True, True) == [1] + ids + [2]
    assert tok80k.encode(TEXT, False, False, -1) == ids
    assert list(tok80k.encode(TEXT, False, True, -1, True)) == ids + [2]
    assert tok80k.tokenize(TEXT, -1) == tok80k.tokenize(TEXT)
    assert list(tok80k.tokenize(TEXT, -1, True)) == tok80k.tokenize(TEXT)
    assert tok80k.decode(tok80k.encode(TEXT, False, False, 0.1)) == TEXT
    assert Tokenizer(model_dict(small_vocab({b'ab': 3})), 7).encode('abab', alpha=1.0) == \
        Tokenizer(model_dict(small_vocab({b'ab': 3})), seed=7).encode('abab', alpha=1.0)


@pytest.mark.parametrize('call', [
    lambda tok: tok.encode(TEXT, False, False, -1, False, None),  # seed after BytePiece's five
    lambda tok: tok.tokenize(TEXT, -1, False, None),
    lambda tok: tok.decode([5], 'replace'),
    lambda tok: tok.encode_to_numpy(TEXT, -1),
    lambda tok: tok.encode_with_offsets(TEXT, True),
    lambda tok: tok.encode_batch([TEXT], -1),
    lambda tok: tok.tokenize_batch([TEXT], -1),
    lambda tok: tok.encode_batch_to_numpy([TEXT], -1),
    lambda tok: tok.encode_batch_with_offsets([TEXT], True),
    lambda tok: tok.set_seed(1, (0, 1)),
])
def test_options_after_bytepiece_ones_are_keyword_only(tok80k, call):
    with pytest.raises(TypeError, match='positional argument'):
        call(tok80k)


def test_constructor_options_after_seed_are_keyword_only():
    with pytest.raises(TypeError, match='positional argument'):
        Tokenizer(model_dict(small_vocab({b'ab': 3})), 7, None)


def test_iter_returns_an_iterator(tok80k):
    ids = tok80k.encode(TEXT, iter=True)
    pieces = tok80k.tokenize(TEXT, iter=True)
    assert not isinstance(ids, list) and not isinstance(pieces, list)
    assert iter(ids) is ids and iter(pieces) is pieces
    assert list(ids) == tok80k.encode(TEXT)
    assert list(pieces) == tok80k.tokenize(TEXT)
    assert list(tok80k.encode(TEXT, add_bos=True, add_eos=True, iter=True)) == [1] + tok80k.encode(TEXT) + [2]


@pytest.mark.parametrize('words', [3, 200])  # under and over the length at which lists share int objects
def test_lists_equal_the_arrays_for_short_and_long_texts(words):
    import pickle
    tok = Tokenizer(model_dict(small_vocab({b'the': 9, b'word': 5})))
    text = ' '.join(f'word{i} the' for i in range(words))
    before = len(pickle.dumps(tok))
    ids = tok.encode(text)
    assert ids == tok.encode_to_numpy(text).tolist() and all(type(i) is int for i in ids)
    assert tok.tokenize(text) == [tok.id_to_piece(i) for i in ids]
    assert tok.encode_batch([text, 'the', text]) == [ids, tok.encode('the'), ids]
    assert tok.tokenize_batch([text])[0] == tok.tokenize(text)
    assert len(pickle.dumps(tok)) == before, 'the shared objects are not pickled'
    tok.add_special_tokens(['<|end|>'])  # an id past the lists' objects so far
    marked = tok.encode(text + '<|end|>', allowed_special='all')
    assert marked == ids + [tok.vocab_size - 1]
    assert tok.tokenize(text + '<|end|>', allowed_special='all')[-1] == '<|end|>'


def test_bos_eos(tok80k):
    ids = tok80k.encode(TEXT)
    assert tok80k.encode(TEXT, add_bos=True) == [1] + ids
    assert tok80k.encode(TEXT, add_eos=True) == ids + [2]
    assert tok80k.encode(TEXT, add_bos=True, add_eos=True) == [1] + ids + [2]
    assert tok80k.decode([1] + ids + [2]) == TEXT
    assert tok80k.decode([0, 0] + ids + [0]) == TEXT, 'ids 0..2 add nothing'
    sampled = tok80k.encode(TEXT, add_bos=True, add_eos=True, alpha=0.1, seed=3)
    assert sampled[0] == 1 and sampled[-1] == 2 and tok80k.decode(sampled) == TEXT


def test_decode_accepts_arrays_and_generators(tok80k):
    ids = tok80k.encode(TEXT)
    assert tok80k.decode(np.array(ids, np.int32)) == TEXT
    assert tok80k.decode(np.array(ids, np.uint16)) == TEXT
    assert tok80k.decode(i for i in ids) == TEXT
    assert tok80k.decode(tuple(ids)) == TEXT
    assert tok80k.decode([np.int64(i) for i in ids]) == TEXT
    assert tok80k.decode(tok80k.encode_to_numpy(TEXT)) == TEXT


def test_decode_drops_partial_utf8_like_reference(tok40k):
    """A partial-UTF-8 piece on its own decodes to nothing (errors='ignore')."""
    partial = next(i for i in range(3, tok40k.vocab_size) if tok40k.id_to_piece(i) == b'\xe4')
    assert tok40k.decode([partial]) == ''
    assert tok40k.decode([partial], errors='ignore') == ''
    assert tok40k.decode_bytes([partial]) == b'\xe4'


def test_decode_errors_as_bytes_decode(tok40k):
    """``errors`` goes to bytes.decode: ids that end inside a character."""
    ids = tok40k.encode('a\u4e2d') + [tok40k.piece_to_id(b'\xe4')]
    assert tok40k.decode(ids, errors='replace') == 'a\u4e2d\ufffd'
    assert tok40k.decode(ids, errors='backslashreplace') == 'a\u4e2d\\xe4'
    assert tok40k.decode(ids, errors='surrogateescape') == 'a\u4e2d\udce4'
    with pytest.raises(UnicodeDecodeError, match='unexpected end of data'):
        tok40k.decode(ids, errors='strict')
    assert tok40k.decode(ids[:-1], errors='strict') == 'a\u4e2d'


@pytest.mark.parametrize('errors, kind, words', [
    ('bogus', LookupError, "'bogus' is not a codec error handler"),
    ('xmlcharrefreplace', ValueError, 'encoding errors only'),
    (1, TypeError, 'got int'),
    (b'replace', TypeError, 'got bytes'),
])
def test_decode_refuses_unknown_errors(tok80k, errors, kind, words):
    """Refused even when every byte is valid (bytes.decode would not look)."""
    with pytest.raises(kind, match=words):
        tok80k.decode(tok80k.encode(TEXT), errors=errors)


def test_viterbi_ties_prefer_longer_last_piece():
    """On an exact tie the path whose last piece is longer wins (BytePiece's rule)."""
    vocab = small_vocab({b'ab': 4, b'bc': 4}, byte_count=lambda b: 2 if b in b'abc' else 1)
    tok = make_tokenizer(vocab)
    # a|bc and ab|c score log(2*4) each: the longer last piece (bc) wins.
    assert tok.tokenize('abc') == [b'a', b'bc']


def test_normalization_argument():
    vocab = small_vocab({})
    assert Tokenizer(model_dict(vocab)).normalization == 'NFC'
    with pytest.raises(ValueError, match='normalization'):
        make_tokenizer(vocab, normalization='nfc-ish')


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize('value, type_name', [(b'abc', 'bytes'), (None, 'NoneType'), (3, 'int'),
                                              (['a'], 'list'), (bytearray(b'a'), 'bytearray')])
def test_non_str_text_is_type_error(tok80k, value, type_name):
    for call in (tok80k.encode, tok80k.tokenize, tok80k.encode_to_numpy, tok80k.encode_with_offsets, lambda t: tok80k.nbest(t, 2),
                 tok80k.log_likelihood, tok80k.entropy):
        with pytest.raises(TypeError, match=type_name):
            call(value)
    with pytest.raises(TypeError, match=type_name):
        tok80k.encode(value, alpha=0.1)


def test_batch_with_non_str_is_type_error(tok80k):
    with pytest.raises(TypeError, match=r'index 1.*int'):
        tok80k.encode_batch(['a', 3])
    with pytest.raises(TypeError, match='bytes'):
        tok80k.tokenize_batch([b'a'])
    with pytest.raises(TypeError, match='str'):
        tok80k.encode_batch('a single string')


@pytest.mark.parametrize('text', ['\ud800', 'abc\udfff', 'a\ud83d\ude00\ud83dz', '\udcff'])
def test_lone_surrogates_are_value_errors(tok80k, tok80k_raw, text):
    for tok in (tok80k, tok80k_raw):
        for call in (tok.encode, tok.tokenize, lambda t: tok.encode(t, alpha=0.1), lambda t: tok.nbest(t, 1),
                     tok.log_likelihood, lambda t: tok.encode_batch(['ok', t]), lambda t: tok.tokenize_batch([t])):
            with pytest.raises(ValueError, match='surrogate'):
                call(text)


@pytest.mark.parametrize('bad', [79816, 10**6, 2**40, 2**70, -1, -(2**70)])
def test_decode_out_of_range(tok80k, bad):
    with pytest.raises(ValueError, match=str(bad)):
        tok80k.decode([5, bad])
    with pytest.raises(ValueError, match=str(bad)):
        tok80k.id_to_piece(bad)
    with pytest.raises(ValueError, match=str(bad)):
        tok80k.ids_to_pieces([bad])


def test_decode_out_of_range_arrays(tok80k):
    with pytest.raises(ValueError, match='-1'):
        tok80k.decode(np.array([3, -1]))
    with pytest.raises(ValueError, match='79816'):
        tok80k.decode(np.array([79816], np.uint32))
    with pytest.raises(ValueError, match='-5'):
        tok80k.decode_bytes(np.array([-5], np.int8))


@pytest.mark.parametrize('bad', [1.5, 3.0, '3', None, b'x', 3j])
def test_decode_non_int(tok80k, bad):
    with pytest.raises(TypeError, match='int'):
        tok80k.decode([5, bad])
    with pytest.raises(TypeError, match=re.escape(repr(bad))):
        tok80k.decode([bad])
    with pytest.raises(TypeError, match='int'):
        tok80k.id_to_piece(bad)


def test_decode_bad_containers(tok80k):
    with pytest.raises((TypeError, ValueError)):
        tok80k.decode([[3]])
    with pytest.raises(TypeError):
        tok80k.decode('abc')
    for raw in (b'abc', bytearray(b'abc'), memoryview(b'abc')):
        with pytest.raises(TypeError, match=f'got {type(raw).__name__}'):
            tok80k.decode(raw)  # bytes iterate as ints: they must not pass as ids
    assert tok80k.decode(memoryview(np.array([100, 101], np.int32))) == tok80k.decode([100, 101])
    import ctypes
    with pytest.raises(TypeError, match='got memoryview'):
        tok80k.decode(memoryview((ctypes.c_ubyte * 3)(97, 98, 99)))  # format '<B': still bytes
    for not_a_sequence in (5, np.int64(5), None):
        with pytest.raises(TypeError, match=f'ids must be a sequence of ints, got {type(not_a_sequence).__name__}'):
            tok80k.decode(not_a_sequence)
    for raw in (b'abc', memoryview(b'abc')):
        for call in (tok80k.encode_batch, tok80k.encode_batch_with_offsets, tok80k.encode_batch_to_numpy):
            with pytest.raises(TypeError, match=f'not a single {type(raw).__name__}'):
                call(raw)


def test_decode_mixed_signed_and_unsigned_ids(tok80k):
    # numpy turns int64 beside uint64 into float64: the ids must still be read as ints
    assert tok80k.decode([np.int64(100), np.uint64(101)]) == tok80k.decode([100, 101])
    with pytest.raises(ValueError, match=r'token id 9223372036854775813 at position 1 out of range'):
        tok80k.decode([5, 2**63 + 5])
    with pytest.raises(TypeError):
        tok80k.decode(np.array([3.0, 4.0]))
    with pytest.raises(ValueError):
        tok80k.decode(np.array([[3, 4]]))


def test_bad_num_threads(tok80k):
    with pytest.raises(ValueError, match='num_threads'):
        tok80k.encode_batch(['a'], num_threads=0)
    with pytest.raises(TypeError, match='num_threads'):
        tok80k.encode_batch(['a'], num_threads=1.5)


def test_tokenizer_bad_model_argument():
    with pytest.raises(TypeError, match='int'):
        Tokenizer(42)


def test_decode_rejects_a_bool_among_ints(tok80k):
    """numpy would read True as id 1: a bool anywhere is a TypeError naming it."""
    with pytest.raises(TypeError, match='position 1'):
        tok80k.decode([5, True])


def test_nbest_refuses_a_request_too_large_for_memory(tok80k):
    with pytest.raises(ValueError, match='nbest of'):
        tok80k.nbest('x' * 1_000_000, 1000)
    assert tok80k.nbest('x' * 1000, 2)[0][0] == tok80k.encode('x' * 1000)


# --- review of bad inputs (fourth session) ----------------------------------------


def test_decode_names_the_first_bad_id_and_its_position(tok80k):
    """numpy converts [100, 2.5] to floats and [1, 'a'] to strings: the check
    must run on the ids as given, and numpy's bool must not pass as <bos>."""
    for ids, pos, shown in (([100, 2.5], 1, '2.5'), ([1, 'a'], 1, "'a'"), ([100, np.bool_(True)], 1, 'True')):
        with pytest.raises(TypeError, match=f'position {pos} is not an int: .*{shown}'):
            tok80k.decode(ids)
    assert tok80k.decode([np.int64(tok80k.piece_to_id(b'a')), np.uint8(100)]) == tok80k.decode(
        [tok80k.piece_to_id(b'a'), 100])


@pytest.mark.parametrize('seed, error', [('x', TypeError), (-1, ValueError), (2**80, ValueError), (1.5, TypeError)])
def test_a_bad_seed_is_rejected_by_viterbi_calls_too(tok80k, seed, error):
    """alpha < 0 ignores the seed, but a bad one is still a mistake to report."""
    for call in (lambda: tok80k.encode('hi', seed=seed), lambda: tok80k.tokenize('hi', seed=seed),
                 lambda: tok80k.encode_batch(['hi'], seed=seed),
                 lambda: tok80k.encode_with_offsets('hi', seed=seed)):
        with pytest.raises(error, match='seed'):
            call()


def test_a_generator_seed_is_not_drawn_from_by_viterbi_calls(tok80k):
    used, fresh = np.random.default_rng(5), np.random.default_rng(5)
    tok80k.encode('hi', seed=used)
    tok80k.encode_batch(['hi'], seed=used)
    assert used.integers(0, 2**32) == fresh.integers(0, 2**32)


def test_piece_lookups_reject_wrong_types(tok80k):
    with pytest.raises(TypeError, match='NoneType'):
        tok80k.piece_to_id(None)
    with pytest.raises(TypeError, match='int'):
        tok80k.piece_to_id(5)
    with pytest.raises(KeyError):
        tok80k.piece_to_id(b'\xff\xfe not a piece')
    with pytest.raises(TypeError, match='single bytes'):
        tok80k.pieces_to_ids(b'ab')
    with pytest.raises(TypeError, match='str'):
        tok80k.ids_to_pieces('12')
    with pytest.raises(TypeError, match='single bytes'):
        tok80k.encode_batch(b'abc')


def test_save_to_a_bytes_path(tmp_path, tok40k):
    path = os.fsencode(str(tmp_path / 'm.model'))
    tok40k.save(path)
    assert Tokenizer(path).encode('hello 世界') == tok40k.encode('hello 世界')
    assert os.listdir(tmp_path) == ['m.model']
