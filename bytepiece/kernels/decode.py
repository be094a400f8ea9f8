"""Gathering byte strings: token ids back to the bytes of their pieces, or
strings put in another order."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def gather_bytes(ids, piece_data, piece_offsets):
    """Concatenate the strings ``piece_data[piece_offsets[t]:piece_offsets[t+1]]``
    for each ``t`` of ``ids`` (already range-checked)."""
    total = 0
    for i in range(ids.size):
        t = ids[i]
        total += piece_offsets[t + 1] - piece_offsets[t]
    out = np.empty(total, np.uint8)
    pos = 0
    for i in range(ids.size):
        t = ids[i]
        a = piece_offsets[t]
        b = piece_offsets[t + 1]
        out[pos:pos + b - a] = piece_data[a:b]
        pos += b - a
    return out
