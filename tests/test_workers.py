"""Sampling where it is used: random streams in worker processes and
DataLoader workers, worker identities and per-example (tuple) seeds
(docs/usage.md, "Sampling in a training loop").

The process tests always run, with fork and spawn; the DataLoader tests need
torch and skip without it (a fake ``torch.utils.data`` module checks the
identity rule everywhere)."""

import importlib.util
import itertools
import multiprocessing
import pickle
import sys
import types

import numpy as np
import pytest

import sampling_workers as sw
from bytepiece.kernels.rng import mix64
from bytepiece.core.seeds import TUPLE_DOMAIN, WORKER_DOMAIN, fold_seed, python_fold

CONTEXTS = [c for c in ('fork', 'spawn') if c in multiprocessing.get_all_start_methods()]
TEXTS = sw.sample_texts(1000)
TEXT = 'Subword regularization 字节级分词 happens in the data loader.'
_BASE = sw.tokenizer(seed=0)


def fresh(seed):
    """A new tokenizer of the 80k model with ``seed`` (a copy: faster than loading)."""
    tok = pickle.loads(pickle.dumps(_BASE))
    tok.set_seed(seed)
    return tok


def assert_all_apart(sequences):
    """No two draw sequences are the same, nor even share most of their draws
    (identical streams would share all of them)."""
    assert all(len(s) == len(TEXTS) for s in sequences.values())
    for (a, sa), (b, sb) in itertools.combinations(sequences.items(), 2):
        same = sum(x == y for x, y in zip(sa, sb))
        assert same < len(sa) // 4, f'{a} and {b} drew the same segmentation for {same} of {len(sa)} texts'


# --- tuple seeds and worker identities, in one process ---------------------------

# fold_seed((0,)) and fold_seed((1, 2, 3)), computed when tuple seeds were
# introduced: change them only on purpose (it changes every user's draws).
PINNED_FOLDS = [3421900038941077683, 7249300839375583698]


def test_tuple_seed_is_the_documented_fold():
    """h = mix64(domain + n * golden), then h = mix64(h ^ mix64(v)) for each
    value: compiled (tuple seeds) and in Python (worker keys) alike, and
    pinned: these values name every user's per-example draws."""
    for values in [(0,), (1, 2, 3), (2**64 - 1, 0, 5), (2**63, 1), tuple(range(9))]:
        assert fold_seed(values) == python_fold(values, TUPLE_DOMAIN), values
        assert fold_seed(values, WORKER_DOMAIN) == python_fold(values, WORKER_DOMAIN), values
    assert python_fold((0,), 0) == int(mix64(mix64(np.uint64(0x9E3779B97F4A7C15))))
    assert [fold_seed(v) for v in [(0,), (1, 2, 3)]] == PINNED_FOLDS
    assert fold_seed((np.uint64(2**63 + 1), np.int32(4))) == fold_seed((2**63 + 1, 4))
    keys = [fold_seed(v) for v in [(1, 2), (1, 2, 0), (2, 1), (1,), (0, 1), (1, 2, 3)]]
    assert len(set(keys)) == len(keys)
    assert fold_seed((7, 0, 1)) != fold_seed((7, 0, 1), WORKER_DOMAIN)


def test_tuple_seed_per_call():
    tok = fresh(5)
    for key in [(2024, 3, 17), (2**64 - 1, 3, 17), (np.int64(2024), 3, 17)]:
        one = tok.encode(TEXT, alpha=0.1, seed=key)
        assert one == tok.encode(TEXT, alpha=0.1, seed=fold_seed(key))
        assert one == tok.encode_batch([TEXT], alpha=0.1, seed=key)[0]
        assert tok.tokenize(TEXT, alpha=0.1, seed=key) == tok.ids_to_pieces(one)
    assert tok.encode(TEXT, alpha=0.1, seed=(2024, 3, 18)) != tok.encode(TEXT, alpha=0.1, seed=(2024, 3, 17))
    # per-call seeds leave the tokenizer's own sequence alone
    first = tok.encode(TEXT, alpha=0.1)
    tok.set_seed(5)
    tok.encode(TEXT, alpha=0.1, seed=(1, 2, 3))
    assert tok.encode(TEXT, alpha=0.1) == first
    assert fresh((4, 2)).encode(TEXT, alpha=0.1) == fresh(fold_seed((4, 2))).encode(TEXT, alpha=0.1)


@pytest.mark.parametrize('seed, error, match', [
    ((), ValueError, 'at least one int'), ((1.5,), TypeError, 'each value of a seed tuple must be an int'),
    ((-1, 2), ValueError, r'each value of a seed tuple must be in \[0, 2\*\*64\)'),
    ((2**64,), ValueError, 'must be in'), (((1,),), TypeError, 'got tuple'), ((True,), TypeError, 'got bool'),
    ([1, 2], TypeError, 'a tuple of ints')])
