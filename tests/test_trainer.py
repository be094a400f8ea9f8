"""Trainer: same pieces and counts as BytePiece 0.6.3 (fixtures), inputs, saving, bad input."""

import base64
import gzip
import json
import math
import multiprocessing
import os
import random
import re
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from bytepiece import Trainer, convert_to_bytepiece
from bytepiece.corpus.inputs import Files
from bytepiece.train.chunks import chunk_regex, chunk_text, text_chunks
from bytepiece.train import run as run_module
from bytepiece.kernels import ngrams
from bytepiece.core.model import load_model

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'train')
with open(os.path.join(HERE, 'expected.json')) as _f:
    EXPECTED = json.load(_f)


def expected_models(name):
    return [{base64.b64decode(k): v for k, v in m.items()} for m in EXPECTED[name]['models']]


def fixture_corpus(name):
    """The corpus of a case as the reference saw it: a list of str."""
    path = os.path.join(HERE, EXPECTED[name]['corpus'])
    if path.endswith('.txt'):
        with open(path, encoding='utf-8', newline='') as f:
            return [f.read()]
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', encoding='utf-8') as f:
        return [next(iter(json.loads(line).values())) for line in f if line.strip()]


def train(name, texts=None, **kwargs):
    trainer = Trainer(**EXPECTED[name]['params'])
    trainer.train(fixture_corpus(name) if texts is None else texts, progress=False, **kwargs)
    return trainer


# ---------------------------------------------------------------- parity

@pytest.mark.parametrize('name', ['tang6', 'tutorial4', 'mixed5', 'mixed7'])
def test_same_pieces_and_counts_as_reference(name):
    trainer = train(name)
    expected = expected_models(name)
    assert len(trainer.pieces) == len(expected)
    for ours, ref in zip(trainer.pieces, expected):
        assert ours == ref


def test_file_inputs_equal_lists():
    # the reference read the plain text file as one document; .jsonl(.gz) reads a field
    tang = train('tang6', os.path.join(HERE, 'tang300.txt'), text_documents='file')
    assert tang.pieces == expected_models('tang6')
    by_line = train('tang6', os.path.join(HERE, 'tang300.txt'))
    assert by_line.report.text_documents == 'line' and tang.report.text_documents == 'file'
    assert by_line.report.documents == sum(1 for line in fixture_corpus('tang6')[0].split('\n') if line)
    tut = train('tutorial4', os.path.join(HERE, 'tutorial.jsonl.gz'))
    assert tut.pieces == expected_models('tutorial4')
    mixed = Trainer(**EXPECTED['mixed5']['params'])
    mixed.train(os.path.join(HERE, 'mixed.jsonl'), field='body', progress=False)
    assert mixed.pieces == expected_models('mixed5')


def test_workers_and_engines_give_identical_results(tmp_path):
    ref = expected_models('mixed5')
    path = os.path.join(HERE, 'mixed.jsonl')
    for kwargs in (dict(workers=1), dict(workers=2), dict(workers=8), dict(engine='processes', workers=2)):
        trainer = Trainer(**EXPECTED['mixed5']['params'])
        trainer.train(files=path, field='body', progress=False, **kwargs)
        assert trainer.pieces == ref, kwargs
    with ThreadPoolExecutor(3) as ex:
        assert train('mixed5', executor=ex).pieces == ref
    if sys.platform.startswith('linux'):
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context('fork')) as ex:
            assert train('mixed5', executor=ex, workers=2).pieces == ref


def test_many_reduce_tasks_give_the_same_model():
    trainer = Trainer(**EXPECTED['tang6']['params'])
    trainer.train(fixture_corpus('tang6'), progress=False, workers=40)  # about 80 bucket ranges per reduce
    assert trainer.pieces == expected_models('tang6')


