"""The bytepiece command line (run in-process through ``main``, plus a few real subprocesses)."""

import io
import json
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES, model_path, read_golden

from bytepiece import Tokenizer, cli

M40 = model_path('bytepiece.plus.40k')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINES = ['hello world', '你好，世界', '', 'emoji 🙂 and tabs\tend', 'Cafe\u0301', '<|eot|> special']


@pytest.fixture(scope='module')
def tok():
    return Tokenizer(M40)


@pytest.fixture
def infile(tmp_path):
    path = tmp_path / 'in.txt'
    path.write_text('\n'.join(LINES) + '\n', encoding='utf-8')
    return path


def run(argv, capsys, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, 'stdin', io.TextIOWrapper(io.BytesIO(stdin)))
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_encode_ids(tok, infile, tmp_path, capsys):
    out = tmp_path / 'ids.txt'
    code, _, err = run(['encode', '-m', M40, infile, '-o', out], capsys)
    assert code == 0 and err == ''
    lines = out.read_text().split('\n')
    assert lines[-1] == '' and len(lines) == len(LINES) + 1
    assert [list(map(int, line.split())) for line in lines[:-1]] == [tok.encode(t) for t in LINES]


def test_encode_stdout_and_stdin(tok, capsys, monkeypatch):
    data = ('\n'.join(LINES)).encode()  # no final newline: the last line still counts
    code, out, _ = run(['encode', '-m', M40], capsys, stdin=data, monkeypatch=monkeypatch)
    assert code == 0
    assert out.split('\n')[:-1] == [' '.join(map(str, tok.encode(t))) for t in LINES]


def test_decode_round_trip(infile, tmp_path, capsys):
    ids = tmp_path / 'ids.txt'
    back = tmp_path / 'back.txt'
    assert run(['encode', '-m', M40, '--normalization', 'none', infile, '-o', ids], capsys)[0] == 0
    assert run(['decode', '-m', M40, ids, '-o', back], capsys)[0] == 0
    assert back.read_text(encoding='utf-8') == infile.read_text(encoding='utf-8')


def test_encode_many_batches(tok, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, 'BATCH_BYTES', 300)
    texts = [r['text'].replace('\n', ' ') for r in read_golden('bytepiece.plus.40k')[:50]]
    src = tmp_path / 'many.txt'
    src.write_text('\n'.join(texts) + '\n', encoding='utf-8')
    out = tmp_path / 'out.txt'
    assert run(['encode', '-m', M40, src, src, '-o', out, '--threads', '2'], capsys)[0] == 0
    expected = [' '.join(map(str, ids)) for ids in tok.encode_batch(texts)]
    assert out.read_text().split('\n')[:-1] == expected * 2


def test_read_batches_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, 'BATCH_BYTES', 100)
    src = tmp_path / 'big.txt'
    src.write_bytes(b'0123456789\n' * 100 + b'x' * 250 + b'\nlast')
    batches = list(cli.read_batches([str(src)]))
    lines = [item for batch in batches for item in cli.split_lines(*batch)]
    assert [line for _, _, line in lines] == [b'0123456789'] * 100 + [b'x' * 250, b'last']
    assert [number for _, number, _ in lines] == list(range(1, 103))
    # a batch holds one block plus the unfinished line carried over from the previous block
    assert max(len(data) for _, _, data in batches[:-2]) < 2 * 100
    (tmp_path / 'empty').write_bytes(b'')
    assert list(cli.read_batches([str(tmp_path / 'empty')])) == []
    (tmp_path / 'nl').write_bytes(b'\n')
    assert [cli.split_lines(*b) for b in cli.read_batches([str(tmp_path / 'nl')])] == \
        [[(str(tmp_path / 'nl'), 1, b'')]]


def test_encode_pieces(tok, infile, capsys):
    code, out, _ = run(['encode', '-m', M40, infile, '--format', 'pieces'], capsys)
    assert code == 0
    rows = out.split('\n')
    assert rows[0].replace('\u2581', ' ').replace(' ', '') == 'helloworld'
    assert len(rows[0].split(' ')) == len(tok.encode('hello world'))
    assert cli.display_piece(b'a b\n\\\xe4') == 'a\u2581b\\n\\\\\\xe4'


