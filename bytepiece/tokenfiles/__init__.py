"""Token files for pretraining: a corpus encoded into the binary files that
training frameworks read.

- ``megatron``: Megatron-LM's indexed dataset (``.bin`` + ``.idx``);
- ``flat``: a flat uint16/uint32 token array with a document-end index
  (``.ds`` + ``.ds.index``, datatrove's layout; nanoGPT maps the ``.ds``).

``encode_files`` writes one shard per input partition into a folder (on
every core, or a Dask cluster; resumable), ``merge`` joins the shards into
one dataset, and ``open_tokens`` reads either.
"""

from .encode import Summary, encode_files
from .merge import merge
from .reader import ShardedTokens, TokenFile, open_tokens
from .writer import FORMATS, TokenWriter, token_dtype

__all__ = ['encode_files', 'merge', 'open_tokens', 'TokenFile', 'ShardedTokens', 'Summary', 'TokenWriter',
           'token_dtype', 'FORMATS']
