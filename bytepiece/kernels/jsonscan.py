"""Count the keys of a JSON document's top-level object, at memory speed.

``json.loads`` keeps the last of duplicate keys silently; comparing this count
with the parsed dict's length detects them without a slow Python hook.
"""

from numba import njit


@njit(cache=True, nogil=True)
def count_top_level_keys(raw):
    """Number of ``:`` at depth 1 outside strings in UTF-8 JSON bytes ``raw``."""
    depth = 0
    in_string = False
    escaped = False
    count = 0
    for i in range(raw.size):
        c = raw[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == 92:  # backslash
                escaped = True
            elif c == 34:  # quote
                in_string = False
        elif c == 34:
            in_string = True
        elif c == 123 or c == 91:  # { [
            depth += 1
        elif c == 125 or c == 93:  # } ]
            depth -= 1
        elif c == 58 and depth == 1:  # :
            count += 1
    return count
