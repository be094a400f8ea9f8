"""Model files (docs/format.md): loading, validation errors, metadata, saving."""

import base64
import json
import zipfile

import pytest

from bytepiece import Tokenizer
from bytepiece.core.model import load_model, model_dict, parse_model, save_model

from conftest import model_path, small_vocab


def b64(piece):
    return base64.b64encode(piece).decode('ascii')


def valid_dict(extra=None):
    vocab = small_vocab({b'ab': 5, b'abc': 3, '中'.encode(): 7}, byte_count=2)
    vocab.update(extra or {})
    return model_dict(vocab)


def write_json(tmp_path, obj, name='model.json'):
    path = tmp_path / name
    path.write_text(json.dumps(obj, indent=4, ensure_ascii=False), encoding='utf-8')
    return str(path)


# --- valid models --------------------------------------------------------------


def test_model_dict_format():
    d = valid_dict()
    assert len(d) == 259
    entries = sorted(d.values())
    assert [e[0] for e in entries] == list(range(3, 262))
    assert d[b64(b'ab')] == [3 + 256, 'ab', 5]
    assert d[b64('中'.encode())] == [3 + 258, '中', 7]
    assert d[b64(b'\xff')][1] == ''  # decoded with errors='ignore'


def test_save_and_load_round_trip(tmp_path):
    vocab = small_vocab({b'hello': 10, b' world': 4, '字节'.encode(): 3, b'\xe5\xad': 2}, byte_count=1)
    path = tmp_path / 'm.model'
    save_model(vocab, path)
    raw = path.read_text(encoding='utf-8')
    assert raw.startswith('{\n    "')  # indent=4 as BytePiece writes
    assert '字节' in raw  # ensure_ascii=False
    assert json.loads(raw) == model_dict(vocab)
    pieces, ids, counts, metadata = load_model(str(path))
    assert metadata == {}
    assert dict(zip(pieces, counts)) == vocab
    assert sorted(ids) == list(range(3, len(vocab) + 3))
    tok = Tokenizer(str(path))
    assert tok.tokenize('hello world') == [b'hello', b' world']
    assert Tokenizer(path).encode('hello world') == tok.encode('hello world'), 'PathLike paths work'


def test_zip_and_json_load_the_same(tmp_path, tok40k):
    with zipfile.ZipFile(model_path('bytepiece.plus.40k')) as archive:
        (member,) = archive.namelist()
        archive.extract(member, tmp_path)
    tok = Tokenizer(str(tmp_path / member))
    assert tok.vocab_size == tok40k.vocab_size
    text = 'BytePiece 字节 tokenizer\n'
    assert tok.encode(text) == tok40k.encode(text)
    assert Tokenizer(json.loads((tmp_path / member).read_text('utf-8'))).encode(text) == tok40k.encode(text)


def test_ids_in_any_file_order(tmp_path):
    """The reader takes ids from the file, whatever the key order."""
    d = valid_dict()
    reordered = dict(reversed(list(d.items())))
    assert Tokenizer(reordered).encode('abc') == Tokenizer(d).encode('abc')


def test_float_counts_are_accepted():
    d = valid_dict()
    d[b64(b'ab')][2] = 2.5
    assert Tokenizer(d).tokenize('ab') == [b'ab']


# --- errors ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.model'):
        Tokenizer(str(tmp_path / 'nope.model'))
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / 'nope.zip')


@pytest.mark.parametrize('raw', ['{"YQ==": [3, "a", 1', 'not json at all', '', '{"YQ==": [3, "a", 1],}'])
def test_bad_json(tmp_path, raw):
    path = tmp_path / 'bad.json'
    path.write_text(raw, encoding='utf-8')
    with pytest.raises(ValueError, match='bad.json') as info:
        Tokenizer(str(path))
    assert 'JSON' in str(info.value)


def test_not_utf8(tmp_path):
    path = tmp_path / 'latin.json'
    path.write_bytes(b'{"YQ==": [3, "\xe9", 1]}')
    with pytest.raises(ValueError, match='latin.json'):
        Tokenizer(str(path))


