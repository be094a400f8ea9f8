"""Training at corpus scale: files in partitions, every engine (a real Dask
LocalCluster included) giving the same model, a work directory that resumes
a killed run, dirty corpora, and the report."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bytepiece import Trainer
from bytepiece.train import chunks, ngram_counts
from bytepiece.train import run as run_module

from test_trainer import EXPECTED, HERE, expected_models

MIXED = os.path.join(HERE, 'mixed.jsonl')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mixed_trainer():
    return Trainer(**EXPECTED['mixed5']['params'])


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    """The mixed5 fixture cut into several files (some compressed) in a folder."""
    import gzip
    folder = tmp_path_factory.mktemp('mixed')
    with open(MIXED, encoding='utf-8') as f:
        lines = [line for line in f if line.strip()]
    for k in range(4):
        part = ''.join(lines[k::4])
        name = folder / f'part{k}.jsonl'
        if k == 3:
            with gzip.open(str(name) + '.gz', 'wt', encoding='utf-8') as f:
                f.write(part)
        else:
            name.write_text(part, encoding='utf-8')
    return folder


def test_files_in_many_partitions_give_the_lists_model(corpus, monkeypatch):
    reference = mixed_trainer()
    reference.train(files=corpus, field='body', progress=False)
    with open(MIXED, encoding='utf-8') as f:
        texts = [json.loads(line)['body'] for line in f if line.strip()]
    listed = mixed_trainer()
    listed.train(texts, progress=False)
    assert reference.pieces == listed.pieces  # documents in another order: the same counts
    monkeypatch.setattr(chunks, 'SHARD_BYTES', 700)  # many shards
    small = mixed_trainer()
    small.train(files=str(corpus / 'part*'), field='body', progress=False, workers=3)
    assert small.pieces == reference.pieces


def test_a_dask_cluster_gives_the_local_model(dask_client, tmp_path):
    local = mixed_trainer()
    local.train(files=MIXED, field='body', progress=False)
    assert local.pieces == expected_models('mixed5')
    for engine in (dask_client, dask_client.scheduler.address):
        on_dask = mixed_trainer()
        report = on_dask.train(files=MIXED, field='body', progress=False, engine=engine, work_dir=tmp_path / 'w')
        assert on_dask.pieces == local.pieces
        assert 'dask' in report.engine
        assert not os.path.exists(tmp_path / 'w'), 'a finished run removes its work directory'


def test_a_failed_run_resumes_without_redoing_finished_tasks(tmp_path, monkeypatch):
    work = tmp_path / 'work'
    levels = []  # the length n of each shard counted
    real_count = ngram_counts.ngrams.count_level
    failing = [True]

    def count_level(buf, bounds, n, *args):
        if failing[0] and n == 4 and levels.count(4) == 2:
            raise RuntimeError('killed')
        levels.append(n)
        return real_count(buf, bounds, n, *args)

    monkeypatch.setattr(chunks, 'SHARD_BYTES', 2000)
    monkeypatch.setattr(ngram_counts.ngrams, 'count_level', count_level)
    trainer = mixed_trainer()
    with pytest.raises(RuntimeError, match='killed'):
        trainer.train(files=MIXED, field='body', progress=False, workers=1, work_dir=work)
    shards = levels.count(3)
    assert shards > 3 and os.path.exists(work / 'level3' / 'kept.npz'), 'finished phases stay'
    assert len(os.listdir(work / 'level4' / 'map')) == 2
    levels.clear()
    failing[0] = False
    report = trainer.train(files=MIXED, field='body', progress=False, workers=1, work_dir=work)
    assert trainer.pieces == expected_models('mixed5')
    assert report.reused[1:] == ['3-grams'] and report.reused[0].startswith('reading (')
    assert 'reused from the work directory: reading (' in str(report)
    assert levels.count(3) == 0, 'level 3 is not counted again'
    assert levels.count(4) == shards - 2, 'the two shards counted before are not counted again'
    assert not os.path.exists(work), 'a finished run removes its work directory'


def test_another_run_refuses_the_work_directory(tmp_path, monkeypatch):
    work = tmp_path / 'work'
    monkeypatch.setattr(ngram_counts, 'map_level', None)  # fails at the first level
    with pytest.raises(TypeError):
        mixed_trainer().train(files=MIXED, field='body', progress=False, workers=1, work_dir=work)
    monkeypatch.undo()
    other = Trainer(**dict(EXPECTED['mixed5']['params'], min_count=3))
    with pytest.raises(ValueError, match='belongs to a run with other arguments'):
        other.train(files=MIXED, field='body', progress=False, work_dir=work)


KILLED_RUN = '''
import sys
sys.path.insert(0, {root!r})
from bytepiece import Trainer
from bytepiece.train import chunks
chunks.SHARD_BYTES = 3000
trainer = Trainer(order=5, max_vocab_size=600, min_count=2)
trainer.train(files={corpus!r}, field='body', work_dir={work!r}, workers=2, progress=False)
trainer.save({out!r})
'''


@pytest.mark.parametrize('phase', ['prepare', 'level4', 'pieces/map'])
def test_sigkill_in_a_phase_then_resume_gives_the_same_model(tmp_path, phase):
    code = KILLED_RUN.format(root=ROOT, corpus=MIXED, work=str(tmp_path / 'work'), out=str(tmp_path / 'once'))
    subprocess.run([sys.executable, '-c', code], check=True, timeout=300)
    whole = (tmp_path / 'once').read_bytes()
    code = code.replace(str(tmp_path / 'once'), str(tmp_path / 'resumed'))
    proc = subprocess.Popen([sys.executable, '-c', code])
    watched = tmp_path / 'work' / phase
    deadline = time.time() + 300
    while proc.poll() is None and not (watched.exists() and os.listdir(watched)) and time.time() < deadline:
        time.sleep(0.005)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    subprocess.run([sys.executable, '-c', code], check=True, timeout=300)
    assert (tmp_path / 'resumed').read_bytes() == whole
    assert killed, 'the run was killed inside the phase'


def test_dirty_corpus_under_each_policy(tmp_path):
    path = tmp_path / 'dirty.jsonl'
    with open(MIXED, 'rb') as f:
        good = [line for line in f if line.strip()]
    path.write_bytes(b''.join(good[:40]) + b'{"body": "bad \xff"}\nnot json\n' + b''.join(good[40:]))
    with pytest.raises(ValueError, match=r'dirty.jsonl:41: invalid UTF-8 at byte 14'):
        mixed_trainer().train(files=path, field='body', progress=False)
    skipping = mixed_trainer()
    report = skipping.train(files=path, field='body', errors='skip', progress=False)
    assert report.read.skipped == 2 and len(report.read.places) == 2
    assert skipping.pieces == expected_models('mixed5'), 'the bad lines are left out, nothing else'
    assert any('2 records skipped' in w for w in report.warnings())
    report = mixed_trainer().train(files=path, field='body', errors='replace', progress=False)
    assert report.read.replaced == 1 and report.read.skipped == 1


def test_report_says_what_was_trained(tmp_path):
    trainer = Trainer(order=4, max_vocab_size=[100000, 400], min_count=2)
    report = trainer.train(files=MIXED, field='body', progress=False, holdout=0.1)
    assert report.sizes[400] == 400 and report.sizes[100000] == len(trainer.pieces[0]) + 3 < 100000
    assert list(report.short) == [100000] and 'min_count=2' in report.short[100000]
    assert report.documents > 0 and report.text_bytes > 0 and report.shards >= 1
    assert report.sample == 'held-back' and 1.0 < report.bytes_per_token < 10.0
    assert set(report.phase_seconds) == {'reading', 'n-grams', 'pieces', 'pruning'}
    text = str(report)
    assert 'vocabulary size 100000 not reached' in text and 'bytes per token' in text
    again = Trainer(order=4, max_vocab_size=[100000, 400], min_count=2)
    again.train(files=MIXED, field='body', progress=False, holdout=0.1)
    assert again.pieces == trainer.pieces, 'the held-back documents are chosen the same way'
    with pytest.raises(ValueError, match='holdout'):
        trainer.train(files=MIXED, holdout=1.0)


def test_pruning_vocabularies_are_compiled_once_per_process_and_forgotten():
    import numpy as np
    from bytepiece.runtime.parallel import Engine
    from bytepiece.train import prune
    pieces = [bytes([b]) for b in range(256)] + [b'ab', b'abc']
    packed = prune.PackedVocabulary(pieces, np.arange(1, len(pieces) + 1))
    vocab = prune.compiled(packed)
    assert prune.compiled(packed) is vocab and vocab.pieces[3:] == pieces
    prune.forget(packed)
    assert prune.compiled(packed) is not vocab
    prune.forget(packed)
    data, bounds = b'abcab', np.array([0, 3, 5])
    with Engine('threads', workers=2) as engine:
        out = list(prune.tokenize_spans(pieces, np.arange(1, len(pieces) + 1),
                                        [(np.frombuffer(data, np.uint8), bounds)], engine))
    assert [pieces[i] for i in out[0][0].tolist()] == [b'abc', b'ab'] and out[0][1].tolist() == [1, 1]
    assert not prune._compiled, 'the driver keeps no compiled vocabulary after the pass'


def test_a_failed_run_removes_only_a_work_directory_it_made_with_nothing_to_resume(tmp_path, monkeypatch):
    empty = tmp_path / 'empty.txt'
    empty.write_text('')
    with pytest.raises(ValueError, match='the corpus is empty'):
        mixed_trainer().train(files=str(empty), progress=False, workers=1, work_dir=tmp_path / 'made')
    assert not os.path.exists(tmp_path / 'made')
    (tmp_path / 'given').mkdir()  # the user's folder stays, emptied of nothing it held
    with pytest.raises(ValueError, match='the corpus is empty'):
        mixed_trainer().train(files=str(empty), progress=False, workers=1, work_dir=tmp_path / 'given')
    assert os.path.isdir(tmp_path / 'given')

    def unreadable(*args):
        raise OSError('the disk went away')

    monkeypatch.setattr(run_module, 'prepare_partition', unreadable)  # before any partition is read
    with pytest.raises(OSError, match='went away'):
        mixed_trainer().train(files=MIXED, field='body', progress=False, workers=1, work_dir=tmp_path / 'w')
    assert not os.path.exists(tmp_path / 'w')
    (tmp_path / 'scratch').mkdir()
    with pytest.raises(ValueError, match='scheduler address'):  # a bad engine fails before any folder is made
        mixed_trainer().train(files=MIXED, field='body', progress=False, engine='x', tmpdir=tmp_path / 'scratch')
    assert os.listdir(tmp_path / 'scratch') == []
