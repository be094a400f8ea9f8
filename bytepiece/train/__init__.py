"""Training vocabularies: ``Trainer`` and ``convert_to_bytepiece``.

Modules, one job each: ``settings`` (the settings and argument checks),
``trainer`` (the ``Trainer``: the phases in order, saving), ``ngram_counts``
(reading the corpus, counting and pruning n-grams), ``piece_counts`` (BNLM
segmentation and piece counts), ``prune`` (pruning pieces into vocabularies),
``spill`` (temporary files of arrays) and ``memory`` (glibc malloc tuning).
"""

from .prune import convert_to_bytepiece
from .trainer import Trainer

__all__ = ['Trainer', 'convert_to_bytepiece']
