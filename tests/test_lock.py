"""The lock on shared work folders, with real processes: a second run is
refused or waits, and a lock left by a killed process is taken over."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from bytepiece import lock
from bytepiece.lock import FolderInUse, FolderLock

HOLDER = '''
import sys, time
from bytepiece.lock import FolderLock
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
