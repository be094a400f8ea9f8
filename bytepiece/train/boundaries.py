"""Pre-token boundaries of pieces: whether a piece stays inside one of the
pre-tokens a GPT-style byte-level pre-tokenizer draws (the unigram method's
``boundary_share``, see docs/design.md, Training: the unigram method).

A pre-token is a run of whitespace, or an optional space followed by a run
of letters (CJK included), a run of digits and other numbers, or a run of
other characters (punctuation, symbols); a combining mark goes with the
character before it (a word keeps its vowel signs, an emoji its variation
selector). A piece crosses a boundary when its text
is none of these. A piece that is not whole UTF-8 characters is judged by
its whole characters, its partial ones counting as letters.
"""

import unicodedata

import numpy as np

__all__ = ['crosses_boundary', 'crossing_mask']

_LETTER, _NUMBER, _SPACE, _OTHER = 'L', 'N', 'S', 'P'


def _char_class(c, previous):
    if c.isspace():
        return _SPACE
    category = unicodedata.category(c)
    if category[0] == 'M':  # a mark (an accent, a vowel sign, an emoji's selector) goes with its base
        return previous or _LETTER
    if category[0] == 'L' or category == 'Cs':  # Cs: a byte of a partial character
        return _LETTER
    if category[0] == 'N':
        return _NUMBER
    return _OTHER


def _classes(text):
    classes = []
    for c in text:
        classes.append(_char_class(c, classes[-1] if classes else None))
    return classes


def crosses_boundary(piece):
    """Whether the piece (bytes) crosses a pre-token boundary."""
    text = piece.decode('utf-8', 'surrogateescape')
    classes = _classes(text)
    if not classes or all(k == _SPACE for k in classes):
        return False
    if text[0] == ' ':
        classes = classes[1:]
    return any(k != classes[0] for k in classes) or classes[0] == _SPACE


def crossing_mask(pieces):
    """``crosses_boundary`` of each piece, as a bool array."""
    return np.fromiter(map(crosses_boundary, pieces), bool, len(pieces))
