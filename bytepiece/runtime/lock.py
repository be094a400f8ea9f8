"""A lock on a folder of shared work: one run at a time.

A run that writes a training work folder or a token-file folder holds the
folder's lock file, ``.lock``, for as long as it runs:

- the file carries a lock (``flock``, which Linux's NFS client turns into a
  record lock the server keeps), dropped by the kernel when the holding
  process dies, and by an NFS server when the holding machine's lease runs
  out;
- it also names the holder (host, process, start time) and a heartbeat the
  holder renews every ``HEARTBEAT_SECONDS``. A second run reads it to say
  who holds the folder; and where the file system keeps locks to one
  machine (Lustre's ``localflock``, some FUSE mounts) or has none, a holder
  on another host with a fresh heartbeat still keeps the folder (without
  any lock, two runs starting in the same instant may both go on).

A record whose holder is gone (its process no longer runs on this host, or
its heartbeat is older than ``STALE_SECONDS``) is taken over with a notice.
Object stores (``s3://``...) have no such file: folders there are not
locked (work folders and shard folders are local or shared-file-system
paths).
"""

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time
import weakref
from typing import Callable, Optional

LOCK_FILE = '.lock'
HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 300.0
WAIT_POLL_SECONDS = 1.0
_NO_RECORD_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)
_REMOVED = object()
_HELD = weakref.WeakSet()  # the locks this process holds


def _close_in_child():
    """A forked process (a pool's worker) does not hold its parent's locks:
    its copies of their files are closed, so that a worker left behind by a
    killed parent does not keep the folder."""
    for held in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(held._fd)
        held._fd = None
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


class FolderInUse(RuntimeError):
    """Another run holds the folder."""


def _process_start(pid):
    """The start time of process ``pid`` in clock ticks since boot (Linux),
    to tell it from a later process given the same id; None if unknown."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            return int(f.read().rsplit(b')', 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _process_runs(pid, start):
    """Whether process ``pid`` (started at ``start`` ticks, if known) still runs here."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it runs
    now = _process_start(pid)
    return start is None or now is None or now == start


def describe(holder):
    """A holder record in words, for messages."""
    started = time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(holder.get('started', 0)))
    beat = time.time() - holder.get('heartbeat', 0)
    return (f"process {holder.get('pid')} on host {holder.get('host')!r}, started {started} "
            f"(last heartbeat {beat:.0f} s ago)")


def why_gone(holder, now=None):
    """Why a holder record no longer holds (None if it may still): its
    process is gone from this host, or its heartbeat is stale."""
    now = time.time() if now is None else now
    if holder.get('host') == socket.gethostname() and not _process_runs(holder.get('pid', -1),
                                                                         holder.get('process_start')):
        return 'its process is gone'
    if now - holder.get('heartbeat', 0) > STALE_SECONDS:
        return f'no heartbeat for {now - holder.get("heartbeat", 0):.0f} s'
    return None


def _notice_on_stderr(message):
    print(f'bytepiece: notice: {message}', file=sys.stderr)


class FolderLock:
    """The lock of ``folder`` (see the module doc). ``acquire`` takes it or
    raises ``FolderInUse`` naming the holder; with ``wait`` it waits for
    the holder to finish. ``notice`` receives a line when a lock left by a
    gone holder is taken over (default: printed on stderr)."""

    def __init__(self, folder, wait: bool = False, notice: Optional[Callable[[str], None]] = None):
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, LOCK_FILE)
        self.wait = wait
        self.notice = notice or _notice_on_stderr
        self._fd = None
        self._record = None
        self._stop = threading.Event()
        self._beat = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        waited = False
        while True:
            holder = self._try_acquire()
            if holder is None:
                return
            if not self.wait:
                raise FolderInUse(f'{self.folder!r} is in use by {describe(holder)}: let that run finish, or '
                                  f'wait for it (--wait, wait=True)')
            if not waited:
                self.notice(f'waiting for {self.folder!r}, in use by {describe(holder)}')
                waited = True
            time.sleep(WAIT_POLL_SECONDS)

    def _try_acquire(self):
        """None once the lock is ours, else the holder's record."""
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # the run before removed the folder as it ended
                os.makedirs(self.folder, exist_ok=True)
                continue
            try:
                holder = self._lock(fd)
            except BaseException:
                os.close(fd)
                raise
            if holder is None:
                return None
            os.close(fd)
            if holder is not _REMOVED:
                return holder

    def _lock(self, fd):
        """Lock the open lock file ``fd``: None if it is ours now, the
        holder's record if it is not, ``_REMOVED`` if its holder removed it
        meanwhile (a new file must be opened)."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                return _read_record(fd) or {'pid': '?', 'host': '?'}
            if e.errno not in _NO_RECORD_LOCKS:
                raise
        if not _same_file(fd, self.path):
            return _REMOVED
        previous = _read_record(fd)
        if previous:
            why = why_gone(previous)
            if why is None:
                return previous  # a holder this file system's record locks do not show
            self.notice(f'took over the lock of {self.folder!r} from {describe(previous)}: {why}')
        self._fd = fd
        self._stop.clear()
        _HELD.add(self)
        self._write_record()
        self._beat = threading.Thread(target=self._heartbeat, name='bytepiece-lock-heartbeat', daemon=True)
        self._beat.start()
        return None

    def _write_record(self):
        now = time.time()
        if self._record is None:
            self._record = {'host': socket.gethostname(), 'pid': os.getpid(),
                            'process_start': _process_start(os.getpid()), 'started': now}
        self._record['heartbeat'] = now
        data = json.dumps(self._record, sort_keys=True).encode('utf-8')
        os.pwrite(self._fd, data, 0)  # then cut: a reader never sees an empty record
        os.ftruncate(self._fd, len(data))

    def _heartbeat(self):
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._write_record()
            except OSError:  # a full disk: the record lock still holds
                pass

    def release(self) -> None:
        """Give the folder back (the lock file is removed while still held,
        so a run waiting on it tries again on a new file)."""
        if self._fd is None:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if _same_file(self._fd, self.path):  # not a file another run made since
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        fd, self._fd = self._fd, None
        _HELD.discard(self)
        os.close(fd)  # drops the record lock


def _read_record(fd):
    """The holder's record, or None; read twice if torn by a heartbeat."""
    for attempt in range(2):
        try:
            data = os.pread(fd, 1 << 16, 0)
            record = json.loads(data) if data.strip() else None
            return record if isinstance(record, dict) else None
        except (OSError, ValueError):
            time.sleep(0.01)
    return None


def _same_file(fd, path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)
