"""Character offsets: encode_with_offsets and the batch forms."""

import unicodedata

import numpy as np
import pytest
from conftest import model_path
from hypothesis import given, settings
from hypothesis import strategies as st

from bytepiece import Tokenizer

# text with every kind of character: ASCII, Latin with combining marks,
# CJK, emoji (4-byte UTF-8), control characters, newlines
TEXT = st.text(st.characters(blacklist_categories=('Cs',)), max_size=60) | st.text(
    st.sampled_from(list('ab \n\t中文字🙂é\u0301\u00e9\x00ﬁ')), max_size=60)


@pytest.fixture(scope='module')
def tok40_raw():
    return Tokenizer(model_path('bytepiece.plus.40k'), normalization=None)


def check_spans(tok, text, ids, offsets):
    """Offsets are ordered, inside the text, and cover exactly the token's bytes."""
    assert len(offsets) == len(ids)
    pos = 0
    for token_id, (start, end) in zip(ids, offsets):
        assert 0 <= start < end <= len(text)
        piece = tok.id_to_piece(token_id)
        chars = text[start:end].encode('utf-8')
        assert piece in chars  # the piece's bytes lie in its characters
        assert start >= pos - 1 and start <= pos  # contiguous, or sharing one split character
        if start == pos - 1:
            assert len(text[start].encode('utf-8')) > 1
        pos = end
    assert pos == len(text)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_offsets_without_normalization_80k(tok80k_raw, text):
    ids, offsets = tok80k_raw.encode_with_offsets(text)
    assert ids == tok80k_raw.encode(text)
    check_spans(tok80k_raw, text, ids, offsets)
    # a token whose piece is whole characters maps to exactly those characters
    # (a character missing from the vocabulary is split into single bytes,
    # even with ensure_unicode: those tokens each cover the whole character)
    for token_id, (a, b) in zip(ids, offsets):
        piece = tok80k_raw.id_to_piece(token_id)
        if (piece[0] & 0xC0) != 0x80 and piece.decode('utf-8', 'ignore').encode('utf-8') == piece:
            assert piece == text[a:b].encode('utf-8')


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_offsets_partial_utf8_pieces(tok40_raw, text):
    ids, offsets = tok40_raw.encode_with_offsets(text)
    assert ids == tok40_raw.encode(text)
    check_spans(tok40_raw, text, ids, offsets)


def test_split_character_mapping(tok40_raw):
    # the 40k model has pieces that end inside a character: both tokens that
    # share the character cover it whole
    text = '''如果一个字符被拆开，两个词元都覆盖它。'''
    ids, offsets = tok40_raw.encode_with_offsets(text)
    pieces = [tok40_raw.id_to_piece(i) for i in ids]
    split = [k for k, p in enumerate(pieces) if p.decode('utf-8', 'ignore').encode() != p]
    check_spans(tok40_raw, text, ids, offsets)
    for k in split:
        start, end = offsets[k]
        assert pieces[k] in text[start:end].encode('utf-8')


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_offsets_refer_to_normalized_text(tok80k, text):
    ids, offsets = tok80k.encode_with_offsets(text)
    norm = unicodedata.normalize('NFC', text)
    check_spans(tok80k, norm, ids, offsets)


def test_non_nfc_example(tok80k, tok80k_raw):
    text = 'Cafe\u0301 Cafe\u0301'  # decomposed é: 11 characters, 9 after NFC
    ids, offsets = tok80k.encode_with_offsets(text)
    assert offsets[-1][1] == 9
    ids, offsets = tok80k_raw.encode_with_offsets(text)
    assert offsets[-1][1] == 11


def test_bos_eos_offsets(tok80k):
    text = '你好 world'
    ids, offsets = tok80k.encode_with_offsets(text, add_bos=True, add_eos=True)
    assert ids[0] == 1 and ids[-1] == 2
    assert offsets[0] == (0, 0) and offsets[-1] == (len(text), len(text))
    assert ids[1:-1] == tok80k.encode(text)


def test_empty_text(tok80k):
    assert tok80k.encode_with_offsets('') == ([], [])
    assert tok80k.encode_with_offsets('', add_bos=True) == ([1], [(0, 0)])


@settings(max_examples=30, deadline=None)
@given(st.lists(TEXT, max_size=8))
def test_batch_offsets_equal_single(tok40k, texts):
    tok40 = tok40k
    single = [tok40.encode_with_offsets(t, add_bos=True, add_eos=True) for t in texts]
    ids, offsets = tok40.encode_batch_with_offsets(texts, add_bos=True, add_eos=True)
    assert ids == [s[0] for s in single]
    assert offsets == [s[1] for s in single]
    flat, starts, spans = tok40.encode_batch_to_numpy(texts, add_bos=True, add_eos=True, offsets=True)
    assert flat.dtype == np.int32 and spans.dtype == np.int64 and spans.shape == (flat.size, 2)
    for i, (row_ids, row_offsets) in enumerate(single):
        assert flat[starts[i]:starts[i + 1]].tolist() == row_ids
        assert [tuple(x) for x in spans[starts[i]:starts[i + 1]].tolist()] == row_offsets


def test_offsets_with_sampling(tok80k_raw):
    text = 'sampled segmentations keep exact offsets, 中文也一样。\n' * 3
    for seed in range(5):
        ids, offsets = tok80k_raw.encode_with_offsets(text, alpha=0.1, seed=seed)
        assert ids == tok80k_raw.encode(text, alpha=0.1, seed=seed)
        check_spans(tok80k_raw, text, ids, offsets)


def test_offsets_with_special_tokens():
    tok = Tokenizer(model_path('bytepiece.plus.40k'), special_tokens=['<|eot|>'])
    text = 'Héllo<|eot|>世界<|eot|>'
    ids, offsets = tok.encode_with_offsets(text, allowed_special='all')
    eot = tok.piece_to_id('<|eot|>')
    spans = [text[a:b] for a, b in offsets]
    assert [s for s, i in zip(spans, ids) if i == eot] == ['<|eot|>', '<|eot|>']
    assert ''.join(spans) == text
    batch_ids, batch_offsets = tok.encode_batch_with_offsets([text, 'x', text], allowed_special='all')
    assert batch_ids[0] == batch_ids[2] == ids and batch_offsets[0] == batch_offsets[2] == offsets
