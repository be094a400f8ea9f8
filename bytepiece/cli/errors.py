"""Command-line errors: bad usage, and any error as one line."""


class UsageError(Exception):
    """Bad usage found after parsing (exit status 2)."""


def one_line(error):
    """An exception as one line of text; an OSError names its file."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        # os.replace(temp, path) fails with both names: the user's is the second
        name = error.filename if error.filename2 is None else error.filename2
        message = f'{error.strerror}: {name!r}'
    else:
        message = str(error) or type(error).__name__
    return ' '.join(message.split())
