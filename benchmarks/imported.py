"""Imported SentencePiece and HF Unigram models: oracle files, id parity,
encode and sampling speed, and the sampling distribution.

    python benchmarks/imported.py --prepare DIR [--corpus PATH] [--sentences 300000] [--configs ...] [--sizes ...]
    python benchmarks/imported.py --parity DIR [--configs ...] [--sizes ...] [--show 2]
    python benchmarks/imported.py --speed DIR [--mb 4] [--runs 5]
    python benchmarks/imported.py --gtest DIR [--model default-32000] [--samples 4000] [--alphas 0.1 1.0]

``--prepare`` trains SentencePiece unigram models with SentencePiece's own
trainer on the lines of the training split of the dev corpus (``split`` of
benchmarks/compression.py; ``--sentences`` lines sampled, ``num_threads=2``),
at each size and configuration (see ``CONFIGS``), saved as
``DIR/{config}-{size}.model``. Each is also converted to HF tokenizer.json
files by transformers' converters: ``.hf-generic.json`` from
``SpmConverter.build_tokenizer_from_spm_proto`` (follows the model's
normaliser spec), and ``.hf-t5.json`` (``T5Converter``, no extra ids; models
without byte fallback) or ``.hf-llama.json`` (``LlamaConverter``, legacy; byte
fallback models), which follow the model family's settings, not the file's:
``llama_like`` is trained with Llama's settings, where ``LlamaConverter``
applies; on ``byte_fallback`` (NFKC) its output normalises nothing.
``DIR/texts.json`` holds ``held_back`` (the held-back tenth of the corpus) and
``hard`` (edge cases); ``DIR/prepare.json`` the training times.

``--parity`` compares, for every model file and every text, our ids
(``bytepiece.Tokenizer(path).encode``) with the reference's
(``SentencePieceProcessor.encode`` for ``.model``; for tokenizer.json,
``tokenizers.Tokenizer.encode(add_special_tokens=False)``), and our
``decode`` of the reference's ids with the reference's own; then the HF files'
ids with SentencePiece's ids of the same model. Shares are given over all
texts and, in parentheses, over the documents / the edge cases; ``--show N``
lists N more differing texts per HF file. A model we cannot load gets its
error in the table.

``--speed``: the 32k default model, single thread, interleaved rounds:
encode each document (``Tokenizer.encode`` vs ``SentencePieceProcessor.encode``)
and sample each document (``alpha=0.1``; SentencePiece with
``enable_sampling=True, nbest_size=-1``), on the held-back documents, then
out-of-domain ones, up to ``--mb`` MB. Then the same documents through
three ``tokenizer.json`` conversions of the 32k models (generic, T5, Llama
with byte fallback) against HF tokenizers, a call per text.

``--gtest``: for short texts, ``--samples`` segmentations drawn by
SentencePiece and by us; a two-sample G-test of homogeneity on the counts of
each segmentation (ids), cells with fewer than 10 draws in both samples
together pooled. Exact samplers of the same distribution give uniform
p-values: about one text in a thousand below 0.001.
"""

import argparse
import datetime
import json
import math
import os
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
from benchmarks.common import DEFAULT_CORPUS, interleaved_medians, machine, mb  # noqa: E402
from benchmarks.compression import split  # noqa: E402

SIZES = (8000, 32000)
USER_SYMBOLS = ['<sep>', '[MASK]', '@@', '§§']
CONFIGS = {
    'default': {},
    'identity': {'normalization_rule_name': 'identity'},
    'nmt_nfkc_cf': {'normalization_rule_name': 'nmt_nfkc_cf'},
    'byte_fallback': {'byte_fallback': True},
    'user_defined': {'user_defined_symbols': USER_SYMBOLS},
    'split_digits': {'split_digits': True},
    'no_dummy_prefix': {'add_dummy_prefix': False},
    # Llama's own training settings, which LlamaConverter's output assumes
    'llama_like': {'byte_fallback': True, 'normalization_rule_name': 'identity', 'remove_extra_whitespaces': False,
                   'split_digits': True, 'allow_whitespace_only_pieces': True},
}
HF_KINDS = ('hf-generic', 'hf-t5', 'hf-llama')


