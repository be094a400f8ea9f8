"""What a training run reports: the vocabularies asked for and given, the
corpus, what was skipped, time, and compression on a sample."""

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ..corpus.inputs import ReadReport, plain_text_note


@dataclass
class TrainReport:
    """The end of a training run, as ``Trainer.train`` returns it and the CLI
    prints it. ``sizes``: per requested size, the pieces given (ids 0..2
    included, as ``vocab_size`` counts them); ``short``: why a size was not
    reached; ``thresholds`` and ``pieces_cap``: where the memory limit raised
    the least count of the n-grams of a length, or capped the pieces kept
    for pruning; ``compression``: per size, bytes per token on the
    ``'held-back'`` documents (text the vocabulary was not trained on, when
    ``held_back`` documents were held back) and on ``'training'`` text;
    ``text_documents``: what a document of the plain-text files read was
    (``'line'``, ``'paragraph'``, ``'file'``; None if none was read);
    ``bytes_per_token``: of the largest vocabulary on ``sample``, the
    held-back documents where there are some; ``holdout_dropped``: the
    corpus had too few documents for the default holdout, so none was held
    back; ``damaged``: work files an earlier run left cut short or changed,
    removed and made again; ``reused``: what an earlier run left in the work directory and
    this one used (phases, sizes, rounds)."""
    sizes: Dict[int, int] = field(default_factory=dict)
    short: Dict[int, str] = field(default_factory=dict)
    documents: int = 0
    input_bytes: int = 0
    text_bytes: int = 0
    partitions: int = 0
    shards: int = 0
    read: ReadReport = field(default_factory=ReadReport)
    ngrams: Dict[int, int] = field(default_factory=dict)
    thresholds: Dict[int, int] = field(default_factory=dict)
    pieces_cap: Optional[int] = None
    pieces_kept: int = 0
    pieces_dropped: int = 0
    seconds: float = 0.0
    phase_seconds: Dict[str, float] = field(default_factory=dict)
    bytes_per_token: Optional[float] = None
    sample: str = 'training'
    sample_bytes: int = 0
    held_back: int = 0
    compression: Dict[int, Dict[str, float]] = field(default_factory=dict)
    engine: str = ''
    rounds: List[dict] = field(default_factory=list)
    method: str = ''
    holdout_dropped: bool = False
    text_documents: Optional[str] = None
    reused: List[str] = field(default_factory=list)
    damaged: List[str] = field(default_factory=list)

    def warnings(self) -> List[str]:
        """Lines worth a warning: sizes not reached, records dropped or repaired."""
        lines = [f'vocabulary size {size} not reached (with BytePiece\'s method a size is the most given): {why}'
                 for size, why in self.short.items()]
        if self.read.skipped:
            lines.append(f'{self.read.skipped} records skipped, first at: ' + '; '.join(self.read.places))
        if self.read.replaced:
            lines.append(f'{self.read.replaced} records with invalid UTF-8 or lone surrogates repaired (U+FFFD)')
        return lines

    def _method_lines(self):
        if self.method == 'unigram':
            if not self.rounds:
                return ['rounds: none in this run (every size was saved by the run it resumes)']
            last = self.rounds[-1]
            return [f'rounds: {len(self.rounds)}; the last: {last["pieces"]} pieces, {last["tokens"]} tokens on '
                    f'the training text, objective {last["objective"]:.6g}']
        return ['n-grams kept: ' + ', '.join(f'{n}: {k}' for n, k in sorted(self.ngrams.items())) +
                ''.join(f'; memory limit: least count of {n}-grams raised to {t}'
                        for n, t in sorted(self.thresholds.items())),
                f'pieces counted: {self.pieces_kept} kept for pruning, {self.pieces_dropped} handed over' +
                (f' (memory limit: the {self.pieces_cap} most frequent kept)' if self.pieces_cap else '')]

    def __str__(self):
        sizes = ', '.join(f'{asked} asked, {given} given' for asked, given in self.sizes.items())
        lines = [f'trained: {sizes}',
                 f'corpus: {self.documents} documents{plain_text_note(self.text_documents)}, '
                 f'{self.text_bytes / 1e6:.1f} MB of text in {self.shards} shards ({self.partitions} input partitions)',
                 *self._method_lines(),
                 f'time: {self.seconds:.1f} s (' + ', '.join(f'{k} {v:.1f} s' for k, v in self.phase_seconds.items())
                 + f') on {self.engine}']
        if self.reused:
            lines.append('reused from the work directory: ' + ', '.join(self.reused))
        if self.damaged:
            lines.append(f'made again: {len(self.damaged)} damaged files of the work directory (' +
                         ', '.join(self.damaged[:3]) + (', ...)' if len(self.damaged) > 3 else ')'))
        if self.holdout_dropped:
            lines.append(f'held back: none (a corpus of {self.documents} documents; the default holds back 2% of '
                         f'corpora of 50 documents or more)')
        if self.held_back:
            lines.append(f'held back: {self.held_back} documents, not trained on; {self.sample_bytes / 1e6:.2f} MB '
                         f'of them measure the vocabulary')
        for size, measured in self.compression.items():
            lines.append(f'bytes per token, {size}: ' + ', '.join(f'{v:.3f} on {k} text' for k, v in measured.items()))
        return '\n'.join(lines + [f'warning: {w}' for w in self.warnings()])
