"""Model load time and automaton size, and the first encode in a fresh process.

Builds a synthetic vocabulary of the requested size from a corpus (the most
frequent word-like substrings, plus all 256 bytes), saves it, then in fresh
processes measures: Tokenizer construction (JSON parse, validation, trie
compile), the compiled arrays' size, and the first encode, with the numba
cache cold (emptied) and warm.

    python benchmarks/load.py [--corpus PATH] [--size 240000]
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from benchmarks.common import DEFAULT_CORPUS, read_texts  # noqa: E402
from bytepiece.core.model import save_model  # noqa: E402

PROBE = r'''
import json, sys, time
t0 = time.perf_counter()
from bytepiece import Tokenizer
t1 = time.perf_counter()
tk = Tokenizer(sys.argv[1])
t2 = time.perf_counter()
tk.encode("warm up: hello world, 你好世界")
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_encode_s": t3 - t2,
                  "automaton_mb": tk.vocab.nbytes / 1e6, "vocab_size": tk.vocab_size}))
'''


def synthetic_vocabulary(texts, size):
    counts = collections.Counter()
    for text in texts:
        words = re.findall(r'\s?\w{1,8}|\W{1,3}', text)
        counts.update(w.encode('utf-8') for w in words)
        counts.update((a + b).encode('utf-8') for a, b in zip(words, words[1:]))
    pieces = {bytes([b]): 1 for b in range(256)}
    for word, c in counts.most_common():
        if len(pieces) >= size:
            break
        pieces[word] = pieces.get(word, 0) + c
    return pieces


def clear_numba_cache():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bytepiece')
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(('.nbi', '.nbc')):
                os.unlink(os.path.join(folder, name))


def probe(model_path):
    out = subprocess.run([sys.executable, '-c', PROBE, model_path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--corpus', default=DEFAULT_CORPUS)
    parser.add_argument('--size', type=int, default=240000)
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    pieces = synthetic_vocabulary(read_texts(args.corpus), args.size)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'synthetic.model')
        save_model(pieces, path)
        print(f'synthetic model: {len(pieces)} pieces, {os.path.getsize(path) / 1e6:.1f} MB JSON')
        clear_numba_cache()
        cold = probe(path)
        print('cold numba cache:', json.dumps(cold))
        warm = [probe(path) for _ in range(args.runs)]
        for key in ('import_s', 'load_s', 'first_encode_s'):
            values = sorted(w[key] for w in warm)
            print(f'warm cache {key}: median {values[len(values) // 2]:.3f} s (runs: {", ".join(f"{v:.3f}" for v in values)})')
        print(f'automaton: {warm[0]["automaton_mb"]:.1f} MB')


if __name__ == '__main__':
    main()