def hard_texts(held):
    """Edge cases: whitespace, control and unusual characters, unknown
    characters, literal special pieces, a 100 kB text."""
    texts = [
        '', ' ', '   ', '\t', '\n', '\r\n', ' a', 'a ', '  a  b   c  ', 'a\tb\t\tc', 'line one\nline two\n\n',
        'a\rb', '\r', ' \n ', '\x00', 'a\x00b', '\x01\x02\x1b[31mred\x1b[0m\x7f', '\x85\x9f',
        '\u3000', '全角\u3000スペース', 'ＡＢＣ１２３！？', 'ｶﾀｶﾅ', 'ﬁnance ﬂow ﬀ', '㍻ ㎏ ①②',
        '\u0301', 'e\u0301', 'a\u0301\u0302\u0303\u0304\u0305', 'Z\u0351\u0352\u0357\u0358\u035b\u0346',
        '\u1112\u1161\u11ab\u1100\u1173\u11af', '한국어 텍스트', 'क़ ख़ ग़', 'क\u093c', 'हिन्दी',
        '👨\u200d👩\u200d👧\u200d👦', '🏳\ufe0f\u200d🌈', '🇫🇷🇯🇵🇩🇪', '👍🏽👋🏿', '\ufffd', 'a\ufffdb',
        '\ue000\uf8ff', '\U000f0000\U0010fffd', '\u0378\u0379', '\U000e0080', '\u2028\u2029', '\u200b\u200d\ufeff',
        '𠀀𠀁𪚥', '𐀀𐀁𐀂𐀃', '𐀀𐀁𐀂𐀃𐀄𐀅𐀆𐀇 𐀈𐀉 a𐀊b', 'ꙮ', '᚛ᚁᚂᚃ᚜',
        '<unk>', '<s>', '</s>', '<s>hello</s>', '<0x41>', '<0x41><0xE2>', '▁', '▁▁a▁b', ' ▁ ',
        'a<sep>b', '[MASK]', 'x @@ y@@z', '§§', '§', 'a <sep> [MASK] @@ §§ b', '<sep><sep>',
        '0', '1234567890', '3.14159265358979 2026-12-07 1e-10 ٠١٢٣ ४२', '0' * 200,
        'a' * 3000, 'ab' * 1000, '中' * 500, ' ' * 300,
        'Mixed 中文, русский, ελληνικά, العربية, עברית and emoji 🙂.',
    ]
    long, total = [], 0
    for text in held:
        long.append(text)
        total += len(text.encode('utf-8')) + 1
        if total >= 100_000:
            break
    long = ' '.join(long).encode('utf-8')[:100_000].decode('utf-8', 'ignore')
    texts.append(long)
    return texts


# ---------------------------------------------------------------- --prepare

class _SpmStub:
    """What transformers' SpmConverter subclasses read of a slow tokenizer."""

    def __init__(self, path, proto):
        self.vocab_file = path
        self.legacy = True
        self.add_prefix_space = proto.normalizer_spec.add_dummy_prefix
        self._extra_ids = 0
        self._pieces = [p.piece for p in proto.pieces]

    def convert_tokens_to_ids(self, token):
        return self._pieces.index(token)

    def convert_ids_to_tokens(self, i):
        return self._pieces[i]


def convert_hf(path, base):
    """The HF tokenizer.json files of one .model; ``{kind: note}`` of what was written or skipped."""
    import warnings
    from sentencepiece import sentencepiece_model_pb2
    from transformers.convert_slow_tokenizer import LlamaConverter, SpmConverter, T5Converter
    proto = sentencepiece_model_pb2.ModelProto()
    with open(path, 'rb') as f:
        proto.ParseFromString(f.read())
    notes = {}
    tok = SpmConverter.build_tokenizer_from_spm_proto(proto, [(p.piece, p.score) for p in proto.pieces])
    tok.save(f'{base}.hf-generic.json')
    notes['hf-generic'] = 'written'
    family, converter = (('hf-llama', LlamaConverter) if proto.trainer_spec.byte_fallback
                         else ('hf-t5', T5Converter))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            converter(_SpmStub(path, proto)).converted().save(f'{base}.{family}.json')
        notes[family] = 'written'
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        notes[family] = f'skipped: {type(e).__name__}: {e}'
    return notes


