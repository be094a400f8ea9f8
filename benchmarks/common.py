"""Shared helpers for the benchmarks: corpus reading, timing, peers."""

import json
import lzma
import os
import platform
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, '..', '..', 'shared'))
DEFAULT_CORPUS = os.path.join(SHARED, 'corpus', 'dev.jsonl.xz')
DEFAULT_MODEL = os.path.join(SHARED, 'models', 'bytepiece.eu.plus.80k.zip')


def read_texts(path, limit=None, field='text'):
    """Documents of a corpus: .jsonl(.xz) with a text field, or plain text (one doc per line)."""
    opener = lzma.open if path.endswith('.xz') else open
    texts = []
    with opener(path, 'rt', encoding='utf-8') as f:
        for line in f:
            if '.jsonl' in path:
                texts.append(json.loads(line)[field])
            else:
                texts.append(line)
            if limit and len(texts) >= limit:
                break
    return texts


def median_time(fn, runs):
    """Median wall time of ``runs`` calls of ``fn`` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def mb(texts):
    return sum(len(t.encode('utf-8')) for t in texts) / 1e6


def add_common_args(parser, corpus_mb=8.0):
    parser.add_argument('--corpus', default=DEFAULT_CORPUS, help='.jsonl(.xz) with a "text" field, or plain text')
    parser.add_argument('--model', default=DEFAULT_MODEL, help='BytePiece model (.zip or JSON)')
    parser.add_argument('--mb', type=float, default=corpus_mb, help='use the first MB of the corpus')
    parser.add_argument('--runs', type=int, default=5, help='timed runs; medians are reported')
    parser.add_argument('--lines', action='store_true',
                        help='split the documents into their non-blank lines (sentence-length texts, '
                             'where the per-call cost weighs more)')


def load_texts_mb(path, limit_mb, lines=False):
    """The first ``limit_mb`` MB of the corpus: its documents, or with
    ``lines`` their non-blank lines (newlines dropped)."""
    texts, total = [], 0
    for doc in read_texts(path):
        for text in ([line for line in doc.split('\n') if line.strip()] if lines else [doc]):
            texts.append(text)
            total += len(text.encode('utf-8'))
            if total >= limit_mb * 1e6:
                return texts
    return texts


def sentencepiece_peer(tokenizer, tmpdir):
    """The same vocabulary as a SentencePiece processor, or None if not installed."""
    try:
        import sentencepiece as spm
    except ImportError:
        return None
    path = os.path.join(tmpdir, 'peer.sp.model')
    tokenizer.convert_to_sentencepiece(path)
    return spm.SentencePieceProcessor(model_file=path)


def huggingface_peer(tokenizer, tmpdir):
    """The same vocabulary as an HF tokenizers Tokenizer (our tokenizer.json export), or None."""
    try:
        import tokenizers
    except ImportError:
        return None
    path = os.path.join(tmpdir, 'tokenizer.json')
    tokenizer.convert_to_huggingface(path)
    return tokenizers.Tokenizer.from_file(path)


def report(rows, baseline_name):
    """Print a table of (name, MB/s) with each row's ratio to the baseline."""
    base = dict(rows)[baseline_name]
    width = max(len(name) for name, _ in rows)
    for name, speed in rows:
        print(f'  {name:<{width}}  {speed:8.2f} MB/s   x{speed / base:5.2f} vs {baseline_name}')


def interleaved_medians(fns, runs):
    """Median wall and CPU seconds of each function, timed in ``runs`` rounds
    that each call every function once (after one warm-up call each), so that
    load from other processes on a shared machine hits all of them alike."""
    for fn in fns.values():
        fn()
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    items = list(fns.items())
    for r in range(runs):
        shift = r % len(items)  # the order rotates: no function always follows the same one
        for name, fn in items[shift:] + items[:shift]:
            w, c = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - w)
    return ({name: statistics.median(t) for name, t in wall.items()},
            {name: statistics.median(t) for name, t in cpu.items()})


def busy_seconds():
    """CPU seconds all processes of the machine have run (user, nice, system),
    from /proc/stat; None where it cannot be read."""
    try:
        with open('/proc/stat') as f:
            ticks = f.readline().split()[1:4]
    except OSError:
        return None
    return sum(int(t) for t in ticks) / os.sysconf('SC_CLK_TCK')


def machine():
    try:
        import psutil
        memory = f', {psutil.virtual_memory().total / 2**30:.0f} GB RAM'
    except ImportError:
        memory = ''
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}'


def run_measured(python, code, cwd=None, timeout=None):
    """Run ``code`` in a fresh process. Returns the wall time, the peak RSS and
    the peak PSS summed over the process tree (bytes; RSS polled every 10 ms,
    PSS, which counts pages shared between processes once, every 500 ms since
    reading /proc/PID/smaps is slow and stalls the measured process), and the
    JSON line the child prints. Past ``timeout`` seconds the process tree is
    killed and ``subprocess.TimeoutExpired`` raised."""
    import psutil
    t = time.time()
    # cwd: not the repository, whose bytepiece/ would shadow the reference's package
    proc = subprocess.Popen([python, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=cwd or tempfile.gettempdir())
    root = psutil.Process(proc.pid)
    peak_rss = peak_pss = 0
    tick = 0
    while proc.poll() is None:
        if timeout is not None and time.time() - t > timeout:
            for p in root.children(recursive=True) + [root]:
                try:
                    p.kill()
                except psutil.Error:
                    pass
            proc.wait()
            raise subprocess.TimeoutExpired(python, timeout)
        try:
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            procs = []
        rss = pss = 0
        for p in procs:
            try:
                if tick % 50 == 0:
                    full = p.memory_full_info()
                    rss += full.rss
                    pss += full.pss
                else:
                    rss += p.memory_info().rss
            except psutil.Error:
                pass
        peak_rss = max(peak_rss, rss)
        peak_pss = max(peak_pss, pss)
        tick += 1
        time.sleep(0.01)
    wall = time.time() - t
    out = proc.stdout.read()
    if proc.returncode != 0:
        raise RuntimeError(f'child failed ({proc.returncode}): {out[-2000:]}')
    return wall, (peak_rss, peak_pss), json.loads(out.strip().splitlines()[-1])
