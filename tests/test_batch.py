"""Batch encoding: encode_batch / tokenize_batch, thread counts and the array form."""

import threading

import numpy as np
import pytest
from conftest import read_golden

TEXTS = ['', '\n', '\n\n\n', 'a', 'hello world\n', '中文文本，还有 English words.\n\n下一段',
         'x' * 5000, '🙂' * 50, 'tab\tand\r\nCRLF', 'e\u0301 combining']


@pytest.fixture(scope='module')
def golden_texts():
    return [r['text'] for r in read_golden('bytepiece.eu.plus.80k')]


@pytest.mark.parametrize('threads', [1, 2, None])
def test_batch_equals_single(tok80k, golden_texts, threads):
    texts = golden_texts + TEXTS
    expected = [tok80k.encode(t) for t in texts]
    assert tok80k.encode_batch(texts, num_threads=threads) == expected
    assert tok80k.tokenize_batch(texts, num_threads=threads) == [tok80k.tokenize(t) for t in texts]


def test_batch_40k_partial_pieces(tok40k):
    texts = [r['text'] for r in read_golden('bytepiece.plus.40k')[:60]] + TEXTS
    assert tok40k.encode_batch(texts, num_threads=2) == [tok40k.encode(t) for t in texts]


def test_array_form(tok80k, golden_texts):
    texts = golden_texts[:50] + TEXTS
    ids, offsets, spans = tok80k.encode_batch_to_numpy(texts)
    assert spans is None
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int32 and ids.ndim == 1
    assert isinstance(offsets, np.ndarray) and offsets.dtype == np.int64
    assert offsets.shape == (len(texts) + 1,) and offsets[0] == 0 and offsets[-1] == ids.size
    for i, text in enumerate(texts):
        assert ids[offsets[i]:offsets[i + 1]].tolist() == tok80k.encode(text)


@pytest.mark.parametrize('bos, eos', [(True, False), (False, True), (True, True)])
def test_bos_eos(tok80k, bos, eos):
    lists = tok80k.encode_batch(TEXTS, add_bos=bos, add_eos=eos)
    assert lists == [tok80k.encode(t, add_bos=bos, add_eos=eos) for t in TEXTS]
    ids, offsets, _ = tok80k.encode_batch_to_numpy(TEXTS, add_bos=bos, add_eos=eos)
    assert [ids[offsets[i]:offsets[i + 1]].tolist() for i in range(len(TEXTS))] == lists


def test_empty_batch(tok80k):
    assert tok80k.encode_batch([]) == []
    assert tok80k.tokenize_batch([]) == []
    ids, offsets, _ = tok80k.encode_batch_to_numpy([])
    assert ids.size == 0 and offsets.tolist() == [0]
    ids, offsets, spans = tok80k.encode_batch_to_numpy([], offsets=True)
    assert ids.size == 0 and offsets.tolist() == [0] and spans.shape == (0, 2)
    assert tok80k.encode_batch_with_offsets([]) == ([], [])


def test_accepts_any_iterable(tok80k):
    assert tok80k.encode_batch(iter(TEXTS)) == tok80k.encode_batch(TEXTS)
    assert tok80k.encode_batch(tuple(TEXTS)) == tok80k.encode_batch(TEXTS)


def test_sampling_independent_of_threads(tok80k, golden_texts):
    texts = golden_texts[:40]
    one = tok80k.encode_batch(texts, alpha=0.2, seed=5, num_threads=1)
    two = tok80k.encode_batch(texts, alpha=0.2, seed=5, num_threads=2)
    assert one == two
    assert one != tok80k.encode_batch(texts, alpha=0.2, seed=6)
    assert [tok80k.decode(x) for x in one] == [tok80k.decode(tok80k.encode(t)) for t in texts]


def test_gil_is_released(tok80k, golden_texts):
    # two Python threads encoding at once give the same results as one
    texts = golden_texts * 2
    expected = tok80k.encode_batch(texts, num_threads=1)
    results = [None, None]

    def work(k):
        results[k] = tok80k.encode_batch(texts, num_threads=1)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected, expected]


