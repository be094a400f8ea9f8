"""The subcommands: train, encode, decode, info, convert."""

import json
import os
import sys

import numpy as np

from ..core.model import NUM_SPECIAL, SPECIAL_PIECES
from ..corpus.inputs import detect
from ..runtime.fileio import check_output_path
from ..train import Trainer
from .errors import UsageError, about_train_arguments, with_train_flags
from .formats import ESCAPES, LineFormatter, display_piece, display_table, ids_records, jsonl_record, parse_ids
from .streams import (Output, check_inputs, check_output_apart, decode_lines, input_size, progress_bar, read_batches,
                      split_lines)

PROG = 'bytepiece'
SAMPLE_TEXT = ('BytePiece tokenizes bytes: 今天天气不错，我们去公园散步吧。\n'
               'def f(x):\n    return x ** 2  # ünïcödé, emoji 🙂\n')


def _load_tokenizer(args, seed=None):
    from ..tokenizer import Tokenizer
    normalization = {'none': None, 'auto': 'auto'}.get(args.normalization, args.normalization)
    special = args.special_tokens if getattr(args, 'special_tokens', None) else None
    files = [t for t in special or () if os.path.isfile(t)]
    if files:  # `--special-tokens TOK FILE` takes FILE as a token, not as an input
        print(f'{PROG}: warning: --special-tokens took the file name {files[0]!r} as a token; '
              f'put the input files first or end the token list with --', file=sys.stderr)
    return Tokenizer(args.model, seed=seed, normalization=normalization, special_tokens=special)


def _allowed_special(args):
    value = args.allowed_special
    if value is None:
        return frozenset()
    if value == 'all':
        return 'all'
    return {token for token in value.split(',') if token}


TOKEN_FORMATS = ('megatron', 'flat')


def _jsonl_input(name, args):
    """Whether an input holds JSON lines: by ``--input-format``, else by its
    extension, as ``train`` reads (stdin: with ``--format jsonl``)."""
    if args.input_format != 'auto':
        return args.input_format == 'jsonl'
    if name == '<stdin>':
        return args.format == 'jsonl'
    return detect(name)[0] == 'jsonl'


def _encode_formatter(tokenizer, fmt):
    if fmt == 'pieces':
        return LineFormatter(display_table(tokenizer), ' ', '', '\n')
    numbers = [str(i) for i in range(tokenizer.vocab_size)]
    return LineFormatter(numbers, ' ', '', '\n') if fmt == 'ids' else LineFormatter(numbers, ', ', '[', ']\n')


def cmd_encode(args):
    if args.format in TOKEN_FORMATS:
        from .tokenfiles import cmd_encode_files
        return cmd_encode_files(args)
    check_inputs(args.inputs)
    check_output_apart([args.output], args.inputs + [args.model])
    if args.text_documents != 'line':
        raise UsageError(f'--format {args.format} writes a line per input line: --text-documents '
                         f'{args.text_documents} is read by the token-file formats (--format megatron|flat)')
    parquet = [p for p in args.inputs if p != '-' and detect(p)[0] == 'parquet']
    if parquet:
        raise UsageError(f'{parquet[0]!r}: Parquet input is read by the token-file formats (--format megatron|flat)')
    if args.alpha is not None and args.alpha < 0:
        raise UsageError(f'--alpha must be >= 0 (omit it for Viterbi), got {args.alpha}')
    if args.threads is not None and args.threads < 1:
        raise UsageError(f'--threads must be >= 1, got {args.threads}')
    tokenizer = _load_tokenizer(args, seed=args.seed)
    alpha = -1.0 if args.alpha is None else args.alpha
    allowed = _allowed_special(args)
    formatter = _encode_formatter(tokenizer, args.format)
    bar = progress_bar(input_size(args.inputs), 'encode', not args.quiet)
    with bar, Output(args.output) as out:
        for name, number, data in read_batches(args.inputs, bar):
            if _jsonl_input(name, args):
                # one record per line, None for a blank line
                records = [jsonl_record(*item, args.field) for item in split_lines(name, number, data)]
                texts = [None if r is None else r[args.field] for r in records]
                docs = [t for t in texts if t is not None]
            else:
                texts = docs = decode_lines(name, number, data)
                records = [{}] * len(texts)
            try:
                ids, starts, _ = tokenizer.encode_batch_to_numpy(docs, alpha=alpha, add_bos=args.add_bos,
                                                                 add_eos=args.add_eos, num_threads=args.threads,
                                                                 allowed_special=allowed)
            except ValueError:
                _check_encodable(name, number, texts)  # name the line, not the index in the batch
                raise
            formatted = formatter.format(ids, starts)
            if args.format == 'jsonl':
                formatted = ids_records(formatted.split(b'\n'), records, args.field)
            elif len(docs) < len(texts):  # a blank line for each blank input line
                lines = iter(formatted.split(b'\n'))
                formatted = b''.join(b'\n' if t is None else next(lines) + b'\n' for t in texts)
            out.stream.write(formatted)
    return 0


