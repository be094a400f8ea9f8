"""Fuzzing the readers of outside data: the model loader, corpus files (JSON
lines, text, Parquet, compressed, damaged) and the CLI's ids. Every input
gives a result or one of our clear errors (a ValueError or OSError that
names the file); never another exception. ``benchmarks/fuzz.py`` runs the
same targets on many more inputs."""

import bz2
import collections
import contextlib
import gzip
import io
import json
import lzma
import os
import tempfile
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bytepiece import Tokenizer
from bytepiece.cli import main as cli_main
from bytepiece.corpus.inputs import Files
from bytepiece.core.model import model_dict, save_model

from conftest import small_vocab

EXAMPLES = int(os.environ.get('BYTEPIECE_FUZZ_EXAMPLES', '60'))
INPUTS_TRIED = collections.Counter()  # per target, for benchmarks/fuzz.py
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FOLDER = tempfile.mkdtemp(prefix='bytepiece-fuzz-')


def _model_bytes():
    path = os.path.join(FOLDER, 'seed.json')
    save_model(small_vocab({b'ab': 5, b'abc': 3, '中'.encode(): 7, b'\n  ': 2}, byte_count=2), path)
    with open(path, 'rb') as f:
        return f.read()


MODEL = _model_bytes()


def zipped(data):
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w') as z:
        z.writestr('model.json', data)
    return out.getvalue()


def write(name, data):
    path = os.path.join(FOLDER, name)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def assert_clear(error, path):
    """Our clear error: a ValueError or OSError whose message names the file."""
    assert isinstance(error, (ValueError, OSError)), f'{type(error).__name__}: {error}'
    assert os.path.basename(path) in str(error), f'the message does not name the file: {error}'


@st.composite
def damaged(draw, data):
    """``data`` cut short, with bytes changed, or with bytes put in."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(['cut', 'flip', 'insert']))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == 'cut':
            del data[at:]
        elif kind == 'flip' and data:
            data[at] = draw(st.integers(0, 255))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


# --- the model loader --------------------------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                        max_size=4), max_leaves=12)


@st.composite
def model_files(draw):
    kind = draw(st.sampled_from(['damaged', 'damaged-zip', 'entries', 'json']))
    if kind == 'damaged':
        return 'm.json', draw(damaged(MODEL))
    if kind == 'damaged-zip':
        return 'm.zip', draw(damaged(zipped(MODEL)))
    if kind == 'entries':  # a valid model with some entries changed to any JSON
        obj = json.loads(MODEL)
        for key in draw(st.lists(st.sampled_from(sorted(obj)), max_size=3)):
            obj[key] = draw(json_values)
        return 'm.json', json.dumps(obj).encode()
    return 'm.json', json.dumps(draw(json_values)).encode()


@FUZZ
@given(model_files())
def test_the_model_loader_gives_a_model_or_a_clear_error(case):
    INPUTS_TRIED['test_the_model_loader_gives_a_model_or_a_clear_error'] += 1
    name, data = case
    path = write(name, data)
    try:
        tokenizer = Tokenizer(path)
    except Exception as e:
        assert_clear(e, path)
    else:
        assert tokenizer.decode(tokenizer.encode('ab 中')) == 'ab 中'


# --- corpus files --------------------------------------------------------------

COMPRESS = {'': lambda b: b, '.gz': gzip.compress, '.xz': lzma.compress, '.bz2': bz2.compress,
            '.zst': lambda b: __import__('zstandard').ZstdCompressor().compress(b)}
lines = st.one_of(st.binary(max_size=30), json_values.map(lambda v: json.dumps(v).encode()),
                  st.text(max_size=20).map(lambda t: json.dumps({'text': t}).encode()))


@st.composite
def corpus_files(draw):
    fmt = draw(st.sampled_from(['.jsonl', '.txt']))
    compression = draw(st.sampled_from(sorted(COMPRESS)))
    data = COMPRESS[compression](b'\n'.join(draw(st.lists(lines, max_size=8))))
    if draw(st.booleans()):
        data = draw(damaged(data))
    return f'c{fmt}{compression}', data


@FUZZ
@given(corpus_files(), st.sampled_from(['strict', 'skip', 'replace']),
       st.sampled_from(['line', 'paragraph', 'file']), st.sampled_from([3, 64, 1 << 20]))
def test_corpus_files_give_documents_or_a_clear_error(case, errors, text_documents, partition_bytes):
    INPUTS_TRIED['test_corpus_files_give_documents_or_a_clear_error'] += 1
    name, data = case
    path = write(name, data)
    try:
        docs = list(Files(path, errors=errors, text_documents=text_documents, partition_bytes=partition_bytes))
    except Exception as e:
        assert errors == 'strict' or not isinstance(e, ValueError) or 'compressed' in str(e), e
        assert_clear(e, path)
    else:
        assert all(isinstance(d, str) for d in docs)


def _parquet_bytes():
    pa = pytest.importorskip('pyarrow')
    import pyarrow.parquet as pq
    out = io.BytesIO()
    pq.write_table(pa.table({'text': ['one', 'two', None, 'three'] * 5, 'n': list(range(20))}), out,
                   row_group_size=7)
    return out.getvalue()


@FUZZ
@given(st.data())
def test_parquet_files_give_documents_or_a_clear_error(data):
    INPUTS_TRIED['test_parquet_files_give_documents_or_a_clear_error'] += 1
    path = write('p.parquet', data.draw(damaged(_parquet_bytes())))
    try:
        docs = list(Files(path, errors='skip'))
    except Exception as e:
        assert_clear(e, path)
    else:
        assert all(isinstance(d, str) for d in docs)


# --- the command line's ids ------------------------------------------------------

id_lines = st.lists(st.one_of(st.lists(st.integers(-5, 300), max_size=6).map(lambda v: ' '.join(map(str, v))),
                              st.text(alphabet='0123456789 -x\t,', max_size=12)), max_size=5)


@FUZZ
@given(id_lines, st.sampled_from(['', '.gz']))
def test_decode_gives_text_or_one_clear_line(lines, compression):
    INPUTS_TRIED['test_decode_gives_text_or_one_clear_line'] += 1
    model = write('ids-model.json', MODEL)
    path = write(f'ids.txt{compression}', COMPRESS[compression]('\n'.join(lines).encode()))
    out = os.path.join(FOLDER, 'decoded.txt')
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli_main(['decode', '-m', model, path, '-o', out])
    message = err.getvalue()
    assert code == 0 or (code == 1 and len(message.splitlines()) == 1 and 'ids.txt' in message), message
