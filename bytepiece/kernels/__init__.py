"""Numba kernels: pure functions over numpy arrays, apart from the Python API.

numba's on-disk cache (``cache=True``) checks only the file of the function
it compiled: a kernel that inlines one of another module keeps its compiled
code when only that other module changes (a ``git pull`` that touches one
file), and would run the old code. ``drop_stale_cache`` removes the package's
cached kernels whenever any kernel source differs from the sources they were
compiled from; it runs when the package is imported.
"""

import hashlib
import os

CACHE_STAMP = 'kernel-sources.sha256'


def sources_digest(folder):
    """The SHA-256 of the ``.py`` files of ``folder``, names and contents."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        if name.endswith('.py'):
            with open(os.path.join(folder, name), 'rb') as f:
                digest.update(name.encode() + b'\0' + f.read() + b'\0')
    return digest.hexdigest()


def drop_stale_cache(folder):
    """If ``folder/__pycache__`` holds numba cache files (``.nbi``, ``.nbc``)
    compiled from other sources than ``folder``'s, remove them; then stamp
    the cache with the sources' digest. Returns the number of files removed.
    A cache that cannot be written is left to numba, which then keeps its
    own elsewhere."""
    cache = os.path.join(folder, '__pycache__')
    stamp = os.path.join(cache, CACHE_STAMP)
    digest = sources_digest(folder)
    try:
        with open(stamp, encoding='ascii') as f:
            if f.read().strip() == digest:
                return 0
    except OSError:
        pass
    removed = 0
    try:
        for name in os.listdir(cache):
            if name.endswith(('.nbi', '.nbc')):
                try:
                    os.remove(os.path.join(cache, name))
                    removed += 1
                except FileNotFoundError:  # another process removed it first
                    pass
        temporary = f'{stamp}.{os.getpid()}.tmp'
        with open(temporary, 'w', encoding='ascii') as f:
            f.write(digest + '\n')
        os.replace(temporary, stamp)
    except OSError:  # no cache folder yet, or not writable
        pass
    return removed


drop_stale_cache(os.path.dirname(os.path.abspath(__file__)))