def test_convert_to_bytepiece(tmp_path):
    vocab = {base64.b64decode(k): v for k, v in EXPECTED['convert']['vocab'].items()}
    # str keys are accepted too
    vocab = {(k.decode() if k.isascii() else k): v for k, v in vocab.items()}
    path = tmp_path / 'conv.model'
    pieces = convert_to_bytepiece(vocab, path)
    assert pieces == expected_models('convert')[0]
    loaded, ids, counts, _ = load_model(path)
    assert dict(zip(loaded, counts)) == pieces


# ---------------------------------------------------------------- saving

def test_save_names_and_format(tmp_path):
    trainer = train('tang6')
    paths = trainer.save(tmp_path / 'm')
    assert paths == [str(tmp_path / 'm.1500'), str(tmp_path / 'm.600')]
    for path, ref in zip(paths, expected_models('tang6')):
        raw = json.load(open(path, encoding='utf-8'))
        ordered = sorted(ref, key=lambda p: (len(p), p))
        assert list(raw) == [base64.b64encode(p).decode() for p in ordered]
        assert [v[0] for v in raw.values()] == list(range(3, len(ordered) + 3))
        assert [v[-1] for v in raw.values()] == [ref[p] for p in ordered]
        assert list(raw.values())[0][2]['bytepiece']['training']['max_vocab_size'] == [1500, 600]
    # one size (even in a list): saved at the path itself
    one = Trainer(order=4, max_vocab_size=[300], min_count=2)
    one.train(fixture_corpus('tang6'), progress=False)
    assert one.save(tmp_path / 'one') == [str(tmp_path / 'one')]
    assert os.path.exists(tmp_path / 'one')


def test_save_to_unwritable_path_leaves_nothing(tmp_path, monkeypatch):
    trainer = Trainer(order=3, max_vocab_size=300, min_count=2)
    trainer.train(['hello world\n' * 20], progress=False)
    with pytest.raises(OSError):
        trainer.save(tmp_path / 'missing-dir' / 'm.model')
    # a failure at the last step (the rename) leaves neither the file nor a temporary
    import bytepiece.core.model as model_module
    target = tmp_path / 'ro'
    target.mkdir()

    def failing_replace(src, dst):
        raise PermissionError(13, 'Permission denied', str(dst))

    monkeypatch.setattr(model_module.os, 'replace', failing_replace)
    with pytest.raises(OSError):
        trainer.save(target / 'm.model')
    assert list(target.iterdir()) == []


def test_save_before_train():
    with pytest.raises(RuntimeError):
        Trainer().save('x')


def test_trained_model_loads_in_tokenizer(tmp_path):
    from bytepiece import Tokenizer
    trainer = train('mixed5')
    path = trainer.save(tmp_path / 'm.model')[0]
    tok = Tokenizer(path)
    text = fixture_corpus('mixed5')[3]
    assert tok.decode(tok.encode(text)) == text


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize('kwargs, limit', [
    (dict(order=0), '1..7'), (dict(order=8), '1..7'),
    (dict(max_vocab_size=258), '259'), (dict(max_vocab_size=[1000, 100]), '259'),
    (dict(max_vocab_size=[]), 'empty'),
    (dict(min_count=0), '>= 1'), (dict(max_piece_length=0), '>= 1'),
])
def test_bad_parameters(kwargs, limit):
    with pytest.raises(ValueError, match=limit):
        Trainer(**kwargs)


def test_settings_and_their_training_metadata():
    trainer = Trainer(order=5, max_vocab_size=[300, 400], max_piece_length=math.inf, min_count=3)
    assert (trainer.order, trainer.max_vocab_size, trainer.max_piece_length) == (5, [400, 300], math.inf)
    assert trainer.settings.to_dict() == {
        'method': 'bytepiece', 'order': 5, 'max_vocab_size': [400, 300], 'max_piece_length': None,
        'min_count': 3, 'isolate_digits': False, 'ensure_unicode': True}
    assert Trainer(max_piece_length=8, isolate_digits=1).settings.to_dict()['max_piece_length'] == 8
    assert Trainer(isolate_digits=1).isolate_digits is True


