"""Training vocabularies: ``Trainer`` and ``convert_to_bytepiece``.

Modules, one job each: ``settings`` (the settings and their checks),
``trainer`` (the ``Trainer``), ``run`` (one run: inputs, engine, work
directory, the phases in order), ``chunks`` (reading the corpus into shards
of chunks), ``ngram_counts`` (counting and pruning n-grams), ``piece_counts``
(BNLM segmentation and piece counts), ``prune`` (pruning pieces into
vocabularies), ``report`` (what a run reports), ``spill`` (temporary files of
arrays) and ``memory`` (glibc malloc tuning).
"""

from .prune import convert_to_bytepiece
from .trainer import Trainer

__all__ = ['Trainer', 'convert_to_bytepiece']