def prepare(args):
    import sentencepiece as spm
    os.makedirs(args.prepare, exist_ok=True)
    train, held, _ = split(args.corpus)
    lines, count = os.path.join(args.prepare, 'train-lines.txt'), 0
    with open(lines, 'w', encoding='utf-8') as f:
        for text in train:
            for line in text.split('\n'):
                if line.strip():
                    f.write(line + '\n')
                    count += 1
    held = [t for _, t in held]
    with open(os.path.join(args.prepare, 'texts.json'), 'w', encoding='utf-8') as f:
        json.dump({'held_back': held, 'hard': hard_texts(held)}, f, ensure_ascii=False)
    log_path = os.path.join(args.prepare, 'prepare.json')
    log = {'corpus': args.corpus, 'lines': count, 'sentences': args.sentences, 'models': {}}
    if os.path.exists(log_path):  # an earlier run's models (other configurations) stay listed
        with open(log_path) as f:
            log['models'] = json.load(f)['models']
    for size in args.sizes:
        for config in args.configs:
            name = f'{config}-{size}'
            base = os.path.join(args.prepare, name)
            print(f'training {name} ...', file=sys.stderr, flush=True)
            start, cpu = time.perf_counter(), time.process_time()
            try:
                spm.SentencePieceTrainer.train(
                    input=lines, model_prefix=base, vocab_size=size, model_type='unigram', num_threads=2,
                    input_sentence_size=args.sentences, shuffle_input_sentence=True, minloglevel=2,
                    **CONFIGS[config])
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                log['models'][name] = {'error': f'{type(e).__name__}: {e}'}
                print(f'  {name}: {e}', file=sys.stderr)
                continue
            seconds = time.perf_counter() - start
            os.remove(base + '.vocab')
            notes = convert_hf(base + '.model', base)
            log['models'][name] = {'seconds': round(seconds, 1), 'cpu': round(time.process_time() - cpu, 1),
                                   'bytes': os.path.getsize(base + '.model'), 'hf': notes}
            print(f'  {name}: {seconds:.0f} s, {os.path.getsize(base + ".model") / 1e3:.0f} kB; {notes}',
                  file=sys.stderr, flush=True)
            with open(log_path, 'w') as f:
                json.dump(log, f, indent=1)
    os.remove(lines)
    print('| model | train s | .model kB | HF files |\n|---|---:|---:|---|')
    for name, info in log['models'].items():
        if 'error' in info:
            print(f'| {name} | failed: {info["error"]} | | |')
        else:
            print(f'| {name} | {info["seconds"]:.0f} | {info["bytes"] / 1e3:.0f} | '
                  + ', '.join(f'{k}: {v}' for k, v in info['hf'].items()) + ' |')


# ---------------------------------------------------------------- --parity

def load_texts(directory):
    """The held-back documents, then the edge cases; how many documents."""
    with open(os.path.join(directory, 'texts.json'), encoding='utf-8') as f:
        data = json.load(f)
    return data['held_back'] + data['hard'], len(data['held_back'])


def model_files(directory, configs, sizes):
    """``(name, path, kind)`` of every model file present: kind 'sp' or an HF kind."""
    files = []
    for size in sizes:
        for config in configs:
            base = os.path.join(directory, f'{config}-{size}')
            for kind, suffix in [('sp', '.model')] + [(k, f'.{k}.json') for k in HF_KINDS]:
                if os.path.exists(base + suffix):
                    files.append((f'{config}-{size}{suffix}', base + suffix, kind))
    return files


