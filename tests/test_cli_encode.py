"""The command line's encode input formats, kept fields, token files, merge,
and decoding long lines."""

import json

import numpy as np
import pytest
from conftest import model_path
from test_cli import run, tok  # noqa: F401  (tok: the 40k model's fixture)

from bytepiece.tokenfiles import open_tokens

M40 = model_path('bytepiece.plus.40k')
RECORDS = [{'id': 1, 'text': 'hello world', 'meta': {'lang': 'en'}}, {'text': '你好', 'ids': 'old'},
           {'id': 3, 'text': ''}]


@pytest.fixture
def jsonl(tmp_path):
    path = tmp_path / 'data.jsonl'
    path.write_text('\n'.join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + '\n\n', encoding='utf-8')
    return path


def test_input_format_follows_the_extension(tok, jsonl, tmp_path, capsys, monkeypatch):
    code, out, err = run(['encode', '-m', M40, jsonl], capsys)  # no --format jsonl: still the field's text
    assert code == 0 and err == ''
    assert out.split('\n') == [' '.join(map(str, tok.encode(r['text']))) for r in RECORDS] + ['', '']
    txt = tmp_path / 'data.txt'
    txt.write_text('{"text": "a"}\nplain\n')
    code, out, _ = run(['encode', '-m', M40, txt, '--format', 'jsonl'], capsys)  # text in, JSON lines out
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == [
        {'ids': tok.encode('{"text": "a"}')}, {'ids': tok.encode('plain')}]
    code, _, err = run(['encode', '-m', M40, txt, '--input-format', 'jsonl'], capsys)
    assert code == 1 and f'{txt}:2: invalid JSON (' in err
    code, out, _ = run(['encode', '-m', M40, '--format', 'jsonl'], capsys, stdin=b'{"text": "a"}\n',
                       monkeypatch=monkeypatch)  # stdin: JSON lines with --format jsonl, as before
    assert code == 0 and json.loads(out) == {'ids': tok.encode('a')}


def test_jsonl_output_keeps_the_other_fields(tok, jsonl, capsys):
    code, out, _ = run(['encode', '-m', M40, jsonl, '--format', 'jsonl', '--add-eos'], capsys)
    assert code == 0
    rows = out.split('\n')
    assert rows[-2:] == ['', '']  # the blank line stays blank
    got = [json.loads(line) for line in rows[:-2]]
    expected = [{**{k: v for k, v in r.items() if k not in ('text', 'ids')}, 'ids': tok.encode(r['text'], add_eos=True)}
                for r in RECORDS]
    assert got == expected
    assert list(got[0]) == ['id', 'meta', 'ids'], 'fields in their order, ids last'


def test_token_files_from_the_command_line(tok, jsonl, tmp_path, capsys):
    out = tmp_path / 'shards'
    code, _, err = run(['encode', '-m', M40, jsonl, '--format', 'megatron', '-o', out, '--add-eos',
                        '--workers', '2', '--merge', tmp_path / 'train'], capsys)
    assert code == 0, err
    assert '3 documents' in err and 'bytes per token' in err and 'merged into' in err
    expected = [tok.encode(r['text'], add_eos=True) for r in RECORDS]
    assert [d.tolist() for d in open_tokens(tmp_path / 'train')] == expected
    code, _, err = run(['merge', out, '-o', tmp_path / 'again'], capsys)
    assert code == 0 and (tmp_path / 'again.bin').read_bytes() == (tmp_path / 'train.bin').read_bytes()
    for argv, message in ((['--format', 'flat'], 'give it with -o'),
                          (['--format', 'flat', '-o', tmp_path / 'f', '--alpha', '0.1'], '--alpha needs --seed'),
                          (['--format', 'flat', '-o', tmp_path / 'f', '--partition-mb', '0'], '--partition-mb')):
        code, _, err = run(['encode', '-m', M40, jsonl] + argv, capsys)
        assert code == 2 and message in err and len(err.splitlines()) == 1
    code, _, err = run(['encode', '-m', M40, jsonl, '--format', 'megatron', '-o', out], capsys)
    assert code == 1 and 'other arguments' in err  # the folder holds a run without --add-eos
    code, _, err = run(['merge', tmp_path, '-o', tmp_path / 'x'], capsys)
    assert code == 1 and 'not a shard folder' in err


def test_decode_a_long_line(tok, tmp_path, capsys):
    text = 'the quick brown fox, 中文 ' * 20000
    ids = tok.encode(text, add_bos=True)
    src = tmp_path / 'ids.txt'
    src.write_text(' '.join(map(str, ids)) + '\n-0 4\n')
    code, out, _ = run(['decode', '-m', M40, src], capsys)
    assert code == 0 and out.split('\n') == [tok.decode(ids), tok.decode([0, 4]), '']
    for line, message in ((b'5 99999999999999999999999 3', 'token id 99999999999999999999999 at position 1 out of'),
                          (b'5 2147483648', 'token id 2147483648 at position 1 out of range [0, 39843)'),
                          (b'5 2147483647', 'token id 2147483647 at position 1 out of range [0, 39843)'),
                          (b'5 +3', "'+3' is not a token id"), (b'1_0', "'1_0' is not a token id"),
                          (b'4 -3', 'token id -3 at position 1 out of range')):
        src.write_bytes(line + b'\n')
        code, _, err = run(['decode', '-m', M40, src], capsys)
        assert code == 1 and f'{src}:1: ' in err and message in err, err


def test_parse_decimal_ids_kernel():
    from bytepiece.kernels.decode import parse_decimal_ids
    ids, bad = parse_decimal_ids(np.frombuffer(b' 12\t0 \x0b7\n', np.uint8))
    assert ids.tolist() == [12, 0, 7] and bad == -1
    ids, bad = parse_decimal_ids(np.frombuffer(b'1 2x 3', np.uint8))
    assert ids.tolist() == [1] and bad == 2
    assert parse_decimal_ids(np.frombuffer(b'- 1', np.uint8))[1] == 0
    assert parse_decimal_ids(np.zeros(0, np.uint8))[0].size == 0
