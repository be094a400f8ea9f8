"""Encode throughput: bytepiece vs SentencePiece (same vocabulary, same texts).

The vocabulary is converted with ``convert_to_sentencepiece``. Two settings,
both single-threaded: a loop of per-text ``encode`` calls, and one call over
all texts (``encode_batch(num_threads=1)`` vs ``sp.encode(list, num_threads=1)``).
Medians of ``--runs`` runs.

    python benchmarks/encode.py [--corpus PATH] [--model PATH] [--mb 8] [--runs 5]
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from benchmarks.common import add_common_args, load_texts_mb, mb, median_time, report, sentencepiece_peer  # noqa: E402
from bytepiece import Tokenizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    args = parser.parse_args()
    texts = load_texts_mb(args.corpus, args.mb)
    size = mb(texts)
    tokenizer = Tokenizer(args.model)
    print(f'{len(texts)} texts, {size:.1f} MB, model {os.path.basename(args.model)}, runs {args.runs}')
    with tempfile.TemporaryDirectory() as tmp:
        sp = sentencepiece_peer(tokenizer, tmp)
        same = sum(sp.encode(t) == tokenizer.encode(t) for t in texts) if sp else 0
        if sp:
            print(f'texts with identical ids in SentencePiece: {same}/{len(texts)}')
        settings = {
            'per-text loop': {
                'bytepiece': lambda: [tokenizer.encode(t) for t in texts],
                'sentencepiece': sp and (lambda: [sp.encode(t) for t in texts]),
            },
            'one call, 1 thread': {
                'bytepiece': lambda: tokenizer.encode_batch(texts, num_threads=1),
                'sentencepiece': sp and (lambda: sp.encode(texts, num_threads=1)),
            },
        }
        for setting, fns in settings.items():
            rows = []
            for name, fn in fns.items():
                if fn:
                    seconds, _ = median_time(fn, args.runs)
                    rows.append((name, size / seconds))
            print(f'{setting}:')
            report(rows, 'sentencepiece' if sp else 'bytepiece')


if __name__ == '__main__':
    main()
