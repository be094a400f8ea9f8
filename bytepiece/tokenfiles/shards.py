"""The shard folder of ``encode_files``: one dataset per input partition, a
record of each finished shard, and the index of shards written last.

::

    OUT/manifest.json        the run's arguments (a rerun with others is refused)
    OUT/part-00000.bin/.idx  (or .ds, .ds.index, .ds.metadata) shard 0
    OUT/part-00000.json      its record: source range, documents, tokens, ...
    OUT/index.json           every shard in order, with the totals

A shard's record is written after its files, and ``index.json`` after every
record: a rerun skips the shards that have a record, and a folder without
``index.json`` is an unfinished run.
"""

import json
import os

from ..runtime.fileio import atomic_write
from ..runtime.workdir import WorkDir
from .reader import INDEX, TokenFile

COUNTS = ('documents', 'tokens', 'text_bytes', 'input_bytes', 'skipped', 'replaced')


def shard_name(part_index):
    return f'part-{part_index:05d}'


class ShardFolder(WorkDir):
    """The output folder of one run (see the module doc)."""
    kind = 'token-file folder'

    def __init__(self, path, fingerprint, fmt, wait=False):
        super().__init__(path, fingerprint, wait=wait)
        self.fmt = fmt

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        """A run that fails before its first shard removes the folder it
        made (nothing in it can be resumed, and a corrected run, with other
        arguments, would be refused it); otherwise the folder is released."""
        if error is not None and self.created and not any(n.startswith('part-') and n.endswith('.json')
                                                          for n in os.listdir(self.path)):
            self.close()
        else:
            self.release()

    def prefix(self, part_index):
        return os.path.join(self.path, shard_name(part_index))

    def record(self, part_index):
        """The record of a finished shard, or None."""
        path = self.prefix(part_index) + '.json'
        try:
            with open(path, encoding='utf-8') as f:
                record = json.load(f)
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # a damaged record: the shard is made again
        try:  # a shard cut short or changed since its record was written is made again
            shard = TokenFile(self.prefix(part_index))
        except (OSError, ValueError, IndexError):
            return None
        if (shard.n_documents, shard.n_tokens) != (record.get('documents'), record.get('tokens')):
            return None
        return record

    def remove_damaged(self, vouchers=None):
        """Shards are checked one by one against their records (``record``):
        here only the temporary files of killed tasks go."""
        damaged = sorted(n for n in os.listdir(self.path) if n.endswith('.tmp'))
        for name in damaged:
            os.unlink(os.path.join(self.path, name))
        return damaged

    def save_record(self, part_index, record):
        atomic_write(self.prefix(part_index) + '.json', json.dumps(record, sort_keys=True))

    def save_index(self, header, records):
        totals = {key: sum(r[key] for r in records) for key in COUNTS}
        index = dict(header, **totals, shards=records)
        atomic_write(os.path.join(self.path, INDEX), json.dumps(index, indent=1))
        return index
