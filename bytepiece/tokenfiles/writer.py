"""Writing one token dataset (a prefix) in either format, files appearing only complete.

The tokens go to a temporary file renamed when the writer closes without
error; the index (and the metadata of the flat format) follow, written the
same way, last. A dataset whose index file exists is therefore whole.
"""

import contextlib
import os
import stat
from typing import Callable, Optional, Union

import numpy as np
from numpy.typing import DTypeLike

from ..runtime.fileio import atomic_output, atomic_write
from . import flat, megatron

FORMATS = ('megatron', 'flat')
# Tokens written between syncs: the sync when the file closes then waits for
# the last few only, not for a whole shard.
SYNC_BYTES = 64 << 20
_datasync = getattr(os, 'fdatasync', os.fsync)  # macOS has no fdatasync


def check_format(fmt):
    if fmt not in FORMATS:
        raise ValueError(f'token file format must be one of {FORMATS}, got {fmt!r}')
    return fmt


def token_dtype(fmt: str, vocab_size: int) -> np.dtype:
    """The token dtype of a format for a vocabulary of ``vocab_size`` ids."""
    return (megatron if check_format(fmt) == 'megatron' else flat).token_dtype(vocab_size)


def dataset_paths(fmt, prefix):
    """The files of a dataset, its index last."""
    if check_format(fmt) == 'megatron':
        return megatron.paths(prefix)
    return flat.paths(prefix)


class TokenWriter:
    """``with TokenWriter(fmt, prefix, dtype) as w: w.add(ids, bounds)`` writes
    the documents ``ids[bounds[i]:bounds[i+1]]``; ``add_dataset`` appends
    another dataset's tokens (for merges)."""

    def __init__(self, fmt: str, prefix: Union[str, os.PathLike], dtype: DTypeLike) -> None:
        self.fmt, self.prefix, self.dtype = check_format(fmt), os.fspath(prefix), np.dtype(dtype)
        self.files = dataset_paths(fmt, self.prefix)
        self._stack = contextlib.ExitStack()
        self._data = None
        self._lengths = []  # arrays of document lengths, or callables returning them
        self.documents = 0
        self.tokens = 0
        self._open = 0  # tokens of a document whose last piece has not come yet
        self._unsynced = 0  # bytes written since the last sync (None: a file that is not synced)

    def __enter__(self):
        self._data = self._stack.enter_context(atomic_output(self.files[0]))
        if not stat.S_ISREG(os.fstat(self._data.fileno()).st_mode):
            self._unsynced = None
        return self

    def _written(self, n_bytes):
        if self._unsynced is None:
            return
        self._unsynced += n_bytes
        if self._unsynced >= SYNC_BYTES:
            self._data.flush()
            _datasync(self._data.fileno())
            self._unsynced = 0

    def add(self, ids: np.ndarray, bounds: np.ndarray, ends: Optional[np.ndarray] = None) -> None:
        """Append texts ``ids[bounds[i]:bounds[i+1]]`` (any int array, n + 1
        offsets). Each is a document, or with ``ends`` (bools) a piece of one
        that ends where ``ends[i]`` (a document may go on in the next call)."""
        data = np.ascontiguousarray(ids, self.dtype.newbyteorder('<'))
        self._data.write(data.data)
        self._written(data.nbytes)
        lengths = np.diff(bounds)
        if ends is not None:
            total = np.cumsum(lengths) + self._open  # token counts since the last document's start
            closed = total[ends]
            lengths = np.diff(closed, prepend=np.int64(0))
            self._open = int(total[-1] - closed[-1]) if closed.size else int(total[-1]) if total.size else self._open
        self._lengths.append(lengths)
        self.documents += lengths.size
        self.tokens += int(bounds[-1] - bounds[0])

    def add_dataset(self, tokens_path: str, n_documents: int, n_tokens: int,
                    lengths: Callable[[], np.ndarray]) -> None:
        """Append the token file ``tokens_path`` whole: ``lengths`` is a
        callable giving its documents' lengths (read when the index is written)."""
        with open(tokens_path, 'rb') as f:
            while True:
                chunk = f.read(16 << 20)
                if not chunk:
                    break
                self._data.write(chunk)
                self._written(len(chunk))
        self._lengths.append(lengths)
        self.documents += n_documents
        self.tokens += n_tokens

    def _length_parts(self):
        for part in self._lengths:
            yield part() if callable(part) else part

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            return self._stack.__exit__(exc_type, exc, tb)
        if self._open:
            err = ValueError(f'{self.prefix}: the last document has no end')
            self._stack.__exit__(ValueError, err, None)
            raise err
        self._stack.close()  # the tokens, renamed into place
        with atomic_output(self.files[1]) as f:
            if self.fmt == 'megatron':
                megatron.write_index(f, self.dtype, self._length_parts)
            else:
                flat.write_index(f, self._length_parts())
        if self.fmt == 'flat':
            atomic_write(self.files[2], flat.metadata(self.dtype, self.tokens))
        return False
