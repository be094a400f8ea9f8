"""The trainer's settings and the checks of its arguments."""

import math
from dataclasses import dataclass
from numbers import Integral, Real

from ..kernels.ngrams import MAX_ORDER
from ..model import NUM_SPECIAL

__all__ = ['Settings', 'MIN_VOCAB_SIZE', 'check_int']

MIN_VOCAB_SIZE = 256 + NUM_SPECIAL


def check_int(name, value, low, high=None):
    """``value`` as an int in ``low..high`` (no upper limit if ``high`` is None)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f'{name} must be an int, got {type(value).__name__}')
    if value < low or (high is not None and value > high):
        limit = f'>= {low}' if high is None else f'in {low}..{high}'
        raise ValueError(f'{name} must be {limit}, got {value}')
    return int(value)


def _vocab_sizes(max_vocab_size):
    # one size, or a list of distinct sizes (largest first)
    if not isinstance(max_vocab_size, (list, tuple)):
        return [check_int('max_vocab_size', max_vocab_size, MIN_VOCAB_SIZE)]
    if not max_vocab_size:
        raise ValueError('max_vocab_size must not be an empty list')
    sizes = [check_int('max_vocab_size', s, MIN_VOCAB_SIZE) for s in max_vocab_size]
    if len(set(sizes)) != len(sizes):  # two models would be saved to one path
        raise ValueError(f'max_vocab_size lists a size twice: {list(max_vocab_size)}')
    return sorted(sizes)[::-1]


def _piece_length(max_piece_length):
    # an int >= 1, or math.inf for no limit
    if isinstance(max_piece_length, Real) and not isinstance(max_piece_length, Integral) \
            and max_piece_length == math.inf:
        return math.inf
    return check_int('max_piece_length', max_piece_length, 1)


@dataclass(frozen=True)
class Settings:
    """What a vocabulary is trained with (see ``Trainer``). ``checked()``
    builds it from the user's arguments."""
    order: int
    max_vocab_size: list  # largest first
    max_piece_length: object  # int, or math.inf
    min_count: int
    isolate_digits: bool
    ensure_unicode: bool

    @classmethod
    def checked(cls, order, max_vocab_size, max_piece_length, min_count, isolate_digits, ensure_unicode):
        return cls(order=check_int('order', order, 1, MAX_ORDER),
                   max_vocab_size=_vocab_sizes(max_vocab_size),
                   max_piece_length=_piece_length(max_piece_length),
                   min_count=check_int('min_count', min_count, 1),
                   isolate_digits=bool(isolate_digits),
                   ensure_unicode=bool(ensure_unicode))

    def to_dict(self):
        """The settings as JSON-able training metadata for a model file (an
        unlimited ``max_piece_length`` is None)."""
        return {'method': 'bytepiece', 'order': self.order, 'max_vocab_size': list(self.max_vocab_size),
                'max_piece_length': None if self.max_piece_length == math.inf else self.max_piece_length,
                'min_count': self.min_count, 'isolate_digits': self.isolate_digits,
                'ensure_unicode': self.ensure_unicode}
