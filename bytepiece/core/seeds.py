"""Sampling arguments and the random streams of sampling calls.

Every sampling call has one seed: the ``seed`` passed to it, or else the next
value of its tokenizer's ``SeedStream``. Text ``t`` of the call draws from
the stream ``stream_seed(call seed, t)`` (``kernels.rng``), so the draws do
not depend on threads or on how a batch is cut. A seed is an int, a numpy
Generator or a tuple of ints folded into one (``(seed, epoch, index)`` names
one example's draw in a training run).

A tokenizer's stream is keyed to the process that draws from it, once, at its
first draw after the seed is set, the tokenizer is unpickled or the process
forks (docs/usage.md, "Sampling in a training loop"):

- seed None: a fresh seed from the OS in every process;
- an explicit seed: the seed itself, or, for a worker with an identity (given
  to ``reset``, or a PyTorch DataLoader worker's ``get_worker_info().seed``),
  the seed folded with that identity.
"""

import math
import multiprocessing
import os
import secrets
import sys
import warnings
import weakref
from numbers import Integral, Real

import numpy as np

from ..kernels.rng import as_int64_bits, call_seed, fold_bits, text_stream_bits
from .model import finite_float, shown_value

# alpha scales the rounding error of a sum of scores (~1e-13): at 1e6 the
# statistics keep about 1e-7; far larger alphas give meaningless entropies and
# overflow the weights. Such draws are Viterbi's anyway.
MAX_ALPHA = 1e6

# The folds of seed tuples and of (seed, worker identity) start apart, so a
# worker's stream never equals the stream of a tuple seed with the same values.
TUPLE_DOMAIN = 0x5EED7B1E5EED7B1E
WORKER_DOMAIN = 0x3C6EF372FE94F82B

_UINT64 = 1 << 64


def check_alpha(alpha):
    """``alpha`` as a float: < 0 for Viterbi, 0..MAX_ALPHA for sampling."""
    if type(alpha) is float and -math.inf < alpha <= MAX_ALPHA:  # the common cases, quickly (NaN fails it)
        return alpha
    if type(alpha) is int and -(1 << 53) < alpha < 0:  # the default, -1
        return float(alpha)
    if isinstance(alpha, bool) or not isinstance(alpha, Real):
        raise TypeError(f'alpha must be a real number, got {type(alpha).__name__}')
    if not finite_float(alpha):
        raise ValueError(f'alpha must be finite, got {shown_value(alpha)}')
    value = float(alpha)  # compared as a float: 1e6 overflows a float16
    if value > MAX_ALPHA:
        raise ValueError(f'alpha must be at most {MAX_ALPHA:g} (beyond it a draw is the best path up to '
                         f'rounding: use alpha < 0 for the best path), got {alpha!r}')
    return value


def _seed_int(value, what):
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f'{what} must be an int, got {type(value).__name__}')
    if not 0 <= value < _UINT64:
        raise ValueError(f'{what} must be in [0, 2**64), got {value}')
    return int(value)


def fold_seed(values, domain=TUPLE_DOMAIN, what='seed'):
    """A non-empty tuple of ints in [0, 2**64) folded into one seed (int)."""
    return fold_seed_bits(values, domain, what) % _UINT64


def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % _UINT64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % _UINT64
    return z ^ (z >> 31)


def python_fold(values, domain):
    """``fold_seed`` of checked ints in Python: for keys made once per process,
    where loading a compiled specialization would cost milliseconds."""
    h = _mix64((domain + len(values) * 0x9E3779B97F4A7C15) % _UINT64)
    for v in values:
        h = _mix64(h ^ _mix64(v))
    return h


def fold_seed_bits(values, domain=TUPLE_DOMAIN, what='seed', text_stream=False):
    """``fold_seed`` as int64 bits, or with ``text_stream`` the stream of text
    0 under it (``text_stream_bits``), in one compiled call when every value
    is a plain int below 2**63 (the per-example path)."""
    if not values:
        raise ValueError(f'a {what} tuple must hold at least one int, got ()')
    for v in values:
        if type(v) is not int or not 0 <= v < 1 << 63:
            values = tuple(as_int64_bits(_seed_int(v, f'each value of a {what} tuple')) for v in values)
            break
    return fold_bits(domain, values, text_stream)


