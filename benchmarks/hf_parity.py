"""Parity of the HF tokenizers export with our ids on the golden files.

For each public model: convert with ``convert_to_huggingface``, load with
``tokenizers.Tokenizer.from_file`` and compare its ids with the reference
ids of every text of ``../shared/golden/encode*.<model>.jsonl`` (ours equal
them). Prints the share of identical texts and the first divergences.

    python benchmarks/hf_parity.py [--golden DIR] [--models DIR]
"""

import argparse
import glob
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from benchmarks.common import SHARED  # noqa: E402
from bytepiece import Tokenizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--golden', default=os.path.join(SHARED, 'golden'))
    parser.add_argument('--models', default=os.path.join(SHARED, 'models'))
    args = parser.parse_args()
    import tokenizers
    total = same_total = 0
    for model in sorted(glob.glob(os.path.join(args.models, '*.zip'))):
        name = os.path.basename(model)[:-len('.zip')]
        tokenizer = Tokenizer(model)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'tokenizer.json')
            tokenizer.convert_to_huggingface(path)
            hf = tokenizers.Tokenizer.from_file(path)
        for golden in sorted(glob.glob(os.path.join(args.golden, f'encode*.{name}.jsonl'))):
            with open(golden, encoding='utf-8') as f:
                records = [json.loads(line) for line in f]
            encodings = hf.encode_batch([r['text'] for r in records], add_special_tokens=False)
            bad = [(r, e.ids) for r, e in zip(records, encodings) if e.ids != r['ids']]
            same = len(records) - len(bad)
            total += len(records)
            same_total += same
            print(f'{name:24} {os.path.basename(golden):45} {same}/{len(records)} identical')
            for record, ids in bad[:3]:
                k = next((i for i, (a, b) in enumerate(zip(ids, record['ids'])) if a != b),
                         min(len(ids), len(record['ids'])))
                print(f'    diverges at token {k}: hf {ids[k:k + 3]} ours {record["ids"][k:k + 3]} '
                      f'in {record["text"][:60]!r}')
    print(f'all: {same_total}/{total} = {100 * same_total / max(total, 1):.2f}% identical')


if __name__ == '__main__':
    main()
