"""Megatron-LM's indexed dataset: ``PREFIX.bin`` holds the tokens, ``PREFIX.idx``
the index that Megatron's ``IndexedDataset`` reads.

``.idx`` layout (little-endian): the magic ``MMIDIDX\\0\\0``, the version (u64,
1), the token dtype code (u8: 8 for uint16, 4 for int32), the number of
sequences n (u64), the number of document indices (u64, n + 1), then n
sequence lengths (int32, in tokens), n sequence pointers (int64, byte
offsets into ``.bin``), and the document indices (int64): document ``d`` is
sequences ``doc[d]..doc[d+1]-1``. Each document we write is one sequence,
so the document indices are ``0..n``.
"""

import struct

import numpy as np

MAGIC = b'MMIDIDX\x00\x00'
VERSION = 1
HEADER_BYTES = len(MAGIC) + 8 + 1 + 8 + 8
# Megatron's dtype codes (its ``DType`` enum)
DTYPE_CODES = {'uint8': 1, 'int8': 2, 'int16': 3, 'int32': 4, 'int64': 5, 'float64': 6, 'float32': 7, 'uint16': 8}
CHUNK = 1 << 20  # rows written at a time, so that writing an index needs little memory


def token_dtype(vocab_size):
    """Megatron's rule (``DType.optimal_dtype``): uint16 below 65,500 ids, else int32."""
    return np.dtype(np.uint16 if vocab_size < 65500 else np.int32)


def write_index(f, dtype, length_parts):
    """Write an ``.idx`` to the binary file ``f``: ``length_parts`` is a
    callable giving, each time it is called, the same iterable of int arrays of
    sequence lengths (one document each), in order; it is read three times."""
    n = sum(int(part.size) for part in length_parts())
    f.write(MAGIC + struct.pack('<QBQQ', VERSION, DTYPE_CODES[np.dtype(dtype).name], n, n + 1))
    for part in length_parts():
        f.write(np.ascontiguousarray(part, dtype='<i4').tobytes())
    offset = 0  # bytes into .bin
    for part in length_parts():
        for a in range(0, part.size, CHUNK):
            sizes = np.asarray(part[a:a + CHUNK], np.int64) * np.dtype(dtype).itemsize
            pointers = np.cumsum(sizes) - sizes + offset
            f.write(pointers.astype('<i8').tobytes())
            offset += int(sizes.sum())
    for a in range(0, n + 1, CHUNK):
        f.write(np.arange(a, min(n + 1, a + CHUNK), dtype='<i8').tobytes())


def read_index(path):
    """``(dtype, lengths, pointers, document_indices)`` of an ``.idx`` file,
    the arrays memory-mapped; a file that is not one is a ValueError naming it."""
    with open(path, 'rb') as f:
        head = f.read(HEADER_BYTES)
    if len(head) < HEADER_BYTES or head[:len(MAGIC)] != MAGIC:
        raise ValueError(f'{path!r} is not a Megatron index (.idx) file')
    version, code, n, n_docs = struct.unpack('<QBQQ', head[len(MAGIC):])
    names = {c: name for name, c in DTYPE_CODES.items()}
    if version != VERSION or code not in names:
        raise ValueError(f'{path!r}: unknown index version {version} or dtype code {code}')
    data = np.memmap(path, np.uint8, mode='r')
    expected = HEADER_BYTES + n * 12 + n_docs * 8
    if data.size != expected:
        raise ValueError(f'{path!r}: {data.size} bytes, the header announces {expected} (truncated file?)')
    lengths = np.frombuffer(data, '<i4', n, HEADER_BYTES)
    pointers = np.frombuffer(data, '<i8', n, HEADER_BYTES + 4 * n)
    documents = np.frombuffer(data, '<i8', n_docs, HEADER_BYTES + 12 * n)
    return np.dtype(names[code]), lengths, pointers, documents


def paths(prefix):
    """The data and index files of a dataset prefix."""
    return prefix + '.bin', prefix + '.idx'
