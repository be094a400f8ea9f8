"""A small counter-based random stream (SplitMix64) usable inside kernels.

Each text gets its own stream, derived from the call's seed and the text's
position, so draws never depend on thread scheduling or on other texts.
"""

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0


@njit(cache=True, nogil=True)
def mix64(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True)
def advance(state):
    """``(new_state, uniform in [0, 1))``: the stream kept in a register."""
    state = state + _GOLDEN
    return state, (mix64(state) >> _S11) * _INV_2_53


@njit(cache=True, nogil=True)
def stream_seed(seed, index):
    """The starting state of stream ``index`` under ``seed``."""
    return mix64(np.uint64(seed) ^ mix64(np.uint64(index) * _GOLDEN + _MIX2))


@njit(cache=True, nogil=True)
def call_seed(seed_bits, draws):
    """The seed of a tokenizer's ``draws``-th sampling call (``draws >= 1``)
    under its seed (``seed_bits``: the uint64 seed as int64 bits):
    ``mix64(seed ^ mix64(draws))``. Two tokenizers with the same seed
    therefore draw the same sequences, each independently of the other."""
    return mix64(np.uint64(seed_bits) ^ mix64(np.uint64(draws)))


@njit(cache=True, nogil=True)
def text_stream_bits(seed_bits, draws):
    """``stream_seed(s, 0)`` as int64 bits, for one per-text call: ``s`` is
    the seed itself when ``draws`` is 0, else ``call_seed(seed_bits, draws)``.
    One compiled call with plain int arguments: numba dispatches numpy
    scalars far slower."""
    seed = np.uint64(seed_bits)
    if draws != 0:
        seed = call_seed(seed_bits, draws)
    return np.int64(stream_seed(seed, 0))


@njit(cache=True, nogil=True)
def fold_bits(domain, values, text_stream=False):
    """One seed from a tuple of int64 bits: ``h = mix64(domain + n * golden)``,
    then ``h = mix64(h ^ mix64(v))`` for each value in order, as int64 bits;
    with ``text_stream``, ``stream_seed(h, 0)`` instead (a per-text call's
    stream). ``domain`` keeps folds made for different purposes apart."""
    h = mix64(np.uint64(domain) + np.uint64(len(values)) * _GOLDEN)
    for v in values:
        h = mix64(h ^ mix64(np.uint64(v)))
    if text_stream:
        h = stream_seed(h, 0)
    return np.int64(h)


def as_int64_bits(value):
    """A uint64 value as the int64 with the same bits."""
    return value - (1 << 64) if value >= 1 << 63 else value
