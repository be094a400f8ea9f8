"""Sampling throughput: bytepiece's exact sampling vs its Viterbi vs SentencePiece's sampling.

In one run, on the same texts and the same vocabulary (the 80k public model,
converted with ``convert_to_sentencepiece`` for SentencePiece):

- ours, sampling: ``encode(text, alpha=0.1)`` (exact draw);
- ours, Viterbi: ``encode(text)``;
- SentencePiece, sampling: ``sp.encode(text, enable_sampling=True, alpha=0.1, nbest_size=-1)``
  (and its Viterbi, for reference).

Two settings, both single-threaded: a loop of per-text calls, and one call over
all texts (``encode_batch(num_threads=1)`` vs ``sp.encode(list, num_threads=1)``).
Medians of ``--runs`` interleaved rounds (wall clock and process CPU time).
Bars (issue 3): our sampling >= 10x SentencePiece's sampling and >= 0.7x our
own Viterbi. ``--markdown FILE`` writes the results as a markdown section.

``--dataloader`` runs the data-loader case instead: sampling in 2 worker
processes through the per-example API (``benchmarks/loader.py``).

    python benchmarks/sample.py [--corpus PATH] [--model PATH] [--mb 2] [--runs 3] [--lines] [--dataloader]
                                [--markdown FILE]
"""

import argparse
import datetime
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from benchmarks.common import (add_common_args, interleaved_medians, load_texts_mb, machine, mb, report,  # noqa: E402
                               sentencepiece_peer)
from benchmarks import loader  # noqa: E402
from bytepiece import Tokenizer  # noqa: E402

ALPHA = 0.1
SAMPLING_VS_SP_BAR = 10.0
SAMPLING_VS_VITERBI_BAR = 0.7


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, corpus_mb=2.0)
    parser.set_defaults(runs=3)
    parser.add_argument('--markdown', help='also write the results as markdown to this file')
    parser.add_argument('--dataloader', action='store_true', help='the data-loader case (benchmarks/loader.py)')
    parser.add_argument('--max-others', type=float, default=-1, metavar='CORES',
                        help='--dataloader: run a round again if other processes used more than this many cores '
                             'during any of its cases (Linux; -1: keep every round)')
    parser.add_argument('--max-wait', type=float, default=900, metavar='S',
                        help='with --max-others, keep every round after S seconds')
    args = parser.parse_args()

    texts = load_texts_mb(args.corpus, args.mb, args.lines)
    size = mb(texts)
    tokenizer = Tokenizer(args.model, seed=0)
    header = (f'{len(texts)} {"lines" if args.lines else "texts"} (mean {size * 1e6 / len(texts):.0f} bytes), {size:.2f} MB, model {os.path.basename(args.model)}, '
              f'alpha {ALPHA}, runs {args.runs} (medians)')
    print(header)
    results = {}  # (setting, name) -> MB/s
    with tempfile.TemporaryDirectory() as tmp:
        sp = sentencepiece_peer(tokenizer, tmp)
        if sp is None:
            print('sentencepiece is not installed: only our own numbers')
        if args.dataloader:
            return dataloader_case(args, tokenizer, sp, texts, header)
        settings = {
            'per-text loop': {
                'bytepiece sampling': lambda: [tokenizer.encode(t, alpha=ALPHA) for t in texts],
                'bytepiece Viterbi': lambda: [tokenizer.encode(t) for t in texts],
                'sentencepiece sampling': sp and (lambda: [
                    sp.encode(t, enable_sampling=True, alpha=ALPHA, nbest_size=-1) for t in texts]),
                'sentencepiece Viterbi': sp and (lambda: [sp.encode(t) for t in texts]),
            },
            'one call, 1 thread': {
                'bytepiece sampling': lambda: tokenizer.encode_batch(texts, alpha=ALPHA, num_threads=1),
                'bytepiece Viterbi': lambda: tokenizer.encode_batch(texts, num_threads=1),
                'sentencepiece sampling': sp and (lambda: sp.encode(
                    texts, enable_sampling=True, alpha=ALPHA, nbest_size=-1, num_threads=1)),
                'sentencepiece Viterbi': sp and (lambda: sp.encode(texts, num_threads=1)),
            },
        }
        cpu_results = {}
        for setting, fns in settings.items():
            wall, cpu = interleaved_medians({name: fn for name, fn in fns.items() if fn}, args.runs)
            for name in wall:
                results[setting, name] = size / wall[name]
                cpu_results[setting, name] = size / cpu[name]
            print(f'{setting} (wall clock):')
            report([(name, size / t) for name, t in wall.items()], 'sentencepiece sampling' if sp else 'bytepiece Viterbi')
            print(f'{setting} (process CPU time):')
            report([(name, size / t) for name, t in cpu.items()], 'sentencepiece sampling' if sp else 'bytepiece Viterbi')

    checks = []
    for setting in settings:
        ours = results[setting, 'bytepiece sampling']
        viterbi = results[setting, 'bytepiece Viterbi']
        ratio_viterbi = ours / viterbi
        checks.append((setting, 'sampling / our Viterbi', ratio_viterbi, SAMPLING_VS_VITERBI_BAR))
        if (setting, 'sentencepiece sampling') in results:
            ratio_sp = ours / results[setting, 'sentencepiece sampling']
            checks.append((setting, 'sampling / SentencePiece sampling', ratio_sp, SAMPLING_VS_SP_BAR))
    print('bars (wall clock):')
    for setting, what, ratio, bar in checks:
        print(f'  {setting}: {what} = {ratio:.2f}x (bar {bar}x) {"PASS" if ratio >= bar else "FAIL"}')

    if args.markdown:
        write_markdown(args, header, settings, results, cpu_results, checks)


