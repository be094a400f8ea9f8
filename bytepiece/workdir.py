"""Work directories: where a long run keeps the finished parts of its phases.

Each task of a phase writes its output under a name of its own, to a
temporary file renamed at the end, so an output exists only once complete.
A run killed at any point and started again with the same arguments finds
the outputs of its finished tasks and skips them. The directory records the
run's arguments (its fingerprint) and refuses to serve a run with others.

Every worker must reach the directory at the same path: on one machine any
folder; on a cluster a shared file system (NFS, Lustre, a Kubernetes volume
mounted read-write on every pod).
"""

import contextlib
import json
import os
import shutil
import struct
import tempfile

import numpy as np

from .fileio import atomic_output

MANIFEST = 'manifest.json'
FORMAT_VERSION = 1


class WorkDir:
    """A work directory for the run whose arguments are ``fingerprint`` (a
    JSON-able dict). ``path`` None makes a temporary one, removed by
    ``close``; an existing directory left by a run with other arguments is an
    error (it is never deleted silently)."""

    def __init__(self, path=None, fingerprint=None):
        self.temporary = path is None
        self.path = tempfile.mkdtemp(prefix='bytepiece-work-') if path is None else os.fspath(path)
        os.makedirs(self.path, exist_ok=True)
        manifest = {'format': 'bytepiece-work', 'version': FORMAT_VERSION, 'run': fingerprint or {}}
        # a JSON round trip, so that tuples and lists compare alike
        manifest = json.loads(json.dumps(manifest, sort_keys=True))
        found = self._read_manifest()
        if found is None:
            with atomic_output(self.file(MANIFEST)) as f:
                f.write(json.dumps(manifest, sort_keys=True, indent=1).encode('utf-8'))
        elif found != manifest:
            raise ValueError(f'work directory {self.path!r} belongs to a run with other arguments '
                             f'({_first_difference(found, manifest)}): remove it or choose another one')

    def _read_manifest(self):
        try:
            with open(self.file(MANIFEST), encoding='utf-8') as f:
                return json.load(f)
        except FileNotFoundError:
            if os.listdir(self.path):
                raise ValueError(f'work directory {self.path!r} is not empty and has no {MANIFEST}: '
                                 'choose an empty or new folder') from None
            return None
        except ValueError:
            raise ValueError(f'work directory {self.path!r}: {MANIFEST} is damaged') from None

    def file(self, *names):
        """The path of a file in the directory (its folders are created)."""
        path = os.path.join(self.path, *names)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def exists(self, *names):
        return os.path.exists(os.path.join(self.path, *names))

    def save(self, name, **arrays):
        """Save named arrays as one file, atomically (``load`` reads them)."""
        with atomic_output(self.file(name)) as f:
            np.savez(f, **arrays)

    def load(self, name):
        """The arrays of ``save``, as a dict."""
        with np.load(self.file(name)) as data:
            return {k: data[k] for k in data.files}

    def remove(self, *names):
        """Delete a file or folder of the directory (nothing if absent)."""
        path = os.path.join(self.path, *names)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def close(self, keep=False):
        """Remove the directory (a temporary one always, a named one unless ``keep``)."""
        if self.temporary or not keep:
            shutil.rmtree(self.path, ignore_errors=True)


def _first_difference(found, wanted, where=''):
    if isinstance(found, dict) and isinstance(wanted, dict):
        for key in sorted(set(found) | set(wanted)):
            if found.get(key) != wanted.get(key):
                return _first_difference(found.get(key), wanted.get(key), f'{where}.{key}' if where else key)
    return f'{where}: {_short(found)} there, {_short(wanted)} now'


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + '...'


# --- bucketed array files --------------------------------------------------------
# One file holds rows of several arrays grouped by bucket, so that a reduce
# task reads its bucket alone: a header (magic, version, buckets, arrays, each
# array's dtype), the bucket offsets (in rows), then each array's rows.

_MAGIC = b'BPBUCKET'


def write_buckets(path, buckets, n_buckets, *arrays):
    """Write the rows of ``arrays`` (equal lengths) grouped by ``buckets``
    (an int array of bucket ids, ``0..n_buckets-1``), atomically."""
    order = np.argsort(buckets, kind='stable')
    offsets = np.zeros(n_buckets + 1, np.int64)
    np.cumsum(np.bincount(buckets, minlength=n_buckets), out=offsets[1:])
    with atomic_output(path) as f:
        f.write(_MAGIC + struct.pack('<III', 1, n_buckets, len(arrays)))
        for a in arrays:
            code = a.dtype.str.encode('ascii')
            f.write(struct.pack('<B', len(code)) + code)
        f.write(offsets.tobytes())
        for a in arrays:
            f.write(np.ascontiguousarray(a[order]).tobytes())


def read_bucket(path, bucket):
    """The rows of one bucket of a ``write_buckets`` file, as a tuple of arrays."""
    with open(path, 'rb') as f:
        head = f.read(len(_MAGIC) + 12)
        if head[:len(_MAGIC)] != _MAGIC:
            raise ValueError(f'{path!r} is not a bucket file')
        _, n_buckets, n_arrays = struct.unpack('<III', head[len(_MAGIC):])
        dtypes = []
        for _ in range(n_arrays):
            size = f.read(1)[0]
            dtypes.append(np.dtype(f.read(size).decode('ascii')))
        offsets = np.frombuffer(f.read(8 * (n_buckets + 1)), np.int64)
        start = f.tell()
        rows = int(offsets[-1])
        out = []
        for dtype in dtypes:
            f.seek(start + int(offsets[bucket]) * dtype.itemsize)
            out.append(np.fromfile(f, dtype, int(offsets[bucket + 1] - offsets[bucket])))
            start += rows * dtype.itemsize
        return tuple(out)
