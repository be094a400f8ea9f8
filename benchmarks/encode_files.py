"""Corpus to token files: encode_files against in-memory encode, HF tokenizers
and SentencePiece; memory; a Dask cluster; kill and resume; Megatron's reader.

    python benchmarks/encode_files.py [--corpus-dir /work/data/corpus] [--runs 3] [--markdown FILE]

The corpora are the Linux kernel sources as JSON lines ``{"text", "path"}``,
``linux-{125,250,500,1000}mb.jsonl`` (N MB of text); missing ones are made
from Debian's ``linux-source-6.12`` package (``apt-get download``, ``dpkg
-x``, then the tarball inside is unpacked). All rows use the 80k public
model, ``add_eos``, 2 workers, the Megatron format.

1. Rates, in interleaved rounds on the same texts (``linux-125mb``): files
   to a Megatron shard folder (``encode_files``, 2 workers, from the JSON
   lines and from the same file zstd-compressed) against in-memory
   ``encode_batch_to_numpy`` on 2 threads over the texts already in a list;
   HF tokenizers on our exported ``tokenizer.json`` doing the same job
   (read the JSON lines, ``encode_batch``, write the same ``.bin``/``.idx``),
   and SentencePiece on our exported model likewise (2 threads).
2. Memory: ``encode_files`` in a fresh process on 250 MB and 1 GB; peak RSS
   and PSS of the process tree.
3. Dask: a ``LocalCluster`` of 2 worker processes writes the same bytes as
   the local run.
4. Kill and resume: a run is SIGKILLed part-way, rerun, and compared byte
   for byte with an uninterrupted run.
5. Megatron's own ``IndexedDataset`` reads the merged output (if
   megatron-core is installed).
6. One long record: peak memory of ``encode_files`` on one 20 MB JSON line
   and of ``bytepiece decode`` on one line of its ids, against one-line runs.
"""

import argparse
import datetime
import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
from benchmarks.common import interleaved_medians, machine, run_measured  # noqa: E402
from benchmarks.common import huggingface_peer, sentencepiece_peer  # noqa: E402

MODEL = os.path.join(ROOT, 'tests', 'fixtures', 'bytepiece.eu.plus.80k.zip')
SIZES = (125, 250, 500, 1000)
RATE_BAR, PEER_BAR, MEMORY_BAR, GROWTH_BAR = 0.85, 5.0, 500e6, 1.3

CHILD = r'''
import json, sys, time
sys.path.insert(0, {root!r})
from bytepiece.tokenfiles import encode_files
t = time.time()
s = encode_files({src!r}, {model!r}, {out!r}, 'megatron', add_eos=True, workers=2)
print(json.dumps({{'seconds': time.time() - t, 'tokens': s.tokens, 'documents': s.documents}}))
'''


def make_corpus(path, megabytes, work):
    """Write ``megabytes`` MB of the Linux sources (UTF-8 files, sorted walk) as JSON lines."""
    tree = os.path.join(work, 'linux')
    if not os.path.isdir(tree):
        subprocess.run(['apt-get', 'download', 'linux-source-6.12'], cwd=work, check=True)
        deb = next(n for n in os.listdir(work) if n.endswith('.deb'))
        subprocess.run(['dpkg', '-x', deb, 'pkg'], cwd=work, check=True)
        src = os.path.join(work, 'pkg', 'usr', 'src')
        tarball = next(os.path.join(src, n) for n in os.listdir(src) if '.tar' in n)
        os.makedirs(tree)
        subprocess.run(['tar', '-xf', tarball, '-C', tree, '--strip-components=1'], check=True)
    total = 0
    with open(path + '.tmp', 'w', encoding='utf-8') as out:
        for folder, dirs, files in os.walk(tree):
            dirs.sort()
            for name in sorted(files):
                try:
                    with open(os.path.join(folder, name), encoding='utf-8') as f:
                        text = f.read()
                except (UnicodeDecodeError, OSError):
                    continue
                out.write(json.dumps({'text': text, 'path': os.path.relpath(os.path.join(folder, name), tree)}) + '\n')
                total += len(text.encode('utf-8'))
                if total >= megabytes * 1e6:
                    break
            if total >= megabytes * 1e6:
                break
    os.replace(path + '.tmp', path)


def corpus(args, megabytes):
    path = os.path.join(args.corpus_dir, f'linux-{megabytes}mb.jsonl')
    if not os.path.exists(path):
        os.makedirs(args.corpus_dir, exist_ok=True)
        work = os.path.join(args.corpus_dir, 'linux-source')
        os.makedirs(work, exist_ok=True)
        make_corpus(path, megabytes, work)
    return path


