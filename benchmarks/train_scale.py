"""Training at corpus scale: time and peak memory from 125 MB to 1 GB of
distinct text, against HF tokenizers and SentencePiece, on Dask, and killed
and resumed.

    python benchmarks/train_scale.py [--data DIR] [--sizes 125,250,500,1000] [--no-peers]
                                     [--dask-mb 250] [--kill-mb 125] [--timeout-factor 3]

The corpus: the Linux kernel sources of Debian's ``linux-source-6.12``
package (fetched with ``apt-get download`` and unpacked with ``dpkg -x`` and
``tar`` into ``DIR`` if not there yet), one JSON line ``{"text", "path"}``
per UTF-8 file, in path order; size N holds the first N MB of text, so each
size holds the smaller ones (distinct text throughout).

Ours: ``bytepiece train FILE -o MODEL --vocab-size 32000 --min-count 8
--method M`` (``--method``: unigram, the default, or bytepiece, with
``--order 6``) with the defaults (threads over every core, memory limit
256 MB), in a fresh process. Peers, with 2 threads, on the same documents:
HF tokenizers' byte-level BPE (``train_from_iterator`` over the JSON lines),
SentencePiece BPE and unigram (from the same texts written as a plain text
file beforehand, not timed; byte fallback, identity normalization). A peer
stops at ``--timeout-factor`` times our time at that size. Peak memory is
RSS summed over each run's process tree, polled every 10 ms (and PSS,
which counts shared pages once).

Dask: the same job on a ``LocalCluster`` of 2 worker processes (1 thread
each), started in a process of its own; the driver, another process, gets
its scheduler address: the same model as the local run, the time ratio, and
the driver's own peak RSS.

Kill and resume: the job with a work directory is killed with SIGKILL once
inside each phase (when the phase's first output appears), then run again:
the model must be byte-identical to an uninterrupted run. The row gives the
task outputs of the phase found after the kill: a task writes its output
whole when it ends, so the work lost is the tasks running at the kill, at
most one per worker.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
from benchmarks.common import machine, run_measured  # noqa: E402

PACKAGE = 'linux-source-6.12'
ARGS = ['--vocab-size', '32000', '--min-count', '8']
METHOD_ARGS = {'unigram': ['--method', 'unigram'], 'bytepiece': ['--method', 'bytepiece', '--order', '6']}


def ensure_corpus(data, sizes):
    """The JSON-lines corpus of each size (MB), made from the package if needed."""
    paths = {s: os.path.join(data, f'linux-{s}mb.jsonl') for s in sizes}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    source = os.path.join(data, PACKAGE)
    if not os.path.isdir(source):
        os.makedirs(data, exist_ok=True)
        subprocess.run(['apt-get', 'download', PACKAGE], cwd=data, check=True)
        deb = next(n for n in os.listdir(data) if n.startswith(PACKAGE) and n.endswith('.deb'))
        subprocess.run(['dpkg', '-x', deb, 'pkg'], cwd=data, check=True)
        subprocess.run(['tar', '-xf', os.path.join('pkg', 'usr', 'src', PACKAGE + '.tar.xz')], cwd=data, check=True)
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(source) for f in names)
    outs = {s: open(p + '.tmp', 'w', encoding='utf-8') for s, p in paths.items()}
    total = 0
    for path in files:
        try:
            with open(path, 'rb') as f:
                text = f.read().decode('utf-8')
        except (UnicodeDecodeError, OSError):
            continue
        if not text or '\x00' in text:
            continue
        line = json.dumps({'text': text, 'path': os.path.relpath(path, source)}, ensure_ascii=False) + '\n'
        for s, f in outs.items():
            if total < s * 1e6:
                f.write(line)
        total += len(text.encode('utf-8'))
        if total >= max(sizes) * 1e6:
            break
    for s, f in outs.items():
        f.close()
        os.replace(paths[s] + '.tmp', paths[s])
    return paths


CHILD_OURS = r'''
import json, sys, time
sys.path.insert(0, {root!r})
from bytepiece.cli import main
t = time.time()
code = main({argv!r})
print(json.dumps({{'seconds': time.time() - t, 'code': code}}))
'''

CHILD_HF = r'''
import json, os, time
os.environ['RAYON_NUM_THREADS'] = '2'
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
def texts():
    with open({corpus!r}, encoding='utf-8') as f:
        for line in f:
            yield json.loads(line)['text']
t = time.time()
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=32000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                              show_progress=False)
tok.train_from_iterator(texts(), trainer)
print(json.dumps({{'seconds': time.time() - t, 'pieces': tok.get_vocab_size()}}))
'''

CHILD_SP = r'''
import json, time
import sentencepiece as spm
t = time.time()
spm.SentencePieceTrainer.train(input={text!r}, model_prefix={prefix!r}, vocab_size=32000, model_type={kind!r},
                               num_threads=2, byte_fallback=True, normalization_rule_name='identity',
                               character_coverage=0.9995, input_sentence_size=0, minloglevel=2,
                               train_extremely_large_corpus=True)
print(json.dumps({{'seconds': time.time() - t}}))
'''

CHILD_CLUSTER = r'''
import sys, time
from distributed import LocalCluster
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()  # until the driver is done
'''

CHILD_DRIVER = r'''
import json, resource, sys, time
sys.path.insert(0, {root!r})
from bytepiece.cli import main
t = time.time()
code = main({argv!r})
print(json.dumps({{'seconds': time.time() - t, 'code': code,
                  'driver_rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}}))
'''


def ours(corpus, out, extra=()):
    argv = ['train', corpus, '-o', out, '-q'] + ARGS + list(extra)
    return run_measured(sys.executable, CHILD_OURS.format(root=ROOT, argv=argv))


def peer_text(corpus, path):
    """The corpus's texts as a plain text file, for SentencePiece (one line a sentence)."""
    if not os.path.exists(path):
        with open(corpus, encoding='utf-8') as f, open(path + '.tmp', 'w', encoding='utf-8') as out:
            for line in f:
                out.write(json.loads(line)['text'].rstrip('\n') + '\n')
        os.replace(path + '.tmp', path)
    return path


