"""The ``bytepiece`` command line: train, encode, decode, info, convert.

Every subcommand reports errors (a missing file, a bad model, a bad flag,
malformed input) as one line on stderr and exits with a non-zero status:
1 for a failure, 2 for bad usage. Input is streamed: ``encode`` and ``decode``
read a batch of lines at a time, so memory does not grow with the input.
Output files are written to a temporary file and renamed at the end, so a
failed run leaves no partial output. A progress bar is shown on a terminal.
"""

import argparse
import bz2
import gzip
import json
import lzma
import os
import re
import sys
import zipfile
import zlib

from .interrupts import keyboard_interrupts

__all__ = ['main']

PROG = 'bytepiece'
BATCH_BYTES = 4 << 20
SAMPLE_TEXT = ('BytePiece tokenizes bytes: 今天天气不错，我们去公园散步吧。\n'
               'def f(x):\n    return x ** 2  # ünïcödé, emoji 🙂\n')


class UsageError(Exception):
    """Bad usage found after parsing (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and no usage dump."""

    def error(self, message):
        self.exit(2, f'{PROG}: error: {message} (see {self.prog} --help)\n')


# --- input and output ---------------------------------------------------------


def _open_binary(path):
    if path == '-':
        return sys.stdin.buffer
    low = path.lower()
    if low.endswith('.gz'):
        return gzip.open(path, 'rb')
    if low.endswith('.xz') or low.endswith('.lzma'):
        return lzma.open(path, 'rb')
    if low.endswith('.bz2'):
        return bz2.open(path, 'rb')
    if os.path.isdir(path):
        raise IsADirectoryError(f'{path!r} is a directory, not an input file')
    return open(path, 'rb')


def _input_size(paths):
    """Total size in bytes of the inputs when known (plain regular files)."""
    total = 0
    for path in paths:
        if path == '-' or path.lower().endswith(('.gz', '.xz', '.lzma', '.bz2')) or not os.path.isfile(path):
            return None
        total += os.path.getsize(path)
    return total


# what the decompressors and zipfile raise on damaged data (gzip's and bz2's own
# errors are OSErrors without an errno)
_DAMAGED = (EOFError, lzma.LZMAError, zlib.error, zipfile.BadZipFile)


def _damaged(name, error):
    """A ValueError naming the file for a damaged-data error; an OSError
    with an errno is a system error that speaks for itself, returned as is."""
    if isinstance(error, EOFError):
        return ValueError(f'{name}: compressed data ended early (truncated file?)')
    if isinstance(error, OSError) and error.errno is not None:
        return error
    return ValueError(f'{name}: damaged compressed data ({_one_line(error)})')


def _check_inputs(paths):
    for path in paths:
        if path != '-' and not os.path.exists(path):
            raise FileNotFoundError(f'input file not found: {path!r}')


def _check_output_apart(outputs, sources):
    """Refuse to write over one of the command's own input or model files
    (``encode in.txt -o in.txt`` would replace the text with its ids)."""
    for output in outputs:
        if output in (None, '-') or not os.path.isfile(output):
            continue
        for source in sources:
            if source != '-' and os.path.isfile(source) and os.path.samefile(output, source):
                raise UsageError(f'the output {output!r} is the input {source!r}: writing it would destroy it')


def _model_files(model):
    """The model file and its special-token sidecar."""
    from .special import sidecar_path
    return [model, sidecar_path(model)]


def read_batches(paths, progress=None):
    """Yield ``(name, first line number, data)``: ``data`` holds whole lines
    (without their final newline) joined by ``\\n``, about ``BATCH_BYTES``
    at a time (more only for a longer line). A file's last line counts even
    without a newline."""
    for path in paths:
        name = '<stdin>' if path == '-' else path
        f = _open_binary(path)
        try:
            number = 1
            rest = b''
            while True:
                try:
                    block = f.read(BATCH_BYTES)
                except (OSError, *_DAMAGED) as e:
                    raise _damaged(name, e) from None
                if progress is not None:
                    progress.update(len(block))
                if not block:
                    break
                block = rest + block if rest else block
                cut = block.rfind(b'\n')
                if cut < 0:
                    rest = block  # a line longer than a block: read on
                    continue
                data, rest = block[:cut], block[cut + 1:]
                yield name, number, data
                number += data.count(b'\n') + 1
            if rest:
                yield name, number, rest
        finally:
            if f is not sys.stdin.buffer:
                f.close()