@pytest.mark.parametrize('texts, error, match', [
    ('a single string', TypeError, 'not a single str'),
    (['ok', b'bytes'], TypeError, 'index 1 must be str, got bytes'),
    (['ok', 'ok', None], TypeError, 'index 2 must be str, got NoneType'),
    (['ok', 'bad \ud800'], ValueError, 'text 1'),
])
def test_bad_texts(tok80k, texts, error, match):
    with pytest.raises(error, match=match):
        tok80k.encode_batch(texts)
    with pytest.raises(error, match=match):
        tok80k.encode_batch_with_offsets(texts)
    with pytest.raises(error, match=match):
        tok80k.encode_batch_to_numpy(texts)


@pytest.mark.parametrize('threads, error', [(0, ValueError), (-1, ValueError), (1.5, TypeError), ('2', TypeError),
                                            (True, TypeError), (10 ** 6, ValueError)])
def test_bad_threads(tok80k, threads, error):
    with pytest.raises(error, match='num_threads'):
        tok80k.encode_batch(['x'], num_threads=threads)


@pytest.mark.parametrize('n_texts, text_chars', [(40, 4), (400, 500)])
def test_bad_text_index_in_a_large_batch(tok80k, n_texts, text_chars):
    # errors name the index of the bad text in the batch, also when a batch
    # of over 64 KiB is packed in parts (the bad text in a later part)
    texts = [('ok %d ' % i).ljust(text_chars, 'y') for i in range(n_texts)]
    at = n_texts - 7
    for bad, error, match in [(b'x', TypeError, f'index {at} must be str'), ('\ud800', ValueError, f'text {at}')]:
        for call in (tok80k.encode_batch, tok80k.encode_batch_to_numpy):
            with pytest.raises(error, match=match):
                call(texts[:at] + [bad] + texts[at:], num_threads=2)


@pytest.mark.parametrize('bos, eos', [(False, False), (True, True)])
def test_parts_equal_one_call(tok80k, golden_texts, bos, eos):
    texts = golden_texts + TEXTS
    two = tok80k.encode_batch(texts, num_threads=2, add_bos=bos, add_eos=eos)
    ids, starts, _ = tok80k.encode_batch_to_numpy(texts, num_threads=2, add_bos=bos, add_eos=eos)
    assert two == [ids[starts[i]:starts[i + 1]].tolist() for i in range(len(texts))]


def _segment_range(tok, texts, alpha, t0, t1):
    from bytepiece.kernels.segment import segment_texts
    from bytepiece.core.text import encode_texts, pack_bytes
    buf, bounds = pack_bytes(encode_texts(texts[t0:t1], 'NFC'))
    return segment_texts(buf, bounds, np.arange(t1 - t0 + 1), tok.vocab.trie, tok.vocab.draw(alpha), np.uint64(11), t0,
                         True)


