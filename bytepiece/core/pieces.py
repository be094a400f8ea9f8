"""Every id's piece: lookups both ways, and decoding ids to bytes.

The table covers the whole id range: ``<pad>``, ``<bos>``, ``<eos>`` (ids
0..2, no bytes), the vocabulary's pieces, then the special tokens (their text
as UTF-8). It is rebuilt when special tokens are added.
"""

from numbers import Integral

import numpy as np

from ..kernels.decode import gather_bytes
from .model import NUM_SPECIAL, SPECIAL_PIECES


# A list of at least this many ids takes its objects from the table's object
# arrays; a shorter one is cheaper to build with ``tolist``.
SHARED_OBJECTS_MIN = 48


def id_out_of_range(token_id, position, size):
    """The error for id ``token_id`` (an int, or its decimal text) at
    ``position`` of a sequence, outside ``[0, size)``."""
    return ValueError(f'token id {token_id} at position {position} out of range [0, {size})')


class PieceTable:
    """Ids to pieces and back, for a vocabulary and its special tokens."""

    _id_objects = None  # the ints 0..size-1, then the pieces, as object arrays made at first use
    _piece_objects = None

    def __init__(self, vocab, special_tokens):
        encoded = [t.encode('utf-8') for t in special_tokens]
        lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
        self.size = vocab.size + len(encoded)
        self.pieces = vocab.pieces + list(special_tokens)  # bytes, then str for special tokens
        self.piece_offsets = np.concatenate([vocab.piece_offsets, vocab.piece_offsets[-1] + np.cumsum(lengths)])
        self.piece_data = np.concatenate([vocab.piece_data, np.frombuffer(b''.join(encoded), np.uint8)])
        self.ids = {p: i for i, p in enumerate(vocab.pieces) if i >= NUM_SPECIAL}
        self.ids.update((name, i) for i, name in enumerate(SPECIAL_PIECES))
        self.ids.update((t, vocab.size + k) for k, t in enumerate(special_tokens))

    def __getstate__(self):
        state = self.__dict__.copy()  # the object arrays are made again where needed
        state.pop('_id_objects', None)
        state.pop('_piece_objects', None)
        return state

    def id_list(self, ids):
        """The Python list of an array of ids (each in range). A long one
        shares one int object per id: creating (and later freeing) an int per
        token costs about twice as much once many lists stay alive."""
        if ids.size < SHARED_OBJECTS_MIN:
            return ids.tolist()
        objects = self._id_objects
        if objects is None:
            objects = self._id_objects = np.array(range(self.size), dtype=object)
        return objects.take(ids).tolist()

    def piece_list(self, ids):
        """The pieces of an array of ids (each in range), as a list."""
        if ids.size < SHARED_OBJECTS_MIN:
            pieces = self.pieces
            return [pieces[i] for i in ids.tolist()]
        objects = self._piece_objects
        if objects is None:
            objects = np.empty(self.size, dtype=object)
            objects[:] = self.pieces
            self._piece_objects = objects
        return objects.take(ids).tolist()

    def piece_to_id(self, piece):
        try:
            return self.ids[piece]
        except (KeyError, TypeError):
            if not isinstance(piece, (bytes, str)):
                raise TypeError(f'a piece is bytes (or str for special tokens), got {type(piece).__name__}') from None
            raise KeyError(f'{piece!r} is not in the vocabulary') from None

    def id_to_piece(self, i):
        i = self.check_id(i)
        return SPECIAL_PIECES[i] if i < NUM_SPECIAL else self.pieces[i]

    def check_id(self, i):
        if isinstance(i, bool) or not isinstance(i, Integral):
            raise TypeError(f'token id must be an int, got {type(i).__name__} {i!r}')
        if not 0 <= i < self.size:
            raise ValueError(f'token id {i} out of range [0, {self.size})')
        return int(i)

    def decode(self, ids, errors=None):
        """The text of ``ids``: their bytes decoded as UTF-8 with ``errors``
        (a checked error handler name; None: ``'ignore'``, BytePiece's)."""
        return str(self.gather(ids), 'utf-8', errors or 'ignore')

    def decode_bytes(self, ids):
        """The bytes of the pieces of ``ids`` (checked: ``check_ids``)."""
        return self.gather(ids).tobytes()

    def gather(self, ids):
        """The bytes of the pieces of ``ids`` as a uint8 array (no copy to
        ``bytes``: a long text is held once)."""
        return gather_bytes(self.check_ids(ids), self.piece_data, self.piece_offsets)

    def check_ids(self, ids):
        """``ids`` as an int32 or int64 array (an int32 one is kept, not
        widened), range-checked, with a clear error."""
        if isinstance(ids, memoryview) and ids.format.lstrip('@=<>!') not in ('B', 'b', 'c'):
            ids = np.asarray(ids)  # a view of numbers (a memoryview of bytes is refused below)
        arr = ids if isinstance(ids, np.ndarray) else _id_array(ids)
        if arr.size == 0:
            return np.zeros(0, np.int64)
        if arr.ndim != 1:
            raise ValueError(f'ids must be one-dimensional, got shape {arr.shape}')
        if arr.dtype.kind not in 'iu':
            for pos, i in enumerate(arr.tolist()):
                if isinstance(i, bool) or not isinstance(i, Integral):
                    raise TypeError(f'token id at position {pos} is not an int: {i!r}')
                if not 0 <= i < self.size:
                    raise id_out_of_range(i, pos, self.size)
            arr = arr.astype(np.int64)
        bad = np.flatnonzero((arr < 0) | (arr >= self.size))
        if bad.size:
            pos = int(bad[0])
            raise id_out_of_range(arr[pos], pos, self.size)
        return arr if arr.dtype in (np.int32, np.int64) else arr.astype(np.int64)


def _id_array(ids):
    """A sequence of ids as a numpy array (object dtype for ints numpy cannot hold)."""
    if isinstance(ids, (str, bytes, bytearray, memoryview)):
        # text or raw bytes, not ids (iterating bytes would give ints)
        raise TypeError(f'ids must be a sequence of ints, got {type(ids).__name__}')
    try:
        ids = list(ids)
    except TypeError:
        raise TypeError(f'ids must be a sequence of ints, got {type(ids).__name__}') from None
    if not set(map(type, ids)) <= {int}:
        # Checked before numpy converts the list (it would take True as 1, and
        # turn [1, 2.5] into floats, hiding which one is bad).
        for pos, i in enumerate(ids):
            if isinstance(i, (bool, np.bool_)) or not isinstance(i, Integral):
                raise TypeError(f'token id at position {pos} is not an int: {i!r}')
    try:
        arr = np.array(ids)
    except (ValueError, OverflowError):
        return np.array(ids, dtype=object)
    if arr.dtype.kind not in 'iu':  # ints that numpy made floats (int64 beside uint64)
        return np.array(ids, dtype=object)
    return arr
