"""Work directories: where a long run keeps the finished parts of its phases.

Each task of a phase writes its output under a name of its own, to a
temporary file renamed at the end, so an output exists only once complete
(not synced to disk: a killed run leaves only whole outputs; after a machine
crash, start again with a new directory).
A run killed at any point and started again with the same arguments finds
the outputs of its finished tasks and skips them. The directory records the
run's arguments (its fingerprint) and refuses to serve a run with others.
A named directory is held by one run at a time (``bytepiece.runtime.lock``): a
second run on it is refused, or waits with ``wait``.

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
import zipfile

import numpy as np

from ..kernels.decode import gather_bytes
from .fileio import atomic_output
from .lock import LOCK_FILE, FolderLock

MANIFEST = 'manifest.json'
FORMAT_VERSION = 3  # the files a run writes changed: a directory of another version is refused


class _Stream:
    """A file as numpy sees a stream: numpy writes through its ``write``, so
    a full disk raises ENOSPC (a real file numpy writes itself, and reports
    a short write without the cause)."""

    def __init__(self, file):
        self.write = file.write


class WorkDir:
    """A work directory for the run whose arguments are ``fingerprint`` (a
    JSON-able dict). ``path`` None makes a temporary one, removed by
    ``close``; an existing directory left by a run with other arguments is an
    error, unless ``replace`` (its outputs are then removed). ``created``:
    the folder did not exist before."""
    kind = 'work directory'  # in messages

    def __init__(self, path=None, fingerprint=None, replace=False, wait=False, vouchers=None):
        self.temporary = path is None
        self.path = tempfile.mkdtemp(prefix='bytepiece-work-') if path is None else os.fspath(path)
        self.created = self.temporary or not os.path.isdir(self.path)
        os.makedirs(self.path, exist_ok=True)
        self.lock = None if self.temporary else FolderLock(self.path, wait=wait)
        if self.lock is not None:
            self.lock.acquire()  # before the manifest: another run may be writing it
        try:
            self._open(fingerprint, replace, vouchers)
        except BaseException:
            self.release()
            raise

    def _open(self, fingerprint, replace, vouchers):
        manifest = {'format': 'bytepiece-work', 'version': FORMAT_VERSION, 'run': fingerprint or {}}
        # a JSON round trip, so that tuples and lists compare alike
        manifest = json.loads(json.dumps(manifest, sort_keys=True))
        found = self._read_manifest()
        self.damaged = []
        if found == manifest:
            self.damaged = self.remove_damaged(vouchers)
        if found is None:
            with atomic_output(self.file(MANIFEST)) as f:
                f.write(json.dumps(manifest, sort_keys=True, indent=1).encode('utf-8'))
        elif found != manifest and replace:
            self.clear()
            with atomic_output(self.file(MANIFEST)) as f:
                f.write(json.dumps(manifest, sort_keys=True, indent=1).encode('utf-8'))
        elif isinstance(found, dict) and found.get('version') != FORMAT_VERSION:
            raise ValueError(f'{self.kind} {self.path!r} was written by another version of bytepiece (format '
                             f'{_short(found.get("version"))}, this one writes {FORMAT_VERSION}), whose run cannot go '
                             f'on here: remove it or choose another one')
        elif found != manifest:
            raise ValueError(f'{self.kind} {self.path!r} belongs to a run with other arguments '
                             f'({_first_difference(found, manifest)}): remove it or choose another one')

    @classmethod
    def attach(cls, path):
        """The work directory at ``path`` as a task sees it: already set up
        by the run's driver, so its manifest is not checked again."""
        work = cls.__new__(cls)
        work.temporary, work.created, work.path, work.lock = False, False, os.fspath(path), None
        return work

    def _read_manifest(self):
        try:
            with open(self.file(MANIFEST), encoding='utf-8') as f:
                return json.load(f)
        except FileNotFoundError:
            if set(os.listdir(self.path)) - {LOCK_FILE}:
                raise ValueError(f'{self.kind} {self.path!r} is not empty and has no {MANIFEST}: '
                                 'choose an empty or new folder') from None
            return None
        except ValueError:
            raise ValueError(f'{self.kind} {self.path!r}: {MANIFEST} is damaged') from None

    def file(self, *names):
        """The path of a file in the directory (its folders are created)."""
        path = os.path.join(self.path, *names)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def exists(self, *names):
        return os.path.exists(os.path.join(self.path, *names))

    def listdir(self, folder):
        """The names in a folder of the directory, sorted (none if it is absent)."""
        path = os.path.join(self.path, folder)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def save(self, name, **arrays):
        """Save named arrays as one file, atomically (``load`` reads them)."""
        with atomic_output(self.file(name), sync=False) as f:
            np.savez(f, **arrays)

    def load(self, name):
        """The arrays of ``save``, as a dict."""
        with np.load(self.file(name)) as data:
            return {k: data[k] for k in data.files}

    def load_mapped(self, name):
        """The arrays of ``save``, as a dict, each memory-mapped copy-on-write
        where it lies in the file: no copy is read, and the pages are the
        file's, held only while used. (``intact`` checks the file's CRCs.)"""
        return mapped_members(self.file(name))

    def save_array(self, name, array):
        """Save one array as ``.npy``, atomically (``mapped_array`` maps it)."""
        with atomic_output(self.file(name), sync=False) as f:
            np.save(_Stream(f), array)

    def remove(self, *names):
        """Delete a file or folder of the directory (nothing if absent)."""
        path = os.path.join(self.path, *names)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def clear(self):
        """Remove every output, keeping the manifest."""
        for name in os.listdir(self.path):
            if name not in (MANIFEST, LOCK_FILE):
                self.remove(name)

    def remove_damaged(self, vouchers=None):
        """Remove the outputs a resumed run cannot trust (cut short, or
        changed since written: see ``intact``), so that their tasks run
        again, with the files that say they were done: ``vouchers(name)``
        (names relative to the directory). The damaged names, for the report."""
        damaged = []
        for folder, _, names in os.walk(self.path):
            for name in names:
                path = os.path.join(folder, name)
                if name not in (MANIFEST, LOCK_FILE) and not intact(path):
                    damaged.append(os.path.relpath(path, self.path))
        for name in damaged:
            for done in [name, *(vouchers(name) if vouchers else ())]:
                self.remove(done)
        return sorted(damaged)

    def release(self):
        """Give the directory back to other runs (see ``bytepiece.runtime.lock``)."""
        if self.lock is not None:
            self.lock.release()

    def close(self, keep=False):
        """Release the directory and remove it (a temporary one always, a
        named one unless ``keep``)."""
        if self.temporary or not keep:
            # emptied while still held, so that a run waiting on it never sees it half gone
            self.clear()
            self.remove(MANIFEST)
            self.release()
            with contextlib.suppress(OSError):  # a waiting run may hold a new lock file in it
                os.rmdir(self.path)
        else:
            self.release()


