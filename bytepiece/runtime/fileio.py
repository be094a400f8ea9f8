"""Files: inputs opened by their compression suffix, outputs written atomically.

Outputs appear only complete: they are written to a temporary file beside
the target, synced, then renamed over it.
"""

import bz2
import contextlib
import errno
import gzip
import io
import lzma
import os
import re
import stat
import tempfile
import time
import zipfile
import zlib

from . import extras

# Compressed inputs, recognised by suffix.
_DECOMPRESSORS = {'.gz': gzip.open, '.xz': lzma.open, '.lzma': lzma.open, '.bz2': bz2.open}


def compression_suffix(path):
    """The compression suffix of ``path`` (``'.gz'`` ...), or ``''``."""
    low = os.fsdecode(path).lower()
    return next((s for s in _DECOMPRESSORS if low.endswith(s)), '')


def strip_compression(path):
    """``path`` without its compression suffix, lowercased."""
    low = os.fsdecode(path).lower()
    return low[:len(low) - len(compression_suffix(low))]


# What decompressors and zipfile raise on damaged data (gzip's and bz2's own
# errors are OSErrors without an errno).
DAMAGED_DATA = (EOFError, lzma.LZMAError, zlib.error, zipfile.BadZipFile, *extras.zstd_errors())


def damaged(name, error):
    """A ValueError naming the file ``name`` for a damaged-data error; an
    OSError with an errno is a system error that speaks for itself, returned
    as is."""
    if isinstance(error, EOFError):
        return ValueError(f'{name}: compressed data ended early (truncated file?)')
    if isinstance(error, OSError) and error.errno is not None:
        return error
    detail = ' '.join(str(error).split()) or type(error).__name__
    return ValueError(f'{name}: damaged compressed data ({detail})')


# Reading a remote input: an error that may pass (a dropped connection, a
# timeout, a throttled request) is retried, waiting twice as long each time.
READ_ATTEMPTS = 6
FIRST_RETRY_WAIT = 0.05
_LASTING = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


class RetryingReader(io.RawIOBase):
    """The bytes of the file ``opener()`` opens, read on through errors that
    may pass: after one, the file is opened again and read on from where it
    was, up to ``READ_ATTEMPTS`` tries with a growing wait; then an OSError
    naming ``name`` and the last error. Decompress on top of it, so that
    damaged data is never retried."""

    def __init__(self, opener, name):
        super().__init__()
        self._opener, self.name = opener, name
        self._file, self._pos = None, 0
        self._retrying(lambda: None)

    def readable(self):
        return True

    def seekable(self):
        return self._retrying(lambda: self._file.seekable())

    def tell(self):
        return self._pos

    def seek(self, pos, whence=io.SEEK_SET):
        self._pos = self._retrying(lambda: self._file.seek(pos, whence))
        return self._pos

    def read(self, size=-1):
        data = self._retrying(lambda: self._file.read(size))
        self._pos += len(data)
        return data

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def _retrying(self, action):
        for attempt in range(READ_ATTEMPTS):
            try:
                if self._file is None:
                    self._file = self._opener()
                    if self._pos:
                        self._skip_to(self._pos)
                return action()
            except _LASTING:
                raise
            except OSError as e:
                self._drop_file()
                if attempt + 1 == READ_ATTEMPTS:
                    raise OSError(e.errno or errno.EIO, f'reading failed {READ_ATTEMPTS} times, the last: '
                                  f'{" ".join(str(e).split()) or type(e).__name__}', self.name) from e
                time.sleep(FIRST_RETRY_WAIT * 2 ** attempt)

    def _skip_to(self, pos):
        """Go on from byte ``pos`` of a file opened again: a seek, or on a
        stream that cannot seek (HTTP), its first ``pos`` bytes read and
        dropped."""
        try:
            if self._file.seekable():
                self._file.seek(pos)
                return
        except (ValueError, io.UnsupportedOperation):
            pass
        while pos:
            skipped = len(self._file.read(min(pos, 16 << 20)))
            if not skipped:
                raise OSError(errno.EIO, f'the file ended at byte {self._pos - pos} on opening it again')
            pos -= skipped

    def _drop_file(self):
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(Exception):
                file.close()

    def close(self):
        self._drop_file()
        super().close()