def split_lines(name, number, data):
    """``(name, line number, line bytes)`` for each line of a batch."""
    return [(name, number + k, line) for k, line in enumerate(data.split(b'\n'))]


def decode_lines(name, number, data):
    """The lines of a batch as str (strict UTF-8, errors name the line)."""
    try:
        return data.decode('utf-8').split('\n')
    except UnicodeDecodeError as e:
        line = number + data.count(b'\n', 0, e.start)
        column = e.start - (data.rfind(b'\n', 0, e.start) + 1)
        raise ValueError(f'{name}:{line}: invalid UTF-8 at byte {column}') from None


class Output:
    """stdout, or a file written atomically (``model.atomic_output``); an
    unusable path fails here, before the work."""

    def __init__(self, path):
        self._file = None
        if path in (None, '-'):
            self.stream = sys.stdout.buffer
        else:
            from .model import atomic_output
            self._file = atomic_output(path)
            self.stream = self._file.__enter__()

    def write_lines(self, lines):
        if lines:
            self.stream.write(('\n'.join(lines) + '\n').encode('utf-8'))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._file is None:
            self.stream.flush()
            return False
        return self._file.__exit__(exc_type, exc, tb)


def _progress(total, desc, enabled=True):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit='B', unit_scale=True, disable=not (enabled and sys.stderr.isatty()))


# --- formatting ----------------------------------------------------------------

_DISPLAY = {0xDC00 + b: f'\\x{b:02x}' for b in range(0x80, 0x100)}  # invalid bytes (surrogateescape)
_DISPLAY.update({c: f'\\x{c:02x}' for c in list(range(0x20)) + [0x7F]})
_DISPLAY.update({ord('\\'): '\\\\', ord(' '): '\u2581', ord('\n'): '\\n', ord('\t'): '\\t', ord('\r'): '\\r'})


def display_piece(piece):
    """A piece as a single whitespace-free word: bytes that are not valid
    UTF-8 and control characters as ``\\xNN``, space as U+2581, newline, tab
    and carriage return as ``\\n``, ``\\t``, ``\\r``, backslash doubled;
    special tokens (str) as they are."""
    if isinstance(piece, str):
        return piece
    return piece.decode('utf-8', errors='surrogateescape').translate(_DISPLAY)


def _display_table(tokenizer):
    """Display string of every id, computed once."""
    table = [display_piece(tokenizer.id_to_piece(i)) for i in range(3, tokenizer.vocab_size)]
    return ['<pad>', '<bos>', '<eos>'] + table


# --- subcommands -----------------------------------------------------------------


def _load_tokenizer(args, seed=None):
    from .tokenizer import Tokenizer
    normalization = None if args.normalization.lower() == 'none' else args.normalization.upper()
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


