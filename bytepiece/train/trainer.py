"""The ``Trainer``: a vocabulary from a corpus, by BytePiece's byte n-gram
language model method or by the unigram method (see docs/design.md,
Training).

Every phase is a map over shards of the prepared corpus and a reduce over
hash buckets, run on a ``parallel.Engine``: threads over every core by
default (the kernels release the GIL and threads share one copy of the
model), processes, or a Dask cluster. Tasks read and write the work
directory, so the driver holds no text; a run killed at any point and
started again with the same arguments and work directory goes on where it
stopped. The result does not depend on where the work runs.
"""

import math
import os
import time
from typing import List, Optional, Union

from ..core.model import model_dict, save_model
from ..corpus.inputs import text_documents_read
from ..runtime.interrupts import keyboard_interrupts
from ..runtime.memory import training_allocations
from ..runtime.progress import progress_bar
from .report import TrainReport
from .run import HoldoutTooLarge, Run, resolve_inputs
from .settings import DEFAULT_HOLDOUT, Settings, check_int, size_not_supported

__all__ = ['Trainer']


class Trainer:
    """A vocabulary trainer.

    ``method``: ``'unigram'`` (pieces grown from pairs of tokens and pruned
    by the loss of their removal, with counts re-estimated on the corpus'
    best paths: fewer tokens per byte on text it was not trained on, and
    exactly the sizes asked for) or ``'bytepiece'`` (BytePiece 0.6.3's byte
    n-gram language model: its pieces and counts exactly). Without
    ``method``: ``'bytepiece'`` when ``order`` is given, as code written for
    BytePiece does, else ``'unigram'``. See docs/usage.md, Choosing a method.
    ``max_vocab_size``: an int >= 259, or a list of them (one model each).
    ``max_piece_length``: longest piece kept, >= 1 (default 36 for
    ``'bytepiece'``, 32 for ``'unigram'``).
    ``min_count``: least count of a kept n-gram (n >= 2) and piece
    (``'bytepiece'``), or of a pair that becomes a piece (``'unigram'``), >= 1.
    ``isolate_digits``: every digit is its own chunk.
    ``ensure_unicode``: no piece starts with a UTF-8 continuation byte; with
    ``'unigram'``, every piece of more than one byte is whole characters but
    the lead prefixes (a character of three or four bytes but its last).
    Of ``'bytepiece'`` only: ``order``, the n-gram order of the byte language
    model, 1..7 (default 6). Of ``'unigram'`` only: ``token_penalty``, a cost
    per token subtracted from every score, which favours fewer tokens
    (default 10.0; the model file stores it, docs/format.md; with 0 the scores
    are log probabilities, as BytePiece 0.6.3 reads them), and
    ``growth``, how many times its size a vocabulary grows to before it is
    pruned (default 1.3), and ``boundary_share``, the most of each
    vocabulary that pieces crossing a pre-token boundary may take, in [0, 1]
    (``bytepiece.train.boundaries``; default 0.35; 1.0: no limit), and
    ``dropout``, the share of the lattice's edges of pieces of several
    characters left out of the best paths that choose the pieces (chosen by
    a hash of the text, so repeated text leaves out the same), in [0, 1)
    (default 0.2; the saved counts come from the whole lattice). An option
    of the other method is a ValueError.

    >>> from bytepiece import Trainer
    >>> from bytepiece.demo import SAMPLE_DIR
    >>> trainer = Trainer(order=6, max_vocab_size=[1000, 500], min_count=4)
    >>> report = trainer.train(files=SAMPLE_DIR, progress=False)
    >>> sorted(report.sizes) == [500, 1000] and all(report.sizes[s] <= s for s in report.sizes)
    True
    >>> trainer.tokenizer(500).decode(trainer.tokenizer(500).encode('def f(x):'))
    'def f(x):'
    """

    def __init__(self, order: Optional[int] = None, max_vocab_size: Union[int, List[int]] = 10000,
                 max_piece_length: Union[int, float, None] = None, min_count: int = 2, isolate_digits: bool = False,
                 ensure_unicode: bool = True, *, method: Optional[str] = None, token_penalty: Optional[float] = None,
                 growth: Optional[float] = None, boundary_share: Optional[float] = None,
                 dropout: Optional[float] = None):
        self.settings = Settings.checked(order, max_vocab_size, max_piece_length, min_count, isolate_digits,
                                         ensure_unicode, method, token_penalty, growth, boundary_share, dropout)
        self.pieces = None
        self.report = None

    order = property(lambda self: self.settings.order)
    max_vocab_size = property(lambda self: self.settings.max_vocab_size)
    max_piece_length = property(lambda self: self.settings.max_piece_length)
    min_count = property(lambda self: self.settings.min_count)
    isolate_digits = property(lambda self: self.settings.isolate_digits)
    ensure_unicode = property(lambda self: self.settings.ensure_unicode)
    method = property(lambda self: self.settings.method)
    token_penalty = property(lambda self: self.settings.token_penalty)
    growth = property(lambda self: self.settings.growth)
    boundary_share = property(lambda self: self.settings.boundary_share)
    dropout = property(lambda self: self.settings.dropout)

    def train(self, texts=None, workers: Optional[int] = None, batch_size: Optional[int] = None, *, files=None,
              field: str = 'text', errors: str = 'strict', text_documents: str = 'line', engine=None, executor=None,
              work_dir=None, memory_limit=None, holdout: Optional[float] = None, progress: bool = True, tmpdir=None,
              restart: bool = False, wait: bool = False) -> TrainReport:
        """Train on a corpus; sets ``self.pieces`` (one ``{piece: count}`` dict
        per size, largest first) and returns a ``TrainReport``.

        The corpus: ``files`` (paths, folders, globs or fsspec URLs of text,
        JSON lines with the text in ``field``, or Parquet, maybe compressed:
        see ``bytepiece.corpus.inputs``), or ``texts``, any iterable of str (read
        once). A path given as ``texts`` is read as a file. In plain-text
        files a document is a line (``text_documents='line'``), a paragraph
        (``'paragraph'``: lines up to a run of empty lines) or the whole file
        (``'file'``, for code). ``errors``: what
        a record that is not UTF-8 or not JSON does: ``'strict'`` (an error),
        ``'skip'``, ``'replace'``; dropped records are counted in the report.

        Where the work runs: ``engine`` (``'threads'``, ``'processes'``, a
        ``concurrent.futures.Executor``, a Dask ``Client`` or a scheduler
        address; default threads) with ``workers`` (default: every core).
        ``texts``, ``workers`` and ``batch_size`` may be given by position,
        as BytePiece's ``train(texts, workers, batch_size)`` takes them;
        ``batch_size`` (an int >= 1) does not change the result here.
        ``work_dir``: where the phases keep their outputs; a run killed and
        started again with the same arguments and ``work_dir`` resumes (by
        default a temporary folder in ``tmpdir``, removed at the end). On a
        cluster it must be a folder every worker reaches at the same path.
        A ``work_dir`` left by a run with other arguments is an error, or
        with ``restart=True`` emptied and used. A ``work_dir`` is held by one
        run at a time: another run on it is refused (``FolderInUse``, naming
        the holder), or with ``wait=True`` waited for. A failed run removes a
        ``work_dir`` it made that holds nothing to resume (a ValueError, or a
        failure before any partition was read); ``report.reused`` names what
        a resumed run took from it.
        ``memory_limit`` (bytes, or a string like ``'512MB'``): what one
        reduce task may hold (default 256 MB). ``holdout``: the fraction of
        documents held back from training, chosen by a hash of each
        document's text, on which the report measures bytes per token of
        every size (default 0.02 with ``'unigram'``, 0 with ``'bytepiece'``,
        whose vocabulary is then BytePiece's exactly). A holdout that holds
        back every document is a ValueError. The default holds back nothing
        from a corpus of fewer than 50 documents (a list of texts or files is
        read again; the report says so).
        """
        if batch_size is not None:
            check_int('batch_size', batch_size, 1)
        inputs = resolve_inputs(texts, files, field, errors, text_documents)
        where = (engine, workers, executor, work_dir, tmpdir, memory_limit, progress, wait)
        if holdout is not None:
            return self._train(inputs, _check_holdout(holdout), where, restart)
        default = DEFAULT_HOLDOUT[self.method]
        if not default:
            return self._train(inputs, 0.0, where, restart)
        try:  # the default holds back documents from corpora of 1 / holdout documents or more
            return self._train(inputs, default, where, restart, least_documents=math.ceil(1 / default))
        except HoldoutTooLarge:
            if inputs[0] == 'texts' and not isinstance(inputs[1], (list, tuple)):
                raise  # an iterator is read once: the caller gives holdout=0
            report = self._train(inputs, 0.0, where, True)
            report.holdout_dropped = True
            return report

    def _train(self, inputs, holdout, where, restart, least_documents=0):
        settings = self.settings
        engine, workers, executor, work_dir, tmpdir, memory_limit, progress, wait = where
        start = time.perf_counter()
        with Run(settings, inputs, engine, workers, executor, work_dir, tmpdir, memory_limit, holdout,
                 progress, restart, least_documents, wait) as run, training_allocations(), keyboard_interrupts():
            report = run.report
            self.pieces = run.train()
            report.sizes = {size: len(p) + 3 for size, p in zip(settings.max_vocab_size, self.pieces)}
            report.short = {size: size_not_supported(given, settings) for size, given in report.sizes.items()
                            if given < size}
            self._measure(run)
            run.finish()
        report.seconds = time.perf_counter() - start
        report.text_documents = text_documents_read(inputs[1]) if inputs[0] == 'files' else None
        self.report = report
        return report

    def _measure(self, run):
        """Bytes per token of every size on the held-back documents and on
        training text; ``bytes_per_token`` of the largest size."""
        report = run.report
        samples = {'held-back': run.held_back_texts(), 'training': run.training_texts()}
        samples = {name: texts for name, texts in samples.items() if texts}
        sizes = {name: sum(len(t.encode('utf-8')) for t in texts) for name, texts in samples.items()}
        with progress_bar(run.progress, desc='Bytes per token', total=len(self.max_vocab_size), unit=' sizes') as bar:
            for size in self.max_vocab_size:
                tokenizer = self.tokenizer(size)
                report.compression[size] = {
                    name: sizes[name] / max(tokenizer.encode_batch_to_numpy(texts).ids.size, 1)
                    for name, texts in samples.items()}
                bar.update()
                bar.set_postfix_str('; '.join(f'{s}: ' + ', '.join(f'{v:.3f} {k}' for k, v in m.items())
                                              for s, m in report.compression.items()))
        if samples:
            report.sample = next(iter(samples))
            report.sample_bytes = sizes[report.sample]
            report.bytes_per_token = report.compression[self.max_vocab_size[0]][report.sample]

    def save(self, path: Union[str, os.PathLike]) -> List[str]:
        """Save the model(s): ``path`` for one size, else ``path.<size>`` each."""
        if self.pieces is None:
            raise RuntimeError('nothing to save: call train() first')
        path = os.fsdecode(path)  # str, so that a bytes path gets its '.<size>' suffix right
        if len(self.pieces) == 1:
            paths = [path]
        else:
            paths = ['%s.%s' % (path, size) for size in self.max_vocab_size]
        for pieces, p in zip(self.pieces, paths):
            save_model(pieces, p, self._metadata())
        return paths

    def _metadata(self):
        metadata = {'normalization': 'NFC', 'training': self.settings.to_dict()}
        if self.settings.token_penalty:
            metadata['token_penalty'] = self.settings.token_penalty
        return metadata

    def tokenizer(self, size: Optional[int] = None, **kwargs):
        """A ``Tokenizer`` of the trained vocabulary of ``size`` (default: the
        largest), without saving it first; ``kwargs`` go to ``Tokenizer``."""
        from ..tokenizer import Tokenizer
        if self.pieces is None:
            raise RuntimeError('no vocabulary yet: call train() first')
        sizes = self.max_vocab_size
        if size is not None and size not in sizes:
            raise ValueError(f'size {size} was not trained (sizes: {sizes})')
        pieces = self.pieces[0 if size is None else sizes.index(size)]
        return Tokenizer(model_dict(pieces, self._metadata()), **kwargs)


def _check_holdout(holdout):
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 <= holdout < 1 \
            or not math.isfinite(holdout):
        raise ValueError(f'holdout must be a fraction in [0, 1), got {holdout!r}')
    return float(holdout)

