"""Spill files: tuples of 1-d arrays written to a temporary file and read back
one tuple at a time, so that what waits for the next pass is not in memory."""

import tempfile

import numpy as np

__all__ = ['ArraySpill']


class ArraySpill:
    """Tuples of 1-d arrays in a temporary file (in ``directory``, default the
    system's), removed when closed. Also a context manager."""

    def __init__(self, directory=None):
        self.directory = directory
        self._file = tempfile.TemporaryFile(dir=directory)
        self._items = []  # (offset, ((dtype, length), ...)) per tuple

    def write(self, *arrays):
        """Append a tuple of arrays."""
        self._items.append((self._file.tell(), tuple((a.dtype, a.shape[0]) for a in arrays)))
        for a in arrays:
            self._file.write(np.ascontiguousarray(a).tobytes())

    def read(self, i):
        """Tuple ``i``, as new arrays."""
        offset, layout = self._items[i]
        self._file.seek(offset)
        return tuple(np.fromfile(self._file, dtype, n) for dtype, n in layout)

    def __iter__(self):
        return (self.read(i) for i in range(len(self)))

    def lengths(self, i):
        """The lengths of the arrays of tuple ``i`` (without reading them)."""
        return tuple(n for _, n in self._items[i][1])

    def total_length(self, field):
        """The summed length of array ``field`` over all tuples."""
        return sum(layout[field][1] for _, layout in self._items)

    def __len__(self):
        return len(self._items)

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
