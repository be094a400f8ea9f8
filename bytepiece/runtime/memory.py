"""glibc's malloc: memory a phase of training or a batch of file encoding
frees goes back to the OS (a no-op where there is no glibc)."""

import contextlib
import ctypes
import functools

_M_MMAP_THRESHOLD = -3
TRAINING_MMAP_THRESHOLD = 1 << 16
GLIBC_MMAP_THRESHOLD = 1 << 17  # glibc's initial default


@functools.lru_cache(maxsize=None)
def _libc_function(name):
    """The C library's function ``name`` (looked up once), or None."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def _libc_call(name, *args):
    function = _libc_function(name)
    if function is not None:
        function(*args)


def set_mmap_threshold(nbytes):
    """Serve allocations of ``nbytes`` or more with mmap, so that freed tables
    go back to the OS at once (this also turns off glibc's dynamic threshold)."""
    _libc_call('mallopt', _M_MMAP_THRESHOLD, int(nbytes))


def release_memory():
    """Give freed heap pages back to the OS, so that the resident size follows
    what is in use (threads otherwise keep freed memory in their own arenas)."""
    _libc_call('malloc_trim', 0)


@contextlib.contextmanager
def training_allocations():
    """The mmap threshold at 64 KiB inside the block, glibc's initial 128 KiB after."""
    set_mmap_threshold(TRAINING_MMAP_THRESHOLD)
    try:
        yield
    finally:
        set_mmap_threshold(GLIBC_MMAP_THRESHOLD)