def test_bad_parameter_types():
    with pytest.raises(TypeError):
        Trainer(order=2.5)
    with pytest.raises(TypeError):
        Trainer(min_count='2')


@pytest.mark.parametrize('texts, error, match', [
    ([], ValueError, 'empty'),
    (['', ''], ValueError, 'no text'),
    (['ok', 3], TypeError, 'item 1'),
    ([b'bytes'], TypeError, 'item 0'),
    (b'no such file', FileNotFoundError, 'not found'),
    (42, TypeError, 'iterable of str, got int'),
    (['ok', 'x \ud800 lone surrogate'], ValueError, r"corpus item 1: cannot encode '\\ud800' at character 2 .*surrogate"),
])
def test_bad_corpus(texts, error, match):
    with pytest.raises(error, match=match):
        Trainer(order=3, max_vocab_size=300).train(texts, progress=False)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        Trainer().train(str(tmp_path / 'nope.txt'), progress=False)
    bad = tmp_path / 'bad.jsonl'
    bad.write_text('{"text": "a"}\n{"other": "b"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:2: no field 'text'"):
        Trainer(order=3, max_vocab_size=300).train(bad, progress=False)
    bad.write_text('{"text": 5}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1: field 'text' is not a string"):
        Trainer(order=3, max_vocab_size=300).train(files=bad, progress=False)
    bad.write_text('not json\n')
    with pytest.raises(ValueError, match='invalid JSON'):
        Trainer(order=3, max_vocab_size=300).train(bad, progress=False)
    with pytest.raises(ValueError):
        convert_to_bytepiece({'a': 0}, tmp_path / 'x')
    with pytest.raises(TypeError):
        convert_to_bytepiece({1: 2}, tmp_path / 'x')


# ---------------------------------------------------------------- corpus and kernels

def _shards(corpus, isolate_digits=False):
    regex = chunk_regex(isolate_digits)
    return [chunk for text in corpus for chunk in chunk_text(text, regex)]


@pytest.mark.parametrize('isolate_digits', [False, True])
def test_a_text_file_read_whole_gives_the_chunks_of_its_text(tmp_path, isolate_digits):
    rng = random.Random(5)
    alphabet = ['a', 'b', ' ', '\n', '\r', '\r\n', '7', '\u0661', 'e\u0301', '\u4e2d', '\n' * 150]
    text = ''.join(rng.choice(alphabet) for _ in range(4000)) + 'x' * 12000 + '\n'
    path = tmp_path / 'doc.txt'
    path.write_bytes(text.encode('utf-8'))
    gz = tmp_path / 'doc.txt.gz'
    with gzip.open(gz, 'wb') as f:
        f.write(text.encode('utf-8'))
    whole = _shards([text], isolate_digits)
    files = Files(path, partition_bytes=50, text_documents='file')
    assert len(files.parts) == 1, 'a file read whole is not cut into byte ranges'
    assert _shards(files, isolate_digits) == whole
    assert _shards(Files(gz, text_documents='file'), isolate_digits) == whole
    assert max(map(len, whole)) <= 10000 + 100


@pytest.mark.parametrize('isolate_digits', [False, True])
def test_long_texts_are_chunked_in_slices_like_whole(isolate_digits):
    rng = random.Random(7)
    alphabet = ['a', 'b', ' ', '\n', '\n\n\n', '7', 'e\u0301', '\u4e2d', '\n' * 150, 'x' * 300]
    text = ''.join(rng.choice(alphabet) for _ in range(5000)) + 'y' * 25000
    regex = chunk_regex(isolate_digits)
    whole = chunk_text(text, regex)
    for size in (1, 50, 777, 10 ** 9):
        assert [c for part in text_chunks(text, regex, slice_chars=size) for c in part] == whole


def test_chunking_rules():
    assert _shards(['ab\n\ncd']) == [b'ab\n\n', b'cd']
    assert _shards(['a12b\n'], isolate_digits=True) == [b'a', b'1', b'2', b'b\n']
    assert _shards(['\n' * 250]) == [b'\n' * 100, b'\n' * 100, b'\n' * 50]
    assert _shards(['e\u0301']) == ['\u00e9'.encode()]  # NFC


def test_ngram_level_counts_match_brute_force():
    rng = random.Random(1)
    chunks = [bytes(rng.choice(b'abcab\xe4\xb8') for _ in range(rng.randrange(0, 40))) for _ in range(60)]
    buf = np.frombuffer(b''.join(chunks), np.uint8).copy()
    bounds = np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.int64)
    for n in (3, 4, 5):
        def grams(k):
            out = {}
            for c in chunks:
                for i in range(len(c) - k + 1):
                    out[c[i:i + k]] = out.get(c[i:i + k], 0) + 1
            return out
        prev = grams(n - 1)
        kept = [g for g, c in prev.items() if c >= 2]
        kept_filter = ngrams.build_filter(np.array(sorted(ngrams.pack(g) for g in kept), np.uint64))
        every = grams(n)
        want = {g: c for g, c in every.items() if g[:-1] in set(kept) and g[1:] in set(kept)}
        keys, counts = ngrams.count_level(buf, bounds, n, kept_filter)
        got = {ngrams.unpack(k): int(c) for k, c in zip(keys, counts)}
        # every candidate, with its exact count; a filter false positive may add
        # another n-gram (with its exact count too)
        assert {g: got[g] for g in want} == want
        assert all(every[g] == c for g, c in got.items())


def test_trainer_rejects_a_non_engine_and_repeated_sizes():
    with pytest.raises(ValueError, match='scheduler address'):
        Trainer(max_vocab_size=300).train(['abc'], engine='x')
    with pytest.raises(TypeError, match='engine must be one of'):
        Trainer(max_vocab_size=300).train(['abc'], executor=42)
    with pytest.raises(ValueError, match='twice'):
        Trainer(max_vocab_size=[300, 400, 300])


def test_convert_to_bytepiece_rejects_counts_it_cannot_sum(tmp_path):
    path = str(tmp_path / 'm.model')
    with pytest.raises(ValueError, match='int64'):
        convert_to_bytepiece({'ab': 2**70}, path)
    with pytest.raises(ValueError, match='largest float64'):
        convert_to_bytepiece({'ab': 1e308, 'cd': 1e308}, path)
    with pytest.raises(ValueError, match="'ab'.*digits"):
        convert_to_bytepiece({'ab': 10**400}, path)
    assert not os.path.exists(path)
    convert_to_bytepiece({'ab': 2**40, 'cd': 3.5}, path)  # mixed int and float counts still work
    assert os.path.exists(path)


def test_save_several_sizes_to_a_bytes_path(tmp_path):
    trainer = Trainer(order=3, max_vocab_size=[300, 280], min_count=1)
    trainer.train(['abcabc abd'] * 20, progress=False)
    paths = trainer.save(os.fsencode(str(tmp_path / 'm')))
    assert sorted(os.listdir(tmp_path)) == ['m.280', 'm.300']
    assert paths == [str(tmp_path / 'm.300'), str(tmp_path / 'm.280')]


def test_lone_surrogate_in_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / 'c.jsonl'
    path.write_text('{"text": "ok"}\n\n{"text": "pair \\ud83d\\ude00 \\u4e2d"}\n{"text": "bad \\ud800"}\n',
                    encoding='utf-8')
    with pytest.raises(ValueError, match=r'c\.jsonl:4: a lone surrogate'):
        Trainer(max_vocab_size=300, min_count=1).train(str(path))


def test_a_list_of_file_names_is_refused_as_texts(tmp_path):
    path = tmp_path / 'corpus.txt'
    path.write_text('some text to train on\n' * 50, encoding='utf-8')
    with pytest.raises(ValueError, match=r'names of existing files .*files=\[\.\.\.\]'):
        Trainer(order=3, max_vocab_size=300).train([str(path)], progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        Trainer(order=3, max_vocab_size=300).train([str(path), 'plain text'], progress=False)
    one = Trainer(order=3, max_vocab_size=300)
    one.train(files=[str(path)], progress=False, text_documents='file')
    two = Trainer(order=3, max_vocab_size=300)
    two.train(['some text to train on\n' * 50], progress=False)
    assert one.pieces == two.pieces


def test_texts_may_be_read_once():
    ref = train('mixed5').pieces
    assert train('mixed5', texts=(t for t in fixture_corpus('mixed5'))).pieces == ref


def _interrupted_numba_call(*args, **kwargs):
    # what CPython raises when Ctrl-C lands inside a compiled function's call
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as e:
        raise SystemError('CPUDispatcher(<function counter_add>) returned a result with an exception set') from e


def test_ctrl_c_inside_a_kernel_call_is_a_keyboard_interrupt(monkeypatch, tmp_path):
    monkeypatch.setattr(run_module, 'count_pieces', _interrupted_numba_call)
    with pytest.raises(KeyboardInterrupt):
        Trainer(order=3, max_vocab_size=300).train(['some text'], progress=False)
    monkeypatch.setattr(run_module, 'count_pieces', lambda *a, **k: (_ for _ in ()).throw(SystemError('other')))
    with pytest.raises(SystemError, match='other'):
        Trainer(order=3, max_vocab_size=300).train(['some text'], progress=False)


def test_missing_tmpdir_is_named(tmp_path):
    missing = tmp_path / 'nope'
    with pytest.raises(FileNotFoundError, match=r"tmpdir not found: '.*nope'"):
        Trainer(order=3, max_vocab_size=300).train(['some text'], progress=False, tmpdir=missing)
    a_file = tmp_path / 'file'
    a_file.write_text('x')
    with pytest.raises(NotADirectoryError, match=r"tmpdir is not a directory: '.*file'"):
        Trainer(order=3, max_vocab_size=300).train(['some text'], progress=False, tmpdir=a_file)


def test_lone_surrogate_position_is_in_the_callers_text():
    text = 'e\u0301' * 3 + 'x\ud800'  # NFC shortens the text before the surrogate by 3 characters
    with pytest.raises(ValueError, match=r"corpus item 0: cannot encode '\\ud800' at character 7 "):
        Trainer(order=3, max_vocab_size=300).train([text], progress=False)


def test_invalid_utf8_in_a_truncated_gzip_is_still_a_value_error(tmp_path):
    data = gzip.compress(b'ok\n\xff' + b'a' * 200000 + b'\n')
    path = tmp_path / 'cut.txt.gz'
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r'cut\.txt\.gz: compressed data ended early'):
        list(Files(str(path)))
    with pytest.raises(ValueError, match=r'cut\.txt\.gz: compressed data ended early'):
        Trainer(order=3, max_vocab_size=300).train(files=str(path), progress=False)


@pytest.mark.parametrize('suffix', ['.txt', '.jsonl', '.txt.gz'])
def test_invalid_utf8_names_file_and_line(tmp_path, suffix):
    # far into the file, past the decoder's first buffer: the line is counted from the file's start
    lines = [json.dumps({'text': f'line {i}'}) if 'jsonl' in suffix else f'line {i}' for i in range(20000)]
    lines[15000] = lines[15000][:3] + '\udcff'  # becomes the byte 0xFF below
    data = '\n'.join(lines).encode('utf-8', 'surrogateescape') + b'\n'
    path = tmp_path / f'bad{suffix}'
    path.write_bytes(gzip.compress(data) if suffix.endswith('.gz') else data)
    with pytest.raises(ValueError, match=rf'bad{re.escape(suffix)}:15001: invalid UTF-8 at byte 3$'):
        Trainer(order=3, max_vocab_size=300).train(str(path), progress=False)
