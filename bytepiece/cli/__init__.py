"""The ``bytepiece`` command line: train, encode, decode, merge, info, convert.

Every subcommand reports errors (a missing file, a bad model, a bad flag,
malformed input) as one line on stderr and exits with a non-zero status:
1 for a failure, 2 for bad usage. Input is streamed: ``encode`` and ``decode``
read a batch of lines at a time, so memory does not grow with the input.
Output files are written to a temporary file and renamed at the end, so a
failed run leaves no partial output. A progress bar is shown on a terminal.
"""

import argparse
import os
import re
import sys

from ..corpus.inputs import DEFAULT_TEXT_DOCUMENTS, TEXT_DOCUMENTS
from ..runtime.fileio import DAMAGED_DATA
from ..runtime.interrupts import keyboard_interrupts
from ..train.settings import DEFAULT_METHOD, METHODS
from .commands import DECODE_ERRORS, PROG, cmd_convert, cmd_decode, cmd_encode, cmd_info, cmd_train
from .errors import UsageError, one_line
from .formats import LineFormatter, display_piece
from .streams import Output, read_batches, split_lines
from .tokenfiles import add_encode_files_args, cmd_merge

__all__ = ['main', 'build_parser', 'LineFormatter', 'Output', 'display_piece', 'read_batches', 'split_lines']


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and no usage dump."""

    def error(self, message):
        self.exit(2, f'{PROG}: error: {message} (see {self.prog} --help)\n')


class _Sizes(argparse.Action):
    """``--vocab-size N [N ...]``: the leading integers are sizes, what follows
    them is input files (so ``--vocab-size 300 FILE`` works)."""

    def __call__(self, parser, namespace, values, option_string=None):
        count = next((k for k, v in enumerate(values) if not re.fullmatch(r'-?[0-9]+', v)), len(values))
        if count == 0:
            raise argparse.ArgumentError(self, f'invalid int value: {values[0]!r}')
        setattr(namespace, self.dest, [int(v) for v in values[:count]])
        namespace.more_inputs = namespace.more_inputs + values[count:]


def _model_args(p, specials=True):
    p.add_argument('--model', '-m', required=True,
                   help='model file: BytePiece JSON (or a .zip of one), a SentencePiece unigram .model, '
                        'or a HF Unigram tokenizer.json')
    p.add_argument('--normalization', default='auto', choices=['auto', 'NFC', 'NFKC', 'NFD', 'NFKD', 'none'],
                   type=lambda s: s.lower() if s.lower() in ('none', 'auto') else s.upper(),
                   help='Unicode normalization before encoding (default auto: the model file\'s, NFC for a '
                        'BytePiece file that names none; none: byte-exact). SentencePiece and HF files use '
                        'their own normalizer')
    if specials:
        p.add_argument('--special-tokens', nargs='+', metavar='TOKEN', default=None,
                       help='register special tokens (ids after the vocabulary)')


def _stream_args(p):
    p.add_argument('inputs', nargs='*', default=['-'], metavar='FILE',
                   help='input files (default: stdin; - is stdin; .gz/.xz/.bz2 are decompressed)')
    p.add_argument('-o', '--output', default=None, help='output file (default: stdout)')
    p.add_argument('--quiet', '-q', action='store_true', help='no progress bar')


def _text_documents_arg(p):
    p.add_argument('--text-documents', choices=list(TEXT_DOCUMENTS), default=DEFAULT_TEXT_DOCUMENTS,
                   help='what one document of a plain-text file is: line (default; its line break not part of '
                        'it), paragraph (lines up to a run of empty lines) or file (every byte of it, e.g. for code)')


def _train_parser(sub):
    p = sub.add_parser('train', help='train a model on text files')
    # '*', not '+': the files may also come after --vocab-size's values (checked in cmd_train)
    p.add_argument('inputs', nargs='*', metavar='FILE',
                   help='training files, folders, globs or URLs (s3://... with the fsspec backend): .jsonl '
                        '(with --field), .parquet (a column), or plain text; may be compressed (.gz .bz2 .xz .zst)')
    p.add_argument('-o', '--output', required=True, help='model path (with several sizes: PATH.<size> each)')
    p.add_argument('--vocab-size', action=_Sizes, nargs='+', default=[10000], metavar='N',
                   help='one or more sizes (default 10000); FILEs may follow the sizes')
    p.add_argument('--method', choices=list(METHODS), default=None,
                   help=f'unigram: pieces grown from token pairs and pruned by likelihood loss, fewer tokens per '
                        f'byte on text it was not trained on and exactly the sizes asked for; bytepiece: '
                        f'BytePiece 0.6.3\'s byte n-gram method, its models exactly (default {DEFAULT_METHOD}, or '
                        f'bytepiece with --order; docs/usage.md, Choosing a method)')
    p.add_argument('--order', type=int, default=None, help='n-gram order, --method bytepiece only (default 6)')
    p.add_argument('--token-penalty', type=float, default=None,
                   help='cost per token in the scores, --method unigram only (default 10; 0: plain log '
                        'probabilities, as BytePiece 0.6.3 reads them)')
    p.add_argument('--growth', type=float, default=None,
                   help='how many times its size a vocabulary grows to before pruning, '
                        '--method unigram only (default 1.3)')
    p.add_argument('--boundary-share', type=float, default=None,
                   help='the most of each vocabulary that pieces crossing a pre-token boundary (between words, '
                        'numbers, punctuation and whitespace) may take, 0..1, --method unigram only (default 0.35; '
                        '1: no limit)')
    p.add_argument('--dropout', type=float, default=None,
                   help='the share of the lattice\'s edges of pieces of several characters left out of the best '
                        'paths that choose the pieces (by a hash of the text), 0..1 (not 1), --method unigram only '
                        '(default 0.2)')
    p.add_argument('--min-count', type=int, default=2,
                   help='least count of kept n-grams and pieces (bytepiece), of a pair that becomes a piece '
                        '(unigram); default 2')
    p.add_argument('--max-piece-length', type=int, default=None,
                   help='longest piece in bytes (default 32 with unigram, 36 with bytepiece)')
    p.add_argument('--workers', type=int, default=None, help='parallel workers (default: every core)')
    p.add_argument('--engine', default=None, metavar='threads|processes|ADDRESS',
                   help='where the work runs: threads (default), processes, or a Dask scheduler address '
                        '(tcp://host:8786; needs bytepiece[dask])')
    p.add_argument('--work-dir', default=None,
                   help='folder of the phases\' outputs (default MODEL.work, removed at the end, and started '
                        'anew for other arguments); run the same command again to resume a killed run; on a '
                        'cluster, a folder every worker reaches')
    p.add_argument('--wait', action='store_true',
                   help='if another run holds the work directory, wait for it to end (default: an error naming it)')
    p.add_argument('--memory-limit', default=None, metavar='SIZE',
                   help='memory one reduce task may hold, e.g. 512MB (default 256MB)')
    p.add_argument('--errors', choices=['strict', 'skip', 'replace'], default='strict',
                   help='a record that is not UTF-8 or not JSON: an error (default), skipped, or repaired')
    p.add_argument('--holdout', type=float, default=None,
                   help='fraction of documents held back from training (chosen by a hash of each), on which the '
                        'summary measures bytes per token (default 0.02 with unigram, 0 with bytepiece)')
    p.add_argument('--isolate-digits', action='store_true', help='every digit is its own chunk')
    p.add_argument('--no-ensure-unicode', action='store_true', help='allow pieces that split UTF-8 characters')
    p.add_argument('--field', default='text', help='text field of .jsonl inputs, column of .parquet (default text)')
    _text_documents_arg(p)
    p.add_argument('--quiet', '-q', action='store_true', help='no progress bars, no report (warnings only)')
    p.set_defaults(func=cmd_train, more_inputs=[])


def _other_parsers(sub):
    p = sub.add_parser('encode', help='encode text: one output line per input line, or token files for training')
    _model_args(p)
    _stream_args(p)
    p.add_argument('--format', choices=['ids', 'pieces', 'jsonl', 'megatron', 'flat'], default='ids',
                   help='ids: space-separated ids; pieces: space-separated pieces; jsonl: {"ids": [...]} per line '
                        'with the record\'s other fields (a blank line stays blank); megatron: Megatron-LM '
                        '.bin/.idx shards in the folder -o; flat: uint16/uint32 .ds token files with a .ds.index '
                        'of document ends (datatrove, nanoGPT) in the folder -o')
    p.add_argument('--input-format', choices=['auto', 'text', 'jsonl'], default='auto',
                   help='auto (default): .jsonl/.ndjson/.json files are JSON lines, stdin is JSON lines with '
                        '--format jsonl, anything else text, one document per line')
    p.add_argument('--field', default='text', help='text field of JSON lines and Parquet input (default text)')
    _text_documents_arg(p)
    add_encode_files_args(p)
    p.add_argument('--alpha', type=float, default=None, help='sample a segmentation (alpha >= 0); default: Viterbi')
    p.add_argument('--seed', type=int, default=None, help='seed of the samples (reproducible runs)')
    p.add_argument('--threads', type=int, default=None, help='threads (default: all cores)')
    p.add_argument('--add-bos', action='store_true', help='prepend <bos> (id 1)')
    p.add_argument('--add-eos', action='store_true', help='append <eos> (id 2)')
    p.add_argument('--allowed-special', default=None, metavar='all|TOKEN,...',
                   help='match these special tokens in the text (default: none, their text is plain text)')
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser('decode', help='decode ids, one output line per input line')
    _model_args(p)
    _stream_args(p)
    p.add_argument('--format', choices=['ids', 'jsonl'], default='ids',
                   help='ids: space-separated decimal ids per line, output the text (a text with a newline is an '
                        'error without --escape); jsonl: {"ids": [...]} per line, output {"text": ...}')
    p.add_argument('--field', default=None, help='ids field of jsonl input (default ids)')
    p.add_argument('--escape', action='store_true',
                   help='with --format ids: write backslash, newline and CR in the text as \\\\, \\n, \\r')
    p.add_argument('--errors', choices=DECODE_ERRORS, default=None,
                   help='bytes that are not valid UTF-8 (ids ending inside a character): ignore drops them (the '
                        'default for BytePiece models, as BytePiece and Tokenizer.decode; a SentencePiece or HF '
                        'model decodes as its library does), replace writes U+FFFD, backslashreplace '
                        '\\xNN, strict stops with an error naming the line')
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser('merge', help='join the shards of an encode --format megatron|flat run into one dataset')
    p.add_argument('folder', metavar='FOLDER', help='the shard folder (encode -o)')
    p.add_argument('-o', '--output', required=True, metavar='PREFIX',
                   help='the merged dataset: PREFIX.bin and PREFIX.idx, or PREFIX.ds, .ds.index, .ds.metadata')
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser('info', help='vocabulary size, piece lengths, how a sample text splits')
    _model_args(p)
    p.add_argument('--text', default=None, help='sample text to split (default: a built-in one)')
    p.set_defaults(func=cmd_info)

    p = sub.add_parser('convert', help='convert a model to another library\'s format')
    _model_args(p)
    p.add_argument('--to', required=True, choices=['sentencepiece', 'huggingface', 'bytepiece'],
                   help='bytepiece: a BytePiece model file, from a tokenizer.json bytepiece exported')
    p.add_argument('out', metavar='OUT', help='output file (huggingface: tokenizer.json, or a directory)')
    p.set_defaults(func=cmd_convert)


def build_parser():
    parser = _Parser(prog=PROG, description='Byte-level unigram tokenizer (BytePiece-compatible models).')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    _train_parser(sub)
    _other_parsers(sub)
    return parser


def main(argv=None):
    """Run the CLI; returns the exit status (also used as the console entry point)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with keyboard_interrupts():
            return args.func(args)
    except UsageError as e:
        print(f'{PROG} {args.command}: error: {one_line(e)}', file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, and keep Python
        # from complaining when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f'{PROG}: interrupted', file=sys.stderr)
        return 130
    except (OSError, ValueError, TypeError, KeyError, ImportError, RuntimeError, MemoryError, *DAMAGED_DATA) as e:
        print(f'{PROG} {args.command}: error: {one_line(e)}', file=sys.stderr)
        return 1

