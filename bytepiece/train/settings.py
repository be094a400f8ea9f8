"""The trainer's settings and the checks of its arguments."""

import math
from dataclasses import dataclass
from numbers import Integral, Real

from ..core.model import NUM_SPECIAL
from ..kernels.ngrams import MAX_ORDER

__all__ = ['Settings', 'MIN_VOCAB_SIZE', 'METHODS', 'DEFAULT_METHOD', 'default_method', 'check_int']

MIN_VOCAB_SIZE = 256 + NUM_SPECIAL
METHODS = ('bytepiece', 'unigram')
DEFAULT_METHOD = 'unigram'  # what measures best on text outside the training corpus
# the options of one method only, with their defaults there
METHOD_OPTIONS = {'bytepiece': {'order': 6},
                  'unigram': {'token_penalty': 10.0, 'growth': 1.3, 'boundary_share': 0.35, 'dropout': 0.2}}
# the share of documents held back to measure the vocabulary on unseen text
DEFAULT_HOLDOUT = {'bytepiece': 0.0, 'unigram': 0.02}
MAX_PIECE_LENGTH = {'bytepiece': 36, 'unigram': 32}


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


def _check_real(name, value, low, high=math.inf, closed=True):
    """``value`` as a float in ``[low, high]`` (``[low, high)`` if not ``closed``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f'{name} must be a number, got {type(value).__name__}')
    if not (low <= value <= high if closed else low <= value < high) or not math.isfinite(value):
        raise ValueError(f'{name} must be in [{low}, {high}{"]" if closed else ")"}, got {value}')
    return float(value)


def default_method(method, order):
    """The method asked for; without one, BytePiece's when ``order`` is given
    (code written for BytePiece gets its vocabulary), else ``DEFAULT_METHOD``."""
    if method is not None:
        return method
    return 'bytepiece' if order is not None else DEFAULT_METHOD


def _method_options(method, options):
    """The options of ``method`` (None: its default); an option of the other
    method is a ValueError naming it."""
    if method not in METHODS:
        raise ValueError(f'unknown training method {method!r}: choose one of {", ".join(map(repr, METHODS))}')
    for other, defaults in METHOD_OPTIONS.items():
        for name in defaults:
            if other != method and options[name] is not None:
                raise ValueError(f'{name} is an option of method={other!r} only, not of method={method!r}')
    return {name: default if options[name] is None else options[name]
            for name, default in METHOD_OPTIONS[method].items()}


@dataclass(frozen=True)
class Settings:
    """What a vocabulary is trained with (see ``Trainer``). ``checked()``
    builds it from the user's arguments. ``order`` is the BytePiece method's
    only; ``token_penalty``, ``growth``, ``boundary_share`` and ``dropout``
    the unigram method's (None for the other method)."""
    order: object  # int, or None
    max_vocab_size: list  # largest first
    max_piece_length: object  # int, or math.inf
    min_count: int
    isolate_digits: bool
    ensure_unicode: bool
    method: str = 'bytepiece'
    token_penalty: object = None  # float, or None
    growth: object = None  # float, or None
    boundary_share: object = None  # float, or None
    dropout: object = None  # float, or None

    @classmethod
    def checked(cls, order, max_vocab_size, max_piece_length, min_count, isolate_digits, ensure_unicode,
                method=None, token_penalty=None, growth=None, boundary_share=None, dropout=None):
        method = default_method(method, order)
        options = _method_options(method, {'order': order, 'token_penalty': token_penalty, 'growth': growth,
                                           'boundary_share': boundary_share, 'dropout': dropout})
        if method == 'bytepiece':
            options['order'] = check_int('order', options['order'], 1, MAX_ORDER)
        else:
            options['token_penalty'] = _check_real('token_penalty', options['token_penalty'], 0.0, 1e6)
            options['growth'] = _check_real('growth', options['growth'], 1.0, 16.0)
            options['boundary_share'] = _check_real('boundary_share', options['boundary_share'], 0.0, 1.0)
            options['dropout'] = _check_real('dropout', options['dropout'], 0.0, 1.0, closed=False)
        if max_piece_length is None:
            max_piece_length = MAX_PIECE_LENGTH[method]
        return cls(order=options.get('order'),
                   max_vocab_size=_vocab_sizes(max_vocab_size),
                   max_piece_length=_piece_length(max_piece_length),
                   min_count=check_int('min_count', min_count, 1),
                   isolate_digits=bool(isolate_digits),
                   ensure_unicode=bool(ensure_unicode),
                   method=method, token_penalty=options.get('token_penalty'), growth=options.get('growth'),
                   boundary_share=options.get('boundary_share'), dropout=options.get('dropout'))

    def to_dict(self):
        """The settings as JSON-able training metadata for a model file (an
        unlimited ``max_piece_length`` is None)."""
        common = {'max_vocab_size': list(self.max_vocab_size),
                  'max_piece_length': None if self.max_piece_length == math.inf else self.max_piece_length,
                  'min_count': self.min_count, 'isolate_digits': self.isolate_digits,
                  'ensure_unicode': self.ensure_unicode}
        if self.method == 'bytepiece':
            return {'method': 'bytepiece', 'order': self.order, **common}
        return {'method': 'unigram', **common, 'token_penalty': self.token_penalty, 'growth': self.growth,
                'boundary_share': self.boundary_share, 'dropout': self.dropout}


def size_not_supported(ids, settings):
    """Why a corpus gives only ``ids`` ids, and what to change: the one
    wording of both methods (an error of the unigram method's, whose sizes
    are exact; a warning of BytePiece's, whose sizes are a maximum)."""
    unigram = settings.method == 'unigram'
    limits = [f'min_count={settings.min_count}', f'max_piece_length={settings.max_piece_length}']
    limits += [f'boundary_share={settings.boundary_share}'] if unigram else []
    limits = ', '.join(limits[:-1]) + ' and ' + limits[-1]
    return (f'the corpus supports only {ids} ids ({ids - NUM_SPECIAL} pieces) with {limits}: ask for a smaller '
            f'max_vocab_size, lower min_count{", raise boundary_share" if unigram else ""} or train on more text')
