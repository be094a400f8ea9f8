"""Trainer benchmark: parity with BytePiece 0.6.3's golden runs, speed, memory, growth.

    python benchmarks/train.py [--corpus ../shared/corpus/dev.jsonl.xz] [--golden ../shared/golden]
                               [--ref-python /path/to/ref-venv/bin/python] [--skip-growth]

1. Parity: retrains the two golden runs of ``train.meta.json`` (slices of the
   dev corpus) and compares with the reference's models: identical pieces and
   counts, Jaccard similarity of the piece sets, and compression (bytes per
   token) of both models on held-out documents (lines 2::30, in neither slice).
   The reference's seconds in this table are the ones stored in
   ``train.meta.json`` (measured when the golden runs were made), not timed here.
2. Speed and memory: the whole corpus, order=6, max_vocab_size=32000,
   min_count=8, workers=2, in a fresh process; wall time and peak resident
   memory summed over the process tree (psutil, polled every 10 ms). With
   ``--ref-python`` the reference runs the same job the same way (about 3 min).
3. Growth: the same job on 1/4, 1/2 and all of the corpus (1x, 2x, 4x of
   distinct text), then on the corpus repeated 2 and 4 times (counts grow, so
   more n-grams and pieces pass min_count, but no new text).
"""

import argparse
import base64
import json
import lzma
import os
import sys
import tempfile
import time

from common import run_measured  # noqa: E402  (benchmarks/ is the script's folder)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), 'shared')


def read_lines(path):
    opener = lzma.open if path.endswith('.xz') else open
    with opener(path, 'rt', encoding='utf-8') as f:
        return f.read().splitlines()


class Docs:
    """Re-iterable texts of a jsonl corpus: every ``step``-th line from
    ``start``, the whole repeated ``repeat`` times."""

    def __init__(self, path, start=0, step=1, repeat=1, field='text'):
        self.path, self.start, self.step, self.repeat, self.field = path, start, step, repeat, field

    def __iter__(self):
        for _ in range(self.repeat):
            opener = lzma.open if self.path.endswith('.xz') else open
            with opener(self.path, 'rt', encoding='utf-8') as f:
                for i, line in enumerate(f):
                    if i >= self.start and (i - self.start) % self.step == 0:
                        yield json.loads(line)[self.field]


# ---------------------------------------------------------------- child processes

CHILD_OURS = r'''
import json, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {here!r})
from train import Docs
from bytepiece.trainer import Trainer
t = time.time()
trainer = Trainer(order=6, max_vocab_size=32000, min_count=8)
trainer.train(Docs({corpus!r}, {start}, {step}, {repeat}), workers={workers}, progress=False)
trainer.save({out!r})
import os
print(json.dumps({{'seconds': time.time() - t, 'pieces': len(trainer.pieces[0]), 'cpu': sum(os.times()[:2])}}))
'''

CHILD_REF = r'''
import json, lzma, sys, time
from bytepiece.bytepiece import Trainer
class Docs:
    def __iter__(self):
        with lzma.open({corpus!r}, 'rt', encoding='utf-8') as f:
            for line in f:
                yield json.loads(line)['text']
t = time.time()
trainer = Trainer(order=6, max_vocab_size=32000, min_count=8)
trainer.train(Docs(), workers={workers})
trainer.save({out!r})
print(json.dumps({{'seconds': time.time() - t, 'pieces': len(trainer.pieces[0])}}))
'''


# ---------------------------------------------------------------- parity

def load_counts(path):
    with open(path, encoding='utf-8') as f:
        return {base64.b64decode(k): v[2] for k, v in json.load(f).items()}


def bytes_per_token(model_path, texts):
    from bytepiece import Tokenizer
    tok = Tokenizer(model_path)
    n_bytes = sum(len(t.encode('utf-8')) for t in texts)
    n_tokens = sum(len(tok.encode(t)) for t in texts)
    return n_bytes / n_tokens