def short(text, width=40):
    text = repr(text)
    return text if len(text) <= width else text[:width - 3] + '...'


class Reference:
    """SentencePiece or HF tokenizers behind one interface."""

    def __init__(self, path, kind):
        self.kind = kind
        if kind == 'sp':
            import sentencepiece as spm
            self.sp = spm.SentencePieceProcessor(model_file=path)
        else:
            import tokenizers
            self.hf = tokenizers.Tokenizer.from_file(path)

    def encode(self, text):
        if self.kind == 'sp':
            return self.sp.encode(text)
        return self.hf.encode(text, add_special_tokens=False).ids

    def decode(self, ids):
        if self.kind == 'sp':
            return self.sp.decode(ids)
        return self.hf.decode(ids)  # HF's default, skip_special_tokens=True, as Tokenizer.decode

    def piece(self, i):
        if self.kind == 'sp':
            return self.sp.id_to_piece(i) if 0 <= i < self.sp.get_piece_size() else i
        return self.hf.id_to_token(i)


def agreement(texts, ours, theirs, ours_decode, theirs_decode):
    """Per text, whether the ids are identical and whether the reference's
    ids decode identically; the first text whose ids differ and the first
    whose decode differs. A call that raises counts as differing."""
    same_ids, same_dec = [], []
    first_ids = first_dec = None
    for text in texts:
        a = theirs(text)
        try:
            b = ours(text)
        except Exception as e:  # noqa: BLE001
            b = f'{type(e).__name__}: {e}'
        same_ids.append(a == b)
        if a != b and first_ids is None:
            first_ids = (text, a, b)
        try:
            x, y = theirs_decode(a), ours_decode(a)
        except Exception as e:  # noqa: BLE001
            x, y = None, f'{type(e).__name__}: {e}'
        same_dec.append(x == y)
        if x != y and first_dec is None:
            first_dec = (text, x, y)
    return same_ids, same_dec, first_ids, first_dec


def percent(same, docs):
    """Identical %: all texts (the documents / the edge cases)."""
    def pc(flags):
        return f'{100 * sum(flags) / len(flags):.1f}' if flags else '-'
    return f'{pc(same)} ({pc(same[:docs])} / {pc(same[docs:])})'


def where(first, piece, names):
    """The differing text and, around the first differing position, both id
    sequences as pieces (or the error)."""
    if first is None:
        return ''
    text, a, b = first
    if isinstance(b, str):
        return f'{short(text)}: {short(b, 60)}'
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    span = slice(max(0, i - 1), i + 3)
    return (f'{short(text)} at token {i}: {names[0]} {[piece(j) for j in a[span]]} vs '
            f'{names[1]} {[piece(j) for j in b[span]]}')


def where_decode(first):
    if first is None:
        return ''
    text, x, y = first
    i = next((k for k, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y))) if isinstance(y, str) else 0
    return f'{short(text)}: {short(x[max(0, i - 5):i + 15], 30)} vs {short(y[max(0, i - 5):i + 15], 30)}'


