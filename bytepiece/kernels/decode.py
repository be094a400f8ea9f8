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


# an id this large is out of any vocabulary's range: parsing stops there
_TOO_LARGE = 1 << 31


@njit(cache=True, nogil=True)
def parse_decimal_ids(line):
    """The decimal ids of a line of text (bytes as uint8), separated by ASCII
    whitespace: ``(ids int32, bad)``, ``bad`` being -1, or the byte offset of
    the first word that is not ``-?[0-9]+`` or whose magnitude is at least
    2**31 (the ids before it are returned)."""
    out = np.empty(line.size // 2 + 1, np.int32)  # only the pages written count
    n = 0
    i = 0
    while i < line.size:
        c = line[i]
        if c == 32 or 9 <= c <= 13:
            i += 1
            continue
        start = i
        negative = c == 45
        if negative:
            i += 1
        value = 0
        digits = 0
        while i < line.size and 48 <= line[i] <= 57:
            if value < _TOO_LARGE:
                value = value * 10 + (line[i] - 48)
            digits += 1
            i += 1
        if digits == 0 or value >= _TOO_LARGE or (i < line.size and not (line[i] == 32 or 9 <= line[i] <= 13)):
            return out[:n], start
        out[n] = -value if negative else value
        n += 1
    return out[:n], -1
