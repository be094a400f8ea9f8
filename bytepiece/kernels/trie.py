"""Trie of the reversed pieces as a double array (flat numpy arrays).

The lattice kernels work end position by end position: for an end ``e`` they
walk the bytes ``buf[e-1], buf[e-2], ...`` down this trie, meeting every
piece that ends at ``e``, shortest first. The ``Trie`` they take is
``(units, unit_score, unit_token)``:

- ``units``: int32, ``units[2u]`` the base and ``units[2u + 1]`` the check
  of unit ``u``. The child of unit ``u`` along byte ``c`` is unit
  ``v = base(u) + c``, valid iff ``check(v) == u``: one dependent load per
  step, and ``v``'s base shares the cache line of its check. A flat array
  (not an ``(n, 2)`` one) lets the compiled index fold into the load's
  addressing: a multiply less on the dependent chain.
  Nodes are placed depth first, so the units of one long piece's walk lie
  close together (the deep, rarely visited units are where a walk misses
  the cache).
- ``unit_score[u]``: score (log probability) of the piece ending at ``u``,
  -inf where no piece ends.
- ``unit_token[u]``: that piece's token id, or -1.

Unit 0 is the root. Every single byte is a piece, so the root's children
always exist.
"""

from typing import NamedTuple

import numpy as np
from numba import njit


class Trie(NamedTuple):
    """The compiled trie the lattice kernels walk (see the module doc)."""
    units: np.ndarray
    unit_score: np.ndarray
    unit_token: np.ndarray


@njit(cache=True, nogil=True)
def build_reversed_nodes(data, offsets):
    """Trie nodes of the reversed pieces ``data[offsets[i]:offsets[i+1]][::-1]``.

    Nodes are created by inserting each piece through a hash table keyed by
    (parent, byte), so no sorting is needed. Returns ``(parent, node_byte,
    terminal_node)``: each node's parent and incoming byte (node 0 is the
    root), and the node where each piece ends.
    """
    n_pieces = offsets.size - 1
    max_nodes = offsets[-1] + 1
    parent = np.empty(max_nodes, np.int32)
    node_byte = np.zeros(max_nodes, np.uint8)
    terminal_node = np.empty(n_pieces, np.int32)
    parent[0] = -1
    capacity = 1
    while capacity < 2 * max_nodes:
        capacity *= 2
    mask = capacity - 1
    slot_key = np.full(capacity, -1, np.int64)  # parent * 256 + byte
    slot_node = np.empty(capacity, np.int32)
    n_nodes = 1
    for i in range(n_pieces):
        node = 0
        for j in range(offsets[i + 1] - 1, offsets[i] - 1, -1):
            key = node * 256 + data[j]
            h = (key * 0x9E3779B1) & mask
            while slot_key[h] != -1 and slot_key[h] != key:
                h = (h + 1) & mask
            if slot_key[h] == key:
                node = slot_node[h]
            else:
                slot_key[h] = key
                slot_node[h] = n_nodes
                parent[n_nodes] = node
                node_byte[n_nodes] = data[j]
                node = n_nodes
                n_nodes += 1
        terminal_node[i] = node
    return parent[:n_nodes], node_byte[:n_nodes], terminal_node


@njit(cache=True, nogil=True)
def _grow(units, unit_token, next_free, prev_free, new_size):
    size = units.shape[0]
    new_units = np.full((new_size, 2), -1, np.int32)
    new_units[:size] = units
    new_token = np.full(new_size, -1, np.int32)
    new_token[:size] = unit_token
    new_next = np.arange(1, new_size + 1, dtype=np.int64)
    new_next[:size] = next_free
    new_prev = np.arange(-1, new_size - 1, dtype=np.int64)
    new_prev[:size] = prev_free
    return new_units, new_token, new_next, new_prev


@njit(cache=True, nogil=True)
def _unlink(slot, next_free, prev_free, head):
    """Take ``slot`` out of the free list (if still in it); returns the head."""
    before = prev_free[slot]
    if before == -2:
        return head
    after = next_free[slot]
    if before >= 0:
        next_free[before] = after
    if after < next_free.size:
        prev_free[after] = before
    prev_free[slot] = -2
    return after if slot == head else head


# A free unit that failed this many times as a first child's place stops
# being tried (it can still be filled as another child): keeps the search
# from rescanning a crowded region for every node.
MAX_ANCHOR_FAILS = 16


