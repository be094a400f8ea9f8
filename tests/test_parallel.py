"""The engine: one way to run work inline, on threads, processes, an
executor or a real Dask cluster (LocalCluster, two worker processes)."""

import operator
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bytepiece.runtime.parallel import Engine, byte_balanced_cuts, check_workers, make_engine


def slow_square(x):
    import time
    time.sleep(0.01 * (x % 3))
    return x * x


def fail_on(x, bad):
    if x == bad:
        raise ValueError(f'task {x} failed')
    return x


def summed(array, offset):
    return float(array.sum()) + offset


@pytest.mark.parametrize('backend, workers', [('inline', None), ('threads', 2), ('processes', 2), ('threads', 1)])
def test_results_come_in_task_order(backend, workers):
    with Engine(backend, workers=workers) as engine:
        assert list(engine.imap(slow_square, [(x,) for x in range(20)])) == [x * x for x in range(20)]
        assert list(engine.imap(slow_square, [])) == []


def test_errors_reach_the_caller_and_later_tasks_are_dropped():
    with Engine('threads', workers=2) as engine:
        with pytest.raises(ValueError, match='task 3 failed'):
            list(engine.imap(fail_on, [(x, 3) for x in range(10)]))
    with Engine('inline') as engine:
        results = engine.imap(fail_on, [(x, 1) for x in range(3)])
        assert next(results) == 0
        with pytest.raises(ValueError, match='task 1 failed'):
            next(results)


def test_tasks_are_read_lazily_within_the_window():
    taken = []

    def tasks():
        for x in range(100):
            taken.append(x)
            yield (x,)

    with Engine('threads', workers=2) as engine:
        results = engine.imap(slow_square, tasks(), window=4)
        assert next(results) == 0
        assert len(taken) <= 5, 'at most the window in flight, plus the one taken'


def test_an_executor_passed_in_stays_the_callers():
    pool = ThreadPoolExecutor(2)
    with Engine(pool) as engine:
        assert engine.kind == 'executor' and engine.workers == 2
        assert list(engine.imap(operator.add, [(1, 2), (3, 4)])) == [3, 7]
    assert pool.submit(operator.neg, 5).result() == -5, 'not shut down by the engine'
    pool.shutdown()


def test_bad_engines():
    with pytest.raises(TypeError, match='engine must be one of'):
        Engine(42)
    with pytest.raises(ValueError, match='scheduler address'):
        Engine('thread')
    with pytest.raises(ValueError, match='workers must be >= 1'):
        Engine('threads', workers=0)
    with pytest.raises(TypeError, match='workers must be an int'):
        check_workers(1.5)
    with pytest.raises(ValueError, match=r'in \[1, 4\]'):
        check_workers(5, most=4)


@pytest.mark.parametrize('sizes, n_ranges', [([5], 4), ([0, 0, 0], 2), ([1, 100, 0, 3, 50, 0], 3),
                                             ([10] * 20, 64), ([1000, 1, 1, 1], 4)])
def test_byte_balanced_cuts_cover_every_item_once(sizes, n_ranges):
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    cuts = byte_balanced_cuts(bounds, n_ranges)
    assert cuts[0] == 0 and cuts[-1] == len(sizes)
    assert all(a < b for a, b in zip(cuts, cuts[1:])), 'ranges are non-empty and in order'
    assert len(cuts) - 1 <= n_ranges


def test_threads_run_at_once():
    barrier = threading.Barrier(2, timeout=10)

    def meet(x):
        barrier.wait()  # both tasks must be running together to pass
        return x

    with Engine('threads', workers=2) as engine:
        assert list(engine.imap(meet, [(1,), (2,)])) == [1, 2]


def test_threads_sharing_an_engine_start_one_pool(monkeypatch):
    from bytepiece.runtime import parallel
    started = []

    class SlowToStart(ThreadPoolExecutor):
        def __init__(self, workers):
            started.append(self)
            time.sleep(0.05)  # the window in which another thread could start a second pool
            super().__init__(workers)

    monkeypatch.setattr(parallel, 'ThreadPoolExecutor', SlowToStart)
    engine = Engine('threads', workers=2)
    barrier = threading.Barrier(6)
    results = []

    def use():
        barrier.wait()
        results.append(engine.submit(operator.add, 1, 2).result())
    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.close()
    assert results == [3] * 6
    assert len(started) == 1 and started[0]._shutdown, 'one pool, shut down with the engine'



def test_an_engine_copies_with_a_lock_of_its_own():
    import copy
    import pickle
    engine = Engine('threads', workers=2)
    for twin in (pickle.loads(pickle.dumps(engine)), copy.deepcopy(engine)):
        assert twin._lock is not engine._lock and list(twin.imap(operator.add, [(1, 2)])) == [3]
        twin.close()


def test_dask_client_and_address(dask_client):
    with Engine(dask_client) as engine:
        assert engine.kind == 'dask' and engine.workers == 2
        assert list(engine.imap(slow_square, [(x,) for x in range(12)])) == [x * x for x in range(12)]
        shared = engine.share(np.arange(1000))
        assert list(engine.imap(summed, [(shared, k) for k in range(3)])) == [499500.0, 499501.0, 499502.0]
        with pytest.raises(ValueError, match='task 2 failed'):
            list(engine.imap(fail_on, [(x, 2) for x in range(4)]))
    assert dask_client.status == 'running', 'a client passed in stays open'
    with Engine(dask_client.scheduler.address) as engine:  # the engine connects and owns its client
        assert list(engine.imap(operator.mul, [(2, 3)])) == [6]


def test_make_engine_sizes_a_local_engine_to_the_tasks():
    given = Engine('threads', workers=2)
    assert make_engine(given, 8) == (given, False, 1)
    engine, owned, threads = make_engine(None, 8, tasks=3)
    assert (engine.kind, engine.workers, owned, threads) == ('threads', 3, True, 2)
    engine, owned, threads = make_engine('threads', 8, tasks=1)
    assert (engine.kind, engine.workers, threads) == ('inline', 1, 8)  # the task gets the cores
    engine, owned, threads = make_engine('inline', 8, tasks=3)
    assert (engine.kind, threads) == ('inline', 1)
    engine, owned, threads = make_engine('processes', 4)
    assert (engine.kind, engine.workers, owned, threads) == ('processes', 4, True, 1)
    with ThreadPoolExecutor(2) as pool:
        engine, owned, _ = make_engine(pool, None)
        assert engine.kind == 'executor' and owned  # the Engine, not the pool, is the caller's to close
    for engine in (given, *(make_engine(e, 2)[0] for e in (None, 'processes'))):
        engine.close()
