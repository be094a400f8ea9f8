"""Damaged files in a work directory or a shard folder, for real: files an
unfinished run left are cut short or have bytes changed on disk; the run
started again notices, makes them again and gives the output of a run that
was never damaged. Output folders that cannot be written fail before any
work."""

import os
import stat
import subprocess

import numpy as np
import pytest

from bytepiece import Trainer
from bytepiece.tokenfiles import encode_files, merge, open_tokens
from bytepiece.train import path_counts
from bytepiece.train import run as run_module
from bytepiece.train import piece_counts

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'fixtures', 'train', 'mixed.jsonl')


def cut(path, keep=0.5):
    size = os.path.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(int(size * keep))


def flip(path, at=0.6):
    with open(path, 'r+b') as f:
        f.seek(int(os.path.getsize(path) * at))
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


def stopped_run(method, work, monkeypatch, where, after):
    """A run that stops (as a killed one would) after ``after`` calls of ``where``."""
    module, name = where
    real, calls = getattr(module, name), []

    def stopping(*args, **kwargs):
        calls.append(1)
        if len(calls) > after:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, stopping)
    with pytest.raises(KeyboardInterrupt):
        train(method, work)
    monkeypatch.undo()


def train(method, work):
    trainer = Trainer(max_vocab_size=[900, 500], min_count=2, method=method)
    report = trainer.train(files=CORPUS, field='body', progress=False, workers=2, work_dir=work)
    return trainer.pieces, report


def files_under(folder, suffix):
    return sorted(os.path.join(r, n) for r, _, names in os.walk(folder) for n in names if n.endswith(suffix))


# what each method's stopped run has damaged: a file whose path holds the
# pattern and ends with the suffix, and how
DAMAGE = {'unigram': [('chunks/', '.npz', 'cut'), ('/state-', '.npz', 'flip'), ('round-', '.bin', 'cut'),
                      ('round-', 'vocab.npz', 'flip'), ('chars/', 'reduced.npz', 'flip')],
          'bytepiece': [('chunks/', '.npz', 'flip'), ('level3/', 'kept.npz', 'cut'), ('model/', 'table.npy', 'cut'),
                        ('pieces/kept/', '.npz', 'flip'), ('pieces/map/', '.bin', 'cut')],
          # stopped in pruning: the piece counts' phase is done, its maps gone
          'bytepiece-pruning': [('pieces/kept/', '.npz', 'cut'), ('pieces/dropped/', '.npz', 'flip')]}


@pytest.mark.parametrize('case, where, after', [('unigram', (path_counts, 'reduce_keys'), 6),
                                                ('bytepiece', (piece_counts, 'reduce_pieces'), 1),
                                                ('bytepiece-pruning', (run_module, 'prune_saved'), 0)])
def test_damaged_work_files_are_made_again(tmp_path, monkeypatch, case, where, after):
    method = case.split('-')[0]
    reference, _ = train(method, tmp_path / 'ref')
    work = tmp_path / 'work'
    stopped_run(method, work, monkeypatch, where, after)
    names = [os.path.relpath(p, work) for p in files_under(work, '')]
    damaged = []
    for pattern, suffix, how in DAMAGE[case]:
        name = next(n for n in names if pattern in n and n.endswith(suffix))
        (cut if how == 'cut' else flip)(work / name)
        damaged.append(name)
    pieces, report = train(method, work)
    assert pieces == reference
    assert report.damaged == sorted(damaged)
    assert f'made again: {len(damaged)} damaged files of the work directory' in str(report)


def test_a_damaged_file_is_never_trusted_nor_a_crash(tmp_path):
    from bytepiece.runtime.workdir import intact, write_buckets
    path = str(tmp_path / 'b.bin')
    write_buckets(path, np.array([0, 1, 1]), 4, np.arange(3, dtype=np.int64))
    whole = open(path, 'rb').read()
    assert intact(path)
    for size in range(len(whole)):  # cut at every length
        open(path, 'wb').write(whole[:size])
        assert intact(path) is False, size
    for at in range(len(whole)):  # every byte changed: a crash never, a wrong length never trusted
        changed = bytearray(whole)
        changed[at] ^= 0xFF
        open(path, 'wb').write(bytes(changed))
        assert intact(path) in (True, False)


def test_damaged_shards_are_made_again(tmp_path):
    trainer = Trainer(max_vocab_size=500)
    trainer.train(files=CORPUS, field='body', progress=False)
    tokenizer = trainer.tokenizer(500)
    kw = dict(field='body', partition_bytes=3000, workers=2)
    encode_files(CORPUS, tokenizer, tmp_path / 'ref', 'megatron', **kw)
    encode_files(CORPUS, tokenizer, tmp_path / 'out', 'megatron', **kw)
    out = tmp_path / 'out'
    cut(out / 'part-00000.bin')  # tokens cut short
    cut(out / 'part-00001.idx', 0.7)  # an index cut short
    (out / 'part-00002.json').write_text('{"documents": ')  # a record cut short
    flip(out / 'part-00003.json', 0.5)  # a record changed
    summary = encode_files(CORPUS, tokenizer, out, 'megatron', **kw)
    assert summary.resumed <= summary.shards - 3
    for name in os.listdir(tmp_path / 'ref'):
        if name.endswith(('.bin', '.idx')):
            assert (tmp_path / 'ref' / name).read_bytes() == (out / name).read_bytes(), name
    merged = merge(out, tmp_path / 'merged')
    assert merged.n_tokens == open_tokens(tmp_path / 'ref').n_tokens


@pytest.fixture
def read_only(tmp_path):
    """A folder nothing can be written in: a read-only file system (for
    root, whom permissions do not stop), or a folder without write
    permission."""
    folder = tmp_path / 'read-only'
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        yield folder
        folder.chmod(stat.S_IRWXU)
        return
    done = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', str(folder)], capture_output=True,
                          text=True)
    assert done.returncode == 0, f'root could not mount a read-only file system: {done.stderr}'
    yield folder
    subprocess.run(['umount', '-l', str(folder)], check=True)


def test_a_folder_that_cannot_be_written_fails_before_any_work(read_only, tmp_path, capsys):
    from bytepiece.cli import main
    trainer = Trainer(max_vocab_size=500)
    with pytest.raises(OSError, match='read-only'):
        trainer.train(files=CORPUS, field='body', progress=False, work_dir=read_only / 'w')
    with pytest.raises(OSError, match='read-only'):
        encode_files(CORPUS, os.path.join(HERE, 'fixtures', 'bytepiece.plus.40k.zip'), read_only / 'shards', 'flat',
                     field='body')
    for argv in (['train', CORPUS, '--field', 'body', '-o', read_only / 'm.model', '--vocab-size', '500'],
                 ['encode', '-m', os.path.join(HERE, 'fixtures', 'bytepiece.plus.40k.zip'), CORPUS, '--field',
                  'body', '--format', 'flat', '-o', read_only / 'shards']):
        assert main([str(a) for a in argv]) == 1
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and 'read-only' in err, err
    assert os.listdir(read_only) == []
