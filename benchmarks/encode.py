"""Encode throughput: bytepiece vs SentencePiece (and HF tokenizers when
installed), on the same vocabulary and the same texts.

The vocabulary is converted with ``convert_to_sentencepiece`` (and
``convert_to_huggingface``). Two single-threaded settings: a loop of per-text
``encode`` calls, and one call over all texts (``encode_batch(num_threads=1)``
vs ``sp.encode(list, num_threads=1)``). Rounds are interleaved (each round
times every row once) and medians are reported, from wall clock and, in
parentheses, from process CPU time.

    python benchmarks/encode.py [--corpus PATH] [--model PATH] [--mb 8] [--runs 5]
"""

import argparse
import datetime
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from benchmarks.common import (add_common_args, huggingface_peer, interleaved_medians, load_texts_mb,  # noqa: E402
                               machine, mb, sentencepiece_peer)
from bytepiece import Tokenizer  # noqa: E402

BAR = 3.0  # issue 2: at least 3x SentencePiece, single-threaded


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    args = parser.parse_args()
    texts = load_texts_mb(args.corpus, args.mb, args.lines)
    size = mb(texts)
    tokenizer = Tokenizer(args.model)
    print(f'{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}')
    print(f'{len(texts)} {"lines" if args.lines else "texts"} (mean {size * 1e6 / len(texts):.0f} bytes), {size:.1f} MB, model {os.path.basename(args.model)}, {args.runs} interleaved rounds')
    with tempfile.TemporaryDirectory() as tmp:
        sp = sentencepiece_peer(tokenizer, tmp)
        hf = huggingface_peer(tokenizer, tmp)
        if sp:
            same = sum(sp.encode(t) == tokenizer.encode(t) for t in texts)
            print(f'texts with identical ids in SentencePiece: {same}/{len(texts)}')
        fns = {
            'bytepiece, per-text loop': lambda: [tokenizer.encode(t) for t in texts],
            'bytepiece, one call': lambda: tokenizer.encode_batch(texts, num_threads=1),
        }
        if sp:
            fns['sentencepiece, per-text loop'] = lambda: [sp.encode(t) for t in texts]
            fns['sentencepiece, one call'] = lambda: sp.encode(texts, num_threads=1)
        if hf:
            fns['hf tokenizers, per-text loop'] = lambda: [hf.encode(t, add_special_tokens=False).ids for t in texts]
        wall, cpu = interleaved_medians(fns, args.runs)
        print('| | MB/s wall (CPU) |\n|---|---:|')
        for name in fns:
            print(f'| {name} | {size / wall[name]:.2f} ({size / cpu[name]:.2f}) |')
        if sp:
            for setting in ('per-text loop', 'one call'):
                ours = size / wall[f'bytepiece, {setting}']
                peer = size / wall[f'sentencepiece, {setting}']
                verdict = 'met' if ours / peer >= BAR else 'NOT met'
                print(f'{setting}: bytepiece / SentencePiece = {ours / peer:.2f}x (bar {BAR}x): {verdict}')


if __name__ == '__main__':
    main()