def timed_peer(code, timeout):
    try:
        wall, (rss, pss), info = run_measured(sys.executable, code, timeout=timeout)
        return f'{wall:.0f} s, {rss / 1e6:,.0f} MB (PSS {pss / 1e6:,.0f} MB)'
    except subprocess.TimeoutExpired:
        return f'stopped at {timeout:.0f} s (3x ours)'
    except RuntimeError as e:
        return f'failed: {str(e)[-120:]}'


def scale(paths, tmp, peers, factor):
    print('| corpus | ours: time, peak RSS (PSS) | s/MB | HF tokenizers BPE | SentencePiece BPE | '
          'SentencePiece unigram |')
    print('|---|---|---|---|---|---|')
    rows = {}
    for size, corpus in sorted(paths.items()):
        out = os.path.join(tmp, f'ours.{size}')
        wall, (rss, pss), info = ours(corpus, out)
        rows[size] = (wall, rss)
        cells = ['', '', '']
        if peers:
            timeout = factor * wall
            cells[0] = timed_peer(CHILD_HF.format(corpus=corpus), timeout)
            text = peer_text(corpus, os.path.join(tmp, f'sp.{size}.txt'))
            for k, kind in ((1, 'bpe'), (2, 'unigram')):
                prefix = os.path.join(tmp, f'sp.{size}.{kind}')
                cells[k] = timed_peer(CHILD_SP.format(text=text, prefix=prefix, kind=kind), timeout)
        print(f'| {size} MB | {wall:.0f} s, {rss / 1e6:.0f} MB ({pss / 1e6:.0f}) | {wall / size:.3f} | '
              + ' | '.join(cells) + ' |', flush=True)
    first, last = min(rows), max(rows)
    print(f'\nfrom {first} to {last} MB: peak memory x{rows[last][1] / rows[first][1]:.2f}, time per byte '
          f'x{(rows[last][0] / last) / (rows[first][0] / first):.2f}')