def parity(args):
    from bytepiece import Tokenizer
    texts, docs = load_texts(args.parity)
    files = model_files(args.parity, args.configs, args.sizes)
    print(f'# imported parity, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {len(texts)} texts: '
          f'{docs} held-back documents, {len(texts) - docs} edge cases. Identical %: all (documents / edge cases)')
    print('\n## bytepiece.Tokenizer(path) vs the reference (SentencePiece for .model, HF tokenizers for .json)\n')
    print('| model | texts | identical ids % | identical decode % | first differing ids | first differing decode |')
    print('|---|---:|---:|---:|---|---|')
    refs = {}
    for name, path, kind in files:
        refs[name] = ref = Reference(path, kind)
        try:
            ours = Tokenizer(path)
        except Exception as e:  # noqa: BLE001 - the loader may not exist yet
            print(f'| {name} | {len(texts)} | - | - | cannot load: {type(e).__name__}: {short(str(e), 80)} | |')
            continue
        same, dec, first, first_dec = agreement(texts, ours.encode, ref.encode, ours.decode, ref.decode)
        print(f'| {name} | {len(texts)} | {percent(same, docs)} | {percent(dec, docs)} | '
              f'{where(first, ref.piece, ("theirs", "ours"))} | {where_decode(first_dec)} |')
    print('\n## HF tokenizers (transformers-converted tokenizer.json) vs SentencePiece, same model\n')
    print('| model | texts | identical ids % | identical decode % | first differing ids | '
          'first differing decode (SentencePiece vs HF, of SentencePiece\'s ids) |')
    print('|---|---:|---:|---:|---|---|')
    for name, path, kind in files:
        if kind == 'sp':
            continue
        sp, hf = refs[name.split('.')[0] + '.model'], refs[name]
        same, dec, first, first_dec = agreement(texts, hf.encode, sp.encode, hf.decode, sp.decode)
        print(f'| {name} | {len(texts)} | {percent(same, docs)} | {percent(dec, docs)} | '
              f'{where(first, sp.piece, ("sp", "hf"))} | {where_decode(first_dec)} |')
        if args.show:
            shown = 0
            for text in texts[texts.index(first[0]) + 1:] if first else []:
                a, b = sp.encode(text), hf.encode(text)
                if a != b:
                    print(f'| | | | | {where((text, a, b), sp.piece, ("sp", "hf"))} | |')
                    shown += 1
                    if shown >= args.show:
                        break


# ---------------------------------------------------------------- --speed

def speed(args):
    import sentencepiece as spm
    from bytepiece import Tokenizer
    path = os.path.join(args.speed, 'default-32000.model')
    _, held, outside = split(args.corpus)
    texts, total = [], 0
    for _, text in held + outside:
        texts.append(text)
        total += len(text.encode('utf-8'))
        if total >= args.mb * 1e6:
            break
    size = mb(texts)
    sp = spm.SentencePieceProcessor(model_file=path)
    spm.set_random_generator_seed(1)
    print(f'# imported speed, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}')
    print(f'{len(texts)} documents ({min(len(texts), len(held))} held-back first, then out-of-domain), {size:.1f} MB, '
          f'model {os.path.basename(path)}, one thread, {args.runs} interleaved rounds; load {os.getloadavg()[0]:.2f}')
    fns = {
        'sentencepiece encode': lambda: [sp.encode(t) for t in texts],
        'sentencepiece encode, one batch': lambda: sp.encode(texts, num_threads=1),
        'sentencepiece sample, alpha=0.1': lambda: [sp.encode(t, enable_sampling=True, alpha=0.1, nbest_size=-1)
                                                    for t in texts],
    }
    try:
        ours = Tokenizer(path, seed=1)
    except Exception as e:  # noqa: BLE001 - the loader may not exist yet: SentencePiece alone
        ours = None
        print(f'bytepiece cannot load the model ({type(e).__name__}: {e}): SentencePiece only')
    if ours is not None:
        for text in texts[:20]:  # numba compiles (or loads its cache) before any timing
            ours.encode(text)
            ours.encode(text, alpha=0.1)
        same = sum(ours.encode(t) == sp.encode(t) for t in texts)
        print(f'documents with identical ids: {same}/{len(texts)}')
        fns['bytepiece encode'] = lambda: [ours.encode(t) for t in texts]
        fns['bytepiece encode, one batch'] = lambda: ours.encode_batch(texts, num_threads=1)
        fns['bytepiece encode, one batch to arrays'] = lambda: ours.encode_batch_to_numpy(texts, num_threads=1)
        fns['bytepiece sample, alpha=0.1'] = lambda: [ours.encode(t, alpha=0.1) for t in texts]
    wall, cpu = interleaved_medians(fns, args.runs)
    print('| | MB/s wall (CPU) |\n|---|---:|')
    for name in fns:
        print(f'| {name} | {size / wall[name]:.2f} ({size / cpu[name]:.2f}) |')
    hf_files = [('generic', 'default-32000.hf-generic.json'), ('T5', 'default-32000.hf-t5.json'),
                ('Llama, byte fallback', 'byte_fallback-32000.hf-llama.json')]
    if ours is not None:
        import tokenizers
        print('\nHF tokenizer.json conversions, a call per text, MB/s CPU:\n')
        print('| file | HF tokenizers | bytepiece | ratio |\n|---|---:|---:|---:|')
        for kind, name in hf_files:
            hf_path = os.path.join(args.speed, name)
            if not os.path.exists(hf_path):
                continue
            hf = tokenizers.Tokenizer.from_file(hf_path)
            ours_hf = Tokenizer(hf_path)
            _, hf_cpu = interleaved_medians({'hf': lambda: [hf.encode(t, add_special_tokens=False).ids for t in texts],
                                             'ours': lambda: [ours_hf.encode(t) for t in texts]}, args.runs)
            print(f'| {name} ({kind}) | {size / hf_cpu["hf"]:.2f} | {size / hf_cpu["ours"]:.2f} | '
                  f'{hf_cpu["hf"] / hf_cpu["ours"]:.2f}x |')
        print()
    if args.by_source and ours is not None:
        by_source(sp, ours, held + outside, args.runs)
    pairs = [('encode', 'encode'), ('sample, alpha=0.1', 'sample, alpha=0.1'),
             ('encode, one batch', 'encode, one batch'), ('encode, one batch', 'encode, one batch to arrays')]
    for theirs, mine in pairs if ours is not None else ():
        print(f'{mine}: bytepiece / SentencePiece ({theirs}) = '
              f'{wall[f"sentencepiece {theirs}"] / wall[f"bytepiece {mine}"]:.2f}x wall, '
              f'{cpu[f"sentencepiece {theirs}"] / cpu[f"bytepiece {mine}"]:.2f}x CPU')


