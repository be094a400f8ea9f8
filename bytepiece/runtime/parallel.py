"""Running work in parallel: one engine for encoding, training and file encoding.

An ``Engine`` maps a function over tasks and yields the results in task order,
with a bounded number of tasks in flight. Where the work runs:

- ``'inline'``: on the calling thread (one worker, no pool);
- ``'threads'``: a thread pool, for numba kernels that release the GIL (no
  second copy of the interpreter or of shared tables);
- ``'processes'``: a process pool (the function and its arguments pickle);
- a ``concurrent.futures.Executor`` the caller owns;
- a Dask ``distributed.Client``, or a scheduler address such as
  ``'tcp://10.0.0.1:8786'``, for a cluster (``pip install 'bytepiece[dask]'``).

Results never depend on the engine: work is cut into tasks independently of
the number of workers, and results are combined in task order.
"""

import os
import threading
from collections import deque
from concurrent.futures import CancelledError, Executor, ProcessPoolExecutor, ThreadPoolExecutor
from numbers import Integral
from typing import Callable, Iterable, Iterator, Optional, Union

import numpy as np

from . import extras

KINDS = ('inline', 'threads', 'processes')
LOST_INPUT_RETRIES = 3  # times a Dask task runs with its shared inputs sent anew


def available_cores():
    """The cores this process may run on (its CPU affinity, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_workers(workers, name='workers', most=None):
    """``workers`` as an int in ``1..most``; None means every available core."""
    if workers is None:
        return available_cores()
    if isinstance(workers, bool) or not isinstance(workers, Integral):
        raise TypeError(f'{name} must be an int or None, got {type(workers).__name__}')
    if not 1 <= workers <= (most or workers):
        raise ValueError(f'{name} must be in [1, {most}], got {workers}' if most else
                         f'{name} must be >= 1, got {workers}')
    return int(workers)


def byte_balanced_cuts(bounds, n_ranges):
    """Cut items into at most ``n_ranges`` non-empty ranges of consecutive
    items of about equal size. ``bounds``: cumulative sizes (``n + 1``
    entries, in bytes or characters). Range ``r`` is items
    ``cuts[r]..cuts[r+1]-1``; the cuts depend only on the sizes."""
    n_items = len(bounds) - 1
    targets = np.linspace(0, bounds[-1], n_ranges + 1)[1:-1]
    inner = np.searchsorted(bounds[:n_items], targets).tolist()
    return sorted(set([0] + [t for t in inner if 0 < t < n_items] + [n_items]))


def _is_dask_client(obj):
    return type(obj).__name__ == 'Client' and callable(getattr(obj, 'scatter', None))


class Engine:
    """Maps functions over tasks on one of the backends above.

    ``Engine()`` is the local default: threads on every available core.
    ``Engine('processes', workers=4)``, ``Engine(executor)``,
    ``Engine(dask_client)`` or ``Engine('tcp://host:8786')`` choose another.
    An engine built from a kind or an address owns its pool or client and
    closes it in ``close()`` (or at the end of a ``with`` block); an executor
    or client passed in stays the caller's.

    >>> with Engine('threads', workers=2) as engine:
    ...     list(engine.imap(pow, [(2, 3), (3, 2)]))
    [8, 9]
    """

    def __init__(self, backend: Union[str, Executor, object] = 'threads', workers: Optional[int] = None):
        self.kind = None
        self._executor = None
        self._client = None
        self._owned = None
        self._lock = threading.Lock()  # threads that share the engine start its pool once
        self._shared, self._replaced = {}, {}  # Dask: shared values by future key; futures sent anew
        if isinstance(backend, str) and backend in KINDS:
            self.kind = backend
            self.workers = 1 if backend == 'inline' else check_workers(workers)
            if self.kind != 'inline' and self.workers == 1:
                self.kind = 'inline'  # a pool of one only adds a hop
        elif isinstance(backend, str):
            self._client = self._owned = self._connect(backend)
        elif _is_dask_client(backend):
            self._client = backend
        elif isinstance(backend, Executor):
            self.kind = 'executor'
            self._executor = backend
            self.workers = workers or getattr(backend, '_max_workers', None) or available_cores()
        else:
            raise TypeError(f"engine must be one of {KINDS}, a concurrent.futures.Executor, a dask Client or "
                            f"a scheduler address, got {type(backend).__name__}")
        if self._client is not None:
            self.kind = 'dask'
            self.workers = workers or max(1, sum(self._client.nthreads().values()))

    @staticmethod
    def _connect(address):
        if '://' not in address:
            raise ValueError(f"engine {address!r} is neither one of {KINDS} nor a scheduler address "
                             f"(like 'tcp://host:8786')")
        return extras.dask_client()(address)

    def _pool(self):
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._executor is None:
                    pool_class = ThreadPoolExecutor if self.kind == 'threads' else ProcessPoolExecutor
                    self._executor = self._owned = pool_class(self.workers)
                executor = self._executor
        return executor

    def share(self, value):
        """``value`` ready to pass to many tasks: on Dask it is sent to every
        worker once (a future standing for it), elsewhere it is itself. On
        Dask a shared value lost with every worker that held it is sent
        again when a task needs it (see ``imap``)."""
        if self._client is None:
            return value
        future = self._client.scatter([value], broadcast=True, hash=False)[0]  # one future, a key of its own
        self._shared[future.key] = (value, future)
        return future

    def _current(self, arg):
        """A task's argument with any shared future that was replaced given
        as its replacement."""
        key = getattr(arg, 'key', None)
        while key in self._replaced:
            arg = self._replaced[key]
            key = arg.key
        return arg

    def _share_again(self, arg):
        """A task's argument, a shared future sent again (its data lost)."""
        arg = self._current(arg)
        shared = self._shared.get(getattr(arg, 'key', None))
        if shared is None:
            return arg
        fresh = self.share(shared[0])
        self._replaced[arg.key] = fresh
        return fresh

    def submit(self, fn, *args):
        """Start ``fn(*args)``; returns a future (run at once when inline)."""
        if self._client is not None:
            return self._client.submit(fn, *(self._current(a) for a in args), pure=False)
        if self.kind == 'inline':
            return _Done(fn, args)
        return self._pool().submit(fn, *args)

    def imap(self, fn: Callable, tasks: Iterable[tuple], window: Optional[int] = None) -> Iterator:
        """``fn(*task)`` for each task of the iterable ``tasks``, yielded in
        task order. At most ``window`` tasks are in flight (default: one more
        than the workers), so a lazy ``tasks`` is read as results are taken.
        Tasks still in flight when the caller stops early are cancelled."""
        if self.kind == 'inline':
            for task in tasks:
                yield fn(*task)
            return
        limit = window or self.workers + 1
        pending = deque()
        try:
            for task in tasks:
                pending.append((self.submit(fn, *task), task))
                if len(pending) >= limit:
                    yield self._result(fn, *pending.popleft())
            while pending:
                yield self._result(fn, *pending.popleft())
        finally:
            for future, _ in pending:
                future.cancel()

    def _result(self, fn, future, task):
        """The result of ``future`` (``fn(*task)``). On Dask, a task cancelled
        because a shared input was lost (every worker holding it died) runs
        again with the input sent anew: tasks write their outputs whole, so
        running one twice gives the same result."""
        for attempt in range(LOST_INPUT_RETRIES):
            try:
                return future.result()
            except CancelledError:
                if self._client is None or attempt + 1 == LOST_INPUT_RETRIES:
                    raise
                future = self.submit(fn, *(self._share_again(a) for a in task))

    def close(self):
        """Shut down the pool or client this engine started (if any)."""
        owned, self._owned = self._owned, None
        if owned is None:
            return
        if owned is self._client:
            owned.close()
        else:
            owned.shutdown(cancel_futures=True)
        self._executor = None

    def __getstate__(self):  # a lock does not pickle, nor do futures: a copy gets its own
        return {k: v for k, v in self.__dict__.items() if k not in ('_lock', '_shared', '_replaced')}

    def __setstate__(self, state):
        self.__dict__.update(state, _lock=threading.Lock(), _shared={}, _replaced={})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return f'Engine({self.kind!r}, workers={self.workers})'


def make_engine(engine=None, workers=None, tasks=None):
    """``(engine, owned, threads)``: the ``Engine`` of a caller's ``engine``
    argument, whether it was started here (the caller then closes it), and
    the threads each task may use. ``engine``: an ``Engine`` (used as it is),
    None or one of ``KINDS`` (on ``workers``, default every core), an
    executor, a Dask client or a scheduler address. With ``tasks`` (how many
    there are), a local engine gets no more workers than tasks, and the
    cores left over go to each task."""
    if isinstance(engine, Engine):
        return engine, False, 1
    if engine is None or (isinstance(engine, str) and engine in KINDS):
        kind = engine or 'threads'
        total = 1 if kind == 'inline' else check_workers(workers)
        outer = total if tasks is None else max(1, min(total, tasks))
        return Engine(kind, workers=outer), True, max(1, total // outer)
    return Engine(engine, workers=workers), True, 1


class _Done:
    """A finished call, with the interface of a future."""

    def __init__(self, fn, args):
        self._value = fn(*args)

    def result(self):
        return self._value

    def cancel(self):
        return False