@pytest.mark.parametrize('obj', [[], [1, 2], 'model', 3])
def test_not_an_object(tmp_path, obj):
    with pytest.raises(ValueError, match='JSON object'):
        Tokenizer(write_json(tmp_path, obj))


@pytest.mark.parametrize('key', ['!!!!', 'YQ=', 'YW Jj', '', 'Y', '中中中中'])
def test_bad_base64(tmp_path, key):
    d = valid_dict()
    d[key] = [262, 'x', 1]
    with pytest.raises(ValueError, match='base64|empty') as info:
        Tokenizer(write_json(tmp_path, d))
    assert repr(key) in str(info.value)
    assert 'model.json' in str(info.value)


def test_duplicate_ids(tmp_path):
    d = valid_dict()
    d[b64(b'abc')][0] = d[b64(b'ab')][0]
    with pytest.raises(ValueError, match=r'duplicate id %d' % d[b64(b'ab')][0]):
        Tokenizer(write_json(tmp_path, d))


def test_ids_with_a_gap(tmp_path):
    d = valid_dict()
    d[b64(b'abc')][0] = 1000
    with pytest.raises(ValueError, match='1000'):
        Tokenizer(write_json(tmp_path, d))
    d = valid_dict()
    first = next(key for key, entry in d.items() if entry[0] == 3)
    d[first][0] = 999999  # the lowest id moves out: the message names it, not the new lowest id
    with pytest.raises(ValueError, match=r'must be exactly 3\.\.\d+, found id 999999'):
        Tokenizer(d)


def test_duplicate_pieces_via_base64_aliases(tmp_path):
    """'YR==' is a non-canonical base64 spelling of b'a' ('YQ==')."""
    d = valid_dict()
    d['YR=='] = [262, 'a', 1]
    with pytest.raises(ValueError, match="duplicate piece b'a'") as info:
        Tokenizer(write_json(tmp_path, d))
    assert 'YR==' in str(info.value)


def test_duplicate_json_keys(tmp_path):
    """A key given twice in the file must not silently keep only the last entry."""
    raw = json.dumps(valid_dict(), indent=4)
    dup = '{\n    "%s": [262, "ab", 9],' % b64(b'ab')
    path = tmp_path / 'dup.json'
    path.write_text(dup + raw[1:], encoding='utf-8')
    with pytest.raises(ValueError, match='duplicate key') as info:
        Tokenizer(str(path))
    assert b64(b'ab') in str(info.value) and 'dup.json' in str(info.value)


def test_duplicate_json_keys_in_zip(tmp_path):
    raw = json.dumps(valid_dict(), indent=4)
    path = tmp_path / 'dup.zip'
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('dup.model', '{"%s": [262, "ab", 9],' % b64(b'ab') + raw[1:])
    with pytest.raises(ValueError, match='duplicate key'):
        Tokenizer(str(path))


def test_nested_duplicate_looking_strings_are_fine(tmp_path):
    """Piece texts equal to keys do not count as duplicate keys."""
    d = valid_dict()
    d[b64(b'ab')][1] = b64(b'abc')
    assert Tokenizer(write_json(tmp_path, d)).tokenize('ab') == [b'ab']


@pytest.mark.parametrize('missing', [0x00, 0x41, 0xFF])
def test_missing_single_bytes(tmp_path, missing):
    d = valid_dict()
    del d[b64(bytes([missing]))]
    # Keep the ids contiguous so the byte check is what fails.
    for i, key in enumerate(sorted(d, key=lambda k: d[k][0])):
        d[key][0] = i + 3
    with pytest.raises(ValueError, match='0x%02X' % missing) as info:
        Tokenizer(write_json(tmp_path, d))
    assert 'single byte' in str(info.value)


