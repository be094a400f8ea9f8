"""The kernels' hash tables against Python dicts, through growth and hash partitions."""

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


def test_counter_grows_and_partitions():
    rng = random.Random(5)
    pool = _keys(rng, 3000)
    batches = [pool[np.array([rng.randrange(len(pool)) for _ in range(2000)])] for _ in range(4)]
    want = PyCounter()
    for b in batches:
        want.update(b.tolist())
    for nparts in (1, 3):
        got = {}
        for part in range(nparts):
            table = ht.counter_new(1, ht.COUNTER_MULT)  # 16 slots: grows many times
            for b in batches:
                table = ht.counter_add(table, b, np.ones(b.shape[0], np.int64), part, nparts)
            keys, counts = ht.counter_items(table, 2, True)
            assert (np.diff(keys.astype(np.float64)) > 0).all()
            assert not set(keys.tolist()) & set(got)
            got.update(zip(keys.tolist(), counts.tolist()))
        assert got == {k: c for k, c in want.items() if c >= 2}
    # the last table held the distinct keys of the last partition
    assert table.used == sum(ht.partition(np.uint64(k), 3) == 2 for k in want)


def test_string_table_grows_keeps_first_occurrence_order_and_partitions():
    rng = random.Random(7)
    words = [bytes(rng.choice(b'abc\xe4') for _ in range(rng.randrange(0, 9))) for _ in range(3000)]
    src = np.frombuffer(b''.join(words), np.uint8).copy()
    bounds = np.concatenate([[0], np.cumsum([len(w) for w in words])]).astype(np.int64)
    weights = np.array([rng.randrange(1, 5) for _ in words], np.int64)
    want = {}
    for w, c in zip(words, weights.tolist()):
        want[w] = want.get(w, 0) + c
    got = {}
    for nparts in (1, 4):
        order = []
        for part in range(nparts):
            table = ht.strtab_new(1, 1)  # entries, pool and slots all grow
            for i in range(0, len(words), 500):  # several calls add to one table
                j = min(i + 500, len(words))
                table = ht.strtab_add(table, src, bounds[i:j], bounds[i + 1:j + 1], weights[i:j], part, nparts)
            data, starts, counts = ht.strtab_items(table)
            ends = np.append(starts[1:], data.shape[0])
            part_words = [data[s:e].tobytes() for s, e in zip(starts.tolist(), ends.tolist())]
            order += part_words
            got[nparts] = {**got.get(nparts, {}), **dict(zip(part_words, counts.tolist()))}
        assert got[nparts] == want
        if nparts == 1:
            assert order == list(dict.fromkeys(words))  # first occurrence order
