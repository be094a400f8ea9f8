"""The flat token array, as datatrove writes it and nanoGPT-style loaders map it.

- ``PREFIX.ds``: every token, little-endian ``uint16`` when every id of the
  vocabulary fits, else ``uint32``; documents one after another (with
  ``add_eos`` each ends with ``<eos>``, nanoGPT's end-of-text separator);
- ``PREFIX.ds.index``: the end of each document in tokens (``uint64``, the
  running total after it), datatrove's document index;
- ``PREFIX.ds.metadata``: two text lines as datatrove writes them, the
  tokenizer name and token size in bytes (``bytepiece|2``), then the number
  of tokens.

``np.memmap('PREFIX.ds', np.uint16)`` is nanoGPT's ``train.bin``; a folder of
``.ds`` files with their ``.ds.index`` is what datatrove's
``DatatroveFolderDataset`` reads (``token_size`` 2 or 4).
"""

import os

import numpy as np

NAME = 'bytepiece'
CHUNK = 1 << 20


def token_dtype(vocab_size):
    """uint16 when every id fits (at most 65,536 ids), else uint32."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def paths(prefix):
    """The token, index and metadata files of a prefix."""
    return prefix + '.ds', prefix + '.ds.index', prefix + '.ds.metadata'


def write_index(f, length_parts):
    """Write the document ends of the documents whose lengths the iterable
    ``length_parts`` gives (int arrays, in order); returns the token count."""
    total = 0
    for part in length_parts:
        for a in range(0, part.size, CHUNK):
            ends = np.cumsum(np.asarray(part[a:a + CHUNK], np.int64)) + total
            f.write(ends.astype('<u8').tobytes())
            total = int(ends[-1]) if ends.size else total
    return total


def metadata(dtype, tokens):
    return f'{NAME}|{np.dtype(dtype).itemsize}\n{tokens}\n'


def read_metadata(path):
    """``(dtype, tokens)`` of a ``.ds.metadata`` file."""
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().split('\n')
        size, tokens = int(lines[0].rsplit('|', 1)[1]), int(lines[1])
    except (IndexError, ValueError, UnicodeDecodeError):
        raise ValueError(f'{path!r} is not a token metadata file') from None
    if size not in (2, 4):
        raise ValueError(f'{path!r}: token size {size}, expected 2 or 4')
    return np.dtype(np.uint16 if size == 2 else np.uint32), tokens


def read_index(path):
    """The document ends (memory-mapped uint64) of a ``.ds.index`` file."""
    data = np.memmap(path, np.uint8, mode='r') if os.path.getsize(path) else np.zeros(0, np.uint8)
    if data.size % 8:
        raise ValueError(f'{path!r}: {data.size} bytes is not a whole number of uint64 (truncated file?)')
    return np.frombuffer(data, '<u8')
