"""Reading token files: one dataset of either format, or a folder of shards.

>>> data = open_tokens('out/train')            # doctest: +SKIP
>>> data.n_documents, data.n_tokens, data.document(0), data.tokens(0, 100)  # doctest: +SKIP

Tokens are memory-mapped: opening a dataset reads its index only.
"""

import json
import os
from typing import Iterator, Union

import numpy as np

from . import flat, megatron

INDEX = 'index.json'  # a shard folder's, written last (see ``bytepiece.tokenfiles.shards``)


class TokenFile:
    """One dataset: ``PREFIX.bin``/``PREFIX.idx`` (Megatron) or ``PREFIX.ds``
    (flat); the path may name the prefix or any of its files."""

    def __init__(self, path: Union[str, os.PathLike]) -> None:
        path = os.fspath(path)
        for suffix in ('.ds.index', '.ds.metadata', '.ds', '.bin', '.idx'):
            if path.endswith(suffix) and os.path.exists(path):
                path = path[:-len(suffix)] + ('.ds' if suffix.startswith('.ds') else '')
                break
        else:
            path = path + '.ds' if os.path.exists(path + '.ds') else path
        if path.endswith('.ds'):
            self.format, self.prefix = 'flat', path[:-3]
            self.dtype, n_tokens = flat.read_metadata(self.prefix + '.ds.metadata')
            ends = flat.read_index(self.prefix + '.ds.index')
            self.offsets = np.concatenate([[0], ends]).astype(np.int64)
            data_path = self.prefix + '.ds'
        elif os.path.exists(path + '.idx'):
            self.format, self.prefix = 'megatron', path
            self.dtype, lengths, pointers, documents = megatron.read_index(path + '.idx')
            # a document is a run of sequences, stored one after another
            starts = np.append(pointers // self.dtype.itemsize, int(pointers[-1] // self.dtype.itemsize +
                                                                   lengths[-1]) if lengths.size else 0)
            self.offsets = starts[documents]
            n_tokens = int(starts[-1])
            data_path = path + '.bin'
        else:
            raise FileNotFoundError(f'no token dataset at {path!r} (looked for .ds and .idx files)')
        size = os.path.getsize(data_path)
        if size != n_tokens * self.dtype.itemsize or (self.offsets.size and self.offsets[-1] != n_tokens):
            raise ValueError(f'{data_path!r}: {size} bytes, the index announces {n_tokens} tokens of '
                             f'{self.dtype.itemsize} bytes (truncated file?)')
        self.data = np.memmap(data_path, self.dtype, mode='r') if size else np.zeros(0, self.dtype)

    @property
    def n_documents(self) -> int:
        return self.offsets.size - 1

    @property
    def n_tokens(self) -> int:
        return int(self.data.size)

    def document(self, i: int) -> np.ndarray:
        """The tokens of document ``i`` (a read-only array view)."""
        if not -self.n_documents <= i < self.n_documents:
            raise IndexError(f'document {i} out of range [0, {self.n_documents})')
        i %= self.n_documents
        return self.data[self.offsets[i]:self.offsets[i + 1]]

    def tokens(self, start: int, stop: int) -> np.ndarray:
        """Tokens ``start..stop-1`` of the whole stream."""
        return self.data[start:stop]

    def __len__(self) -> int:
        return self.n_documents

    def __getitem__(self, i: int) -> np.ndarray:
        return self.document(i)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.document(i) for i in range(self.n_documents))


class ShardedTokens:
    """A finished shard folder of ``encode_files`` (its ``index.json``): the
    shards' documents in order, as one dataset."""

    def __init__(self, folder: Union[str, os.PathLike]) -> None:
        self.folder = os.fspath(folder)
        self.index = read_index(self.folder)
        self.shards = [TokenFile(os.path.join(self.folder, s['name'])) for s in self.index['shards']]
        self.doc_starts = np.cumsum([0] + [s.n_documents for s in self.shards])
        self.token_starts = np.cumsum([0] + [s.n_tokens for s in self.shards])
        self.dtype = np.dtype(self.index['dtype'])

    @property
    def n_documents(self) -> int:
        return int(self.doc_starts[-1])

    @property
    def n_tokens(self) -> int:
        return int(self.token_starts[-1])

    def document(self, i: int) -> np.ndarray:
        if not -self.n_documents <= i < self.n_documents:
            raise IndexError(f'document {i} out of range [0, {self.n_documents})')
        i %= self.n_documents
        k = int(np.searchsorted(self.doc_starts, i, 'right')) - 1
        return self.shards[k].document(i - int(self.doc_starts[k]))

    def tokens(self, start: int, stop: int) -> np.ndarray:
        start, stop, _ = slice(start, stop).indices(self.n_tokens)
        parts = []
        for k, shard in enumerate(self.shards):
            a, b = max(start - self.token_starts[k], 0), min(stop - self.token_starts[k], shard.n_tokens)
            if a < b:
                parts.append(shard.tokens(a, b))
        return np.concatenate(parts) if parts else np.zeros(0, self.dtype)

    def __len__(self) -> int:
        return self.n_documents

    def __getitem__(self, i: int) -> np.ndarray:
        return self.document(i)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (doc for shard in self.shards for doc in shard)


def open_tokens(path: Union[str, os.PathLike]) -> Union[TokenFile, 'ShardedTokens']:
    """A dataset (``TokenFile``) or a shard folder (``ShardedTokens``)."""
    if os.path.isdir(path):
        return ShardedTokens(path)
    return TokenFile(path)


def read_index(folder: Union[str, os.PathLike]) -> dict:
    """The index of a finished shard folder of ``encode_files``; a ValueError if the run has not finished."""
    path = os.path.join(os.fspath(folder), INDEX)
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except FileNotFoundError:
        if os.path.isdir(folder) and any(n.endswith('.json') and n.startswith('part-') for n in os.listdir(folder)):
            raise ValueError(f'{folder!r}: the run has not finished (no {INDEX}): run it again to complete it') \
                from None
        raise FileNotFoundError(f'{folder!r} is not a shard folder of encode_files (no {INDEX})') from None
    except ValueError:
        raise ValueError(f'{path!r} is damaged') from None