def read_jsonl(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line)['text'] for line in f]


def peer_job(encode, src, out):
    """A peer's version of the job: read the JSON lines, encode the texts
    (``encode``: texts -> id lists), write the same .bin/.idx."""
    import numpy as np
    from bytepiece.tokenfiles import TokenWriter
    lists = encode(read_jsonl(src))
    eos = np.array([2], np.int32)
    ids = np.concatenate([a for x in lists for a in (np.array(x, np.int32), eos)])
    bounds = np.concatenate([[0], np.cumsum([len(x) + 1 for x in lists])])
    with TokenWriter('megatron', out, np.int32) as w:
        w.add(ids, bounds)
    return ids


def rates(args, tmp, tokenizer, out):
    import zstandard
    from bytepiece.tokenfiles import encode_files, open_tokens
    src = corpus(args, 125)
    zst = os.path.join(tmp, 'linux-125mb.jsonl.zst')
    with open(src, 'rb') as f, open(zst, 'wb') as g:
        zstandard.ZstdCompressor(level=3, threads=2).copy_stream(f, g)
    texts = read_jsonl(src)
    size = sum(len(t.encode('utf-8')) for t in texts) / 1e6
    runs = iter(range(10**6))

    def files(path):
        folder = os.path.join(tmp, f'rate-{next(runs)}')
        encode_files(path, tokenizer, folder, 'megatron', add_eos=True, workers=2)
        return folder

    cases = {'files to Megatron, JSON lines (2 workers)': lambda: shutil.rmtree(files(src)),
             'files to Megatron, zstd JSON lines (2 workers)': lambda: shutil.rmtree(files(zst)),
             'in-memory encode_batch_to_numpy (2 threads)':
                 lambda: tokenizer.encode_batch_to_numpy(texts, num_threads=2, add_eos=True)}
    reference = open_tokens(files(src)).tokens(0, None)
    hf = None if args.skip_peers else huggingface_peer(tokenizer, tmp)
    sp = None if args.skip_peers else sentencepiece_peer(tokenizer, tmp)
    if hf is not None:
        hf_ids = peer_job(lambda t: [e.ids for e in hf.encode_batch(t, add_special_tokens=False)], src,
                          os.path.join(tmp, 'hf'))
        out(f'HF tokenizers export: {"identical" if (hf_ids == reference).all() else "different"} tokens '
            f'({hf_ids.size} against our {reference.size})')
        cases['HF tokenizers (export), encode_batch + the same file'] = lambda: peer_job(
            lambda t: [e.ids for e in hf.encode_batch(t, add_special_tokens=False)], src, os.path.join(tmp, 'hf'))
    if sp is not None:
        cases['SentencePiece (export, 2 threads) + the same file'] = lambda: peer_job(
            lambda t: sp.encode(t, num_threads=2), src, os.path.join(tmp, 'sp'))
    wall, cpu = interleaved_medians(cases, args.runs)
    memory = wall['in-memory encode_batch_to_numpy (2 threads)']
    out(f'\n### Rates: {len(texts):,} documents, {size:.1f} MB of text (linux-125mb), medians of {args.runs} '
        f'interleaved rounds\n')
    out('| case | wall s | CPU s | MB/s | vs in-memory |')
    out('|---|---|---|---|---|')
    for name in cases:
        out(f'| {name} | {wall[name]:.2f} | {cpu[name]:.2f} | {size / wall[name]:.2f} | {memory / wall[name]:.2f}x |')
    out('')
    for name in list(cases)[:2]:
        ratio = memory / wall[name]
        out(f'- {name}: {ratio:.2f}x in-memory (bar >= {RATE_BAR}): {"met" if ratio >= RATE_BAR else "NOT met"}')
    for name in list(cases)[3:]:
        ratio = wall[name] / wall['files to Megatron, JSON lines (2 workers)']
        bar = f' (bar >= {PEER_BAR}x: {"met" if ratio >= PEER_BAR else "NOT met"})' if 'HF' in name else ''
        out(f'- files to Megatron is {ratio:.2f}x {name}{bar}')