def dask(corpus, tmp):
    """The local run, then the same job driven by its own process against a
    LocalCluster started in another one (so that the driver's peak is the
    driver's, not the scheduler's)."""
    local = os.path.join(tmp, 'local.model')
    wall, (rss, _), _ = ours(corpus, local)
    out = os.path.join(tmp, 'dask.model')
    cluster = subprocess.Popen([sys.executable, '-c', CHILD_CLUSTER], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        address = cluster.stdout.readline().strip()
        argv = ['train', corpus, '-o', out, '-q', '--engine', address] + ARGS
        dwall, (drss, _), info = run_measured(sys.executable, CHILD_DRIVER.format(root=ROOT, argv=argv))
    finally:
        cluster.stdin.close()
        cluster.wait()
    same = open(local, 'rb').read() == open(out, 'rb').read()
    print(f'| local (threads) | {wall:.0f} s | {rss / 1e6:.0f} MB (process) |')
    print(f'| Dask LocalCluster, 2 worker processes | {info["seconds"]:.0f} s training ({dwall:.0f} s with start-up) '
          f'| driver {info["driver_rss"] / 1e6:.0f} MB (its peak RSS; the cluster runs in another process) |')
    print(f'\nsame model: {same}; time ratio (training) x{info["seconds"] / wall:.2f}')


PHASE_FILES = {'bytepiece': {'reading': 'prepare', 'n-grams': 'level3/map', 'pieces': 'pieces/map',
                             'pruning': 'pieces/reduced.npz'},
               'unigram': {'reading': 'prepare', 'characters': 'unigram/chars/map',
                           'rounds': 'unigram/32000/round-002/map'}}


def kill_and_resume(corpus, tmp):
    whole = os.path.join(tmp, 'whole.model')
    ours(corpus, whole)
    reference = open(whole, 'rb').read()
    method = ARGS[ARGS.index('--method') + 1]
    for phase, watched in PHASE_FILES[method].items():
        out = os.path.join(tmp, f'resumed.{phase}')
        work = out + '.work'
        argv = ['train', corpus, '-o', out, '-q'] + ARGS
        proc = subprocess.Popen([sys.executable, '-c', CHILD_OURS.format(root=ROOT, argv=argv)],
                                stdout=subprocess.DEVNULL)
        target = os.path.join(work, watched)
        while proc.poll() is None and not (os.path.exists(target) and (not os.path.isdir(target)
                                                                       or os.listdir(target))):
            time.sleep(0.01)
        killed = proc.poll() is None
        if killed:
            time.sleep(0.5)  # inside the phase
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        finished = _finished_outputs(target)
        wall, _, _ = ours(corpus, out)
        same = open(out, 'rb').read() == reference
        print(f'| {phase} | killed: {killed} | {finished} | resumed in {wall:.0f} s | identical model: {same} |',
              flush=True)


def _finished_outputs(target):
    """The phase's task outputs present after the kill (temporary files aside)."""
    if not os.path.isdir(target):
        return f'{int(os.path.exists(target))} output'
    names = [n for n in os.listdir(target) if not n.startswith('.') and '.tmp' not in n]
    return f'{len(names)} task outputs kept'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default='/work/data/corpus')
    parser.add_argument('--sizes', default='125,250,500,1000')
    parser.add_argument('--no-peers', action='store_true')
    parser.add_argument('--timeout-factor', type=float, default=3.0)
    parser.add_argument('--dask-mb', type=int, default=250)
    parser.add_argument('--skip-scale', action='store_true', help='only the Dask and kill-and-resume parts')
    parser.add_argument('--kill-mb', type=int, default=125)
    parser.add_argument('--method', choices=sorted(METHOD_ARGS), default='unigram')
    args = parser.parse_args()
    ARGS.extend(METHOD_ARGS[args.method])
    sizes = [int(s) for s in args.sizes.split(',')]
    paths = ensure_corpus(args.data, sorted(set(sizes + [args.dask_mb, args.kill_mb])))
    print(f'# Training at scale ({time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; {machine()})\n')
    with tempfile.TemporaryDirectory() as tmp:
        ours(paths[min(sizes)], os.path.join(tmp, 'warm'))  # numba's cache warm, as for every later run
        if not args.skip_scale:
            scale({s: paths[s] for s in sizes}, tmp, not args.no_peers, args.timeout_factor)
        if args.dask_mb:
            print(f'\n## Dask, {args.dask_mb} MB\n\n| run | time | peak memory |\n|---|---|---|')
            dask(paths[args.dask_mb], tmp)
        if args.kill_mb:
            print(f'\n## SIGKILL once in each phase, then the same command, {args.kill_mb} MB\n')
            print('| phase | | finished work found | | |\n|---|---|---|---|---|')
            kill_and_resume(paths[args.kill_mb], tmp)


if __name__ == '__main__':
    main()