def check_seed(seed):
    """A seed is an int in [0, 2**64), a numpy Generator (one draw is taken)
    or a tuple of such ints (folded into one: ``fold_seed``)."""
    if type(seed) is int and 0 <= seed < _UINT64:  # the common case, quickly
        return seed
    if type(seed) is tuple:
        return fold_seed(seed)
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**64, dtype=np.uint64))
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f'seed must be an int, a tuple of ints or a numpy Generator, got {type(seed).__name__}')
    return _seed_int(seed, 'seed')


def check_unused_seed(seed):
    """A Viterbi call ignores ``seed`` but still rejects a bad one (a mistake
    would otherwise go unnoticed until sampling); a Generator is not drawn from."""
    if seed is not None and not isinstance(seed, np.random.Generator):
        check_seed(seed)
    return 0


def check_worker(worker):
    """A worker identity: an int in [0, 2**64) or a tuple of them, as a tuple."""
    values = worker if type(worker) is tuple else (worker,)
    if not values:
        raise ValueError('worker must be an int or a non-empty tuple of ints, got ()')
    return tuple(_seed_int(v, 'worker') for v in values)


def torch_worker():
    """This PyTorch DataLoader worker's identity, ``(get_worker_info().seed,)``
    (it differs per worker and per epoch and follows ``torch.manual_seed``),
    or None elsewhere. torch is looked up, never imported: a process that has
    not imported it is no DataLoader worker."""
    data = sys.modules.get('torch.utils.data')
    info = None if data is None else data.get_worker_info()
    return None if info is None else (int(info.seed) % _UINT64,)


# Every live stream, so that a forked child can mark them all stale.
_STREAMS = weakref.WeakSet()


def _mark_streams_stale():
    for stream in list(_STREAMS):
        stream.stale = True


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_mark_streams_stale)


class SeedStream:
    """The seeds of a tokenizer's sampling calls: call ``k`` (from 1) gets
    ``mix64(key ^ mix64(k))``. The key is chosen at the first draw in each
    process (see the module's docstring): for an explicit seed in a process
    without a worker identity it is the seed itself, so two tokenizers with
    one seed draw the same sequences, each independently of the other."""

    def __init__(self, seed=None, worker=None):
        self.reset(seed, worker)

    def reset(self, seed=None, worker=None):
        """Restart the sequence from ``seed`` (None: a fresh OS seed in every
        process), for the worker ``worker`` (an int or tuple of ints; with
        None, a DataLoader worker's own identity, if any)."""
        self.seed = None if seed is None else check_seed(seed)
        self.worker = None if worker is None else check_worker(worker)
        self.home = os.getpid()  # where the seed was set
        self.draws = 0
        self.bits = 0
        self.stale = True
        _STREAMS.add(self)

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.stale = True
        _STREAMS.add(self)

    def _resolve(self):
        """Key the stream to this process."""
        pid = os.getpid()
        if self.seed is None:
            key = secrets.randbits(64)
            self.draws = 0
        else:
            worker = self.worker or torch_worker()
            if worker is not None:
                key = python_fold((self.seed,) + worker, WORKER_DOMAIN)
                self.draws = 0
            else:
                key = self.seed  # the sequence carries over
                if pid != self.home and multiprocessing.parent_process() is not None:
                    warnings.warn(
                        f'a bytepiece Tokenizer with seed={self.seed} draws in worker process {pid}, which '
                        'copied it with no worker identity: every copy repeats the same draws. Call '
                        'tokenizer.set_seed(seed, worker=...) in each worker, or pass per-example seeds '
                        '(seed=(seed, epoch, index)); docs/usage.md, "Sampling in a training loop"',
                        RuntimeWarning, stacklevel=4)
        self.home = pid
        self.bits = as_int64_bits(key)
        self.stale = False

    def call_seed(self, seed=None):
        """The seed of one sampling call: ``seed`` if given, else the next
        value of the sequence."""
        if seed is not None:
            return check_seed(seed)
        if self.stale:
            self._resolve()
        self.draws += 1
        return int(call_seed(self.bits, self.draws))

    def text_bits(self, seed=None):
        """The stream of text 0 of one call, as int64 bits: the per-text
        path's share of ``call_seed``, in as few compiled calls as it can."""
        if seed is None:
            if self.stale:
                self._resolve()
            self.draws += 1
            return text_stream_bits(self.bits, self.draws)
        if type(seed) is tuple:
            return fold_seed_bits(seed, text_stream=True)
        return text_stream_bits(as_int64_bits(check_seed(seed)), 0)
