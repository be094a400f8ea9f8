"""A Dask worker killed in each phase, for real: a worker plugin sends
SIGKILL to its own process when it starts the first task of the phase
(once: a marker file keeps the worker its nanny starts again from dying
too). The scheduler gives the lost task to a worker again; the model and the
token files are those of a run that lost nothing. The time each kill cost
(against the same job run again undisturbed) is printed (``-s``) and kept in
docs/benchmarks.md's "Faults" table."""

import os
import signal
import time

import pytest

distributed = pytest.importorskip('distributed')

from bytepiece import Trainer  # noqa: E402
from bytepiece.tokenfiles import encode_files  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, '..', 'bytepiece', 'data', 'sample')
CORPUS = os.path.join(HERE, 'fixtures', 'train', 'mixed.jsonl')


class KillOnce(distributed.WorkerPlugin):
    """Kill this worker's process when it starts a task whose key begins
    with ``prefix``, the first time in the cluster."""

    def __init__(self, prefix, marker):
        self.prefix, self.marker = prefix, marker

    def transition(self, key, start, finish, **kwargs):
        if finish != 'executing' or not str(key).startswith(self.prefix):
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope='module')
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def killing(client, prefix, marker, job):
    """``job()`` with a worker killed at the phase's first task; its result
    and its time."""
    name = f'kill-{prefix}'
    before = set(client.run(os.getpid).values())
    client.register_plugin(KillOnce(prefix, str(marker)), name=name)
    try:
        start = time.perf_counter()
        result = job()
        seconds = time.perf_counter() - start
    finally:
        client.unregister_worker_plugin(name)
    assert os.path.exists(marker), f'no task of {prefix!r} ran: the phase was not killed'
    assert before - set(client.run(os.getpid).values()), 'the worker process that ran the task is gone'
    try:  # its nanny starts it again; if that fails, the cluster gets a new one for the next test
        # (on a loaded machine a restart can take over 30 s, and a worker added meanwhile
        # leaves the cluster's spec and the nanny at odds: it then closes the nanny)
        client.wait_for_workers(2, timeout=120)
    except (TimeoutError, distributed.exceptions.WorkerStartTimeoutError):
        client.cluster.scale(2)
        client.wait_for_workers(2, timeout=120)
    return result, seconds


def train(method, client, work):
    trainer = Trainer(max_vocab_size=[2000, 800], min_count=4, method=method)
    trainer.train(files=SAMPLE, text_documents='paragraph', engine=client, work_dir=work, progress=False)
    return trainer.pieces


@pytest.mark.parametrize('method, task', [
    ('unigram', 'prepare_partition'), ('unigram', 'map_chars'), ('unigram', 'map_paths'),
    ('unigram', 'reduce_keys'), ('bytepiece', 'map_level'), ('bytepiece', 'reduce_level'),
    ('bytepiece', 'map_pieces'), ('bytepiece', 'reduce_pieces'), ('bytepiece', 'map_segment_spans')])
def test_a_worker_killed_in_a_training_phase_leaves_the_model_unchanged(cluster, tmp_path, method, task):
    reference = train(method, cluster, tmp_path / 'ref')
    pieces, seconds = killing(cluster, task, tmp_path / 'killed', lambda: train(method, cluster, tmp_path / 'w'))
    assert pieces == reference
    start = time.perf_counter()  # the same job undisturbed, as warm as the killed one
    train(method, cluster, tmp_path / 'again')
    undisturbed = time.perf_counter() - start
    print(f'\nkilled in {method} {task}: {seconds:.2f} s against {undisturbed:.2f} s')


def test_a_worker_killed_while_encoding_token_files_leaves_the_bytes_unchanged(cluster, tmp_path):
    trainer = Trainer(max_vocab_size=500)
    trainer.train(files=CORPUS, field='body', progress=False)
    tokenizer = trainer.tokenizer(500)
    kw = dict(field='body', partition_bytes=3000, engine=cluster)
    encode_files(CORPUS, tokenizer, tmp_path / 'ref', 'megatron', **kw)
    _, seconds = killing(cluster, 'encode_partition', tmp_path / 'killed',
                         lambda: encode_files(CORPUS, tokenizer, tmp_path / 'out', 'megatron', **kw))
    start = time.perf_counter()  # the same job undisturbed, as warm as the killed one
    encode_files(CORPUS, tokenizer, tmp_path / 'again', 'megatron', **kw)
    undisturbed = time.perf_counter() - start
    names = sorted(n for n in os.listdir(tmp_path / 'ref') if n.endswith(('.bin', '.idx')))
    assert names and names == sorted(n for n in os.listdir(tmp_path / 'out') if n.endswith(('.bin', '.idx')))
    for name in names:
        assert (tmp_path / 'ref' / name).read_bytes() == (tmp_path / 'out' / name).read_bytes()
    print(f'\nkilled in encode_partition: {seconds:.2f} s against {undisturbed:.2f} s')


def _kill_this_worker():
    os.kill(os.getpid(), signal.SIGKILL)


def _offset_by(shared, i):
    return shared['offset'] + i


def test_a_shared_input_lost_with_every_worker_is_sent_again(cluster):
    from bytepiece import Engine
    engine = Engine(cluster)
    shared = engine.share({'offset': 1000})
    assert list(engine.imap(_offset_by, [(shared, i) for i in range(4)])) == [1000, 1001, 1002, 1003]
    before = set(cluster.run(os.getpid).values())
    try:
        cluster.run(_kill_this_worker)  # every worker, and the shared value with them
    except Exception:  # the workers die before they answer
        pass
    deadline = time.time() + 30
    while not (set(cluster.run(os.getpid).values()) - before and len(cluster.scheduler_info()['workers']) == 2):
        if time.time() > deadline:  # LocalCluster may close a nanny whose worker died: two new ones
            cluster.cluster.scale(0)
            cluster.cluster.scale(2)
            cluster.wait_for_workers(2, timeout=120)
            break
        time.sleep(0.2)
    assert not set(cluster.run(os.getpid).values()) & before, 'every worker holding the shared value is gone'
    assert list(engine.imap(_offset_by, [(shared, i) for i in range(6)])) == [1000 + i for i in range(6)]
