"""Command-line input and output: files or stdin read in batches of whole
lines, outputs written atomically, and checks made before any work."""

import os
import sys

from ..runtime import progress
from ..runtime.fileio import DAMAGED_DATA, atomic_output, compression_suffix, damaged, open_input
from .errors import UsageError

BATCH_BYTES = 4 << 20


def input_size(paths):
    """Total size in bytes of the inputs when known (plain regular files)."""
    total = 0
    for path in paths:
        if path == '-' or compression_suffix(path) or not os.path.isfile(path):
            return None
        total += os.path.getsize(path)
    return total


def check_inputs(paths):
    for path in paths:
        if path != '-' and not os.path.exists(path):
            raise FileNotFoundError(f'input file not found: {path!r}')


def check_output_apart(outputs, sources):
    """Refuse to write over one of the command's own input or model files
    (``encode in.txt -o in.txt`` would replace the text with its ids)."""
    for output in outputs:
        if output in (None, '-') or not os.path.isfile(output):
            continue
        for source in sources:
            if source != '-' and os.path.isfile(source) and os.path.samefile(output, source):
                raise UsageError(f'the output {output!r} is the input {source!r}: writing it would destroy it')


def read_batches(paths, progress=None):
    """Yield ``(name, first line number, data)``: ``data`` (a bytearray)
    holds whole lines (without their final newline) joined by ``\\n``, about
    ``BATCH_BYTES`` at a time (more only for a longer line). A file's last
    line counts even without a newline. The buffer grows in place and is
    handed over, so a long line is held once, not once per read."""
    for path in paths:
        name = '<stdin>' if path == '-' else path
        f = sys.stdin.buffer if path == '-' else open_input(path)
        try:
            number = 1
            buf = bytearray()  # read and not yet given: no newline but in the last block read
            while True:
                try:
                    block = f.read(BATCH_BYTES)
                except (OSError, *DAMAGED_DATA) as e:
                    raise damaged(name, e) from None
                if progress is not None:
                    progress.update(len(block))
                if not block:
                    break
                buf += block
                cut = buf.rfind(b'\n', len(buf) - len(block))
                block = None
                if cut < 0:
                    continue  # a line longer than a block: read on
                data, buf = buf, buf[cut + 1:]
                del data[cut:]
                yield name, number, data
                number += data.count(b'\n') + 1
                data = None
            if buf:
                yield name, number, buf
        finally:
            if f is not sys.stdin.buffer:
                f.close()


def split_lines(name, number, data):
    """``(name, line number, line)`` for each line of a batch (a bytearray,
    as the batch is)."""
    if data.find(b'\n') < 0:
        return [(name, number, data)]  # one line (perhaps a long one): not copied
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
    """stdout, or a file written atomically (``fileio.atomic_output``); an
    unusable path fails here, before the work."""

    def __init__(self, path):
        self._file = None
        if path in (None, '-'):
            self.stream = sys.stdout.buffer
        else:
            self._file = atomic_output(path)
            self.stream = self._file.__enter__()

    def write_lines(self, lines):
        if lines:
            self.stream.write('\n'.join(lines).encode('utf-8'))  # one copy of a long line, not two
            self.stream.write(b'\n')

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._file is None:
            self.stream.flush()
            return False
        return self._file.__exit__(exc_type, exc, tb)


def progress_bar(total, desc, enabled=True):
    """A bar over input bytes, shown only on a terminal."""
    return progress.progress_bar(enabled and sys.stderr.isatty(), total=total, desc=desc, unit='B',
                                 unit_scale=True)