def cmd_encode(args):
    _check_inputs(args.inputs)
    _check_output_apart([args.output], args.inputs + _model_files(args.model))
    if args.alpha is not None and args.alpha < 0:
        raise UsageError(f'--alpha must be >= 0 (omit it for Viterbi), got {args.alpha}')
    if args.threads is not None and args.threads < 1:
        raise UsageError(f'--threads must be >= 1, got {args.threads}')
    tokenizer = _load_tokenizer(args, seed=args.seed)
    alpha = -1.0 if args.alpha is None else args.alpha
    allowed = _allowed_special(args)
    if args.format == 'pieces':
        formatter = LineFormatter(_display_table(tokenizer), ' ', '', '\n')
    elif args.format == 'ids':
        formatter = LineFormatter([str(i) for i in range(tokenizer.vocab_size)], ' ', '', '\n')
    else:
        formatter = LineFormatter([str(i) for i in range(tokenizer.vocab_size)], ', ', '{"ids": [', ']}\n')
    bar = _progress(_input_size(args.inputs), 'encode', not args.quiet)
    with bar, Output(args.output) as out:
        for name, number, data in read_batches(args.inputs, bar):
            if args.format == 'jsonl':
                # one text per line, None for a blank line
                texts = [_jsonl_text(*item, args.field) for item in split_lines(name, number, data)]
                docs = [t for t in texts if t is not None]
            else:
                texts = docs = decode_lines(name, number, data)
            try:
                ids, starts = tokenizer.encode_batch(docs, alpha=alpha, add_bos=args.add_bos,
                                                     add_eos=args.add_eos, num_threads=args.threads,
                                                     return_arrays=True, allowed_special=allowed)
            except ValueError:
                _check_encodable(name, number, texts)  # name the line, not the index in the batch
                raise
            formatted = formatter.format(ids, starts)
            if len(docs) < len(texts):  # a blank line for each blank input line
                lines = iter(formatted.split(b'\n'))
                formatted = b''.join(b'\n' if t is None else next(lines) + b'\n' for t in texts)
            out.stream.write(formatted)
    return 0


def _check_encodable(name, number, texts):
    """Raise a ValueError naming the first line whose text is not UTF-8
    encodable (a lone surrogate, from a JSON escape like \\ud800)."""
    from .text import encode_utf8
    for k, text in enumerate(texts):
        if text is not None:
            encode_utf8(text, location=f'{name}:{number + k}')


class LineFormatter:
    """Formats token ids as text lines with numpy, without a Python object
    per token: line ``t`` is ``start + s[id0] + sep + s[id1] + ... + end``
    where ``s`` are the given strings of the ids."""

    def __init__(self, strings, sep, start, end):
        import numpy as np
        n = len(strings)
        entries = [x.encode('utf-8') for x in strings]
        entries += [sep.encode('utf-8') + x for x in entries] + [start.encode('utf-8'), end.encode('utf-8')]
        lengths = np.fromiter(map(len, entries), np.int64, len(entries))
        self.data = np.frombuffer(b''.join(entries), np.uint8)
        self.offsets = np.zeros(len(entries) + 1, np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        self.lengths = lengths
        self.n = n

    def format(self, ids, starts):
        """The bytes of all lines for a flat ids array and text starts."""
        import numpy as np
        n, n_texts = self.n, starts.size - 1
        entry = ids.astype(np.int64) + n  # with the separator ...
        firsts = starts[:-1][np.diff(starts) > 0]
        entry[firsts] -= n  # ... except for the first token of a line
        marks = np.empty(2 * n_texts, np.int64)
        marks[0::2] = 2 * n  # line start, then line end
        marks[1::2] = 2 * n + 1
        where = np.empty(2 * n_texts, np.int64)
        where[0::2] = starts[:-1]
        where[1::2] = starts[1:]
        entry = np.insert(entry, where, marks)  # stable: a line's start comes before its end
        parts = []
        for a in range(0, entry.size, 1 << 18):  # bounded temporaries
            part = entry[a:a + (1 << 18)]
            lengths = self.lengths[part]
            total = int(lengths.sum())
            out_start = np.cumsum(lengths) - lengths
            # byte k of the output comes from data[src_start + (k - out_start)] of its entry
            shift = np.repeat(self.offsets[part] - out_start, lengths)
            parts.append(self.data[np.arange(total, dtype=np.int64) + shift].tobytes())
        return b''.join(parts)


def _json_line(name, number, line):
    """The JSON document of one input line (None for a blank line)."""
    if not line.strip():
        return None
    try:
        return json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'{name}:{number}: not a JSON line ({e})') from None


def _jsonl_text(name, number, line, field):
    doc = _json_line(name, number, line)
    if doc is None:
        return None
    if not isinstance(doc, dict) or field not in doc:
        raise ValueError(f'{name}:{number}: no field {field!r} in the JSON document')
    text = doc[field]
    if not isinstance(text, str):
        raise ValueError(f'{name}:{number}: field {field!r} is {type(text).__name__}, not a string')
    return text


