"""Compression benchmark: bytes per token of vocabulary trainers, at the same
sizes, on text none of them trained on; and the training time and memory of
our two methods on the whole corpus.

    python benchmarks/compression.py [--corpus ../shared/corpus/dev.jsonl.xz] [--sizes 8000 32000 64000]
                                     [--trainers unigram bytepiece hf-bytelevel hf-whole sp-unigram sp-bpe]
                                     [--workers 2] [--runs 3] [--skip-time] [--json results.json]
                                     [--ref-python REF_VENV/bin/python] [--other-sources DIR]

Split: documents whose ``src`` is ``reference.*`` or ``fortunes-zh.chinese``
are the out-of-domain test; of the others, in corpus order, every 10th is
the in-domain test and the rest is the training text. Sizes count ids:
our ``vocab_size`` (3 special ids included), the peers' vocabulary size.

Trainers (all on the same training documents):
- ``unigram``, ``bytepiece``: ``Trainer(method=...)``, one run for all sizes
  (defaults otherwise: ``min_count=2``; ``--holdout`` of the unigram
  method, default 0, so that it trains on the same text as its peers);
- ``hf-bytelevel``: HF ``tokenizers`` BPE with the ByteLevel pre-tokenizer
  (GPT-2's regex);
- ``hf-whole``: HF BPE with no pre-tokenizer over byte-level strings of whole
  documents (every byte one character), ``max_token_length=16``: pieces may
  cross whitespace and newlines;
- ``sp-unigram``, ``sp-bpe``: SentencePiece on the documents' lines with
  ``split_by_whitespace=False``, ``max_sentencepiece_length=16``,
  ``byte_fallback``, identity normalization, no dummy prefix (a newline, which
  SentencePiece never puts in a piece, costs a byte token).
The HF BPE runs train once at the largest size; a smaller size keeps the
first merges, which is what training at that size gives (BPE's merges do not
depend on the size asked for). Bytes per token: UTF-8 bytes of the test
documents over the tokens of encoding each whole document (ours: ``encode``,
Viterbi; with ``--penalty-loss`` also without the unigram model's token
penalty, which is what BytePiece 0.6.3 reads from the file).

With ``--ref-python`` (a venv with BytePiece 0.6.3), the unigram models are
saved and loaded by BytePiece 0.6.3, which encodes the test documents: the
report gives how many of them get the same ids as ours.

With ``--other-sources DIR``, every trainer is also measured on text of five
sources outside the dev corpus (English fortunes, the GNU standards, Chinese
man pages, Python and C headers of other projects: ``other_sources.py``,
fetched from Debian into ``DIR`` on first use), together and per source.

Time and memory: ``Trainer(method=m, max_vocab_size=32000)`` on the whole
corpus with ``workers``, each in a fresh process (after one warm-up run that
fills the numba cache), ``runs`` times alternating; medians of wall and CPU
time, peak RSS of the process tree.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from benchmarks import other_sources  # noqa: E402
from benchmarks.common import DEFAULT_CORPUS, machine, run_measured  # noqa: E402

TRAINERS = ('unigram', 'bytepiece', 'hf-bytelevel', 'hf-whole', 'sp-unigram', 'sp-bpe')
OUT_OF_DOMAIN = ('reference.', 'fortunes-zh.chinese')
OTHER = 'other sources'


def split(path):
    """``(train, in_domain, out_of_domain)``: a list of texts, then lists of
    ``(src, text)`` pairs."""
    import lzma
    train, held, outside = [], [], []
    opener = lzma.open if path.endswith('.xz') else open
    with opener(path, 'rt', encoding='utf-8') as f:
        for line in f:
            doc = json.loads(line)
            if doc['src'].startswith(OUT_OF_DOMAIN[0]) or doc['src'] == OUT_OF_DOMAIN[1]:
                outside.append((doc['src'], doc['text']))
            elif (len(train) + len(held)) % 10 == 9:
                held.append((doc['src'], doc['text']))
            else:
                train.append(doc['text'])
    return train, held, outside


# ---------------------------------------------------------------- trainers: each returns {size: count_tokens}

REF_ENCODE = r'''
import json, sys
from bytepiece import Tokenizer
tok = Tokenizer(sys.argv[1])
texts = json.load(open(sys.argv[2], encoding='utf-8'))
json.dump([tok.encode(t) for t in texts], open(sys.argv[3], 'w'))
'''


def bytepiece_parity(trainer, sizes, texts, ref_python, tmp):
    """Per size: of ``texts``, how many BytePiece 0.6.3 encodes, with the
    saved model, to the ids of our tokenizer of that file, and to the ids of
    ours without the token penalty (what BytePiece's format holds)."""
    import subprocess
    from bytepiece import Tokenizer
    paths = trainer.save(os.path.join(tmp, f'{trainer.method}.model'))
    source = os.path.join(tmp, 'parity-texts.json')
    with open(source, 'w', encoding='utf-8') as f:
        json.dump(texts, f)
    same = {}
    for size, path in zip(trainer.max_vocab_size, paths):
        out = os.path.join(tmp, f'parity-{size}.json')
        subprocess.run([ref_python, '-c', REF_ENCODE, path, source, out], check=True, cwd=tmp)
        theirs = json.load(open(out))
        ours = Tokenizer(path).encode_batch(texts)
        plain = Tokenizer(_plain_model(trainer, size)).encode_batch(texts)
        same[size] = (sum(a == b for a, b in zip(ours, theirs)), sum(a == b for a, b in zip(plain, theirs)))
    return same


def ours(method, train, sizes, workers, penalty_loss, holdout):
    """Our trainer: one run; per size a function from texts to token counts;
    the trainer."""
    from bytepiece import Tokenizer, Trainer
    trainer = Trainer(max_vocab_size=sizes, method=method)
    start = time.perf_counter()
    trainer.train(train, workers=workers, progress=False, holdout=holdout if method == 'unigram' else 0.0)
    seconds = time.perf_counter() - start
    counters = {}
    for size in sizes:
        tok = trainer.tokenizer(size)
        counters[size] = _our_counter(tok)
        if penalty_loss and tok.vocab.token_penalty:
            plain = Tokenizer(_plain_model(trainer, size))
            counters[f'{size}, no penalty'] = _our_counter(plain)
    return counters, seconds, trainer


def _plain_model(trainer, size):
    from bytepiece.core.model import model_dict
    return model_dict(trainer.pieces[trainer.max_vocab_size.index(size)], {'normalization': 'NFC'})


def _our_counter(tok):
    return lambda texts: int(tok.encode_batch_to_numpy(texts).ids.size)


def _byte_level(texts):
    from bytepiece.exports.huggingface import byte_level
    return [byte_level(t.encode('utf-8')) for t in texts]


def hf_bpe(kind, train, sizes):
    """HF BPE trained once at the largest size, cut to each size."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if kind == 'hf-bytelevel':
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        bpe = trainers.BpeTrainer(vocab_size=max(sizes), initial_alphabet=alphabet, show_progress=False)
        texts = train
    else:
        bpe = trainers.BpeTrainer(vocab_size=max(sizes), max_token_length=16, initial_alphabet=alphabet,
                                  show_progress=False)
        texts = _byte_level(train)
    start = time.perf_counter()
    tok.train_from_iterator(texts, bpe)
    seconds = time.perf_counter() - start
    model = json.loads(tok.to_str())['model']
    counters = {}
    for size in sizes:
        cut = Tokenizer(models.BPE(vocab={k: i for k, i in model['vocab'].items() if i < size},
                                   merges=[tuple(m) if isinstance(m, list) else tuple(m.split(' '))
                                           for m in model['merges'][:size - (len(model['vocab']) -
                                                                             len(model['merges']))]]))
        if kind == 'hf-bytelevel':
            cut.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            counters[size] = lambda texts, cut=cut: sum(len(e.ids) for e in cut.encode_batch(texts))
        else:
            counters[size] = lambda texts, cut=cut: sum(len(e.ids) for e in cut.encode_batch(_byte_level(texts)))
    return counters, seconds


def sentencepiece(kind, train, sizes, workers, tmp):
    """SentencePiece, one training per size."""
    import sentencepiece as spm
    path = os.path.join(tmp, 'sp-train.txt')
    with open(path, 'w', encoding='utf-8') as f:
        for text in train:
            f.writelines(line + '\n' for line in text.split('\n') if line)
    counters, seconds = {}, 0.0
    for size in sizes:
        prefix = os.path.join(tmp, f'{kind}-{size}')
        start = time.perf_counter()
        spm.SentencePieceTrainer.train(
            input=path, model_prefix=prefix, vocab_size=size, model_type=kind[3:], split_by_whitespace=False,
            max_sentencepiece_length=16, byte_fallback=True, normalization_rule_name='identity',
            add_dummy_prefix=False, remove_extra_whitespaces=False, num_threads=workers, minloglevel=2,
            train_extremely_large_corpus=False)
        seconds += time.perf_counter() - start
        sp = spm.SentencePieceProcessor(model_file=prefix + '.model')
        counters[size] = lambda texts, sp=sp: sum(map(len, sp.encode(texts)))
    return counters, seconds


# ---------------------------------------------------------------- measures

def compression(args, train, held, outside, other, tmp):
    """Bytes per token of every trainer and size: ``{trainer: {size: {test: value}}}``, training seconds."""
    tests = {'out of domain': [t for _, t in outside], 'in domain': [t for _, t in held]}
    if other:
        tests[OTHER] = [t for _, t in other]
    for src in sorted({s for s, _ in outside + other}):
        tests[src] = [t for s, t in outside + other if s == src]
    for src in sorted({s for s, _ in held}):
        tests[f'in domain, {src}'] = [t for s, t in held if s == src]
    sizes_bytes = {name: sum(len(t.encode('utf-8')) for t in texts) for name, texts in tests.items()}
    table, seconds = {}, {}
    for name in args.trainers:
        print(f'training {name} ...', file=sys.stderr, flush=True)
        if name in ('unigram', 'bytepiece'):
            counters, seconds[name], trainer = ours(name, train, args.sizes, args.workers, args.penalty_loss,
                                                    args.holdout)
            if name == 'unigram' and args.ref_python:
                texts = [t for _, t in held + outside]
                same = bytepiece_parity(trainer, args.sizes, texts, args.ref_python, tmp)
                print('BytePiece 0.6.3 with the saved unigram models, identical ids on the test documents: ' +
                      '; '.join(f'{size}: {a}/{len(texts)} as ours, {b}/{len(texts)} as ours without the token '
                                f'penalty' for size, (a, b) in same.items()))
        elif name.startswith('hf-'):
            counters, seconds[name] = hf_bpe(name, train, args.sizes)
        else:
            counters, seconds[name] = sentencepiece(name, train, args.sizes, args.workers, tmp)
        table[name] = {str(size): {test: sizes_bytes[test] / counter(texts) for test, texts in tests.items()}
                       for size, counter in counters.items()}
    return table, seconds


CHILD = r'''
import json, os, sys, time
sys.path.insert(0, {root!r})
from bytepiece import Trainer
from benchmarks.common import read_texts
texts = read_texts({corpus!r})
t = time.time()
trainer = Trainer(max_vocab_size=32000, method={method!r})
trainer.train(texts, workers={workers}, progress=False)
print(json.dumps({{'seconds': time.time() - t, 'pieces': len(trainer.pieces[0]), 'cpu': sum(os.times()[:2])}}))
'''


def training_cost(args):
    """Medians of wall s, train s, CPU s and peak RSS of both methods, alternating runs."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = {m: CHILD.format(root=root, corpus=args.corpus, method=m, workers=args.workers)
            for m in ('bytepiece', 'unigram')}
    for m in code:  # warm-up: the numba cache
        run_measured(sys.executable, code[m])
    runs = {m: [] for m in code}
    for _ in range(args.runs):
        for m in code:
            load = os.getloadavg()[0]
            wall, (rss, _), info = run_measured(sys.executable, code[m])
            runs[m].append((wall, info['seconds'], info['cpu'], rss / 1e6, load, info['pieces']))
    return {m: [statistics.median(col) for col in zip(*rows)] for m, rows in runs.items()}