def test_bad_tuple_seeds(seed, error, match):
    tok = fresh(0)
    for call in (lambda: tok.encode(TEXT, alpha=0.1, seed=seed), lambda: tok.encode_batch([TEXT], alpha=0.1, seed=seed),
                 lambda: tok.encode(TEXT, seed=seed), lambda: tok.set_seed(seed)):
        with pytest.raises(error, match=match):
            call()


def test_worker_identity_keys_the_stream():
    def sample(seed, worker=None):
        tok = fresh(0)
        tok.set_seed(seed, worker=worker)
        return sw.draws(tok, TEXTS[:200])
    same = sample(7, (0, 1))
    assert sample(7, (0, 1)) == same, 'a seed and an identity give the same draws every time'
    assert sample(fold_seed((7, 0, 1), WORKER_DOMAIN)) == same, 'the key is the seed folded with the identity'
    assert sample(3, 3) == sample(3, (3,))
    apart = {'(0, 1)': same, '(0, 2)': sample(7, (0, 2)), '(1, 1)': sample(7, (1, 1)), 'none': sample(7),
             'seed 8': sample(8, (0, 1))}
    for (a, sa), (b, sb) in itertools.combinations(apart.items(), 2):
        assert sum(x == y for x, y in zip(sa, sb)) < 50, (a, b)
    assert sample(None, 1) != sample(None, 1), 'seed None is fresh whatever the identity'


@pytest.mark.parametrize('worker, error', [(-1, ValueError), (2**64, ValueError), (1.5, TypeError), ((), ValueError),
                                           ('0', TypeError), ((0, None), TypeError)])
def test_bad_worker(worker, error):
    with pytest.raises(error, match='worker'):
        fresh(0).set_seed(1, worker=worker)


def test_dataloader_worker_identity_from_torch(monkeypatch):
    """In a DataLoader worker the identity is get_worker_info().seed, read at
    the first draw (not at unpickling, when the info is not set yet)."""
    def reference(worker):
        tok = fresh(0)
        tok.set_seed(7, worker=worker)
        return tok.encode(TEXT, alpha=0.1)
    expected = {seed: reference(seed) for seed in (123456789, 987, 5)}
    info = types.SimpleNamespace(id=1, num_workers=2, seed=123456789)
    fake = types.ModuleType('torch.utils.data')
    fake.get_worker_info = lambda: info
    copy = pickle.dumps(fresh(7))
    monkeypatch.setitem(sys.modules, 'torch.utils.data', fake)
    tok = pickle.loads(copy)
    assert tok.encode(TEXT, alpha=0.1) == expected[123456789]
    info.seed = 987  # the next epoch's worker
    tok.set_seed(7)
    assert tok.encode(TEXT, alpha=0.1) == expected[987]
    tok.set_seed(7, worker=5)
    assert tok.encode(TEXT, alpha=0.1) == expected[5], 'an identity given by hand wins'
    fake.get_worker_info = lambda: None  # the main process
    tok.set_seed(7)
    assert tok.encode(TEXT, alpha=0.1) == fresh(7).encode(TEXT, alpha=0.1)


def test_copies_of_an_unseeded_tokenizer_draw_apart():
    tok = fresh(None)
    sw.draws(tok, TEXTS[:10])
    copies = [pickle.loads(pickle.dumps(tok)) for _ in range(2)]
    assert_all_apart({'original': sw.draws(tok, TEXTS), 'copy 1': sw.draws(copies[0], TEXTS),
                      'copy 2': sw.draws(copies[1], TEXTS)})


# --- worker processes --------------------------------------------------------------


def run_jobs(context, jobs):
    """Run each job, ``name: (args, kwargs)`` of ``draw_job``, in a process of
    its own; returns ``{name: (draws, warning messages)}``."""
    ctx = multiprocessing.get_context(context)
    queue = ctx.Queue()
    procs = [ctx.Process(target=sw.draw_job, args=(queue, name) + args, kwargs=kwargs)
             for name, (args, kwargs) in jobs.items()]
    for p in procs:
        p.start()
    try:
        results = {name: (d, w) for name, d, w in (queue.get(timeout=300) for _ in procs)}
    finally:
        for p in procs:
            p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * len(procs)
    return results


def epochs_of_workers(context, tok, kwargs_of=lambda epoch, worker: {}, epochs=2, workers=2):
    """Each epoch, fresh worker processes that each draw every text once."""
    results = {}
    for epoch in range(epochs):
        results.update(run_jobs(context, {(epoch, w): ((tok, TEXTS), kwargs_of(epoch, w)) for w in range(workers)}))
    return results