def parity(corpus, golden, tmp):
    from bytepiece.trainer import Trainer
    meta = json.load(open(os.path.join(golden, 'train.meta.json')))
    lines = read_lines(corpus)
    held_out = [json.loads(line)['text'] for line in lines[2::30]]
    rows = []
    for name, (start, step) in (('a', (0, 3)), ('b', (1, 12))):
        texts = [json.loads(line)['text'] for line in lines[start::step]]
        trainer = Trainer(**meta[name]['params'])
        t = time.time()
        trainer.train(texts, workers=1, progress=False)
        seconds = time.time() - t
        paths = trainer.save(os.path.join(tmp, f'train.{name}.model'))
        for path in paths:
            ref_path = os.path.join(golden, os.path.basename(path))
            ours, ref = load_counts(path), load_counts(ref_path)
            jaccard = len(ours.keys() & ref.keys()) / len(ours.keys() | ref.keys())
            rows.append({
                'model': os.path.basename(path), 'pieces': len(ours), 'identical': ours == ref,
                'jaccard': jaccard, 'seconds': seconds, 'ref_seconds_workers1': meta[name]['seconds_workers1'],
                'bytes_per_token': bytes_per_token(path, held_out),
                'ref_bytes_per_token': bytes_per_token(ref_path, held_out),
            })
    return rows, len(held_out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--corpus', default=os.path.join(SHARED, 'corpus', 'dev.jsonl.xz'))
    ap.add_argument('--golden', default=os.path.join(SHARED, 'golden'))
    ap.add_argument('--ref-python', default=None, help='python of a venv with BytePiece 0.6.3: run it too')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--skip-parity', action='store_true')
    ap.add_argument('--skip-growth', action='store_true')
    args = ap.parse_args()
    sys.path.insert(0, ROOT)
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_parity:
            rows, n_held = parity(args.corpus, args.golden, tmp)
            print(f'## Parity with the golden runs (held-out: {n_held} documents)')
            print('| model | pieces | identical pieces+counts | Jaccard | bytes/token ours | bytes/token ref '
                  '| train s (workers=1) | ref s (workers=1) |')
            print('|---|---|---|---|---|---|---|---|')
            for r in rows:
                print(f"| {r['model']} | {r['pieces']} | {r['identical']} | {r['jaccard']:.4f} "
                      f"| {r['bytes_per_token']:.3f} | {r['ref_bytes_per_token']:.3f} "
                      f"| {r['seconds']:.1f} | {r['ref_seconds_workers1']:.1f} |")
            print(flush=True)

        def ours(start=0, step=1, repeat=1):
            out = os.path.join(tmp, 'full.model')
            code = CHILD_OURS.format(root=ROOT, here=HERE, corpus=args.corpus, start=start, step=step,
                                     repeat=repeat, workers=args.workers, out=out)
            return run_measured(python, code) + (out,)

        # warm the numba cache so that the timed run loads compiled kernels
        run_measured(python, CHILD_OURS.format(root=ROOT, here=HERE, corpus=args.corpus, start=0, step=200,
                                               repeat=1, workers=args.workers, out=os.path.join(tmp, 'w')))
        wall, (rss, pss), info, out = ours()
        print('## 22 MB corpus, order=6, max_vocab_size=32000, min_count=8, workers=%d' % args.workers)
        print('| trainer | wall s (incl. start-up) | train s | CPU s (user+sys) | peak RSS, process tree (MB) '
              '| peak PSS, process tree (MB) | pieces |')
        print('|---|---|---|---|---|---|---|')
        print(f"| bytepiece (this) | {wall:.1f} | {info['seconds']:.1f} | {info['cpu']:.1f} | {rss / 1e6:.0f} "
              f"| {pss / 1e6:.0f} | {info['pieces']} |")
        if args.ref_python:
            ref_out = os.path.join(tmp, 'ref_full.model')
            rwall, (rrss, rpss), rinfo = run_measured(
                args.ref_python, CHILD_REF.format(corpus=args.corpus, workers=args.workers, out=ref_out))
            print(f"| BytePiece 0.6.3 | {rwall:.1f} | {rinfo['seconds']:.1f} | | {rrss / 1e6:.0f} | {rpss / 1e6:.0f} "
                  f"| {rinfo['pieces']} |")
            a, b = load_counts(out), load_counts(ref_out)
            jaccard = len(a.keys() & b.keys()) / len(a.keys() | b.keys())
            print(f'\nspeed-up (wall) {rwall / wall:.1f}x; memory ours/ref: RSS {rss / rrss:.3f}, '
                  f'PSS {pss / rpss:.3f}; identical pieces+counts: {a == b}, Jaccard {jaccard:.4f}')
        print(flush=True)

        if not args.skip_growth:
            print('## Growth (same parameters; distinct text: every 4th, every 2nd, every document; '
                  'then the whole corpus repeated)')
            print('| corpus | MB | wall s | train s | CPU s | peak RSS (MB) | peak PSS (MB) | pieces |')
            print('|---|---|---|---|---|---|---|---|')
            for label, mb, kw in (('1x (lines 0::4)', 5.5, dict(step=4)), ('2x (lines 0::2)', 11, dict(step=2)),
                                  ('4x (all)', 22, {}), ('8x (all, repeated twice)', 44, dict(repeat=2)),
                                  ('16x (all, repeated 4 times)', 88, dict(repeat=4))):
                wall, (rss, pss), info, _ = ours(**kw)
                print(f"| {label} | {mb} | {wall:.1f} | {info['seconds']:.1f} | {info['cpu']:.1f} | {rss / 1e6:.0f} "
                      f"| {pss / 1e6:.0f} "
                      f"| {info['pieces']} |", flush=True)


if __name__ == '__main__':
    main()