def by_source(sp, ours, docs, runs):
    """Encode, a call per text, per source of the held-back and
    out-of-domain documents: MB/s CPU of each and the ratio."""
    groups = {}
    for src, text in docs:
        groups.setdefault(src, []).append(text)
    print('\n| source | MB | SentencePiece MB/s CPU | bytepiece MB/s CPU | ratio |\n|---|---:|---:|---:|---:|')
    for src, texts in sorted(groups.items()):
        size = mb(texts)
        _, cpu = interleaved_medians({'sp': lambda: [sp.encode(t) for t in texts],
                                      'ours': lambda: [ours.encode(t) for t in texts]}, runs)
        print(f'| {src} | {size:.2f} | {size / cpu["sp"]:.1f} | {size / cpu["ours"]:.1f} | '
              f'{cpu["sp"] / cpu["ours"]:.2f}x |')
    print()


# ---------------------------------------------------------------- --gtest

GTEST_TEXTS = [
    'hello world', 'Unigram model', 'the quick fox', 'tokenization', '  spaced  out', 'Debian package',
    'Paketverwaltung', 'gestionnaire de paquets', 'administración', 'управление пакетами', 'cấu hình mạng',
    '软件包管理系统', '設定ファイルを編集', '패키지 관리자', '春眠不觉晓，处处闻啼鸟', 'def __init__(self):',
    'import os, sys', 'x = 12345 + 678', 'ﬁnance ＡＢＣ', 'caf\u00e9 na\u0457ve', 'a𐀀𐀁b unknown', '𪚥 rare 𠀀',
    'emoji 🙂 here', 'मानक हिन्दी',
]


