"""The bytepiece command line (run in-process through ``main``, plus a few real subprocesses)."""

import bz2
import gzip
import io
import json
import lzma
import os
import random
import stat
import subprocess
import sys
import threading

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
    monkeypatch.setattr(cli.streams, 'BATCH_BYTES', 300)
    texts = [r['text'].replace('\n', ' ') for r in read_golden('bytepiece.plus.40k')[:50]]
    src = tmp_path / 'many.txt'
    src.write_text('\n'.join(texts) + '\n', encoding='utf-8')
    out = tmp_path / 'out.txt'
    assert run(['encode', '-m', M40, src, src, '-o', out, '--threads', '2'], capsys)[0] == 0
    expected = [' '.join(map(str, ids)) for ids in tok.encode_batch(texts)]
    assert out.read_text().split('\n')[:-1] == expected * 2


def test_read_batches_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(cli.streams, 'BATCH_BYTES', 100)
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
    (long_batch,) = [b for b in batches if len(b[2]) == 250]
    assert cli.split_lines(*long_batch)[0][2] is long_batch[2], 'a batch of one long line is not copied'


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
    *rows, blank = out.read_text().splitlines()
    assert blank == ''  # the blank input line stays blank, even with --add-bos
    got = [json.loads(line)['ids'] for line in rows]
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


def test_decode_errors(tok, tmp_path, capsys):
    """--errors as bytes.decode: ids ending inside a character."""
    src = tmp_path / 'ids.txt'
    cut = tok.encode('ok') + [tok.piece_to_id(b'\xe4')]
    src.write_text(' '.join(map(str, cut)) + '\n' + ' '.join(map(str, tok.encode('fine'))) + '\n')
    assert run(['decode', '-m', M40, src], capsys)[1] == 'ok\nfine\n', 'ignore by default, as Tokenizer.decode'
    assert run(['decode', '-m', M40, src, '--errors', 'replace'], capsys)[1] == 'ok\ufffd\nfine\n'
    assert run(['decode', '-m', M40, src, '--errors', 'backslashreplace'], capsys)[1] == 'ok\\xe4\nfine\n'
    code, out, err = run(['decode', '-m', M40, src, '--errors', 'strict'], capsys)
    assert code == 1 and out == '' and f'{src}:1: ' in err and '--errors replace' in err


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
    pytest.importorskip('bytepiece.train')
    corpus = os.path.join(FIXTURES, 'train', 'tang300.txt')
    out = tmp_path / 'model.json'
    code, _, err = run(['train', corpus, '-o', out, '--vocab-size', '300', '400', '--order', '4',
                        '--min-count', '2', '--workers', '2', '-q'], capsys)
    assert code == 0, err
    for size in (300, 400):
        assert Tokenizer(f'{out}.{size}').vocab_size == size
    code, _, err = run(['train', corpus, '-o', out, '--vocab-size', '10'], capsys)
    assert code == 1 and '--vocab-size must be' in err and len(err.splitlines()) == 1


@pytest.mark.parametrize('text_documents', [None, 'paragraph', 'file'])
def test_train_says_what_a_document_of_plain_text_is(tmp_path, capsys, text_documents):
    corpus = os.path.join(FIXTURES, 'train', 'tang300.txt')
    flag = [] if text_documents is None else ['--text-documents', text_documents]
    code, _, err = run(['train', corpus, '-o', tmp_path / 'm.json', '--vocab-size', '300', '--order', '4', *flag],
                       capsys)
    assert code == 0, err
    assert f'documents (plain text: a document per {text_documents or "line"})' in err


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
    (['convert', '-m', M40, '--to', 'huggingface', '/no/such/dir/t.json'], 1, "'/no/such/dir"),
    (['train', '-', '-o', 'x.json'], 2, 'give files'),
    (['encode', '-m', M40, '--text-documents', 'file'], 2, '--text-documents file is read by the token-file formats'),
    (['train', 'x.txt', '-o', 'x.json', '--text-documents', 'lines'], 2, "invalid choice: 'lines'"),
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


