"""Model files: load, validate and save BytePiece vocabularies.

A model is a JSON object ``{base64(piece): [id, piece as text, count], ...}``
(SPEC section 2), optionally inside a ``.zip`` holding one such file.
Pieces get ids ``3..`` in ``(len, bytes)`` order; ids 0, 1, 2 are
``<pad>``, ``<bos>``, ``<eos>``.
"""

import base64
import binascii
import contextlib
import errno
import json
import lzma
import math
import os
import re
import stat
import tempfile
import zipfile
import zlib
from numbers import Integral, Real

import numpy as np

from .kernels.jsonscan import count_top_level_keys

a2b_base64 = binascii.a2b_base64

SPECIAL_PIECES = ('<pad>', '<bos>', '<eos>')
NUM_SPECIAL = len(SPECIAL_PIECES)

def canonical_order(pieces):
    """The pieces sorted as ids are assigned: by (length, bytes)."""
    return sorted(pieces, key=lambda p: (len(p), p))


def model_dict(pieces):
    """The JSON-able model dict for ``{piece bytes: count}``."""
    return {
        base64.b64encode(p).decode('ascii'): [i + NUM_SPECIAL, p.decode('utf-8', errors='ignore'), pieces[p]]
        for i, p in enumerate(canonical_order(pieces))
    }


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
def atomic_output(path):
    """A binary file that becomes ``path`` when the block ends without error:
    written to a temporary file beside it, synced, then renamed over it. On
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
            os.fsync(f.fileno())
        try:
            os.replace(tmp, target)
        except OSError as e:
            raise type(e)(e.errno, e.strerror, path) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path, data):
    """Write ``data`` (str as UTF-8, or bytes) to ``path`` atomically (see
    ``atomic_output``)."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    with atomic_output(path) as f:
        f.write(data)


def save_model(pieces, path):
    """Save ``{piece bytes: count}`` as a BytePiece model file, atomically."""
    atomic_write(path, json.dumps(model_dict(pieces), indent=4, ensure_ascii=False))


def _reject_duplicate_keys(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f'duplicate key {key!r} in model JSON')
            seen.add(key)
    return obj