# plain decimal ids (int() would also take '+5' and '1_0'); a minus sign is
# let through so that the range check names the id
_ID = re.compile(rb'-?[0-9]+')
_ID_LINE = re.compile(rb'\s*(?:-?[0-9]+(?:\s+-?[0-9]+)*)?\s*')


def _parse_ids(name, number, line, field, jsonl):
    """The ids of one input line (None for a blank jsonl line)."""
    if jsonl:
        doc = _json_line(name, number, line)
        if doc is None:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get(field), list):
            raise ValueError(f'{name}:{number}: no list field {field!r} in the JSON document')
        return doc[field]
    words = line.split()
    if not _ID_LINE.fullmatch(line):
        bad = next(w for w in words if not _ID.fullmatch(w)).decode('utf-8', 'replace')
        shown = repr(bad) if len(bad) <= 40 else f'{bad[:30]!r}... ({len(bad)} characters)'
        raise ValueError(f'{name}:{number}: {shown} is not a token id')
    return [int(word) for word in words]


_ESCAPES = str.maketrans({'\\': '\\\\', '\n': '\\n', '\r': '\\r'})


def cmd_decode(args):
    _check_inputs(args.inputs)
    _check_output_apart([args.output], args.inputs + _model_files(args.model))
    jsonl = args.format == 'jsonl'
    if jsonl and args.escape:
        raise UsageError('--escape is for --format ids (jsonl output is escaped already)')
    tokenizer = _load_tokenizer(args)
    field = args.field or 'ids'
    bar = _progress(_input_size(args.inputs), 'decode', not args.quiet)
    with bar, Output(args.output) as out:
        for batch in read_batches(args.inputs, bar):
            lines = []
            for name, number, line in split_lines(*batch):
                ids = _parse_ids(name, number, line, field, jsonl)
                if ids is None:
                    lines.append('')  # keep the lines aligned with the input
                    continue
                try:
                    text = tokenizer.decode(ids)
                except (ValueError, TypeError) as e:
                    raise ValueError(f'{name}:{number}: {e}') from None
                if jsonl:
                    text = json.dumps({'text': text}, ensure_ascii=False)
                elif args.escape:
                    text = text.translate(_ESCAPES)
                elif '\n' in text:
                    raise ValueError(f'{name}:{number}: the decoded text has a newline, which would break '
                                     f'the one-line-per-input-line output; use --escape')
                lines.append(text)
            out.write_lines(lines)
    return 0


