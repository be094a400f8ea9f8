"""One training run: its inputs, engine, work directory, memory limit,
progress bars and report, and the phases in order (``Run.train``)."""

import errno
import os
import re
import time
from collections.abc import Iterable

import numpy as np

from ..corpus import inputs as corpus_inputs
from ..runtime.parallel import make_engine
from ..runtime.progress import progress_bar
from ..runtime.workdir import WorkDir
from .chunks import load_shard, prepare_partition, prepare_texts
from .ngram_counts import count_ngrams
from .piece_counts import count_pieces
from .prune import prune_saved
from .report import TrainReport
from .tasks import Tasks
from .unigram import train_unigram

DEFAULT_MEMORY_LIMIT = 256 << 20
SAMPLE_BYTES = 1 << 20
HELD_BACK_CHARS = 4 << 20  # held-back text the driver keeps to measure the vocabulary
_UNITS = {'': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}


class HoldoutTooLarge(ValueError):
    """The holdout held back every document, or some of fewer documents than
    the run's ``least_documents``."""


def parse_memory(value):
    """Bytes from an int or a string like ``'512MB'``, ``'2G'``, ``'1.5GiB'``."""
    if value is None:
        return DEFAULT_MEMORY_LIMIT
    if isinstance(value, str):
        match = re.fullmatch(r'\s*([0-9.]+)\s*([kKmMgGtT]?)(i?[bB])?\s*', value)
        if not match:
            raise ValueError(f'memory_limit must be bytes or a size like "512MB", got {value!r}')
        value = float(match.group(1)) * _UNITS[match.group(2).upper()]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1 << 20:
        raise ValueError(f'memory_limit must be at least 1 MB, got {value!r}')
    return int(value)


def done_markers(name):
    """The work files that say the output ``name`` was made (written after
    it): a damaged output goes with them, so that its task runs again."""
    folder, base = os.path.split(name)
    if folder == 'chunks':  # a partition's shards, vouched for by its summary
        return [os.path.join('prepare', base.split('-')[0] + '.npz')]
    if name.endswith('.bin'):  # bucketed counts, by the task's .npz of the same name
        return [name[:-len('.bin')] + '.npz']
    if folder in (os.path.join('pieces', 'kept'), os.path.join('pieces', 'dropped')):
        # by the dropped pieces, saved after the kept, and the phase's end
        return [os.path.join('pieces', 'dropped', base), os.path.join('pieces', 'reduced.npz')]
    return []


def resolve_inputs(texts, files, field, errors, text_documents=corpus_inputs.DEFAULT_TEXT_DOCUMENTS):
    """``('files', partitions)`` or ``('texts', iterable of str)``."""
    if texts is not None and files is not None:
        raise TypeError('give texts or files, not both')
    if texts is None and files is None:
        raise TypeError('give the corpus: texts=[...] or files=...')
    if isinstance(texts, (str, bytes, os.PathLike)):
        files, texts = texts, None
    if files is not None:
        return 'files', corpus_inputs.partitions(files, field, errors, text_documents=text_documents)
    if isinstance(texts, corpus_inputs.Files):  # read by the workers, as files=... is
        return 'files', texts.parts
    if isinstance(texts, bytes) or not isinstance(texts, Iterable):
        raise TypeError(f'texts must be an iterable of str, got {type(texts).__name__}')
    if _all_file_names(texts):
        raise ValueError(f'the texts are all names of existing files ({texts[0]!r}, ...): to train on the files, '
                         f'pass files=[...]')
    return 'texts', texts


def _all_file_names(texts, most=100):
    return (isinstance(texts, (list, tuple)) and 0 < len(texts) <= most
            and all(isinstance(t, str) and '\n' not in t and len(t) < 4096 and os.path.isfile(t) for t in texts))


