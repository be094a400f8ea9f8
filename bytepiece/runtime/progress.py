"""Progress bars: tqdm on a terminal, one line per bar in a log (stderr
that is not a terminal), or a bar that does nothing."""

import sys
import time

__all__ = ['progress_bar', 'NoBar', 'LineBar']


def progress_bar(enabled, **kwargs):
    """A bar if ``enabled`` (``kwargs`` as tqdm takes them): tqdm when stderr
    is a terminal, else a ``LineBar``; a ``NoBar`` otherwise. tqdm is
    imported only when a bar is drawn."""
    if not enabled:
        return NoBar()
    if not _is_terminal(sys.stderr):
        return LineBar(kwargs.get('desc', ''), kwargs.get('unit', 'it'))
    from tqdm import tqdm
    return tqdm(ncols=0, **kwargs)


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class NoBar:
    """The part of tqdm's interface that bytepiece uses, doing nothing."""

    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class LineBar(NoBar):
    """A bar for logs: one line on stderr when it closes (what it counted,
    its time and its last status), no carriage returns."""

    def __init__(self, desc, unit='it'):
        self.desc, self.unit = desc, unit
        self.n, self.postfix, self.closed = 0, '', False
        self.start = time.perf_counter()

    def update(self, n=1):
        self.n += n

    def set_postfix_str(self, s):
        self.postfix = s

    def close(self):
        if self.closed:
            return
        self.closed = True
        done = f'{self.n / 1e6:.1f} MB' if self.unit == 'B' else f'{self.n}{self.unit}'
        line = f'{self.desc}: {done} in {time.perf_counter() - self.start:.1f} s'
        print(line + (f' ({self.postfix})' if self.postfix else ''), file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        self.close()
        return False
