"""Training vocabularies: ``Trainer`` and ``convert_to_bytepiece``.

Modules, one job each: ``settings`` (the settings and their checks),
``trainer`` (the ``Trainer``), ``run`` (one run: inputs, engine, work
directory, the phases in order), ``tasks`` (where a phase's tasks run),
``chunks`` (reading the corpus into shards of chunks), ``report`` (what a
run reports). The BytePiece method: ``ngram_counts`` (counting and pruning
n-grams), ``piece_counts`` (BNLM segmentation and piece counts), ``prune``
(pruning pieces into vocabularies), ``spill`` (temporary files of arrays).
The unigram method: ``unigram`` (its rounds), ``unigram_loss`` (scores and
pruning losses), ``path_counts`` (its passes over the corpus),
``boundaries`` (pre-token boundaries).
"""

from .prune import convert_to_bytepiece
from .trainer import Trainer

__all__ = ['Trainer', 'convert_to_bytepiece']