class Run:
    """The state of one ``Trainer.train`` call (a context manager: the engine
    it started goes away at the end, and so does its work directory when the
    run went through, or failed leaving nothing to resume: see ``__exit__``)."""

    def __init__(self, settings, inputs, engine, workers, executor, work_dir, tmpdir, memory_limit, holdout,
                 progress, restart=False, least_documents=0, wait=False):
        self.settings = settings
        self.kind, self.inputs = inputs
        self.memory_limit = parse_memory(memory_limit)
        self.holdout = holdout
        self.least_documents = least_documents  # a corpus of fewer documents holds none back
        self.progress = progress
        if tmpdir is not None and not os.path.isdir(tmpdir):
            if os.path.exists(tmpdir):
                raise NotADirectoryError(errno.ENOTDIR, 'tmpdir is not a directory', os.fspath(tmpdir))
            raise FileNotFoundError(errno.ENOENT, 'tmpdir not found', os.fspath(tmpdir))
        if work_dir is None and tmpdir is not None:
            work_dir = os.path.join(tmpdir, f'bytepiece-work-{os.getpid()}-{time.monotonic_ns()}')
            self._remove_work = True
        else:
            self._remove_work = work_dir is None
        if executor is not None:  # another name of an engine that is an executor
            if engine is not None:
                raise TypeError('give engine or executor, not both')
            engine = executor
        # the engine first: a bad one fails before a work directory is made
        self.engine, self._own_engine, _ = make_engine(engine, workers)
        try:
            self.work = WorkDir(work_dir, self.fingerprint(), replace=restart, wait=wait, vouchers=done_markers)
        except BaseException:
            self._close_engine()
            raise
        if self.kind == 'texts':
            try:
                self.work.clear()  # texts cannot be recognised again: nothing of an earlier run is reused
            except BaseException:
                self.work.release()
                self._close_engine()
                raise
        self.report = TrainReport(engine=repr(self.engine), method=settings.method, damaged=self.work.damaged)
        self.shard_bytes = {}
        self._samples = []

    def fingerprint(self):
        """What the outputs in the work directory depend on."""
        run = {'settings': self.settings.to_dict(), 'holdout': self.holdout, 'held_back_by': 'text hash'}
        if self.kind == 'files':
            run['partitions'] = [[p.path, p.format, p.field, p.errors, p.start, p.end, p.size] for p in self.inputs]
        else:
            run['texts'] = True
        return run

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        try:
            self._close_engine()
        finally:
            if self._remove_work or (error is not None and self._nothing_to_resume(error)):
                self.work.close()
            else:
                self.work.release()
        return False

    def _close_engine(self):
        if self._own_engine:
            self.engine.close()

    def _nothing_to_resume(self, error):
        """Whether a failed run's work directory holds nothing a run started
        again could use: the run made the directory, and the failure is the
        corpus' or the arguments' (``ValueError``: the same run fails alike,
        another has another fingerprint), or came before any partition was
        read (texts given in memory are never resumed)."""
        if not self.work.created:
            return False  # an earlier run's, which may be resumed
        if isinstance(error, ValueError):
            return True
        return self.kind == 'texts' or not self.work.listdir('prepare')

    def finish(self):
        """The run went through: its work directory is no longer needed."""
        self._remove_work = True

    def timed(self, phase, fn):
        start = time.perf_counter()
        result = fn()
        self.report.phase_seconds[phase] = time.perf_counter() - start
        return result

    def train(self):
        """The phases in order: reading the corpus into shards, then the
        unigram method's rounds, or BytePiece's n-grams, pieces and pruning.
        One ``{piece: count}`` dict per size (largest first)."""
        settings, work, report = self.settings, self.work, self.report
        shards = self.timed('reading', self._prepare)
        tasks = Tasks(self.engine, self.shard_bytes, self.memory_limit, self.progress)
        c1, c2 = self._short_counts
        if settings.method == 'unigram':
            return self.timed('rounds', lambda: train_unigram(tasks, work, settings, shards, c1, report))
        report.ngrams = self.timed('n-grams', lambda: count_ngrams(tasks, work, settings, shards, c1, c2, report))
        names, report.pieces_kept, report.pieces_dropped = self.timed(
            'pieces', lambda: count_pieces(tasks, work, settings, shards, report))
        return self.timed('pruning', lambda: prune_saved(tasks, work, settings, names, report))

    def _prepare(self):
        """Read the corpus into shards; returns their names in corpus order."""
        report = self.report
        c1 = np.zeros(256, np.int64)
        c2 = np.zeros(65536, np.int64)
        if self.kind == 'texts':
            summaries = [prepare_texts(self.work, self.inputs, self.settings.isolate_digits, self.holdout)]
        else:
            summaries = self._prepare_partitions()
        shards = []
        for summary in summaries:
            c1 += summary['c1']
            c2 += summary['c2']
            shards.extend(summary['shards'])
            self.shard_bytes.update(zip(summary['shards'], summary['shard_bytes']))
            report.read.add(summary['report'])
            if sum(map(len, self._samples)) < HELD_BACK_CHARS:  # the first partitions' measure the vocabulary
                self._samples.extend(summary['sample'])
            report.held_back += summary['held_back']
        reused = sum(summary['reused'] for summary in summaries)
        if reused:
            report.reused.append(f'reading ({reused} of {len(summaries)} partitions)')
        report.documents = report.read.documents
        report.input_bytes = report.read.input_bytes
        report.text_bytes = sum(self.shard_bytes.values())
        report.shards = len(shards)
        if report.documents == 0:
            raise ValueError('the corpus is empty')
        if report.documents == report.held_back:
            raise HoldoutTooLarge(f'holdout={self.holdout} held back all {report.documents} documents of the corpus: '
                                  f'no training text is left; lower holdout')
        if report.held_back and report.documents < self.least_documents:
            raise HoldoutTooLarge(f'holdout={self.holdout} held back {report.held_back} of only {report.documents} '
                                  f'documents')
        self._short_counts = c1, c2
        return shards

    def _prepare_partitions(self):
        parts = self.inputs
        self.report.partitions = len(parts)
        tasks = [(self.work.path, p, self.settings.isolate_digits, self.holdout) for p in parts]
        summaries = []
        with progress_bar(self.progress, desc='Read corpus', total=sum(p.size for p in parts), unit='B',
                          unit_scale=True) as bar:
            for part, summary in zip(parts, self.engine.imap(prepare_partition, tasks)):
                bar.update(part.size)
                summaries.append(summary)
        return summaries

    def held_back_texts(self):
        """Held-back documents (up to about 1 MB of each partition's, of the
        first partitions, about 4 M characters in all), to measure the
        vocabulary on text it was not trained on."""
        return self._samples

    def training_texts(self):
        """Up to ``SAMPLE_BYTES`` of training text: the first shard's chunks."""
        shards = sorted(self.shard_bytes)
        if not shards:
            return []
        buf, bounds = load_shard(self.work, shards[0])
        end = bounds[min(int(np.searchsorted(bounds, SAMPLE_BYTES)), bounds.size - 1)]
        text = buf[:end].tobytes().decode('utf-8')  # whole chunks of UTF-8 text
        return [text] if text else []
