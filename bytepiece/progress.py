"""Progress bars: tqdm on stderr when asked for, else a bar that does nothing."""

__all__ = ['progress_bar', 'NoBar']


def progress_bar(enabled, **kwargs):
    """A tqdm bar (``kwargs`` go to tqdm) if ``enabled``, else a ``NoBar``.
    tqdm is imported only when a bar is shown."""
    if not enabled:
        return NoBar()
    from tqdm import tqdm
    return tqdm(ncols=0, **kwargs)


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