def test_encode_jsonl_with_specials_and_sampling(tok, tmp_path, capsys):
    src = tmp_path / 'docs.jsonl'
    docs = [{'body': 'first <|eot|> doc', 'id': 1}, {'body': '第二个\n文档', 'id': 2}]
    src.write_text('\n'.join(json.dumps(d, ensure_ascii=False) for d in docs) + '\n\n', encoding='utf-8')
    out = tmp_path / 'out.jsonl'
    argv = ['encode', '-m', M40, src, '-o', out, '--format', 'jsonl', '--field', 'body',
            '--special-tokens', '<|eot|>', '--allowed-special', 'all', '--add-bos', '--add-eos']
    assert run(argv, capsys)[0] == 0
    special = Tokenizer(M40, special_tokens=['<|eot|>'])
    got = [json.loads(line)['ids'] for line in out.read_text().splitlines()]
    assert got == [special.encode(d['body'], allowed_special='all', add_bos=True, add_eos=True) for d in docs]
    # sampling is reproducible under --seed, whatever the thread count
    sample = argv[:-4] + ['--alpha', '0.1', '--seed', '3']
    assert run(sample + ['--threads', '1'], capsys)[0] == 0
    first = out.read_text()
    assert run(sample + ['--threads', '2'], capsys)[0] == 0
    assert out.read_text() == first


def test_decode_jsonl(tok, tmp_path, capsys):
    src = tmp_path / 'ids.jsonl'
    src.write_text(json.dumps({'ids': tok.encode('中文 text')}) + '\n')
    code, out, _ = run(['decode', '-m', M40, src, '--format', 'jsonl'], capsys)
    assert code == 0 and json.loads(out) == {'text': '中文 text'}


def test_info(capsys):
    code, out, _ = run(['info', '-m', M40, '--text', 'hello 世界'], capsys)
    assert code == 0
    assert 'vocab size: 39843' in out
    assert 'piece length histogram' in out and '   1:     256' in out
    assert out.splitlines()[-1] == '  he | llo | \u2581 | 世界'


def test_convert(tmp_path, capsys):
    pytest.importorskip('tokenizers')
    hf = tmp_path / 'tokenizer.json'
    assert run(['convert', '-m', M40, '--to', 'huggingface', hf], capsys)[0] == 0
    import tokenizers
    assert tokenizers.Tokenizer.from_file(str(hf)).encode('hi 世界', add_special_tokens=False).ids == \
        Tokenizer(M40).encode('hi 世界')
    pytest.importorskip('sentencepiece')
    sp = tmp_path / 'm.model'
    assert run(['convert', '-m', M40, '--to', 'sentencepiece', sp], capsys)[0] == 0
    assert sp.stat().st_size > 0


def test_train(tmp_path, capsys):
    pytest.importorskip('bytepiece.trainer')
    corpus = os.path.join(FIXTURES, 'train', 'tang300.txt')
    out = tmp_path / 'model.json'
    code, _, err = run(['train', corpus, '-o', out, '--vocab-size', '300', '400', '--order', '4',
                        '--min-count', '2', '--workers', '2', '-q'], capsys)
    assert code == 0, err
    for size in (300, 400):
        assert Tokenizer(f'{out}.{size}').vocab_size == size
    code, _, err = run(['train', corpus, '-o', out, '--vocab-size', '10'], capsys)
    assert code == 1 and 'max_vocab_size' in err and len(err.splitlines()) == 1


