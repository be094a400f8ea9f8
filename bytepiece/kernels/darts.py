"""The walk that reads the keys out of a Darts-clone double array, the trie
of a SentencePiece ``precompiled_charsmap`` (``imports.charsmap``)."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def grow_to(array, size):
    grown = np.empty(size, array.dtype)
    grown[:array.size] = array
    return grown


@njit(cache=True, nogil=True)
def darts_keys(units, normalized_size):
    """Every key of a Darts-clone double array, found by trying each byte at
    each node as Darts-clone's traversal does. Returns ``(status, key_bytes,
    key_bounds, values)``: key ``k`` is ``key_bytes[key_bounds[k]:key_bounds[k+1]]``
    with value ``values[k]``. ``status`` is 0, or where the array is broken:
    1 a unit past its end, 2 a cycle, 3 a value past ``normalized_size``.
    Darts-clone shares common suffix subtrees, so a unit can be reached by
    several keys; a path longer than the array has units is a cycle."""
    n_units = units.size
    mask_label = np.uint32((1 << 31) | 0xFF)
    stack_size = 1024
    stack_node = np.empty(stack_size, np.int64)
    stack_depth = np.empty(stack_size, np.int64)
    stack_label = np.empty(stack_size, np.uint8)
    stack_node[0] = 0
    stack_depth[0] = 0
    n_stack = 1
    path = np.zeros(n_units + 1, np.uint8)
    key_bytes = np.empty(64, np.uint8)
    key_bounds = [0]
    values = [-1]  # the first is a placeholder that types the list
    while n_stack > 0:
        n_stack -= 1
        node = stack_node[n_stack]
        depth = stack_depth[n_stack]
        if depth >= n_units:
            return 2, key_bytes[:0], np.zeros(1, np.int64), np.zeros(0, np.int64)
        if depth > 0:
            path[depth - 1] = stack_label[n_stack]
        unit = units[node]
        base = node ^ ((unit >> 10) << ((unit & (1 << 9)) >> 6))
        for c in range(255, -1, -1):  # pushed backwards: popped in byte order
            child = base ^ c
            if child >= n_units:
                return 1, key_bytes[:0], np.zeros(1, np.int64), np.zeros(0, np.int64)
            child_unit = units[child]
            if (child_unit & mask_label) != c:
                continue
            path[depth] = c
            if (child_unit >> 8) & 1:  # has a leaf: a key ends here
                leaf = child ^ ((child_unit >> 10) << ((child_unit & (1 << 9)) >> 6))
                if leaf >= n_units:
                    return 1, key_bytes[:0], np.zeros(1, np.int64), np.zeros(0, np.int64)
                value = np.int64(units[leaf] & 0x7FFFFFFF)
                if value >= normalized_size:
                    return 3, key_bytes[:0], np.zeros(1, np.int64), np.zeros(0, np.int64)
                end = key_bounds[-1] + depth + 1
                if end > key_bytes.size:
                    key_bytes = grow_to(key_bytes, 2 * end)
                key_bytes[end - depth - 1:end] = path[:depth + 1]
                key_bounds.append(end)
                values.append(value)
            if n_stack == stack_size:
                stack_size *= 2
                stack_node = grow_to(stack_node, stack_size)
                stack_depth = grow_to(stack_depth, stack_size)
                stack_label = grow_to(stack_label, stack_size)
            stack_node[n_stack] = child
            stack_depth[n_stack] = depth + 1
            stack_label[n_stack] = c
            n_stack += 1
    return 0, key_bytes[:key_bounds[-1]].copy(), np.array(key_bounds, np.int64), np.array(values[1:], np.int64)