def memory(args, tmp, out):
    out('\n### Peak memory of encode_files (fresh process, 2 worker threads, process tree)\n')
    out('| input | wall s | peak RSS MB | peak PSS MB | tokens |')
    out('|---|---|---|---|---|')
    peaks = {}
    for megabytes in (250, 500, 1000):
        src = corpus(args, megabytes)
        folder = os.path.join(tmp, f'mem-{megabytes}')
        wall, (rss, pss), info = run_measured(sys.executable, CHILD.format(root=ROOT, src=src, model=MODEL,
                                                                           out=folder))
        shutil.rmtree(folder)
        peaks[megabytes] = rss
        out(f'| linux-{megabytes}mb ({os.path.getsize(src) / 1e6:.0f} MB file) | {wall:.1f} | {rss / 1e6:.0f} '
            f'| {pss / 1e6:.0f} | {info["tokens"]:,} |')
    growth = peaks[1000] / peaks[250]
    out(f'\n- 1 GB peak RSS {peaks[1000] / 1e6:.0f} MB (bar <= {MEMORY_BAR / 1e6:.0f}): '
        f'{"met" if peaks[1000] <= MEMORY_BAR else "NOT met"}; 250 MB to 1 GB: {growth:.2f}x (bar <= {GROWTH_BAR}): '
        f'{"met" if growth <= GROWTH_BAR else "NOT met"}; 500 MB to 1 GB: {peaks[1000] / peaks[500]:.2f}x')
    for megabytes in (250, 500, 1000):
        with open(corpus(args, megabytes), encoding='utf-8') as f:
            longest = max(len(json.loads(line)['text']) for line in f)
        out(f'- longest document of linux-{megabytes}mb: {longest / 1e6:.1f} M characters')


def same_folders(a, b):
    names = sorted(n for n in os.listdir(a) if not n.endswith('.json'))
    if names != sorted(n for n in os.listdir(b) if not n.endswith('.json')):
        return False
    return all(filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False) for n in names)


def dask_run(args, tmp, out):
    import distributed
    from bytepiece.tokenfiles import encode_files
    src = corpus(args, 125)
    local = os.path.join(tmp, 'local')
    encode_files(src, MODEL, local, 'megatron', add_eos=True, workers=2, partition_bytes=16 << 20)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        t = time.time()
        s = encode_files(src, MODEL, os.path.join(tmp, 'dask'), 'megatron', add_eos=True, engine=client,
                         partition_bytes=16 << 20)
        seconds = time.time() - t
    same = same_folders(local, os.path.join(tmp, 'dask'))
    out(f'\n### Dask LocalCluster (2 worker processes), linux-125mb, 16 MB partitions\n\n- {s.shards} shards, '
        f'{seconds:.1f} s; byte-identical to the local run: {"yes (met)" if same else "NO (NOT met)"}')
    return local


