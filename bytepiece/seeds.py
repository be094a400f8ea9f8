"""Sampling arguments and the random streams of sampling calls.

Every sampling call has one seed: the ``seed`` passed to it, or else the next
value of its tokenizer's ``SeedStream``. Text ``t`` of the call draws from
the stream ``stream_seed(call seed, t)`` (``kernels.rng``), so the draws do
not depend on threads or on how a batch is cut.
"""

import secrets
from numbers import Integral, Real

import numpy as np

from .kernels.rng import as_int64_bits, call_seed, text_stream_bits
from .model import finite_float, shown_value

# alpha scales the rounding error of a sum of scores (~1e-13): at 1e6 the
# statistics keep about 1e-7; far larger alphas give meaningless entropies and
# overflow the weights. Such draws are Viterbi's anyway.
MAX_ALPHA = 1e6


def check_alpha(alpha):
    """``alpha`` as a float: < 0 for Viterbi, 0..MAX_ALPHA for sampling."""
    if isinstance(alpha, bool) or not isinstance(alpha, Real):
        raise TypeError(f'alpha must be a real number, got {type(alpha).__name__}')
    if not finite_float(alpha):
        raise ValueError(f'alpha must be finite, got {shown_value(alpha)}')
    value = float(alpha)  # compared as a float: 1e6 overflows a float16
    if value > MAX_ALPHA:
        raise ValueError(f'alpha must be at most {MAX_ALPHA:g} (beyond it a draw is the best path up to '
                         f'rounding: use alpha < 0 for the best path), got {alpha!r}')
    return value


def check_seed(seed):
    """A seed is an int in [0, 2**64) or a numpy Generator (one draw is taken)."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**64, dtype=np.uint64))
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f'seed must be an int or a numpy Generator, got {type(seed).__name__}')
    if not 0 <= seed < 2**64:
        raise ValueError(f'seed must be in [0, 2**64), got {seed}')
    return int(seed)


def check_unused_seed(seed):
    """A Viterbi call ignores ``seed`` but still rejects a bad one (a mistake
    would otherwise go unnoticed until sampling); a Generator is not drawn from."""
    if seed is not None and not isinstance(seed, np.random.Generator):
        check_seed(seed)
    return 0


class SeedStream:
    """The seeds of a tokenizer's sampling calls: call ``k`` (from 1) gets
    ``mix64(seed ^ mix64(k))``, so two tokenizers with one seed draw the same
    sequences, each independently of the other. None draws a seed from the OS."""

    def __init__(self, seed=None):
        self.reset(seed)

    def reset(self, seed=None):
        """Restart the sequence from ``seed``."""
        self.seed = secrets.randbits(64) if seed is None else check_seed(seed)
        self.bits = as_int64_bits(self.seed)
        self.draws = 0

    def call_seed(self, seed=None):
        """The seed of one sampling call: ``seed`` if given, else the next
        value of the sequence."""
        if seed is not None:
            return check_seed(seed)
        self.draws += 1
        return int(call_seed(self.bits, self.draws))

    def text_bits(self, seed=None):
        """The stream of text 0 of one call, as int64 bits, in one compiled
        call: the per-text path's share of ``call_seed``."""
        if seed is None:
            self.draws += 1
            return text_stream_bits(self.bits, self.draws)
        return text_stream_bits(as_int64_bits(check_seed(seed)), 0)
