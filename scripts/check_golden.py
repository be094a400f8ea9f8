"""Check our ids against BytePiece 0.6.3's on the dev-corpus golden files.

``../shared/golden/encode.<model>.jsonl`` holds the reference's ids for 600
documents of the dev corpus. Those texts may not be committed, so this is a
local check, not a test. For every model it prints how many documents give
identical ids (Viterbi, per-text ``encode`` and one ``encode_batch`` call) and
the first mismatches; the exit status is 1 if any document differs.

    python scripts/check_golden.py [--golden DIR] [--models DIR]
"""

import argparse
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
from bytepiece import Tokenizer  # noqa: E402

SHARED = os.path.normpath(os.path.join(HERE, '..', '..', 'shared'))


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def check(model_file, golden_file, show):
    tok = Tokenizer(model_file)
    with open(golden_file, encoding='utf-8') as f:
        records = [json.loads(line) for line in f]
    texts = [r['text'] for r in records]
    batch = tok.encode_batch(texts)
    same = same_batch = 0
    shown = 0
    for index, (record, batch_ids) in enumerate(zip(records, batch)):
        ids = tok.encode(record['text'])
        same += ids == record['ids']
        same_batch += batch_ids == record['ids']
        if ids != record['ids'] and shown < show:
            shown += 1
            i = first_difference(ids, record['ids'])
            print(f'  document {index}: first difference at token {i}: '
                  f'ours {tok.ids_to_pieces(ids[i:i + 3])} reference {tok.ids_to_pieces(record["ids"][i:i + 3])}')
    n = len(records)
    size = sum(len(t.encode('utf-8')) for t in texts) / 1e6
    print(f'{os.path.basename(model_file)}: {same}/{n} documents identical (encode), '
          f'{same_batch}/{n} (encode_batch), {size:.1f} MB')
    return same == n and same_batch == n


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--golden', default=os.path.join(SHARED, 'golden'))
    parser.add_argument('--models', default=os.path.join(SHARED, 'models'))
    parser.add_argument('--show', type=int, default=5, help='mismatches to print per model')
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.golden, 'encode.*.jsonl')))
    if not files:
        sys.exit(f'no encode.*.jsonl in {args.golden}')
    ok = True
    for golden_file in files:
        name = os.path.basename(golden_file)[len('encode.'):-len('.jsonl')]
        model_file = os.path.join(args.models, name + '.zip')
        if not os.path.exists(model_file):
            print(f'{name}: model {model_file} not found')
            ok = False
            continue
        ok &= check(model_file, golden_file, args.show)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