@pytest.mark.parametrize('context', CONTEXTS)
def test_unseeded_workers_and_epochs_draw_apart(context):
    tok = fresh(None)
    sw.draws(tok, TEXTS[:10])  # the original has drawn before the copies are made
    results = epochs_of_workers(context, tok)
    assert all(warnings == [] for _, warnings in results.values())
    sequences = {name: d for name, (d, _) in results.items()}
    sequences['original'] = sw.draws(tok, TEXTS)
    assert_all_apart(sequences)


_SEEDED_RUNS = {}


def seeded_run(context):
    """set_seed(7, worker=(epoch, worker id)) in each worker; the first run
    of each start method is kept for the comparison across them."""
    result = epochs_of_workers(context, fresh(7), lambda epoch, w: {'reseed': (7, (epoch, w))})
    _SEEDED_RUNS.setdefault(context, result)
    return result


@pytest.mark.parametrize('context', CONTEXTS)
def test_seeded_workers_are_reproducible_and_apart(context):
    first = seeded_run(context)
    assert all(warnings == [] for _, warnings in first.values())
    assert_all_apart({name: d for name, (d, _) in first.items()})
    others = {c: r for c, r in _SEEDED_RUNS.items() if r is not first}
    if not others:  # the first start method tested: a second run of its own
        others = {context: seeded_run(context)}
    for other, result in others.items():
        assert result == first, f'a {other} run drew differently from this {context} run'


@pytest.mark.parametrize('context', CONTEXTS)
def test_seeded_copies_without_identity_repeat_and_warn(context):
    """The documented rule: with no identity a copy continues the seed's own
    sequence, so copies repeat each other; each says so once."""
    results = run_jobs(context, {w: ((fresh(7), TEXTS), {}) for w in range(2)})
    expected = sw.draws(fresh(7), TEXTS)
    for draws, warnings in results.values():
        assert draws == expected
        assert len(warnings) == 1 and 'no worker identity' in warnings[0] and 'set_seed' in warnings[0]


@pytest.mark.parametrize('context', CONTEXTS)
def test_per_example_seeds_do_not_depend_on_the_worker(context):
    """seed=(run seed, epoch, index): the same draws however the texts are
    shared out, so a run can resume mid-epoch."""
    tok = fresh(None)  # the tokenizer's own seed plays no part
    half = len(TEXTS) // 2
    results = run_jobs(context, {w: ((tok, TEXTS[w * half:(w + 1) * half]), {'example_key': (7, 1),
                                                                             'first_index': w * half})
                                 for w in range(2)})
    epoch1 = results[0][0] + results[1][0]
    assert epoch1 == sw.draws(fresh(None), TEXTS, (7, 1))
    assert sw.draws(fresh(None), TEXTS[300:], (7, 1), first_index=300) == epoch1[300:], 'resumed mid-epoch'
    assert_all_apart({'epoch 0': sw.draws(tok, TEXTS, (7, 0)), 'epoch 1': epoch1})


# --- a real DataLoader -------------------------------------------------------------

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec('torch') is None,
    reason='torch is not installed: the DataLoader tests need it (the process tests cover workers without it)')


_LOADER_RUNS = {}


def loader_run(context, kind, seed):
    """Two epochs of a DataLoader with 2 workers (fresh ones every epoch),
    after torch.manual_seed(0); the draws by (epoch, worker id), and the
    main process's own."""
    import torch
    from torch.utils.data import DataLoader
    torch.manual_seed(0)
    tok = fresh(seed)
    dataset = sw.TextDraws(tok, TEXTS) if kind == 'map' else sw.TextDrawStream(tok, TEXTS)
    loader = DataLoader(dataset, batch_size=len(TEXTS), num_workers=2, collate_fn=sw.as_list,
                        multiprocessing_context=context)
    sequences = {}
    for epoch in range(2):
        for batch in loader:
            worker = batch[0][0]
            assert all(w == worker for w, _ in batch)
            sequences[epoch, worker] = [d for _, d in batch]
    assert len(sequences) == 4
    sequences['main process'] = sw.draws(tok, TEXTS)
    return sequences


@needs_torch
@pytest.mark.parametrize('context, kind', [('fork', 'map'), ('fork', 'iterable'), ('spawn', 'map')])
def test_dataloader_workers_and_epochs(context, kind):
    """Seed None draws apart in every worker and epoch. An explicit seed is
    reproducible under torch.manual_seed, workers and epochs differing: every
    worker draws every text in order, so each setting must give the draws of
    the first one run (fork and map-style runs twice)."""
    if context not in CONTEXTS:
        pytest.skip(f'no {context} start method here')
    assert_all_apart(loader_run(context, kind, None))
    first = loader_run(context, kind, 7)
    assert_all_apart(first)
    reference = _LOADER_RUNS.setdefault('seeded', first)
    if reference is first:
        reference = loader_run(context, kind, 7)
    assert first == reference
