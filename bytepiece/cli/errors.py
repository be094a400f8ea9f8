"""Command-line errors: bad usage, and any error as one line."""

import re

# the trainer's arguments, as the command line spells them
TRAIN_FLAGS = {'max_vocab_size': '--vocab-size', 'min_count': '--min-count', 'max_piece_length': '--max-piece-length',
               'token_penalty': '--token-penalty', 'growth': '--growth', 'boundary_share': '--boundary-share',
               'dropout': '--dropout', 'holdout': '--holdout', 'order': '--order', 'memory_limit': '--memory-limit'}
_ABOUT_ARGUMENTS = re.compile(r'^(?:(?:' + '|'.join(TRAIN_FLAGS) + r')(?: must|=| is an option| lists)'
                              r'|unknown training method|the corpus supports only)')
_TRAIN_NAMES = re.compile(r"\bmethod='(\w+)'|\b(" + '|'.join(TRAIN_FLAGS) + r")\b")


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


def about_train_arguments(message):
    """Whether a trainer's ValueError is about its arguments (not the data)."""
    return bool(_ABOUT_ARGUMENTS.match(message))


def with_train_flags(message):
    """A trainer's message with its argument names as the command line's
    flags (``max_vocab_size`` as ``--vocab-size``, ``method='x'`` as
    ``--method x``)."""
    return _TRAIN_NAMES.sub(lambda m: f'--method {m.group(1)}' if m.group(1) else TRAIN_FLAGS[m.group(2)], message)
