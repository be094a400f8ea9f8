"""The token-file commands: ``encode --format megatron|flat`` and ``merge``."""

import os
import sys

from .errors import UsageError

PROG = 'bytepiece'


def _allowed(value):
    if value is None:
        return frozenset()
    return 'all' if value == 'all' else frozenset(t for t in value.split(',') if t)


def cmd_encode_files(args):
    """A corpus to a folder of token-file shards (``-o``), with a summary on stderr."""
    from ..tokenfiles import encode_files, merge
    if args.output in (None, '-'):
        raise UsageError(f'--format {args.format} writes a folder of shards: give it with -o')
    if '-' in args.inputs:
        raise UsageError(f'--format {args.format} reads files (in partitions, on every core), not stdin')
    if args.alpha is not None and args.alpha < 0:
        raise UsageError(f'--alpha must be >= 0 (omit it for Viterbi), got {args.alpha}')
    if args.alpha is not None and args.seed is None:
        raise UsageError('--alpha needs --seed here, so that a resumed run draws as the first did')
    if args.partition_mb <= 0:
        raise UsageError(f'--partition-mb must be > 0, got {args.partition_mb}')
    if args.merge is not None and os.path.abspath(args.merge) == os.path.abspath(args.output):
        raise UsageError('--merge names the merged dataset: give a prefix other than the shard folder')
    workers = args.workers if args.workers is not None else args.threads
    normalization = {'none': None, 'auto': 'auto'}.get(args.normalization, args.normalization)
    summary = encode_files(args.inputs, args.model, args.output, args.format, field=args.field, errors=args.errors,
                           add_bos=args.add_bos, add_eos=args.add_eos,
                           alpha=-1.0 if args.alpha is None else args.alpha, seed=args.seed,
                           allowed_special=_allowed(args.allowed_special), engine=args.engine, workers=workers,
                           partition_bytes=max(1, int(args.partition_mb * (1 << 20))),
                           text_documents=args.text_documents, normalization=normalization,
                           special_tokens=args.special_tokens, progress=not args.quiet and sys.stderr.isatty(),
                           wait=args.wait)
    for line in summary.lines():
        print(line, file=sys.stderr)
    if args.merge is not None:
        merged = merge(args.output, args.merge)
        print(f'merged into {merged.prefix}: {merged.n_documents:,} documents, {merged.n_tokens:,} tokens',
              file=sys.stderr)
    return 0


def cmd_merge(args):
    from ..tokenfiles import merge
    merged = merge(args.folder, args.output)
    print(f'wrote {merged.prefix}: {merged.n_documents:,} documents, {merged.n_tokens:,} tokens', file=sys.stderr)
    return 0


def add_encode_files_args(p):
    """The options that only the token-file formats take."""
    p.add_argument('--workers', type=int, default=None,
                   help='token files: parallel workers (default: every core; --threads counts too)')
    p.add_argument('--engine', default='threads', metavar='threads|processes|tcp://HOST:PORT',
                   help='token files: where the workers run (default threads; a Dask scheduler address)')
    p.add_argument('--errors', choices=['strict', 'skip', 'replace'], default='strict',
                   help='token files: a bad record stops the run (strict), is dropped (skip), or invalid UTF-8 '
                        'becomes U+FFFD (replace)')
    p.add_argument('--partition-mb', type=float, default=64,
                   help='token files: size of the byte ranges large files are cut into, one shard each (default 64)')
    p.add_argument('--wait', action='store_true',
                   help='token files: if another run writes the folder -o, wait for it to end (default: an error)')
    p.add_argument('--merge', default=None, metavar='PREFIX',
                   help='token files: also join the shards into one dataset PREFIX (.bin/.idx or .ds ...)')