@pytest.mark.parametrize('count', [0, -1, -0.5, 'NaN', 'Infinity', '"7"', 'null', 'true'])
def test_bad_counts(tmp_path, count):
    raw = json.dumps(valid_dict(), indent=4)
    key = b64(b'abc')
    start = raw.index(f'"{key}"')
    end = raw.index(']', start)
    entry = raw[start:end]
    prefix, _, _ = entry.rpartition(',')
    path = tmp_path / 'counts.json'
    path.write_text(raw[:start] + f'{prefix}, {count}' + raw[end:], encoding='utf-8')
    with pytest.raises(ValueError, match='count') as info:
        Tokenizer(str(path))
    assert key in str(info.value) and 'counts.json' in str(info.value)


@pytest.mark.parametrize('entry', [[262], 'x', 5, None, ['262', 'abc', 3], [262.0, 'abc', 3]])
def test_malformed_entries(entry):
    d = valid_dict()
    del d[b64(b'abc')]
    d[b64(b'xyz')] = entry
    with pytest.raises(ValueError, match=repr(b64(b'xyz'))):
        parse_model(d)


def test_zip_with_several_files(tmp_path):
    path = tmp_path / 'two.zip'
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('a.model', json.dumps(valid_dict()))
        archive.writestr('b.model', json.dumps(valid_dict()))
    with pytest.raises(ValueError, match='exactly one'):
        Tokenizer(str(path))


def test_empty_model():
    with pytest.raises(ValueError, match='single bytes missing'):
        Tokenizer({})


# --- atomic writes -----------------------------------------------------------------


def test_huge_integer_counts():
    """Counts are JSON integers of any size: a total above 2**64 must still load
    (scores are log(count) - log(total) in floating point)."""
    tok = Tokenizer(model_dict(small_vocab({b'ab': 10**20})))
    assert tok.tokenize('abc') == [b'ab', b'c']


def test_counts_adding_up_past_float64_are_rejected():
    """Each count is finite but their total is not: every score would be -inf
    and the kernels would find no path. Loading must fail, naming the cause."""
    vocab = small_vocab({b'ab': 1})
    vocab[b'a'] = vocab[b'b'] = 1e308
    with pytest.raises(ValueError, match='add up to more than the largest float64'):
        Tokenizer(model_dict(vocab))
    vocab[b'a'] = vocab[b'b'] = 2**1023  # ints: exact sum, too large to convert
    with pytest.raises(ValueError, match='add up to more than the largest float64'):
        Tokenizer(model_dict(vocab))


def test_count_too_large_for_float64_names_the_piece():
    d = valid_dict()
    d[b64(b'abc')][2] = 10**400
    with pytest.raises(ValueError, match=f"{b64(b'abc')!r}.*too large.*401 digits"):
        parse_model(d)


def test_tuple_entries_and_numpy_numbers_load_like_lists():
    """A dict built in Python may hold tuples and numpy scalars."""
    import numpy as np
    d = valid_dict()
    expected = Tokenizer(d).encode('abcab中')
    as_tuples = {k: tuple(v) for k, v in d.items()}
    as_numpy = {k: [np.int64(v[0]), v[1], np.float64(v[2])] for k, v in d.items()}
    assert Tokenizer(as_tuples).encode('abcab中') == expected
    assert Tokenizer(as_numpy).encode('abcab中') == expected
    bad = dict(d)
    bad[b64(b'abc')] = [np.bool_(True), 'abc', 3]
    with pytest.raises(ValueError, match='is not an int'):
        parse_model(bad)


@pytest.mark.parametrize('method', [zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA])
def test_damaged_zip_is_a_value_error(tmp_path, method):
    good = tmp_path / 'good.zip'
    with zipfile.ZipFile(good, 'w', method) as archive:
        archive.writestr('m.model', json.dumps(valid_dict(), indent=4))
    raw = good.read_bytes()
    damaged = tmp_path / 'damaged.zip'
    # Keep the headers (so it is still recognised as a zip) and garble the data.
    start = raw.index(b'm.model') + len(b'm.model')
    damaged.write_bytes(raw[:start] + bytes(b ^ 0x5A for b in raw[start:start + 200]) + raw[start + 200:])
    with pytest.raises(ValueError, match='damaged.zip.*cannot read the model zip'):
        Tokenizer(str(damaged))