def open_input(path):
    """Open ``path`` for reading bytes, decompressing by suffix."""
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, 'input path is a directory', os.fsdecode(path))
    opener = _DECOMPRESSORS.get(compression_suffix(path), open)
    return opener(path, 'rb')


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def check_output_path(path):
    """Fail before any work if ``path`` cannot become a file: its directory
    must exist and it must not be a directory."""
    path = os.fsdecode(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, 'output path is a directory', path)
    if path.endswith(os.sep):  # meant as a directory ('out/')
        if os.path.exists(path.rstrip(os.sep)):
            raise NotADirectoryError(errno.ENOTDIR, 'output path is not a directory', path)
        raise FileNotFoundError(errno.ENOENT, 'output directory not found', path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, 'output directory not found', directory)


_DESCRIPTOR_PATH = re.compile(r'/dev/(stdin|stdout|stderr)|/dev/fd/(\d+)|/proc/(?:self|(\d+))/fd/(\d+)')


def _open_descriptor(path):
    """The descriptor of this process that ``path`` names (``/dev/stdout``,
    ``/dev/fd/N``, ``/proc/self/fd/N``), if it is open, else None."""
    match = _DESCRIPTOR_PATH.fullmatch(os.path.abspath(path))
    if match is None:
        return None
    std, dev_fd, pid, proc_fd = match.groups()
    if pid is not None and int(pid) != os.getpid():
        return None
    fd = ('stdin', 'stdout', 'stderr').index(std) if std else int(dev_fd or proc_fd)
    try:
        os.fstat(fd)
    except OSError:
        return None
    return fd


@contextlib.contextmanager
def atomic_output(path, sync=True):
    """A binary file that becomes ``path`` when the block ends without error:
    written to a temporary file beside it, synced (unless ``sync`` is false:
    the rename alone survives a killed process, not a crashed machine), then
    renamed over it. On
    error the temporary file is removed and any old file at ``path`` is left
    intact. A symbolic link is followed (the file it names is replaced, the
    link stays), and an old file's permissions are kept. There is no file to
    replace, and the path is written in place, when it names one of this
    process's open descriptors (``/dev/stdout``, ``/dev/fd/N``: written
    through that descriptor, so a redirection ``>> log`` appends) or is not a
    regular file (``/dev/null``, a pipe). Errors name ``path``, not the
    temporary file."""
    path = os.fsdecode(path)
    check_output_path(path)
    fd = _open_descriptor(path)
    if fd is not None:
        with os.fdopen(os.dup(fd), 'wb') as f:
            yield f
        return
    try:
        old = os.stat(path)  # follows links
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        with open(path, 'wb') as f:
            yield f
        return
    target = os.path.realpath(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(target) + '.', suffix='.tmp',
                                   dir=os.path.dirname(target))
    except OSError as e:
        raise type(e)(e.errno, e.strerror, path) from None
    try:
        with os.fdopen(fd, 'wb') as f:
            # mkstemp makes the file private (0600): keep the old file's mode,
            # or give a new file the usual 0666 & ~umask.
            os.fchmod(f.fileno(), stat.S_IMODE(old.st_mode) if old is not None else 0o666 & ~_UMASK)
            yield f
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno and e.filename in (None, tmp):  # name the user's file
            raise type(e)(e.errno, e.strerror, path) from None
        raise


def atomic_write(path, data):
    """Write ``data`` (str as UTF-8, or bytes) to ``path`` atomically (see
    ``atomic_output``)."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    with atomic_output(path) as f:
        f.write(data)
