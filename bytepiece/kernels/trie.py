"""Byte trie over the vocabulary, as flat numpy arrays.

Layout (the ``trie`` tuple every lattice kernel takes):

- ``first_child[node] .. first_child[node + 1]``: the node's outgoing edges in
  ``edge_byte`` / ``edge_child``, sorted by byte (scanned linearly: most nodes
  have a handful of children).
- ``dense_row[node]``: for nodes with many children, a row of ``dense``
  (256 child ids, -1 for none), so a wide node costs one load, not a scan.
- ``node_token[node]``: the token id of the piece ending here, or -1.
- ``node_score[node]``: that piece's score (log probability).

Node 0 is the root. Nodes are numbered in lexicographic preorder.
"""

import numpy as np
from numba import njit

# Nodes with at least this many children get a dense 256-wide row.
DENSE_MIN_CHILDREN = 12


@njit(cache=True, nogil=True)
def build_preorder_nodes(data, offsets):
    """Trie nodes of lexicographically sorted pieces ``data[offsets[i]:offsets[i+1]]``.

    Returns ``(parent, node_byte, terminal_node)``: each node's parent and the
    byte on its incoming edge, and for each piece the node where it ends.
    """
    n_pieces = offsets.size - 1
    max_nodes = offsets[-1] + 1
    parent = np.empty(max_nodes, np.int32)
    node_byte = np.zeros(max_nodes, np.uint8)
    terminal_node = np.empty(n_pieces, np.int32)
    parent[0] = -1
    longest = 0
    for i in range(n_pieces):
        longest = max(longest, offsets[i + 1] - offsets[i])
    path = np.zeros(longest + 1, np.int32)  # path[d]: node at depth d of the previous piece
    n_nodes = 1
    prev_start = 0
    prev_len = 0
    for i in range(n_pieces):
        start = offsets[i]
        length = offsets[i + 1] - start
        common = 0
        limit = min(length, prev_len)
        while common < limit and data[start + common] == data[prev_start + common]:
            common += 1
        for d in range(common + 1, length + 1):
            parent[n_nodes] = path[d - 1]
            node_byte[n_nodes] = data[start + d - 1]
            path[d] = n_nodes
            n_nodes += 1
        terminal_node[i] = path[length]
        prev_start = start
        prev_len = length
    return parent[:n_nodes], node_byte[:n_nodes], terminal_node


def build_trie(pieces_sorted, token_ids, scores):
    """Compile lexicographically sorted, distinct, non-empty pieces into the trie tuple."""
    lengths = np.fromiter((len(p) for p in pieces_sorted), np.int64, len(pieces_sorted))
    offsets = np.zeros(len(pieces_sorted) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.frombuffer(b''.join(pieces_sorted), np.uint8)
    parent, node_byte, terminal_node = build_preorder_nodes(data, offsets)
    n_nodes = parent.size

    node_token = np.full(n_nodes, -1, np.int32)
    node_token[terminal_node] = token_ids
    node_score = np.zeros(n_nodes, np.float64)
    node_score[terminal_node] = scores

    # CSR edges grouped by parent; a stable sort keeps preorder = byte order.
    children = np.arange(1, n_nodes, dtype=np.int32)
    order = np.argsort(parent[1:], kind='stable')
    edge_child = children[order]
    edge_byte = node_byte[edge_child]
    n_children = np.bincount(parent[1:], minlength=n_nodes).astype(np.int32)
    first_child = np.zeros(n_nodes + 1, np.int32)
    np.cumsum(n_children, out=first_child[1:])

    wide = np.flatnonzero(n_children >= DENSE_MIN_CHILDREN)
    dense_row = np.full(n_nodes, -1, np.int32)
    dense_row[wide] = np.arange(wide.size, dtype=np.int32)
    dense = np.full((max(wide.size, 1), 256), -1, np.int32)
    rows = dense_row[parent[edge_child]]
    in_dense = rows >= 0
    dense[rows[in_dense], edge_byte[in_dense]] = edge_child[in_dense]
    return (first_child, edge_byte, edge_child, dense_row, dense, node_token, node_score)


def trie_nbytes(trie):
    return sum(a.nbytes for a in trie)


@njit(inline='always')
def trie_child(trie, node, byte):
    """The child of ``node`` along ``byte``, or -1."""
    first_child, edge_byte, edge_child, dense_row, dense, _, _ = trie
    row = dense_row[node]
    if row >= 0:
        return dense[row, byte]
    for k in range(first_child[node], first_child[node + 1]):
        b = edge_byte[k]
        if b == byte:
            return edge_child[k]
        if b > byte:
            break
    return -1