# --- damaged input, output paths, line alignment ---------------------------------

COMPRESSORS = {'.gz': gzip.compress, '.xz': lzma.compress, '.bz2': bz2.compress}


def _random_text(size):
    rng = random.Random(0)  # random text, so that compression leaves enough data to cut
    return ''.join(rng.choice('abcdefgh 世界\n') for _ in range(size)).encode()


@pytest.mark.parametrize('command', ['encode', 'decode', 'train'])
@pytest.mark.parametrize('suffix', sorted(COMPRESSORS))
def test_damaged_compressed_input(command, suffix, tmp_path, capsys):
    data = COMPRESSORS[suffix](_random_text(20000))
    model = [] if command == 'train' else ['-m', M40]
    out = ['-o', tmp_path / 'model.json', '-q'] if command == 'train' else []
    cases = [('trunc' + suffix, data[:len(data) // 2], 'compressed data ended early'),
             ('junk' + suffix, b'this is not compressed data\n' * 4, 'damaged compressed data')]
    for name, content, message in cases:
        path = tmp_path / name
        path.write_bytes(content)
        code, _, err = run([command] + model + out + [path], capsys)
        assert code == 1 and 'Traceback' not in err and len(err.splitlines()) == 1
        assert f'{path}: {message}' in err


def test_damaged_model_zip(tmp_path, capsys, monkeypatch):
    data = bytearray(open(M40, 'rb').read())
    data[2000:2100] = bytes(b ^ 0xFF for b in data[2000:2100])  # inside the compressed member
    bad = tmp_path / 'damaged.zip'
    bad.write_bytes(bytes(data))
    code, _, err = run(['encode', '-m', bad], capsys, stdin=b'x\n', monkeypatch=monkeypatch)
    assert code == 1 and 'damaged.zip' in err and len(err.splitlines()) == 1
    assert 'cannot read the model zip' in err


def test_output_to_a_directory(infile, tmp_path, capsys):
    target = tmp_path / 'somedir'
    target.mkdir()
    code, _, err = run(['encode', '-m', M40, '-o', target, infile], capsys)
    assert code == 1 and f"output path is a directory: '{target}'" in err
    assert sorted(os.listdir(tmp_path)) == ['in.txt', 'somedir']
    # a rename that fails at the end (here the path became a directory meanwhile)
    late = tmp_path / 'late'
    with pytest.raises(IsADirectoryError) as info:
        with cli.Output(str(late)) as out:
            out.write_lines(['x'])
            late.mkdir()
    assert info.value.filename == str(late)
    assert sorted(os.listdir(tmp_path)) == ['in.txt', 'late', 'somedir']  # no temp file left
    # os.replace's errors carry the temp file and the target: the message names the target
    error = OSError(21, 'Is a directory', '/d/.x.abc.tmp', None, '/d/x')
    assert cli.errors.one_line(error) == "Is a directory: '/d/x'"


def test_output_over_an_input_is_refused(tok, infile, tmp_path, capsys):
    before = infile.read_bytes()
    link = tmp_path / 'link.txt'
    link.symlink_to(infile)
    for argv in (['encode', '-m', M40, infile, '-o', infile], ['encode', '-m', M40, infile, '-o', link],
                 ['decode', '-m', M40, infile, '-o', infile]):
        code, _, err = run(argv, capsys)
        assert code == 2 and 'writing it would destroy it' in err and len(err.splitlines()) == 1
    assert infile.read_bytes() == before
    model = tmp_path / 'model.json'
    tok.save(str(model))
    saved = model.read_bytes()
    code, _, err = run(['convert', '-m', model, '--to', 'huggingface', model], capsys)
    assert code == 2 and f"the output '{model}' is the input '{model}'" in err
    assert model.read_bytes() == saved
    # a directory: the export writes tokenizer.json there, which may be the model itself
    export = tmp_path / 'hf'
    export.mkdir()
    in_dir = export / 'tokenizer.json'
    tok.save(str(in_dir))
    code, _, err = run(['convert', '-m', in_dir, '--to', 'huggingface', export], capsys)
    assert code == 2 and 'writing it would destroy it' in err and in_dir.read_bytes() == saved
    pytest.importorskip('bytepiece.train')
    code, _, err = run(['train', '-o', infile, '--vocab-size', '300', '-q', infile], capsys)
    assert code == 2 and infile.read_bytes() == before


def test_output_through_a_link_to_a_pipe(tok, infile, tmp_path, capsys):
    # a FIFO, not /dev/null: a regression would replace the machine's /dev/null when run as root
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    link = tmp_path / 'link'
    link.symlink_to(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run(['encode', '-m', M40, infile, '-o', link], capsys)
    reader.join(30)
    assert code == 0, err
    assert received == [''.join(' '.join(map(str, tok.encode(t))) + '\n' for t in LINES).encode()]
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ['fifo', 'in.txt', 'link']


@pytest.mark.parametrize('word', ['+5', '1_0', '0x10', '5.0', '\u0663', '--3'])
def test_decode_takes_only_decimal_ids(word, capsys, monkeypatch):
    stdin = f'3\t 4\n5 {word} 6\n'.encode()
    code, out, err = run(['decode', '-m', M40], capsys, stdin=stdin, monkeypatch=monkeypatch)
    assert code == 1 and out == ''
    assert err.strip() == f'bytepiece decode: error: <stdin>:2: {word!r} is not a token id'


def test_decode_error_shortens_a_long_word(capsys, monkeypatch):
    code, _, err = run(['decode', '-m', M40], capsys, stdin=b'3 ' + b'x' * 5000 + b'\n', monkeypatch=monkeypatch)
    assert code == 1 and err.strip() == f"bytepiece decode: error: <stdin>:1: {'x' * 30!r}... (5000 characters) is not a token id"


def test_decode_negative_id_is_out_of_range(capsys, monkeypatch):
    code, _, err = run(['decode', '-m', M40], capsys, stdin=b'3\n-3\n', monkeypatch=monkeypatch)
    assert code == 1 and '<stdin>:2' in err and '-3' in err and 'range' in err


def test_blank_lines_stay_aligned(tmp_path, capsys, monkeypatch, tok):
    monkeypatch.setattr(cli.streams, 'BATCH_BYTES', 40)  # some batches hold only blank lines
    rows = ['{"text": "first"}', '', '  ', '{"text": "second"}', '', '', '', '{"text": "third"}', '']
    src = tmp_path / 'docs.jsonl'
    src.write_text('\n'.join(rows) + '\n')
    ids = tmp_path / 'ids.jsonl'
    assert run(['encode', '-m', M40, '--format', 'jsonl', '--add-bos', src, '-o', ids], capsys)[0] == 0
    lines = ids.read_text().split('\n')[:-1]
    assert [line == '' for line in lines] == [not row.strip() for row in rows]
    assert json.loads(lines[3]) == {'ids': [1] + tok.encode('second')}
    back = tmp_path / 'back.jsonl'
    assert run(['decode', '-m', M40, '--format', 'jsonl', ids, '-o', back], capsys)[0] == 0
    texts = [json.loads(line)['text'] if line else None for line in back.read_text().split('\n')[:-1]]
    assert texts == [json.loads(row)['text'] if row.strip() else None for row in rows]
    code, out, _ = run(['decode', '-m', M40], capsys, stdin=b'4\n\n\n5\n', monkeypatch=monkeypatch)
    assert code == 0 and out == '\x01\n\n\n\x02\n'


def test_decode_text_with_a_newline(tok, tmp_path, capsys, monkeypatch):
    ids = tok.encode('a\\b\nc\rd')
    stdin = ('3\n' + ' '.join(map(str, ids)) + '\n').encode()
    out = tmp_path / 'out.txt'
    out.write_text('old')
    code, _, err = run(['decode', '-m', M40, '-o', out], capsys, stdin=stdin, monkeypatch=monkeypatch)
    assert code == 1 and '<stdin>:2: the decoded text has a newline' in err and '--escape' in err
    assert out.read_text() == 'old'
    code, text, _ = run(['decode', '-m', M40, '--escape'], capsys, stdin=stdin, monkeypatch=monkeypatch)
    assert code == 0 and text == '\x00\na\\\\b\\nc\\rd\n'
    code, _, err = run(['decode', '-m', M40, '--escape', '--format', 'jsonl'], capsys)
    assert code == 2 and '--escape is for --format ids' in err
    # a CR (CRLF input) is not a line break here: it goes through encode and decode unchanged
    src = tmp_path / 'crlf.txt'
    src.write_bytes(b'one\r\ntwo\r\n')
    assert run(['encode', '-m', M40, src, '-o', tmp_path / 'ids.txt'], capsys)[0] == 0
    assert run(['decode', '-m', M40, tmp_path / 'ids.txt', '-o', out], capsys)[0] == 0
    assert out.read_bytes() == b'one\r\ntwo\r\n'


def test_train_files_after_vocab_size(tmp_path, capsys):
    pytest.importorskip('bytepiece.train')
    corpus = os.path.join(FIXTURES, 'train', 'tang300.txt')
    out = tmp_path / 'model.json'
    code, _, err = run(['train', '-o', out, '--order', '4', '-q', '--vocab-size', '300', corpus], capsys)
    assert code == 0, err
    assert Tokenizer(str(out)).vocab_size == 300
    for argv, expected, message in [(['--vocab-size', corpus], 2, f'invalid int value: {corpus!r}'),
                                    (['--vocab-size', '300'], 2, 'give at least one training FILE'),
                                    (['--vocab-size', '300', corpus, '-o', tmp_path], 1, 'output path is a directory')]:
        try:
            code = cli.main([str(a) for a in ['train', '-o', out] + argv])
        except SystemExit as e:  # argparse usage errors
            code = e.code
        err = capsys.readouterr().err
        assert code == expected and message in err and len(err.splitlines()) == 1


def test_errors_name_file_and_line(tmp_path, capsys):
    src = tmp_path / 'docs.jsonl'
    src.write_text('{"text": "fine"}\n\n{"text": "lone \\ud800 surrogate"}\n')
    code, _, err = run(['encode', '-m', M40, '--format', 'jsonl', src], capsys)
    assert code == 1 and f"{src}:3: cannot encode '\\ud800' at character 5 as UTF-8 (a lone surrogate)" in err
    pytest.importorskip('bytepiece.train')
    for name, content in [('bad.txt', b'fine\nab\xff\n'), ('bad.jsonl', b'{"text": "a"}\n{"text": "\xe4"}\n')]:
        path = tmp_path / name
        path.write_bytes(content)
        code, _, err = run(['train', '-q', '-o', tmp_path / 'm.json', path], capsys)
        assert code == 1 and len(err.splitlines()) == 1
        assert f'{path}:2: invalid UTF-8 at byte' in err


def test_ctrl_c_inside_a_kernel_call_is_reported_as_an_interrupt(infile, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as e:
            raise SystemError('CPUDispatcher(...) returned a result with an exception set') from e
    monkeypatch.setattr(cli.commands, 'LineFormatter', interrupted)
    code, _, err = run(['encode', '-m', M40, infile], capsys)
    assert code == 130 and err == 'bytepiece: interrupted\n'


def test_special_tokens_taking_a_file_name_warns(tok, tmp_path, capsys, monkeypatch):
    ids = tmp_path / 'ids.txt'
    ids.write_text('100 101\n')
    code, out, err = run(['decode', '-m', M40, '--special-tokens', '<|eot|>', ids], capsys, stdin=b'102\n',
                         monkeypatch=monkeypatch)
    assert code == 0 and out == tok.decode([102]) + '\n', 'the file became a token and stdin was read'
    assert f"warning: --special-tokens took the file name '{ids}' as a token" in err
    code, out, err = run(['decode', '-m', M40, ids, '--special-tokens', '<|eot|>'], capsys)
    assert code == 0 and out == tok.decode([100, 101]) + '\n' and err == ''
    code, out, err = run(['decode', '-m', M40, ids, '--special-tokens', '<|eot|>', ids], capsys)
    assert code == 0 and out == tok.decode([100, 101]) + '\n', 'the second file became a token'
    assert f"warning: --special-tokens took the file name '{ids}' as a token" in err


def test_info_text_that_is_not_utf8(capsys):
    for text, message in [('ab\udcff', '--text is not valid UTF-8: byte 0xff at character 2'),
                          ('a\ud800', '--text holds a lone surrogate at character 1')]:
        code, out, err = run(['info', '-m', M40, '--text', text], capsys)
        assert code == 2 and out == '' and message in err


@pytest.mark.parametrize('line, what', [(b'{bad', 'invalid JSON ('), (b'{"body": 1}', "no field 'text'"),
                                        (b'{"text": 1}', "field 'text' is not a string"),
                                        (b'{"text": "\xff"}', 'invalid UTF-8 at byte 10')])
def test_a_bad_json_line_reads_the_same_in_every_command(tmp_path, capsys, line, what):
    path = tmp_path / 'bad.jsonl'
    path.write_bytes(b'{"text": "fine"}\n' + line + b'\n')
    messages = []
    for argv in (['train', path, '-o', tmp_path / 'm.json', '--vocab-size', '300'],
                 ['encode', '-m', M40, path, '-o', tmp_path / 'ids.txt'],
                 ['encode', '-m', M40, path, '--format', 'flat', '-o', tmp_path / 'shards']):
        code, _, err = run(argv, capsys)
        assert code == 1 and len(err.splitlines()) == 1, err
        messages.append(err.split(': error: ', 1)[1])
    assert all(f'bad.jsonl:2: {what}' in m for m in messages), messages
    assert len({m.split('bad.jsonl:2: ', 1)[1] for m in messages}) == 1, messages


def test_a_size_the_corpus_cannot_give_has_one_wording(tmp_path, capsys):
    corpus = tmp_path / 'small.txt'
    corpus.write_text('hello world\nfoo bar\n', encoding='utf-8')
    code, _, unigram = run(['train', corpus, '-o', tmp_path / 'u.json', '--vocab-size', '5000'], capsys)
    assert code == 1 and 'the corpus supports only 260 ids' in unigram and '--min-count=2' in unigram
    code, _, bytepiece = run(['train', corpus, '-o', tmp_path / 'b.json', '--vocab-size', '5000', '--method',
                              'bytepiece', '-q'], capsys)
    assert code == 0 and 'warning: vocabulary size 5000 not reached' in bytepiece
    assert 'the corpus supports only 260 ids (257 pieces) with --min-count=2' in bytepiece
    assert 'ask for a smaller --vocab-size, lower --min-count' in bytepiece and 'min_count' not in bytepiece


@pytest.mark.parametrize('name, content, message', [
    ('empty.txt', b'', 'the corpus is empty'),
    ('binary.bin', bytes(range(256)) * 8, 'invalid UTF-8'),
    ('bad.jsonl', b'{"text": "fine"}\n{"text": oops\n', 'bad.jsonl:2: invalid JSON'),
    ('small.txt', b'tiny corpus\n', 'the corpus supports only'),
])
def test_a_failed_train_leaves_no_work_directory(name, content, message, tmp_path, capsys):
    pytest.importorskip('bytepiece.train')
    corpus = tmp_path / name
    corpus.write_bytes(content)
    code, _, err = run(['train', corpus, '-o', tmp_path / 'm.model', '--vocab-size', '1000', '-q'], capsys)
    assert code == 1 and message in err and len(err.splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == [name], 'no model, no m.model.work'


def test_python_dash_m_bytepiece_runs_the_command_line():
    done = subprocess.run([sys.executable, '-m', 'bytepiece', 'info', '-m', M40], capture_output=True, text=True)
    assert done.returncode == 0 and 'vocab size: 39843' in done.stdout, done.stderr