def intact(path):
    """Whether a work file is whole: an ``.npz`` reads back with every
    CRC right; an ``.npy`` or bucket file is as long as its header says;
    a temporary file left by a killed task is not."""
    try:
        if path.endswith('.tmp'):
            return False
        if path.endswith('.npz'):
            with zipfile.ZipFile(path) as z:
                return z.testzip() is None
        if path.endswith('.npy'):
            array = np.load(path, mmap_mode='r')
            return array.nbytes + array.offset == os.path.getsize(path)
        if path.endswith('.bin'):
            return _bucket_file_size(path) == os.path.getsize(path)
    except Exception:  # whatever a damaged file makes a reader raise, it is not whole
        return False
    return True


def _bucket_file_size(path):
    """The size a bucket file's header says it has."""
    with open(path, 'rb') as f:
        head = f.read(len(_MAGIC) + _HEADER.size)
        if head[:len(_MAGIC)] != _MAGIC:
            raise ValueError('not a bucket file')
        _, n_buckets, n_arrays, has_strings = _HEADER.unpack(head[len(_MAGIC):])
        if 16 * (n_buckets + 1) + 2 * n_arrays > os.path.getsize(path):
            raise ValueError('a header longer than the file')
        itemsizes = []
        for _ in range(n_arrays):
            size = f.read(1)[0]
            itemsizes.append(np.dtype(f.read(size).decode('ascii')).itemsize)
        offsets = np.frombuffer(f.read(8 * (n_buckets + 1)), np.int64)
        byte_offsets = np.frombuffer(f.read(8 * (n_buckets + 1)), np.int64)
        if offsets.size != n_buckets + 1 or byte_offsets.size != n_buckets + 1:
            raise ValueError('cut short in its header')
        return f.tell() + int(offsets[-1]) * sum(itemsizes) + (int(byte_offsets[-1]) if has_strings else 0)


def mapped_array(path):
    """The array of a ``.npy`` file, memory-mapped copy-on-write: tasks that
    read one table share the file's pages, which the process holds only
    while it uses them."""
    return np.load(path, mmap_mode='c')


