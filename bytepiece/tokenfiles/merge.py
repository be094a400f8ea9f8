"""``merge``: the shards of a finished ``encode_files`` run joined into one dataset.

The tokens are copied shard after shard; the index is written from the
shards' indexes a block at a time, so memory does not grow with the corpus.
"""

import os
from typing import Union

import numpy as np

from . import flat, megatron
from .reader import TokenFile, read_index
from .writer import TokenWriter, dataset_paths


def _lengths(shard):
    """A callable giving a shard's document lengths (read when needed)."""
    if shard.format == 'megatron':
        return lambda: megatron.read_index(shard.prefix + '.idx')[1]
    return lambda: np.diff(flat.read_index(shard.prefix + '.ds.index'), prepend=np.uint64(0)).astype(np.int64)


def merge(folder: Union[str, os.PathLike], output: Union[str, os.PathLike]) -> TokenFile:
    """Join the shards of the finished shard folder ``folder`` into the
    dataset ``output`` (a prefix: ``output.bin``/``.idx``, or ``output.ds``
    ...), in shard order; its files appear only complete, the index last.
    Returns the merged dataset (a ``TokenFile``)."""
    index = read_index(folder)
    fmt, dtype = index['format'], np.dtype(index['dtype'])
    output = os.fspath(output)
    inside = os.path.abspath(os.path.dirname(output) or '.') == os.path.abspath(folder)
    if inside and os.path.basename(output).startswith('part-'):
        raise ValueError(f'the merged dataset {output!r} would be taken for a shard of {folder!r}: choose '
                         f'another name')
    with TokenWriter(fmt, output, dtype) as writer:
        for record in index['shards']:
            shard = TokenFile(os.path.join(folder, record['name']))
            if shard.n_documents != record['documents'] or shard.n_tokens != record['tokens'] \
                    or shard.dtype != dtype:
                raise ValueError(f'{shard.prefix!r}: {shard.n_documents} documents, {shard.n_tokens} tokens of '
                                 f'{shard.dtype}; its record says {record["documents"]}, {record["tokens"]} '
                                 f'of {dtype}')
            writer.add_dataset(dataset_paths(fmt, shard.prefix)[0], shard.n_documents, shard.n_tokens,
                               _lengths(shard))
    return TokenFile(output)