def read_model_json(path):
    """Read the raw JSON object of a model file (plain JSON or a zip of one)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f'model file not found: {path!r}')
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if not m.endswith('/')]
                if len(members) != 1:
                    raise ValueError(f'{path!r}: a model zip must hold exactly one file, found {members}')
                raw = archive.read(members[0])
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, OSError) as e:
            raise ValueError(f'{path!r}: cannot read the model zip: {e}') from None
    else:
        with open(path, 'rb') as f:
            raw = f.read()
        if raw.startswith(b'PK\x03\x04'):  # a zip's first header, but is_zipfile found no directory
            raise ValueError(f'{path!r}: cannot read the model zip: it is truncated or damaged')
    try:
        obj = json.loads(raw.decode('utf-8'))
    except UnicodeDecodeError as e:
        raise ValueError(f'{path!r} is not UTF-8 JSON: {e}') from None
    except json.JSONDecodeError as e:
        raise ValueError(f'{path!r} is not valid JSON: {e}') from None
    if isinstance(obj, dict) and count_top_level_keys(np.frombuffer(raw, np.uint8)) != len(obj):
        try:
            json.loads(raw.decode('utf-8'), object_pairs_hook=_reject_duplicate_keys)
        except ValueError as e:
            raise ValueError(f'{path!r}: {e}') from None
    return obj


def _decode_piece(key):
    if not isinstance(key, str):
        raise ValueError(f'piece key {key!r} is not a string')
    try:
        piece = binascii.a2b_base64(key.encode('ascii'), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError(f'piece key {key!r} is not valid base64') from None
    if not piece:
        raise ValueError(f'piece key {key!r} decodes to an empty piece')
    return piece


def finite_float(x):
    """Whether ``x`` converts to a finite float64 (a huge int overflows)."""
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


def shown_value(x):
    """``repr(x)``, shortened for a huge int."""
    text = repr(x)
    return text if len(text) <= 40 else f'{text[:12]}...{text[-4:]} ({len(text)} digits)'


def _first_bad_entry(keys, values):
    """The message for the first malformed ``[id, text, count]`` entry."""
    for key, value in zip(keys, values):
        if not isinstance(value, (list, tuple)) or len(value) < 2:
            return f'entry for {key!r} must be [id, text, count], got {value!r}'
        piece_id, count = value[0], value[-1]
        if isinstance(piece_id, bool) or not isinstance(piece_id, Integral):
            return f'id of piece {key!r} is not an int: {piece_id!r}'
        if isinstance(count, bool) or not isinstance(count, Real) or not count > 0:
            return f'count of piece {key!r} must be a positive number, got {count!r}'
        if not finite_float(count):
            return f'count of piece {key!r} is too large for a float64: {shown_value(count)}'
    return 'malformed entries'  # not reached: the checks above cover the fast path's


def _plain_number(x):
    """numpy scalars as Python ints and floats (exact sums, no int64 wraparound)."""
    return x.item() if isinstance(x, np.generic) else x


def parse_model(obj, source='model'):
    """Validate a model dict and return ``(pieces, ids, counts)``.

    ``pieces`` are bytes, ``ids`` ints and ``counts`` positive numbers, in file
    order. Raises ValueError saying what is wrong and where.
    """
    if not isinstance(obj, dict):
        raise ValueError(f'{source}: a model must be a JSON object, got {type(obj).__name__}')
    keys = list(obj)
    values = list(obj.values())
    try:
        pieces = [a2b_base64(k, strict_mode=True) for k in keys]
        if not all(pieces):
            raise ValueError
    except (binascii.Error, ValueError, TypeError):
        for k in keys:  # find the culprit for the message
            try:
                _decode_piece(k)
            except ValueError as e:
                raise ValueError(f'{source}: {e}') from None
        raise
    try:
        ids = [v[0] for v in values]
        counts = [v[-1] for v in values]
        if not set(map(type, ids)) <= {int} or not set(map(type, counts)) <= {int, float}:
            # numpy scalars (a dict built in Python): as Python numbers; bools stay rejected
            ids = [_plain_number(i) for i in ids]
            counts = [_plain_number(c) for c in counts]
        ok = (set(map(type, values)) <= {list, tuple} and min(map(len, values), default=2) >= 2
              and set(map(type, ids)) <= {int} and set(map(type, counts)) <= {int, float})
        count_array = np.array(counts, dtype=np.float64)
        ok = ok and bool(np.all(count_array > 0) and np.all(np.isfinite(count_array)))
    except (TypeError, ValueError, KeyError, IndexError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f'{source}: {_first_bad_entry(keys, values)}')
    # Scores are log(count) - log(total): the total must be a finite float too.
    total = sum(counts)
    if not finite_float(total):
        raise ValueError(f'{source}: the counts add up to more than the largest float64 (1.8e308), so the '
                         f'scores log(count / total) are undefined; the largest count is {shown_value(max(counts))}')
    n = len(pieces)
    if len(set(pieces)) != n:
        first_key = {}
        for key, piece in zip(keys, pieces):
            if piece in first_key:
                raise ValueError(f'{source}: duplicate piece {piece!r} (keys {first_key[piece]!r} and {key!r})')
            first_key[piece] = key
    single = {p[0] for p in pieces if len(p) == 1}
    if len(single) != 256:
        missing = [b for b in range(256) if b not in single]
        shown = ', '.join(f'0x{b:02X}' for b in missing[:8]) + (' ...' if len(missing) > 8 else '')
        raise ValueError(f'{source}: {len(missing)} single bytes missing from the vocabulary: {shown}')
    if len(set(ids)) != n:
        seen = set()
        for p, i in zip(pieces, ids):
            if i in seen:
                raise ValueError(f'{source}: duplicate id {i} (piece {p!r})')
            seen.add(i)
    if min(ids) != NUM_SPECIAL or max(ids) != n + NUM_SPECIAL - 1:
        bad = next(i for i in ids if not NUM_SPECIAL <= i < n + NUM_SPECIAL)
        raise ValueError(f'{source}: piece ids must be exactly {NUM_SPECIAL}..{n + NUM_SPECIAL - 1}, found id {bad}')
    return pieces, ids, counts


def load_model(path_or_dict):
    """Load and validate a model from a path (JSON or zip) or an in-memory dict."""
    if isinstance(path_or_dict, dict):
        return parse_model(path_or_dict)
    if isinstance(path_or_dict, (str, bytes, os.PathLike)):
        path = os.fsdecode(path_or_dict)
        return parse_model(read_model_json(path), source=repr(path))
    raise TypeError(f'expected a model path or dict, got {type(path_or_dict).__name__}')