def kill_and_resume(args, tmp, out):
    src = corpus(args, 250)
    command = [sys.executable, '-m', 'bytepiece.cli', 'encode', '-m', MODEL, src, '--format', 'megatron', '--add-eos',
               '--workers', '2', '--partition-mb', '16', '-q']
    reference = os.path.join(tmp, 'whole')
    subprocess.run(command + ['-o', reference], check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
    folder = os.path.join(tmp, 'killed')
    proc = subprocess.Popen(command + ['-o', folder], cwd=ROOT, stderr=subprocess.DEVNULL)
    def recorded():
        return sum(n.endswith('.json') for n in os.listdir(folder) if n.startswith('part-')) \
            if os.path.isdir(folder) else 0

    while proc.poll() is None and recorded() < 3:
        time.sleep(0.05)
    time.sleep(0.3)  # inside a shard, with others in flight
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = recorded()
    temporary = sum(n.endswith('.tmp') for n in os.listdir(folder))
    result = subprocess.run(command + ['-o', folder], cwd=ROOT, stderr=subprocess.PIPE, text=True, check=True)
    leftovers = [n for n in os.listdir(folder) if n.endswith('.tmp')]
    for name in leftovers:  # temporary files of the killed run (never renamed, so never read as shards)
        os.unlink(os.path.join(folder, name))
    same = same_folders(reference, folder)
    out(f'\n### Kill and resume (linux-250mb, 16 MB partitions)\n\n- SIGKILL with {done} shards recorded and '
        f'{temporary} temporary files; the rerun: {result.stderr.strip().splitlines()[0]}\n- identical to an '
        f'uninterrupted run: {"yes (met)" if same else "NO (NOT met)"}')


CHILD_DECODE = r'''
import json, sys, time
sys.path.insert(0, {root!r})
from bytepiece import cli
t = time.time()
code = cli.main(['decode', '-m', {model!r}, {src!r}, '-o', {out!r}, '-q', '--escape'])
print(json.dumps({{'seconds': time.time() - t, 'code': code}}))
'''


def long_records(args, tmp, tokenizer, out):
    """Peak memory for one 20 MB record (encode_files) and one 20 MB line of
    ids (CLI decode), against the same job on a one-line input."""
    text = ''.join(read_jsonl(corpus(args, 125))[:5000])
    text = (text * (1 + (20 << 20) // len(text)))[:20 << 20] if len(text) < 20 << 20 else text[:20 << 20]
    rows = []
    for label, body in (('tiny', 'x'), ('20 MB', text)):
        src = os.path.join(tmp, f'long-{len(body)}.jsonl')
        with open(src, 'w', encoding='utf-8') as f:
            f.write(json.dumps({'text': body}) + '\n')
        ids = os.path.join(tmp, f'long-{len(body)}.ids')
        with open(ids, 'w') as f:
            f.write(' '.join(map(str, tokenizer.encode(body))) + '\n')
        _, (enc, _), _ = run_measured(sys.executable, CHILD.format(root=ROOT, src=src, model=MODEL,
                                                                  out=os.path.join(tmp, f'lo-{len(body)}')))
        _, (dec, _), info = run_measured(sys.executable, CHILD_DECODE.format(root=ROOT, src=ids, model=MODEL,
                                                                            out=ids + '.txt'))
        rows.append((label, os.path.getsize(src), os.path.getsize(ids), enc, dec, info['code']))
    out('\n### One long record (peak RSS of a fresh process)\n')
    out('| record | JSON line MB | ids line MB | encode_files peak MB | decode peak MB |')
    out('|---|---|---|---|---|')
    for label, size, id_size, enc, dec, code in rows:
        out(f'| {label} | {size / 1e6:.1f} | {id_size / 1e6:.1f} | {enc / 1e6:.0f} | {dec / 1e6:.0f}'
            f'{"" if code == 0 else " (failed)"} |')
    (_, size, id_size, enc, dec, _), base = rows[1], rows[0]
    out(f'\n- above the one-line run: encode_files {(enc - base[3]) / size:.1f}x the JSON line, decode '
        f'{(dec - base[4]) / id_size:.1f}x the line of ids')


def megatron_reader(tmp, local, out):
    try:
        from megatron.core.datasets.indexed_dataset import IndexedDataset
    except ImportError as e:
        out(f'\n### Megatron reader\n\n- skipped: megatron-core not installed ({e})')
        return
    from bytepiece.tokenfiles import merge, open_tokens
    merged = merge(local, os.path.join(tmp, 'merged'))
    dataset = IndexedDataset(merged.prefix)
    ours = open_tokens(local)
    same = len(dataset) == ours.n_documents and all(
        (dataset[i] == ours.document(i)).all() for i in range(len(dataset)))
    out(f'\n### Megatron reader\n\n- megatron-core IndexedDataset reads the merged linux-125mb dataset: '
        f'{len(dataset):,} documents, every one equal to ours: {"yes" if same else "NO"}')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--corpus-dir', default='/work/data/corpus')
    parser.add_argument('--runs', type=int, default=3)
    for part in ('rates', 'peers', 'memory', 'long', 'dask', 'kill'):
        parser.add_argument(f'--skip-{part}', action='store_true')
    parser.add_argument('--markdown', help='also write the results to this file')
    args = parser.parse_args()
    lines = []

    def out(line):
        print(line, flush=True)
        lines.append(line)

    from bytepiece import Tokenizer
    out(f'## encode_files, {datetime.datetime.now():%Y-%m-%d %H:%M}, `python benchmarks/encode_files.py '
        f'{" ".join(sys.argv[1:])}`\n\n{machine()}; load average at the start: '
        f'{" ".join(f"{x:.2f}" for x in os.getloadavg())}')
    tokenizer = Tokenizer(MODEL)
    with tempfile.TemporaryDirectory(dir=args.corpus_dir) as tmp:
        if not args.skip_rates:
            rates(args, tmp, tokenizer, out)
        if not args.skip_memory:
            memory(args, tmp, out)
        if not args.skip_long:
            long_records(args, tmp, tokenizer, out)
        if not args.skip_dask:
            megatron_reader(tmp, dask_run(args, tmp, out), out)
        if not args.skip_kill:
            kill_and_resume(args, tmp, out)
    out(f'\nload average at the end: {" ".join(f"{x:.2f}" for x in os.getloadavg())}')
    if args.markdown:
        with open(args.markdown, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
