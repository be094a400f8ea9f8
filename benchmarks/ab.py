"""A/B: this checkout's bytepiece against another checkout's, in one process.

A change worth a few percent is lost in this machine's noise when the two
versions run minutes apart. Here both versions are imported side by side (the
other one copied under the package name ``bytepiece_other``) and timed in
interleaved rounds on the same texts (the order alternating); the report gives
each version's median, the median of the per-round ratios and the ratio of the
medians. CPU time (process time) is used.

    git worktree add /tmp/base HEAD~1
    python benchmarks/ab.py /tmp/base [--what kernel|batch|loop|train|train-unigram] [--alpha -1] [--mb 8] [--runs 11]

``kernel`` times the serial batch kernel alone, ``batch`` times
``encode_batch(num_threads=1)``, ``loop`` a loop of per-text ``encode``,
``train`` the training job ``Trainer(order=6, max_vocab_size=32000,
min_count=8).train(texts, workers=2)`` (``--mb 30``: the whole dev corpus),
``train-unigram`` the same with the default method (``Trainer(max_vocab_size=32000)``),
whose pieces must be the same; it reports wall time beside CPU time.
"""

import argparse
import inspect
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
from benchmarks.common import add_common_args, load_texts_mb, mb  # noqa: E402


def import_other(checkout, workdir):
    """The package of another checkout, imported as ``bytepiece_other``
    (every import inside the package is relative, so a renamed copy works)."""
    shutil.copytree(os.path.join(checkout, 'bytepiece'), os.path.join(workdir, 'bytepiece_other'),
                    ignore=shutil.ignore_patterns('__pycache__'))
    sys.path.insert(0, workdir)
    import bytepiece_other
    return bytepiece_other


def timer(package, texts, model, what, alpha):
    import numpy as np
    if what in ('train', 'train-unigram'):
        def train():
            trainer = (package.Trainer(order=6, max_vocab_size=32000, min_count=8) if what == 'train'
                       else package.Trainer(max_vocab_size=32000, method='unigram'))
            trainer.train(texts, workers=2, progress=False)
            return trainer.pieces
        return train
    tokenizer = package.Tokenizer(model)
    if what == 'batch':
        return lambda: tokenizer.encode_batch(texts, alpha=alpha, num_threads=1)
    if what == 'loop':
        return lambda: [tokenizer.encode(t, alpha=alpha) for t in texts]
    from importlib import import_module
    try:
        text = import_module(package.__name__ + '.core.text')
    except ImportError:  # checkouts before the modules were grouped by role
        text = import_module(package.__name__ + '.text')
    buf, bounds = text.pack_bytes(text.encode_texts(texts, 'NFC'))
    if hasattr(tokenizer, 'vocab'):
        segment_texts = import_module(package.__name__ + '.kernels.segment').segment_texts
        vocab = tokenizer.vocab
        args = (buf, bounds, np.arange(len(texts) + 1), vocab.trie, vocab.draw(alpha), np.uint64(1), 0)
        if 'with_ends' in inspect.signature(segment_texts.py_func).parameters:
            args += (False,)  # the ends that encoding without spans does not ask for
        return lambda: segment_texts(*args)
    automaton = tokenizer._automaton  # checkouts before the redesign
    mode, weights = automaton.sampling_params(alpha)
    args = (automaton.trie, mode, alpha, weights, automaton.max_piece_length, np.uint64(1))
    return lambda: package.kernels.lattice.segment_text_range(buf, bounds, 0, len(texts), *args)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('other', help='path of the other checkout (holding bytepiece/)')
    parser.add_argument('--what', choices=['kernel', 'batch', 'loop', 'train', 'train-unigram'], default='kernel')
    parser.add_argument('--alpha', type=float, default=-1.0)
    add_common_args(parser)
    args = parser.parse_args()
    texts = load_texts_mb(args.corpus, args.mb, args.lines)
    size = mb(texts)
    import bytepiece
    with tempfile.TemporaryDirectory() as workdir:
        other = import_other(args.other, workdir)
        fns = {'other': timer(other, texts, args.model, args.what, args.alpha),
               'this': timer(bytepiece, texts, args.model, args.what, args.alpha)}
        results = [fn() for fn in fns.values()]  # compile / warm up
        if args.what.startswith('train'):
            assert results[0] == results[1], 'the two versions train different pieces'
        times = {name: [] for name in fns}
        walls = {name: [] for name in fns}
        for r in range(args.runs):
            # the order alternates, so that neither version always runs first
            for name, fn in (list(fns.items()) if r % 2 == 0 else list(fns.items())[::-1]):
                start, wall = time.process_time(), time.perf_counter()
                fn()
                times[name].append(time.process_time() - start)
                walls[name].append(time.perf_counter() - wall)
    print(f'{args.what}, alpha={args.alpha}, {size:.1f} MB, {args.runs} interleaved rounds (CPU time)')
    if args.what.startswith('train'):
        for name in fns:
            print(f'  {name}: median wall {statistics.median(walls[name]):.1f} s, '
                  f'CPU {statistics.median(times[name]):.1f} s')
    for name, ts in times.items():
        print(f'  {name}: median {size / statistics.median(ts):.2f} MB/s, best {size / min(ts):.2f} MB/s')
    ratios = sorted(o / t for o, t in zip(times['other'], times['this']))
    print(f'  this / other speed: median of the per-round ratios {statistics.median(ratios):.3f} '
          f'(rounds {ratios[0]:.2f}-{ratios[-1]:.2f}); ratio of the medians '
          f'{statistics.median(times["other"]) / statistics.median(times["this"]):.3f}')


if __name__ == '__main__':
    main()