def _check_encodable(name, number, texts):
    """Raise a ValueError naming the first line whose text is not UTF-8
    encodable (a lone surrogate, from a JSON escape like \\ud800)."""
    from ..core.text import encode_utf8
    for k, text in enumerate(texts):
        if text is not None:
            encode_utf8(text, location=f'{name}:{number + k}')


# decode --errors: the bytes.decode handlers whose text can be written out as UTF-8
DECODE_ERRORS = ('ignore', 'replace', 'backslashreplace', 'strict')


def cmd_decode(args):
    check_inputs(args.inputs)
    check_output_apart([args.output], args.inputs + [args.model])
    jsonl = args.format == 'jsonl'
    if jsonl and args.escape:
        raise UsageError('--escape is for --format ids (jsonl output is escaped already)')
    tokenizer = _load_tokenizer(args)
    field = args.field or 'ids'
    bar = progress_bar(input_size(args.inputs), 'decode', not args.quiet)
    with bar, Output(args.output) as out:
        for batch in read_batches(args.inputs, bar):
            lines = []
            for name, number, line in split_lines(*batch):
                ids = parse_ids(name, number, line, field, jsonl, tokenizer.vocab_size)
                if ids is None:
                    lines.append('')  # keep the lines aligned with the input
                    continue
                try:
                    text = tokenizer.decode(ids, errors=args.errors)
                except UnicodeDecodeError as e:
                    raise ValueError(f'{name}:{number}: the bytes of the ids are not valid UTF-8 ({e.reason} at '
                                     f'byte {e.start}); --errors replace or ignore decodes them') from None
                except (ValueError, TypeError) as e:
                    raise ValueError(f'{name}:{number}: {e}') from None
                ids = None  # a long line's ids are not kept while its text is escaped and written
                if jsonl:
                    text = json.dumps({'text': text}, ensure_ascii=False)
                elif args.escape:
                    text = text.translate(ESCAPES)
                elif '\n' in text:
                    raise ValueError(f'{name}:{number}: the decoded text has a newline, which would break '
                                     f'the one-line-per-input-line output; use --escape')
                lines.append(text)
            out.write_lines(lines)
    return 0


def cmd_info(args):
    text = args.text if args.text is not None else SAMPLE_TEXT
    try:  # checked before any output
        text.encode('utf-8')
    except UnicodeEncodeError as e:
        code = ord(text[e.start])
        if 0xDC80 <= code <= 0xDCFF:  # how Python passes on command-line bytes that are not UTF-8
            raise UsageError(f'--text is not valid UTF-8: byte 0x{code - 0xDC00:02x} at character {e.start}') from None
        raise UsageError(f'--text holds a lone surrogate at character {e.start}') from None
    tokenizer = _load_tokenizer(args)
    print(f'model: {args.model}')
    if tokenizer.model_format != 'bytepiece':
        for line in tokenizer.model_summary:
            print(line)
    else:
        _bytepiece_info(tokenizer)
    ids = tokenizer.encode(text, allowed_special='all' if tokenizer.model_format == 'bytepiece' else ())
    table = [display_piece(tokenizer.id_to_piece(i)) for i in ids]
    size = len(text.encode('utf-8'))
    print(f'sample text: {size} bytes -> {len(ids)} tokens ({size / max(len(ids), 1):.2f} bytes/token)')
    print('  ' + ' | '.join(table))
    return 0