def markdown_head(title, header):
    """The opening lines of a markdown section: date, machine, command, texts."""
    command = 'python ' + ' '.join([os.path.relpath(__file__, os.getcwd())] + sys.argv[1:])
    return [f'## {title}', '',
            f'- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC',
            f'- Machine: {machine()} (shared with other jobs)',
            f'- Command: `{command}`',
            f'- Texts: {header}']


def write_markdown(args, header, settings, results, cpu_results, checks):
    lines = markdown_head('Sampling (issue 3)', header) + [
        '- Single-threaded throughput in MB/s (UTF-8 bytes of input per second), medians.', '',
        '| | ' + ' | '.join(settings) + ' |',
        '|---|' + '---:|' * len(settings),
    ]
    names = ['bytepiece sampling', 'bytepiece Viterbi', 'sentencepiece sampling', 'sentencepiece Viterbi']
    for name in names:
        if any((s, name) in results for s in settings):
            cells = [f'{results[s, name]:.2f} ({cpu_results[s, name]:.2f})' if (s, name) in results else '-'
                     for s in settings]
            lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    lines += ['', 'MB/s from wall-clock medians; in parentheses, from process CPU time (less sensitive to '
              'other jobs on the machine). Each round times every row once, so load hits all rows alike.', '',
              'Bars: our sampling >= 10x SentencePiece sampling and >= 0.7x our Viterbi (wall clock).', '']
    for setting, what, ratio, bar in checks:
        lines.append(f'- {setting}: {what} = **{ratio:.2f}x** (bar {bar}x): {"met" if ratio >= bar else "NOT met"}')
    with open(args.markdown, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'wrote {args.markdown}')


def dataloader_case(args, tokenizer, sp, texts, header):
    loads = [loader.loadavg()]
    medians, runner, discarded = loader.measure(tokenizer, sp, texts, args.runs, args.max_others, args.max_wait)
    loads.append(loader.loadavg())
    printed, table = loader.report(medians, runner, loads)
    kept = (f'rounds run again because other processes used more than {args.max_others:g} core: {discarded}'
            if args.max_others >= 0 else 'every round kept')
    print('\n'.join(printed + [kept]))
    if args.markdown:
        lines = markdown_head('Sampling in data-loader workers', header) + [
            f'- Workers: {runner}; load average (1 min) {loads[0]:.2f} at the start, {loads[1]:.2f} at the end; '
            f'{kept}', '']
        with open(args.markdown, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines + table) + '\n')
        print(f'wrote {args.markdown}')


if __name__ == '__main__':
    main()