@pytest.mark.parametrize('alpha', [-1.0, 0.3])
@pytest.mark.parametrize('n_ranges', [1, 2, 3, 7, 1000])
def test_any_cut_into_parts_equals_one_call(tok80k, golden_texts, alpha, n_ranges):
    # A batch is cut into parts of texts segmented apart; any cut (empty texts
    # and empty parts included) must give the tokens, and draws, of one call.
    from bytepiece.runtime.parallel import byte_balanced_cuts
    texts = ['', ''] + golden_texts[:40] + TEXTS + ['']
    n = len(texts)
    ids, ends, starts = _segment_range(tok80k, texts, alpha, 0, n)
    assert starts.size == n + 1 and starts[-1] == ids.size == ends.size
    bounds = np.cumsum([0] + [len(t) for t in texts])
    for cuts in (byte_balanced_cuts(bounds, n_ranges), [0, 0, 1, 3, 3, n // 2, n // 2, n - 1, n, n]):
        parts = [_segment_range(tok80k, texts, alpha, t0, t1) for t0, t1 in zip(cuts[:-1], cuts[1:])]
        assert np.array_equal(np.concatenate([p[0] for p in parts]), ids)
        assert np.array_equal(np.concatenate([np.diff(p[2]) for p in parts]), np.diff(starts))


def test_marker_flags_count_by_truth_value_as_in_encode(tok80k):
    """add_bos=2 once duplicated a token in batches; encode reads it as True."""
    texts = ['ab', 'hello world', '']
    for flag in (2, 0.5, -1, 'yes', 0, '', None):
        expected = [tok80k.encode(t, add_bos=flag, add_eos=flag) for t in texts]
        assert tok80k.encode_batch(texts, add_bos=flag, add_eos=flag) == expected
        ids, starts, _ = tok80k.encode_batch_to_numpy(texts, add_bos=flag, add_eos=flag)
        assert [ids[starts[i]:starts[i + 1]].tolist() for i in range(len(texts))] == expected


def test_small_batches_run_on_the_calling_thread(tok80k, monkeypatch):
    """Below PARALLEL_MIN_CHARS a batch is one part, on the calling thread:
    starting a thread pool costs more than it saves."""
    from bytepiece.core import encoding
    kernel = encoding.segment_texts
    threads_seen = []

    def spy(*args):
        threads_seen.append(threading.current_thread())
        return kernel(*args)

    monkeypatch.setattr(encoding, 'segment_texts', spy)
    texts = ['hello world', '你好'] * 5
    assert tok80k.encode_batch(texts) == [tok80k.encode(t) for t in texts]
    assert threads_seen == [threading.main_thread()]
    threads_seen.clear()
    tok80k.encode_batch(['x' * 1000] * 200, num_threads=2)  # 200k characters: parts on the pool
    assert threads_seen and threading.main_thread() not in threads_seen


_CONCURRENT_PARALLEL = '''
import sys, threading
sys.path.insert(0, {root!r})
from bytepiece import Tokenizer
tok = Tokenizer({model!r})
texts = ['hello world, 你好世界 %d\\n' % i * 20 for i in range(300)]  # > PARALLEL_MIN_CHARS characters
expected = tok.encode_batch_with_offsets(texts, num_threads=2)
bad = []
def run():
    for _ in range(3):
        bad.append(tok.encode_batch_with_offsets(texts, num_threads=2) != expected)
threads = [threading.Thread(target=run) for _ in range(3)]
for t in threads: t.start()
for t in threads: t.join()
print(sum(bad))
'''


def test_concurrent_batches_from_python_threads_under_the_workqueue_layer():
    """Python threads encoding batches at once, each on its own pool of
    threads, under numba's workqueue layer (its fallback without TBB or
    OpenMP, which aborts the process when two threads run a numba-parallel
    kernel at once): no kernel of ours is numba-parallel."""
    import os
    import subprocess
    import sys
    from conftest import model_path
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = _CONCURRENT_PARALLEL.format(root=root, model=model_path('bytepiece.plus.40k'))
    env = dict(os.environ, NUMBA_THREADING_LAYER='workqueue', NUMBA_NUM_THREADS='2')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ['0']


@pytest.mark.parametrize('strings', [[], [''], ['ab', '', 'c'], ['é', 'x\U0001F600y', '', '人\u0800\u07ff\x7f', '\U0010FFFF']])
def test_pack_strings_equals_packing_each_string(strings):
    from bytepiece.core.text import pack_bytes, pack_strings
    buf, bounds = pack_strings(strings)
    expected_buf, expected_bounds = pack_bytes([s.encode('utf-8') for s in strings])
    assert buf.tobytes() == expected_buf.tobytes() and bounds.tolist() == expected_bounds.tolist()
    with pytest.raises(UnicodeEncodeError):
        pack_strings(strings + ['\ud800'])
