"""The kernels' hash tables against Python dicts, through growth."""

import inspect
import random
from collections import Counter as PyCounter

import numpy as np

from bytepiece.kernels import hashtable as ht


def _keys(rng, n):
    return np.array(sorted({rng.randrange(1, 1 << 64) for _ in range(n)}), np.uint64)


def test_map():
    rng = random.Random(3)
    keys = _keys(rng, 500)
    absent = [k for k in _keys(rng, 200) if k not in set(keys.tolist())]
    vals = np.array([rng.random() for _ in keys])
    table = ht.map_new(keys.shape[0])
    ht.map_insert(table, keys, vals)
    values = table.view(np.float64)
    assert [ht.map_get(table, values, k, -1.0) for k in keys] == vals.tolist()
    assert {ht.map_get(table, values, np.uint64(k), -1.0) for k in absent} == {-1.0}
    ht.map_insert(table, keys[:1], np.array([7.5]))  # a key set again keeps one slot
    assert ht.map_get(table, values, keys[0], -1.0) == 7.5


def test_counter_grows():
    rng = random.Random(5)
    pool = _keys(rng, 3000)
    batches = [pool[np.array([rng.randrange(len(pool)) for _ in range(2000)])] for _ in range(4)]
    want = PyCounter()
    for b in batches:
        want.update(b.tolist())
    table = ht.counter_new(1, ht.COUNTER_MULT)  # 16 slots: grows many times
    for b in batches:
        table = ht.counter_add(table, b, np.ones(b.shape[0], np.int64))
    keys, counts = ht.counter_items(table, 2, True)
    assert (np.diff(keys.astype(np.float64)) > 0).all()
    assert dict(zip(keys.tolist(), counts.tolist())) == {k: c for k, c in want.items() if c >= 2}
    assert table.used == len(want)


def test_string_table_grows_and_keeps_first_occurrence_order():
    rng = random.Random(7)
    words = [bytes(rng.choice(b'abc\xe4') for _ in range(rng.randrange(0, 9))) for _ in range(3000)]
    src = np.frombuffer(b''.join(words), np.uint8).copy()
    bounds = np.concatenate([[0], np.cumsum([len(w) for w in words])]).astype(np.int64)
    weights = np.array([rng.randrange(1, 5) for _ in words], np.int64)
    want = {}
    for w, c in zip(words, weights.tolist()):
        want[w] = want.get(w, 0) + c
    table = ht.strtab_new(1, 1)  # entries, pool and slots all grow
    for i in range(0, len(words), 500):  # several calls add to one table
        j = min(i + 500, len(words))
        table = ht.strtab_add(table, src, bounds[i:j], bounds[i + 1:j + 1], weights[i:j])
    data, starts, counts = ht.strtab_items(table)
    ends = np.append(starts[1:], data.shape[0])
    order = [data[s:e].tobytes() for s, e in zip(starts.tolist(), ends.tolist())]
    assert dict(zip(order, counts.tolist())) == want
    assert order == list(dict.fromkeys(words))  # first occurrence order


def test_adding_takes_no_partition():
    # a reduce task owns its buckets: the adding loops test no partition per key
    assert list(inspect.signature(ht.counter_add.py_func).parameters) == ['table', 'keys', 'counts']
    assert list(inspect.signature(ht.strtab_add.py_func).parameters) == ['table', 'src', 'span_starts',
                                                                         'span_ends', 'weights']