@pytest.mark.parametrize('argv, code, message', [
    (['encode', '-m', 'missing.zip'], 1, "model file not found: 'missing.zip'"),
    (['encode', '-m', M40, 'missing.txt'], 1, "input file not found: 'missing.txt'"),
    (['encode', '-m', M40, '--alpha', 'x'], 2, "invalid float value: 'x'"),
    (['encode', '-m', M40, '--alpha', '-1'], 2, '--alpha must be >= 0'),
    (['encode', '-m', M40, '--threads', '0'], 2, '--threads must be >= 1'),
    (['encode', '-m', M40, '--format', 'xml'], 2, "invalid choice: 'xml'"),
    (['encode', '-m', M40, '--allowed-special', '<nope>'], 1, "'<nope>'"),
    (['frobnicate'], 2, "invalid choice: 'frobnicate'"),
    ([], 2, 'required: COMMAND'),
    (['convert', '-m', M40, '--to', 'huggingface', '/no/such/dir/t.json'], 1, 'No such file or directory'),
    (['train', '-', '-o', 'x.json'], 2, 'give files'),
])
def test_errors_are_one_line(argv, code, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, 'stdin', io.TextIOWrapper(io.BytesIO(b'text\n')))
    monkeypatch.chdir(tmp_path)
    try:
        got = cli.main([str(a) for a in argv])
    except SystemExit as e:  # argparse usage errors
        got = e.code
    _, err = capsys.readouterr()
    assert got == code
    assert message in err and len(err.strip().splitlines()) == 1 and 'Traceback' not in err


def test_bad_model_and_bad_input(tmp_path, capsys, monkeypatch):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"not a model": 1}')
    code, _, err = run(['encode', '-m', bad], capsys, stdin=b'x\n', monkeypatch=monkeypatch)
    assert code == 1 and 'bad.json' in err and len(err.splitlines()) == 1
    code, _, err = run(['encode', '-m', M40], capsys, stdin=b'ok\nab\xff\xfe\n', monkeypatch=monkeypatch)
    assert code == 1 and '<stdin>:2: invalid UTF-8 at byte 2' in err
    code, _, err = run(['decode', '-m', M40], capsys, stdin=b'1 2 999999\n', monkeypatch=monkeypatch)
    assert code == 1 and '<stdin>:1' in err and '999999' in err
    code, _, err = run(['encode', '-m', M40, '--format', 'jsonl'], capsys, stdin=b'{"x": 1}\n',
                       monkeypatch=monkeypatch)
    assert code == 1 and "no field 'text'" in err


def test_failed_run_leaves_no_output(tmp_path, capsys, monkeypatch):
    out = tmp_path / 'out.txt'
    out.write_text('old content')
    code, _, _ = run(['decode', '-m', M40, '-o', out], capsys, stdin=b'1 2\nnot ids\n', monkeypatch=monkeypatch)
    assert code == 1
    assert out.read_text() == 'old content'
    assert os.listdir(tmp_path) == ['out.txt']


def _subprocess(args, stdin=b''):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.run([sys.executable, '-m', 'bytepiece.cli'] + args, input=stdin, capture_output=True,
                          env=env, timeout=300)


def test_real_process(tok):
    result = _subprocess(['encode', '-m', M40], stdin='你好 world\nsecond line\n'.encode())
    assert result.returncode == 0
    assert result.stderr == b''  # no progress bar when stderr is not a terminal
    assert result.stdout.decode().splitlines() == [' '.join(map(str, tok.encode(t)))
                                                   for t in ['你好 world', 'second line']]
    result = _subprocess(['decode', '-m', 'missing.zip'])
    assert result.returncode == 1
    assert result.stderr.decode().strip() == "bytepiece decode: error: model file not found: 'missing.zip'"


def test_progress_bar_only_on_a_terminal(infile, tmp_path, capsys, monkeypatch):
    out = tmp_path / 'ids.txt'
    monkeypatch.setattr(sys.stderr, 'isatty', lambda: True, raising=False)
    code, _, err = run(['encode', '-m', M40, infile, '-o', out], capsys)
    assert code == 0 and 'encode' in err and 'B/s' in err  # tqdm's bar
    code, _, err = run(['encode', '-m', M40, infile, '-o', out, '-q'], capsys)
    assert code == 0 and err == ''


def test_line_formatter():
    fmt = cli.LineFormatter(['a', 'bb', '', 'ç'], ', ', '[', ']\n')
    import numpy as np
    ids = np.array([0, 1, 2, 3, 3, 1], np.int32)
    starts = np.array([0, 3, 3, 4, 6])
    assert fmt.format(ids, starts) == '[a, bb, ]\n[]\n[ç]\n[ç, bb]\n'.encode()
    assert fmt.format(np.zeros(0, np.int32), np.array([0])) == b''
    assert fmt.format(np.zeros(0, np.int32), np.array([0, 0])) == b'[]\n'