@njit(cache=True, nogil=True)
def build_double_array(first_child, edge_byte, edge_child, node_token):
    """Place the trie (CSR children sorted by byte) into a double array,
    depth first. Free units form a doubly linked list; each node takes the
    first base at which all its children's units are free."""
    n_nodes = first_child.size - 1
    size = 2 * n_nodes + 512
    units = np.full((size, 2), -1, np.int32)
    unit_token = np.full(size, -1, np.int32)
    next_free = np.arange(1, size + 1, dtype=np.int64)
    prev_free = np.arange(-1, size - 1, dtype=np.int64)
    fails = np.zeros(size, np.int32)
    prev_free[0] = -2
    head = 1  # unit 0 is the root
    units[0, 1] = -2  # no unit is the root's parent
    unit_of = np.empty(n_nodes, np.int64)
    unit_of[0] = 0
    pending = np.empty(n_nodes, np.int64)  # a stack of nodes whose children are still to place
    pending[0] = 0
    n_pending = 1
    used_end = 1
    while n_pending > 0:
        n_pending -= 1
        node = pending[n_pending]
        lo = first_child[node]
        hi = first_child[node + 1]
        u = unit_of[node]
        if lo == hi:
            units[u, 0] = 0  # a leaf: base 0 leads to units whose check is never u
            continue
        first_byte = edge_byte[lo]
        p = head
        while True:
            if p + 256 >= size:
                size *= 2
                units, unit_token, next_free, prev_free = _grow(units, unit_token, next_free, prev_free, size)
                grown = np.zeros(size, np.int32)
                grown[:fails.size] = fails
                fails = grown
            base = p - first_byte
            fits = base >= 1
            if fits:
                for k in range(lo, hi):
                    if units[base + edge_byte[k], 1] != -1:
                        fits = False
                        break
            if fits:
                break
            q = next_free[p]
            fails[p] += 1
            if fails[p] >= MAX_ANCHOR_FAILS:
                head = _unlink(p, next_free, prev_free, head)
            p = q
        units[u, 0] = base
        for k in range(lo, hi):
            slot = base + edge_byte[k]
            child = edge_child[k]
            units[slot, 1] = u
            unit_token[slot] = node_token[child]
            head = _unlink(slot, next_free, prev_free, head)
            unit_of[child] = slot
            pending[n_pending] = child
            n_pending += 1
            used_end = max(used_end, slot + 1)
    # Keep 256 units past the last used one so base + byte is always in range.
    end = 0
    for u in range(size):
        if units[u, 1] != -1 or units[u, 0] > 0:
            end = max(end, u + 1, units[u, 0] + 256)
    end = max(end, used_end + 256)
    if end > size:
        units, unit_token, next_free, prev_free = _grow(units, unit_token, next_free, prev_free, end)
    return units[:end].copy(), unit_token[:end].copy()


def build_trie(data, offsets, token_ids, token_scores):
    """Compile distinct, non-empty pieces ``data[offsets[i]:offsets[i+1]]``
    with their token ids, and the per-token-id ``token_scores``, into the
    reversed-piece ``Trie``."""
    parent, node_byte, terminal_node = build_reversed_nodes(data, offsets)
    n_nodes = parent.size

    node_token = np.full(n_nodes, -1, np.int32)
    node_token[terminal_node] = token_ids

    # CSR children grouped by parent, sorted by byte.
    order = np.lexsort((node_byte[1:], parent[1:]))
    edge_child = (order + 1).astype(np.int32)
    edge_byte = node_byte[edge_child]
    first_child = np.zeros(n_nodes + 1, np.int32)
    np.cumsum(np.bincount(parent[1:], minlength=n_nodes), out=first_child[1:])

    units, unit_token = build_double_array(first_child, edge_byte, edge_child, node_token)
    units = units.ravel()  # (base, check) pairs, flat
    return Trie(units, unit_scores(unit_token, token_scores), unit_token)


def unit_scores(unit_token, token_scores):
    """``Trie.unit_score`` for per-token-id ``token_scores``: each unit's
    token's score, -inf where no piece ends."""
    return np.where(unit_token >= 0, np.asarray(token_scores, np.float64)[np.maximum(unit_token, 0)], -np.inf)
