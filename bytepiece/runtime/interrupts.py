"""Ctrl-C during a numba call.

A KeyboardInterrupt that arrives while a compiled function is being called
(for instance while numba loads it from its cache) can surface as a
``SystemError: ... returned a result with an exception set`` whose cause is
the KeyboardInterrupt. ``keyboard_interrupts()`` turns it back into a
KeyboardInterrupt, so that callers who catch one see it.
"""

import contextlib


def caused_by_interrupt(error):
    """Whether a KeyboardInterrupt is in ``error``'s cause or context chain."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


@contextlib.contextmanager
def keyboard_interrupts():
    """Re-raise a SystemError caused by Ctrl-C as a KeyboardInterrupt."""
    try:
        yield
    except SystemError as e:
        if caused_by_interrupt(e):
            raise KeyboardInterrupt from e
        raise