def print_tables(args, table, seconds, cost):
    tests = ['out of domain', 'in domain'] + sorted(k for k in next(iter(table.values()))[str(args.sizes[0])]
                                                    if k not in ('out of domain', 'in domain'))
    print_per_source(args, table, [t for t in tests if t.startswith('in domain, handbook')])
    for test in (t for t in tests if not t.startswith('in domain, ')):
        print(f'\n### {test}: bytes per token\n')
        print('| trainer | train s | ' + ' | '.join(str(s) for s in args.sizes) + ' |')
        print('|---|---:|' + '---:|' * len(args.sizes))
        for name, rows in table.items():
            print(f'| {name} | {seconds[name]:.0f} | ' + ' | '.join(
                f'{rows[str(s)][test]:.3f}' for s in args.sizes) + ' |')
            if f'{args.sizes[0]}, no penalty' in rows:
                print(f'| {name}, without its token penalty (as BytePiece 0.6.3 reads the file) | | ' + ' | '.join(
                    f"{rows[f'{s}, no penalty'][test]:.3f}" for s in args.sizes) + ' |')
    ratios = ('out of domain', 'in domain') + ((OTHER,) if OTHER in tests else ())
    for ref in ('hf-whole', 'hf-bytelevel'):
        if ref in table and 'unigram' in table:
            print(f'\nunigram / {ref}: ' + '; '.join(
                f'{s}: ' + ', '.join(f'{test} {table["unigram"][str(s)][test] / table[ref][str(s)][test]:.3f}x'
                                     for test in ratios) for s in args.sizes))
    if cost:
        print('\n### training on the whole corpus, max_vocab_size=32000, workers=%d (medians of %d runs)\n'
              % (args.workers, args.runs))
        print('| method | wall s | train s | CPU s | peak RSS MB | load (1 min) | pieces |')
        print('|---|---:|---:|---:|---:|---:|---:|')
        for m, (wall, train_s, cpu, rss, load, pieces) in cost.items():
            print(f'| {m} | {wall:.1f} | {train_s:.1f} | {cpu:.1f} | {rss:.0f} | {load:.2f} | {pieces:.0f} |')
        b, u = cost['bytepiece'], cost['unigram']
        print(f'\nunigram / bytepiece: train time {u[1] / b[1]:.2f}x, peak RSS {u[3] / b[3]:.2f}x')


