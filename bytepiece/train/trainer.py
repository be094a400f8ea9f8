"""The ``Trainer``: a vocabulary from a corpus with BytePiece's byte n-gram
language model method (see docs/design.md, Training).

Counting n-grams, segmenting with the model and counting pieces are maps from
shards of the corpus to mergeable counts, run on a ``parallel.Engine``: a
thread pool of ``workers`` threads by default (the kernels release the GIL,
and threads share one copy of the tables), inline for ``workers=1``, or any
``concurrent.futures.Executor``. The result does not depend on where the
work runs.
"""

import os
from typing import List, Optional, Union

from ..corpus import as_corpus
from ..interrupts import keyboard_interrupts
from ..model import save_model
from ..parallel import Engine
from .memory import release_memory, training_allocations
from .ngram_counts import count_ngrams
from .piece_counts import merge_piece_counts, segment_shards
from .prune import prune_pieces
from .settings import Settings, check_run_arguments
from .spill import ArraySpill

__all__ = ['Trainer']


def _engine(executor, workers):
    if executor is not None:
        # keep every worker of a given executor busy, whatever ``workers`` says
        return Engine(executor, workers=max(workers, getattr(executor, '_max_workers', 1) or 1))
    return Engine('threads' if workers > 1 else 'inline', workers=workers)


class Trainer:
    """A vocabulary trainer (BytePiece's byte n-gram language model method).

    ``order``: n-gram order of the byte language model, 1..7.
    ``max_vocab_size``: an int >= 259, or a list of them (one model each).
    ``max_piece_length``: longest piece kept, >= 1.
    ``min_count``: least count of a kept n-gram (n >= 2) and piece, >= 1.
    ``isolate_digits``: every digit is its own chunk.
    ``ensure_unicode``: no piece starts with a UTF-8 continuation byte.

    >>> from bytepiece import Trainer
    >>> from bytepiece.demo import SAMPLE_DIR
    >>> from bytepiece.inputs import Files
    >>> trainer = Trainer(order=6, max_vocab_size=[1000, 500], min_count=4)
    >>> _ = trainer.train(Files(SAMPLE_DIR), progress=False)
    >>> [len(pieces) + 3 <= size for pieces, size in zip(trainer.pieces, trainer.max_vocab_size)]
    [True, True]
    >>> trainer.tokenizer(500).decode(trainer.tokenizer(500).encode('def f(x):'))
    'def f(x):'
    """

    def __init__(self, order: int = 6, max_vocab_size: Union[int, List[int]] = 10000,
                 max_piece_length: Union[int, float] = 36, min_count: int = 2, isolate_digits: bool = False,
                 ensure_unicode: bool = True):
        self.settings = Settings.checked(order, max_vocab_size, max_piece_length, min_count,
                                         isolate_digits, ensure_unicode)
        self.pieces = None
        self.ngram_counts = None  # n -> how many n-grams were kept, once trained
        # bounds the count tables of the reduce steps (n-grams: table_entries / 2
        # keys, pieces: table_entries / 4; more keys are reduced in several hash
        # partitions); changes memory and time, never results
        self.table_entries = 1 << 18

    order = property(lambda self: self.settings.order)
    max_vocab_size = property(lambda self: self.settings.max_vocab_size)
    max_piece_length = property(lambda self: self.settings.max_piece_length)
    min_count = property(lambda self: self.settings.min_count)
    isolate_digits = property(lambda self: self.settings.isolate_digits)
    ensure_unicode = property(lambda self: self.settings.ensure_unicode)

    def train(self, texts, workers=1, batch_size=1000, executor=None, progress=True,
              field='text', tmpdir=None):
        """Train on ``texts`` (a re-iterable of str, a file path, or a corpus
        from ``bytepiece.corpus``; ``field`` names the text of ``.jsonl``
        files). Sets ``self.pieces``: one ``{piece: count}`` dict per size,
        largest size first, and returns ``self``.

        ``workers``: threads for the counting phases (the kernels release the
        GIL). ``executor``: any ``concurrent.futures.Executor`` to run them on
        instead (e.g. a ``ProcessPoolExecutor``; the task functions and their
        array arguments pickle, the segmentation tasks carry the n-gram table).
        The result is the same for any executor and number of workers.
        ``batch_size``: at most this many texts per shard (a shard is also cut
        at 512 KiB of text). ``progress``: tqdm progress bars on stderr.
        ``tmpdir``: where the chunked corpus is spilled (a temporary file about
        the size of the corpus in UTF-8, removed at the end).

        On glibc, training sets malloc's mmap threshold (64 KiB during training,
        glibc's initial 128 KiB after), so that the tables of one phase go back
        to the OS before the next; this turns off glibc's dynamic threshold.
        """
        workers, batch_size = check_run_arguments(workers, batch_size, executor, tmpdir)
        corpus = as_corpus(texts, field=field, stacklevel=3)
        with training_allocations(), _engine(executor, workers) as engine, keyboard_interrupts():
            counted = self._count_pieces(corpus, engine, batch_size, progress, tmpdir)
            # the list hands the arrays over, so that pruning can free them early
            self.pieces = prune_pieces(counted, self.max_vocab_size, self.max_piece_length, self.min_count,
                                       progress, engine, tmpdir)
        return self

    def _count_pieces(self, corpus, engine, batch_size, progress, tmpdir):
        """``[data, bounds, counts]`` of the pieces of the BNLM segmentation."""
        with ArraySpill(tmpdir) as shards:  # (buf, bounds) of chunked text
            model, self.ngram_counts = count_ngrams(corpus, self.settings, engine, shards, batch_size, progress,
                                                    self.table_entries)
            per_shard = segment_shards(model, engine, shards, progress)
        del model  # the n-gram table is freed before the piece counts are merged
        release_memory()
        return list(merge_piece_counts(per_shard, self.table_entries))

    def save(self, path: Union[str, os.PathLike]) -> List[str]:
        """Save the model(s): ``path`` for one size, else ``path.<size>`` each."""
        if self.pieces is None:
            raise RuntimeError('nothing to save: call train() first')
        path = os.fsdecode(path)  # str, so that a bytes path gets its '.<size>' suffix right
        if len(self.pieces) == 1:
            paths = [path]
        else:
            paths = ['%s.%s' % (path, size) for size in self.max_vocab_size]
        metadata = {'normalization': 'NFC', 'training': self.settings.to_dict()}
        for pieces, p in zip(self.pieces, paths):
            save_model(pieces, p, metadata)
        return paths

    def tokenizer(self, size: Optional[int] = None, **kwargs) -> 'Tokenizer':
        """A ``Tokenizer`` of the trained vocabulary of ``size`` (default: the
        largest), without saving it first; ``kwargs`` go to ``Tokenizer``."""
        from ..model import model_dict
        from ..tokenizer import Tokenizer
        if self.pieces is None:
            raise RuntimeError('no vocabulary yet: call train() first')
        sizes = self.max_vocab_size
        if size is not None and size not in sizes:
            raise ValueError(f'size {size} was not trained (sizes: {sizes})')
        pieces = self.pieces[0 if size is None else sizes.index(size)]
        return Tokenizer(model_dict(pieces, {'normalization': 'NFC', 'training': self.settings.to_dict()}),
                         **kwargs)