def cmd_info(args):
    import numpy as np
    text = args.text if args.text is not None else SAMPLE_TEXT
    try:  # checked before any output
        text.encode('utf-8')
    except UnicodeEncodeError as e:
        code = ord(text[e.start])
        if 0xDC80 <= code <= 0xDCFF:  # how Python passes on command-line bytes that are not UTF-8
            raise UsageError(f'--text is not valid UTF-8: byte 0x{code - 0xDC00:02x} at character {e.start}') from None
        raise UsageError(f'--text holds a lone surrogate at character {e.start}') from None
    tokenizer = _load_tokenizer(args)
    automaton = tokenizer._automaton
    pieces = automaton.pieces[3:]
    lengths = np.diff(automaton.piece_offsets)[3:]
    partial = sum(1 for p in pieces if not _is_utf8(p))
    print(f'model: {args.model}')
    print(f'vocab size: {tokenizer.vocab_size} ({len(pieces)} pieces + <pad> <bos> <eos>'
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
    ids = tokenizer.encode(text, allowed_special='all')
    table = [display_piece(tokenizer.id_to_piece(i)) for i in ids]
    size = len(text.encode('utf-8'))
    print(f'sample text: {size} bytes -> {len(ids)} tokens ({size / max(len(ids), 1):.2f} bytes/token)')
    print('  ' + ' | '.join(table))
    return 0


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
    _check_output_apart(outputs, _model_files(args.model))
    tokenizer = _load_tokenizer(args)
    if args.to == 'sentencepiece':
        tokenizer.convert_to_sentencepiece(args.out)
    else:
        tokenizer.convert_to_huggingface(args.out)
    print(f'wrote {args.out}', file=sys.stderr)
    return 0


class _Inputs:
    """Training files as one re-iterable corpus of str; read errors name the file."""

    def __init__(self, paths, field):
        from .corpus import as_corpus
        self.parts = [(p, as_corpus(p, field=field)) for p in paths]

    def __iter__(self):
        for path, part in self.parts:
            try:
                yield from part  # invalid UTF-8 is a ValueError naming file and line already
            except (OSError, *_DAMAGED) as e:
                raise _damaged(path, e) from None


def cmd_train(args):
    inputs = args.inputs + args.more_inputs
    if not inputs:
        raise UsageError('give at least one training FILE')
    if '-' in inputs:
        raise UsageError('train reads its input twice: give files, not -')
    _check_inputs(inputs)
    from .model import check_output_path
    check_output_path(args.output)  # fail before training, not at the final rename
    sizes = args.vocab_size
    outputs = [f'{args.output}.{size}' for size in sizes] if len(sizes) > 1 else [args.output]
    _check_output_apart(outputs, inputs)
    try:
        from .train import Trainer
    except ImportError as e:
        raise RuntimeError(f'the trainer is not available: {e}') from None
    trainer = Trainer(order=args.order, max_vocab_size=sizes if len(sizes) > 1 else sizes[0],
                      max_piece_length=args.max_piece_length, min_count=args.min_count,
                      isolate_digits=args.isolate_digits, ensure_unicode=not args.no_ensure_unicode)
    corpus = _Inputs(inputs, args.field)
    progress = not args.quiet and sys.stderr.isatty()
    trainer.train(corpus, workers=args.workers, batch_size=args.batch_size, progress=progress, field=args.field)
    paths = trainer.save(args.output)
    for path in paths or [args.output]:
        print(f'wrote {path}', file=sys.stderr)
    return 0


# --- argument parsing --------------------------------------------------------------


class _Sizes(argparse.Action):
    """``--vocab-size N [N ...]``: the leading integers are sizes, what follows
    them is input files (so ``--vocab-size 300 FILE`` works)."""

    def __call__(self, parser, namespace, values, option_string=None):
        count = next((k for k, v in enumerate(values) if not re.fullmatch(r'-?[0-9]+', v)), len(values))
        if count == 0:
            raise argparse.ArgumentError(self, f'invalid int value: {values[0]!r}')
        setattr(namespace, self.dest, [int(v) for v in values[:count]])
        namespace.more_inputs = namespace.more_inputs + values[count:]


def build_parser():
    parser = _Parser(prog=PROG, description='Byte-level unigram tokenizer (BytePiece-compatible models).')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True

    def model_args(p, specials=True):
        p.add_argument('--model', '-m', required=True, help='model file (BytePiece JSON, or a .zip of one)')
        p.add_argument('--normalization', default='NFC', choices=['NFC', 'NFKC', 'NFD', 'NFKD', 'none'],
                       type=lambda s: s if s.lower() == 'none' else s.upper(),
                       help='Unicode normalization before encoding (default NFC; none: byte-exact)')
        if specials:
            p.add_argument('--special-tokens', nargs='+', metavar='TOKEN', default=None,
                           help='register special tokens (ids after the vocabulary)')

    def stream_args(p):
        p.add_argument('inputs', nargs='*', default=['-'], metavar='FILE',
                       help='input files (default: stdin; - is stdin; .gz/.xz/.bz2 are decompressed)')
        p.add_argument('-o', '--output', default=None, help='output file (default: stdout)')
        p.add_argument('--quiet', '-q', action='store_true', help='no progress bar')

    p = sub.add_parser('train', help='train a model on text files')
    # '*', not '+': the files may also come after --vocab-size's values (checked in cmd_train)
    p.add_argument('inputs', nargs='*', metavar='FILE',
                   help='training files: .jsonl (with --field) or plain text (one document per file); may be compressed')
    p.add_argument('-o', '--output', required=True, help='model path (with several sizes: PATH.<size> each)')
    p.add_argument('--vocab-size', action=_Sizes, nargs='+', default=[10000], metavar='N',
                   help='one or more sizes (default 10000); FILEs may follow the sizes')
    p.add_argument('--order', type=int, default=6, help='n-gram order (default 6)')
    p.add_argument('--min-count', type=int, default=2, help='least count of kept n-grams and pieces (default 2)')
    p.add_argument('--max-piece-length', type=int, default=36, help='longest piece in bytes (default 36)')
    p.add_argument('--workers', type=int, default=1, help='parallel workers (default 1)')
    p.add_argument('--batch-size', type=int, default=1000, help='texts per work unit (default 1000)')
    p.add_argument('--isolate-digits', action='store_true', help='every digit is its own chunk')
    p.add_argument('--no-ensure-unicode', action='store_true', help='allow pieces that split UTF-8 characters')
    p.add_argument('--field', default='text', help='text field of .jsonl inputs (default text)')
    p.add_argument('--quiet', '-q', action='store_true', help='no progress bars')
    p.set_defaults(func=cmd_train, more_inputs=[])

    p = sub.add_parser('encode', help='encode text, one output line per input line')
    model_args(p)
    stream_args(p)
    p.add_argument('--format', choices=['ids', 'pieces', 'jsonl'], default='ids',
                   help='ids: space-separated ids; pieces: space-separated pieces; jsonl: input is JSON lines, '
                        'output {"ids": [...]} per line (a blank line stays blank)')
    p.add_argument('--field', default='text', help='text field of jsonl input (default text)')
    p.add_argument('--alpha', type=float, default=None, help='sample a segmentation (alpha >= 0); default: Viterbi')
    p.add_argument('--seed', type=int, default=None, help='seed of the samples (reproducible runs)')
    p.add_argument('--threads', type=int, default=None, help='threads (default: all cores)')
    p.add_argument('--add-bos', action='store_true', help='prepend <bos> (id 1)')
    p.add_argument('--add-eos', action='store_true', help='append <eos> (id 2)')
    p.add_argument('--allowed-special', default=None, metavar='all|TOKEN,...',
                   help='match these special tokens in the text (default: none, their text is plain text)')
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser('decode', help='decode ids, one output line per input line')
    model_args(p)
    stream_args(p)
    p.add_argument('--format', choices=['ids', 'jsonl'], default='ids',
                   help='ids: space-separated decimal ids per line, output the text (a text with a newline is an '
                        'error without --escape); jsonl: {"ids": [...]} per line, output {"text": ...}')
    p.add_argument('--field', default=None, help='ids field of jsonl input (default ids)')
    p.add_argument('--escape', action='store_true',
                   help='with --format ids: write backslash, newline and CR in the text as \\\\, \\n, \\r')
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser('info', help='vocabulary size, piece lengths, how a sample text splits')
    model_args(p)
    p.add_argument('--text', default=None, help='sample text to split (default: a built-in one)')
    p.set_defaults(func=cmd_info)

    p = sub.add_parser('convert', help='convert a model to another library\'s format')
    model_args(p)
    p.add_argument('--to', required=True, choices=['sentencepiece', 'huggingface'])
    p.add_argument('out', metavar='OUT', help='output file (huggingface: tokenizer.json, or a directory)')
    p.set_defaults(func=cmd_convert)
    return parser


def _one_line(error):
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        # os.replace(temp, path) fails with both names: the user's is the second
        name = error.filename if error.filename2 is None else error.filename2
        message = f'{error.strerror}: {name!r}'
    else:
        message = str(error) or type(error).__name__
    return ' '.join(message.split())


def main(argv=None):
    """Run the CLI; returns the exit status (also used as the console entry point)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with keyboard_interrupts():
            return args.func(args)
    except UsageError as e:
        print(f'{PROG} {args.command}: error: {_one_line(e)}', file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, and keep Python
        # from complaining when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f'{PROG}: interrupted', file=sys.stderr)
        return 130
    except (OSError, ValueError, TypeError, KeyError, ImportError, RuntimeError, MemoryError, *_DAMAGED) as e:
        print(f'{PROG} {args.command}: error: {_one_line(e)}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