def print_per_source(args, table, tests):
    """One table per size: bytes per token of every trainer on each test,
    and ours over HF byte-level BPE's."""
    for size in map(str, args.sizes):
        print(f'\n### {size}: bytes per token per handbook language (held-back tenth)\n')
        names = list(table)
        ratio = 'unigram' in table and 'hf-bytelevel' in table
        print('| language | ' + ' | '.join(names) + (' | unigram / hf-bytelevel |' if ratio else ' |'))
        print('|---|' + '---:|' * (len(names) + ratio))
        for test in tests:
            row = [table[n][size][test] for n in names]
            extra = f' {table["unigram"][size][test] / table["hf-bytelevel"][size][test]:.3f}x |' if ratio else ''
            print(f'| {test.rsplit(".", 1)[-1]} | ' + ' | '.join(f'{v:.3f}' for v in row) + ' |' + extra)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--corpus', default=DEFAULT_CORPUS)
    parser.add_argument('--sizes', type=int, nargs='+', default=[8000, 32000, 64000])
    parser.add_argument('--trainers', nargs='+', default=list(TRAINERS), choices=TRAINERS)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--skip-time', action='store_true')
    parser.add_argument('--penalty-loss', action='store_true')
    parser.add_argument('--holdout', type=float, default=0.0,
                        help='documents our unigram trainer holds back of the training part (default 0: it trains '
                             'on the same text as its peers)')
    parser.add_argument('--json')
    parser.add_argument('--ref-python', help='python of a venv with BytePiece 0.6.3: encode with it too')
    parser.add_argument('--other-sources', metavar='DIR',
                        help='also measure on text of other sources, fetched from Debian into DIR on first use')
    args = parser.parse_args()
    print(f'# compression, {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; {machine()}; '
          f'load {os.getloadavg()[0]:.2f}')
    train, held, outside = split(args.corpus)
    other = other_sources.load(args.other_sources) if args.other_sources else []
    print(f'train {len(train)} docs, {sum(len(t.encode()) for t in train) / 1e6:.1f} MB; in domain {len(held)} '
          f'docs; out of domain {len(outside)} docs; other sources {len(other)} docs')
    with tempfile.TemporaryDirectory() as tmp:
        table, seconds = compression(args, train, held, outside, other, tmp)
    cost = None if args.skip_time else training_cost(args)
    print_tables(args, table, seconds, cost)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'table': table, 'seconds': seconds, 'cost': cost}, f, indent=1)


if __name__ == '__main__':
    main()
