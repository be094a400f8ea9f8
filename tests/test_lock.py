"""The lock on shared work folders, with real processes: a second run is
refused or waits, and a lock left by a killed process is taken over."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from bytepiece.runtime import lock
from bytepiece.runtime.lock import FolderInUse, FolderLock

HOLDER = '''
import os, sys, time
from bytepiece.runtime.lock import FolderLock
os.makedirs(sys.argv[1], exist_ok=True)
with FolderLock(sys.argv[1]):
    print('held', flush=True)
    time.sleep(float(sys.argv[2]))
'''


def start_holder(folder, seconds):
    proc = subprocess.Popen([sys.executable, '-c', HOLDER, str(folder), str(seconds)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == 'held'
    return proc


def test_a_second_run_is_refused_naming_the_holder(tmp_path):
    holder = start_holder(tmp_path, 60)
    try:
        with pytest.raises(FolderInUse, match=f'in use by process {holder.pid} on host {socket.gethostname()!r}'):
            FolderLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    holder = start_holder(tmp_path, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert os.path.exists(tmp_path / lock.LOCK_FILE), 'a killed holder leaves its record'
    notices = []
    with FolderLock(tmp_path, notice=notices.append) as held:
        assert held.held
        record = json.loads((tmp_path / lock.LOCK_FILE).read_text())
        assert record['pid'] == os.getpid()
    assert len(notices) == 1 and f'process {holder.pid}' in notices[0] and 'its process is gone' in notices[0]
    assert not os.path.exists(tmp_path / lock.LOCK_FILE), 'a release removes the lock file'


def test_wait_takes_the_folder_when_the_holder_ends(tmp_path):
    holder = start_holder(tmp_path, 1.5)
    notices = []
    start = time.monotonic()
    with FolderLock(tmp_path, wait=True, notice=notices.append):
        assert holder.poll() == 0, 'the holder finished first'
    assert time.monotonic() - start > 0.5 and notices and notices[0].startswith('waiting for')


def test_one_process_holds_a_folder_once(tmp_path):
    with FolderLock(tmp_path):
        with pytest.raises(FolderInUse, match=f'process {os.getpid()}'):
            FolderLock(tmp_path).acquire()


def write_record(folder, **fields):
    record = {'host': 'another-host', 'pid': 4321, 'started': time.time() - 600, 'heartbeat': time.time()}
    record.update(fields)
    (folder / lock.LOCK_FILE).write_text(json.dumps(record))


def test_a_holder_on_another_host_keeps_the_folder_while_its_heartbeat_is_fresh(tmp_path):
    # as on a file system whose locks one machine does not see of another: only the record tells
    write_record(tmp_path)
    with pytest.raises(FolderInUse, match="process 4321 on host 'another-host'"):
        FolderLock(tmp_path).acquire()
    write_record(tmp_path, heartbeat=time.time() - lock.STALE_SECONDS - 5)
    notices = []
    with FolderLock(tmp_path, notice=notices.append):
        pass
    assert len(notices) == 1 and 'no heartbeat for' in notices[0]


def test_the_heartbeat_is_renewed(tmp_path, monkeypatch):
    monkeypatch.setattr(lock, 'HEARTBEAT_SECONDS', 0.05)
    with FolderLock(tmp_path):
        first = json.loads((tmp_path / lock.LOCK_FILE).read_text())['heartbeat']
        time.sleep(0.3)
        later = json.loads((tmp_path / lock.LOCK_FILE).read_text())['heartbeat']
    assert later > first


# --- the runs that hold folders: training and token files ---------------------

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
CORPUS = os.path.join(FIXTURES, 'train', 'mixed.jsonl')


def cli(*argv):
    return subprocess.run([sys.executable, '-m', 'bytepiece.cli', *map(str, argv)], capture_output=True, text=True)


def test_a_training_run_on_a_held_work_directory_is_refused_then_takes_a_dead_holders(tmp_path):
    model = tmp_path / 'm.model'
    holder = start_holder(f'{model}.work', 60)
    try:
        done = cli('train', CORPUS, '--field', 'body', '-o', model, '--vocab-size', '400', '-q')
        assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
        assert f'is in use by process {holder.pid}' in done.stderr and '--wait' in done.stderr
        assert not model.exists()
    finally:
        holder.kill()
        holder.wait()
    done = cli('train', CORPUS, '--field', 'body', '-o', model, '--vocab-size', '400', '-q')
    assert done.returncode == 0, done.stderr
    assert 'took over the lock' in done.stderr and f'process {holder.pid}' in done.stderr
    assert model.exists() and not os.path.exists(f'{model}.work')


def test_a_waiting_encode_run_goes_on_when_the_holder_ends_and_the_work_is_done_once(tmp_path):
    model = tmp_path / 'm.model'
    assert cli('train', CORPUS, '--field', 'body', '-o', model, '--vocab-size', '400', '-q').returncode == 0
    shards = tmp_path / 'shards'
    holder = start_holder(shards, 60)
    argv = [sys.executable, '-m', 'bytepiece.cli', 'encode', '-m', model, CORPUS, '--field', 'body', '--format',
            'flat', '-o', shards, '--partition-mb', '0.01', '--wait', '-q']
    waiting = subprocess.Popen(list(map(str, argv)), stderr=subprocess.PIPE, text=True)
    assert waiting.stderr.readline().startswith('bytepiece: notice: waiting for'), 'it waits'
    holder.terminate()  # killed: the kernel drops its lock, its record stays and is taken over
    holder.wait()
    rest = waiting.stderr.read()
    assert waiting.wait() == 0, rest
    assert '(0 from an earlier run)' in rest
    again = cli('encode', '-m', model, CORPUS, '--field', 'body', '--format', 'flat', '-o', shards,
                '--partition-mb', '0.01', '-q')
    assert again.returncode == 0 and 'shards (' in again.stderr
    shards_made = int(again.stderr.split(' shards (')[0].rsplit(' ', 1)[1])
    assert f'{shards_made} shards ({shards_made} from an earlier run)' in again.stderr, 'nothing is encoded twice'


FORKING_HOLDER = '''
import os, sys, time
from bytepiece.runtime.lock import FolderLock
lock = FolderLock(sys.argv[1])
lock.acquire()
child = os.fork()  # as a process pool's worker is started
if child == 0:
    print(os.getpid(), flush=True)  # the child runs: its fork hooks have run
    time.sleep(60)
    os._exit(0)
time.sleep(60)
'''


def test_a_forked_child_left_by_a_killed_holder_does_not_keep_the_folder(tmp_path):
    holder = subprocess.Popen([sys.executable, '-c', FORKING_HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    child = int(holder.stdout.readline())
    try:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        os.kill(child, 0)  # the child still runs
        notices = []
        with FolderLock(tmp_path, notice=notices.append):
            assert 'its process is gone' in notices[0]
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_run_waiting_on_a_work_directory_gets_it_whole_when_the_holder_removes_it(tmp_path):
    import threading
    from bytepiece.runtime.workdir import WorkDir
    first = WorkDir(tmp_path / 'w', {'run': 1})
    first.save('a.npz', x=np.zeros(3))
    got = {}

    def second():
        got['work'] = WorkDir(tmp_path / 'w', {'run': 1}, wait=True)

    waiting = threading.Thread(target=second)
    waiting.start()
    time.sleep(0.3)
    first.close()  # a finished run removes its directory
    waiting.join(10)
    work = got['work']
    assert work.lock.held and sorted(os.listdir(tmp_path / 'w')) == ['.lock', 'manifest.json']
    work.close()
    assert not os.path.exists(tmp_path / 'w')