def two_sample_g(a, b, min_count=10):
    """G-test of homogeneity of two count tables (``Counter``): cells with
    fewer than ``min_count`` draws in both together are pooled (with the next
    smallest cell if the pool is still small). Returns ``(G, df, p)``."""
    sys.path.insert(0, os.path.join(HERE, '..', 'tests'))
    from conftest import chi2_sf
    cells, pool = [], [0, 0]
    for key in sorted(set(a) | set(b), key=lambda k: a[k] + b[k]):
        if a[key] + b[key] < min_count:
            pool[0] += a[key]
            pool[1] += b[key]
        else:
            cells.append((a[key], b[key]))
    if sum(pool):
        if sum(pool) < min_count and cells:
            x, y = cells.pop(0)
            pool = [pool[0] + x, pool[1] + y]
        cells.append(tuple(pool))
    na, nb = sum(a.values()), sum(b.values())
    n = na + nb
    g = 0.0
    for x, y in cells:
        for observed, total in ((x, na), (y, nb)):
            expected = total * (x + y) / n
            if observed:
                g += 2 * observed * math.log(observed / expected)
    df = len(cells) - 1
    return g, df, (chi2_sf(g, df) if df >= 1 else 1.0)


def gtest(args):
    import sentencepiece as spm
    from bytepiece import Tokenizer
    path = os.path.join(args.gtest, f'{args.model}.model')
    sp = spm.SentencePieceProcessor(model_file=path)
    spm.set_random_generator_seed(args.seed)
    try:
        ours = Tokenizer(path)
    except Exception as e:  # noqa: BLE001 - the loader may not exist yet
        print(f'cannot load {path}: {type(e).__name__}: {e}')
        return
    print(f'# imported sampling G-test, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; model '
          f'{os.path.basename(path)}, {args.samples} draws each from SentencePiece (nbest_size=-1) and from us')
    print('\n| text | alpha | segmentations seen (sp / ours / both) | G | df | p |\n|---|---:|---|---:|---:|---:|')
    low = tests = informative = 0
    for i, text in enumerate(GTEST_TEXTS):
        for alpha in args.alphas:
            theirs = Counter(tuple(sp.encode(text, enable_sampling=True, alpha=alpha, nbest_size=-1))
                             for _ in range(args.samples))
            ours.set_seed((args.seed, i, int(alpha * 1000)))
            mine = Counter(tuple(ours.encode(text, alpha=alpha)) for _ in range(args.samples))
            g, df, p = two_sample_g(theirs, mine)
            tests += 1
            informative += df >= 1
            low += p < 0.001
            print(f'| {short(text, 30)} | {alpha} | {len(theirs)} / {len(mine)} / {len(set(theirs) & set(mine))} '
                  f'| {g:.1f} | {df} | {p:.3g} |')
    print(f'\n{low} of {tests} tests with p < 0.001 ({informative} with at least two cells after pooling)')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument('--prepare', metavar='DIR', help='train the SentencePiece models and write the oracle files')
    mode.add_argument('--parity', metavar='DIR', help='ids and decodes of every model and text')
    mode.add_argument('--speed', metavar='DIR', help='encode and sampling speed on the 32k default model')
    mode.add_argument('--gtest', metavar='DIR', help='two-sample G-tests of the sampling distribution')
    parser.add_argument('--corpus', default=DEFAULT_CORPUS)
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--sizes', type=int, nargs='+', default=list(SIZES))
    parser.add_argument('--sentences', type=int, default=300_000, help='--prepare: input_sentence_size (lines sampled)')
    parser.add_argument('--show', type=int, default=0, help='--parity: differing texts shown per HF file')
    parser.add_argument('--mb', type=float, default=4.0, help='--speed: MB of documents')
    parser.add_argument('--runs', type=int, default=5, help='--speed: interleaved rounds')
    parser.add_argument('--by-source', action='store_true', help='--speed: also encode per source of the documents')
    parser.add_argument('--model', default='default-32000', help='--gtest: the model (file name without .model)')
    parser.add_argument('--samples', type=int, default=4000, help='--gtest: draws per text and sampler')
    parser.add_argument('--alphas', type=float, nargs='+', default=[0.1, 1.0], help='--gtest')
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()
    if args.prepare:
        prepare(args)
    elif args.parity:
        parity(args)
    elif args.speed:
        speed(args)
    else:
        gtest(args)


if __name__ == '__main__':
    main()