def mapped_members(path):
    """The arrays of an ``.npz`` file, those stored uncompressed memory-mapped
    copy-on-write (one not aligned for its type, or compressed, is read)."""
    arrays = {}
    with open(path, 'rb') as f, zipfile.ZipFile(f) as z:
        for info in z.infolist():
            name = info.filename[:-len('.npy')] if info.filename.endswith('.npy') else info.filename
            if info.compress_type != zipfile.ZIP_STORED:
                arrays[name] = np.load(z.open(info))
                continue
            f.seek(info.header_offset)
            header = f.read(30)  # a zip local header: the name's and extra field's lengths at 26
            if header[:4] != b'PK\x03\x04':
                raise ValueError(f'{path}: {info.filename} has no local header')
            name_length, extra_length = struct.unpack('<HH', header[26:30])
            f.seek(info.header_offset + 30 + name_length + extra_length)
            version = np.lib.format.read_magic(f)
            shape, fortran, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                     else np.lib.format.read_array_header_2_0(f))
            if dtype.hasobject:
                raise ValueError(f'{path}: {info.filename} holds objects')
            if np.prod(shape) == 0:
                arrays[name] = np.zeros(shape, dtype)
                continue
            array = np.memmap(f, dtype, 'c', f.tell(), shape, 'F' if fortran else 'C').view(np.ndarray)
            arrays[name] = array if array.flags.aligned else array.copy()
    return arrays


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
# One file holds rows grouped by bucket, so that a reduce task reads its buckets
# alone. A row has one value in each array and, optionally, one byte string.
# Layout: a header (magic, version, buckets, arrays, whether there are
# strings, each array's dtype), the bucket offsets in rows and in string
# bytes, each array's rows, then the strings' bytes.

_MAGIC = b'BPBUCKET'
_HEADER = struct.Struct('<IIII')


def write_buckets(path, buckets, n_buckets, *arrays, strings=None):
    """Write the rows of ``arrays`` (equal lengths) grouped by ``buckets``
    (bucket ids ``0..n_buckets-1``), atomically. ``strings``: optional
    ``(data, bounds)``, row ``i``'s string being ``data[bounds[i]:bounds[i+1]]``."""
    # small integer types sort by radix
    order = np.argsort(buckets.astype(np.uint8 if n_buckets <= 256 else np.uint16), kind='stable')
    offsets = np.zeros(n_buckets + 1, np.int64)
    np.cumsum(np.bincount(buckets, minlength=n_buckets), out=offsets[1:])
    columns = [np.ascontiguousarray(a[order]) for a in arrays]
    byte_offsets = np.zeros(n_buckets + 1, np.int64)
    blob = b''
    if strings is not None:
        data, bounds = strings
        lengths = np.diff(bounds)[order]
        columns.append(lengths)
        byte_offsets = np.concatenate([[0], np.cumsum(lengths)])[offsets]
        blob = gather_bytes(order, data, bounds)
    with atomic_output(path, sync=False) as f:
        f.write(_MAGIC + _HEADER.pack(2, n_buckets, len(columns), strings is not None))
        for a in columns:
            code = a.dtype.str.encode('ascii')
            f.write(struct.pack('<B', len(code)) + code)
        f.write(offsets.tobytes())
        f.write(byte_offsets.tobytes())
        for a in columns:
            f.write(a.tobytes())
        f.write(blob)


def read_buckets(path, lo, hi=None):
    """The rows of buckets ``lo..hi-1`` (default: ``lo`` alone) of a
    ``write_buckets`` file: a tuple of arrays, then ``(data, bounds)`` if the
    file has strings."""
    hi = lo + 1 if hi is None else hi
    with open(path, 'rb') as f:
        head = f.read(len(_MAGIC) + _HEADER.size)
        if head[:len(_MAGIC)] != _MAGIC:
            raise ValueError(f'{path!r} is not a bucket file')
        _, n_buckets, n_arrays, has_strings = _HEADER.unpack(head[len(_MAGIC):])
        dtypes = []
        for _ in range(n_arrays):
            size = f.read(1)[0]
            dtypes.append(np.dtype(f.read(size).decode('ascii')))
        offsets = np.frombuffer(f.read(8 * (n_buckets + 1)), np.int64)
        byte_offsets = np.frombuffer(f.read(8 * (n_buckets + 1)), np.int64)
        start = f.tell()
        rows = int(offsets[-1])
        a, b = int(offsets[lo]), int(offsets[hi])
        out = []
        for dtype in dtypes:
            f.seek(start + a * dtype.itemsize)
            out.append(np.fromfile(f, dtype, b - a))
            start += rows * dtype.itemsize
        if not has_strings:
            return tuple(out)
        lengths = out.pop()
        f.seek(start + int(byte_offsets[lo]))
        data = np.fromfile(f, np.uint8, int(byte_offsets[hi] - byte_offsets[lo]))
        bounds = np.zeros(lengths.size + 1, np.int64)
        np.cumsum(lengths, out=bounds[1:])
        return (*out, (data, bounds))


def bucket_rows(path):
    """The number of rows of each bucket of a ``write_buckets`` file."""
    with open(path, 'rb') as f:
        head = f.read(len(_MAGIC) + _HEADER.size)
        _, n_buckets, n_arrays, _ = _HEADER.unpack(head[len(_MAGIC):])
        for _ in range(n_arrays):
            f.read(f.read(1)[0])
        return np.diff(np.frombuffer(f.read(8 * (n_buckets + 1)), np.int64))