def test_tokenizer_save_keeps_counts_exact(tmp_path):
    """Counts are ints of any size in the file; a float64 copy would round
    2**60 + 1 on save."""
    vocab = small_vocab({b'ab': 2**60 + 1, b'abc': 2.5, b'ca': 4.0})
    path = tmp_path / 'm.model'
    Tokenizer(model_dict(vocab)).save(path)
    model = load_model(str(path))
    saved = dict(zip(model.pieces, model.counts))
    assert saved[b'ab'] == 2**60 + 1 and saved[b'abc'] == 2.5
    assert saved[b'ca'] == 4 and type(saved[b'ca']) is int  # integral floats are written as ints, as before


def test_truncated_zip_is_reported_as_a_zip(tmp_path):
    good = tmp_path / 'good.zip'
    with zipfile.ZipFile(good, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.writestr('m.model', json.dumps(valid_dict(), indent=4))
    cut = tmp_path / 'cut.zip'
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match='cut.zip.*truncated or damaged'):
        Tokenizer(str(cut))


# --- metadata ------------------------------------------------------------------


@pytest.mark.parametrize('normalization', [None, 'NFC', 'NFKC'])
def test_save_keeps_the_normalization(tmp_path, normalization):
    tok = Tokenizer(model_path('bytepiece.plus.40k'), normalization=normalization, special_tokens=['<|x|>'])
    path = tmp_path / 'm.json'
    tok.save(path)
    loaded = Tokenizer(path)
    assert loaded.normalization == normalization and loaded.special_tokens == ['<|x|>']
    text = 'ﬁne Cafe\u0301 <|x|> 你好'
    assert loaded.encode(text, allowed_special='all') == tok.encode(text, allowed_special='all')
    assert Tokenizer(path, normalization='NFD').normalization == 'NFD', 'an explicit argument wins'
    assert load_model(path).metadata == {'normalization': normalization, 'special_tokens': ['<|x|>']}


def test_metadata_sits_in_the_entry_of_id_3_between_text_and_count(tmp_path):
    save_model(small_vocab({b'ab': 5}), tmp_path / 'm.json', {'normalization': 'NFC', 'training': {'order': 6}})
    obj = json.loads((tmp_path / 'm.json').read_text('utf-8'))
    entries = {v[0]: v for v in obj.values()}
    assert entries[3][2] == {'bytepiece': {'version': 1, 'normalization': 'NFC', 'training': {'order': 6}}}
    assert all(len(v) == 3 for i, v in entries.items() if i != 3)
    assert entries[3][-1] == 1 and entries[3][0] == 3


def test_a_plain_file_loads_with_bytepiece_defaults():
    tok = Tokenizer(model_path('bytepiece.plus.40k'))
    assert tok.normalization == 'NFC' and tok.special_tokens == []
    assert load_model(model_path('bytepiece.plus.40k')).metadata == {}


def with_metadata(element):
    obj = valid_dict()
    first = next(v for v in obj.values() if v[0] == 3)
    first.insert(2, element)
    return obj


@pytest.mark.parametrize('meta, match', [
    ({'version': 2}, 'version 2, written by a newer bytepiece'),
    ({'version': 0}, 'no valid version'),
    ({'normalization': 'NFC'}, 'no valid version'),
    ({'version': 1, 'normalization': 'nfc'}, "unknown normalization 'nfc'"),
    ({'version': 1, 'special_tokens': '<x>'}, 'special_tokens must be a list of strings'),
    ({'version': 1, 'special_tokens': [1]}, 'special_tokens must be a list of strings'),
    ({'version': 1, 'training': []}, 'training settings must be a JSON object'),
    ([1], 'metadata must be a JSON object'),
])
def test_bad_metadata(meta, match):
    with pytest.raises(ValueError, match=match):
        parse_model(with_metadata({'bytepiece': meta}))


def test_foreign_middle_elements_are_ignored_like_bytepiece_does():
    for element in ({'other': 1}, 'text', 5):
        assert parse_model(with_metadata(element)).metadata == {}
    meta = parse_model(with_metadata({'bytepiece': {'version': 1, 'future_key': 1}})).metadata
    assert meta == {'future_key': 1}, 'unknown keys pass through'