def _bytepiece_info(tokenizer):
    pieces = tokenizer.vocab.pieces[NUM_SPECIAL:]
    lengths = tokenizer.vocab.piece_lengths[NUM_SPECIAL:]
    partial = sum(1 for p in pieces if not _is_utf8(p))
    print(f'vocab size: {tokenizer.vocab_size} ({len(pieces)} pieces + {" ".join(SPECIAL_PIECES)}'
          f'{f" + {len(tokenizer.special_tokens)} special tokens" if tokenizer.special_tokens else ""})')
    print(f'normalization: {tokenizer.normalization}')
    print(f'longest piece: {int(lengths.max())} bytes; pieces that are not whole UTF-8: {partial}')
    if tokenizer.special_tokens:
        base = tokenizer.vocab_size - len(tokenizer.special_tokens)
        print('special tokens: ' + ', '.join(f'{t} ({base + k})' for k, t in enumerate(tokenizer.special_tokens)))
    print('piece length histogram (bytes: pieces):')
    hist = np.bincount(lengths)
    width = max(1, int(hist.max()))
    for n in range(1, hist.size):
        if hist[n]:
            print(f'  {n:3d}: {int(hist[n]):7d} {"#" * max(1, round(40 * int(hist[n]) / width))}')


def _is_utf8(piece):
    try:
        piece.decode('utf-8')
        return True
    except UnicodeDecodeError:
        return False


def cmd_convert(args):
    outputs = [args.out]
    if args.to == 'huggingface' and os.path.isdir(args.out):  # the export writes these two files there
        outputs = [os.path.join(args.out, name) for name in ('tokenizer.json', 'tokenizer_config.json')]
    check_output_apart(outputs, [args.model])
    tokenizer = _load_tokenizer(args)
    if args.to == 'bytepiece':
        if tokenizer.model_format != 'bytepiece':
            raise UsageError(f'--to bytepiece: {args.model} is a {tokenizer.model_format} model; BytePiece\'s format '
                             f'cannot hold its normalizer and unknown-character rules, so no BytePiece file gives '
                             f'its ids (bytepiece reads the file itself: --model {args.model})')
        tokenizer.save(args.out)
    elif args.to == 'sentencepiece':
        tokenizer.convert_to_sentencepiece(args.out)
    else:
        tokenizer.convert_to_huggingface(args.out)
    print(f'wrote {args.out}', file=sys.stderr)
    return 0


def cmd_train(args):
    inputs = args.inputs + args.more_inputs
    if not inputs:
        raise UsageError('give at least one training FILE')
    if '-' in inputs:
        raise UsageError('train reads files (in partitions, on any worker): give files, not -')
    check_output_path(args.output)  # fail before training, not at the final rename
    sizes = args.vocab_size
    outputs = [f'{args.output}.{size}' for size in sizes] if len(sizes) > 1 else [args.output]
    check_output_apart(outputs, [p for p in inputs if '://' not in p])
    try:
        trainer = Trainer(order=args.order, max_vocab_size=sizes if len(sizes) > 1 else sizes[0],
                          max_piece_length=args.max_piece_length, min_count=args.min_count,
                          isolate_digits=args.isolate_digits, ensure_unicode=not args.no_ensure_unicode,
                          method=args.method, token_penalty=args.token_penalty, growth=args.growth,
                          boundary_share=args.boundary_share, dropout=args.dropout)
        progress = not args.quiet and sys.stderr.isatty()
        work_dir = args.work_dir or f'{args.output}.work'  # the same command resumes a killed run
        report = trainer.train(files=inputs, field=args.field, errors=args.errors,
                               text_documents=args.text_documents, engine=args.engine,
                               workers=args.workers, work_dir=work_dir, memory_limit=args.memory_limit,
                               holdout=args.holdout, progress=progress, restart=args.work_dir is None,
                               wait=args.wait)
    except ValueError as e:
        if not isinstance(e, UnicodeError) and about_train_arguments(str(e)):  # the flags, not the names
            raise ValueError(with_train_flags(str(e))) from e
        raise
    paths = trainer.save(args.output)
    if not args.quiet:
        print(with_train_flags(str(report)), file=sys.stderr)
    else:
        for line in report.warnings():
            print(f'{PROG} train: warning: {with_train_flags(line)}', file=sys.stderr)
    for path in paths or [args.output]:
        print(f'wrote {path}', file=sys.stderr)
    return 0
