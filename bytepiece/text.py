"""Text to bytes: normalization, UTF-8 encoding and character offsets."""

import unicodedata

import numpy as np

NORMALIZATIONS = ('NFC', 'NFKC', 'NFD', 'NFKD')


def check_normalization(normalization):
    if normalization is not None and normalization not in NORMALIZATIONS:
        raise ValueError(f'normalization must be one of {NORMALIZATIONS} or None, got {normalization!r}')
    return normalization


def check_text(text, index=None):
    if not isinstance(text, str):
        where = '' if index is None else f' at index {index}'
        raise TypeError(f'text{where} must be str, got {type(text).__name__}')


def normalize(text, normalization):
    """Unicode-normalize ``text`` (no-op for ``normalization=None``)."""
    if normalization is None or text.isascii():
        return text
    return unicodedata.normalize(normalization, text)


def encode_utf8(text, index=None):
    """UTF-8 bytes of ``text``; a lone surrogate is a ValueError, never dropped."""
    try:
        return text.encode('utf-8')
    except UnicodeEncodeError as e:
        where = '' if index is None else f' of text {index}'
        raise ValueError(
            f'cannot encode {text[e.start]!r} at character {e.start}{where} as UTF-8 '
            f'(a lone surrogate); fix the text or decode it with errors="surrogatepass"'
        ) from None


def char_offsets(buf, starts, ends):
    """Character offsets of byte spans ``[starts, ends)`` of UTF-8 ``buf``.

    A span that begins or ends inside a multi-byte character (a partial-UTF-8
    token) is widened to that whole character, so neighbouring tokens that
    split one character both cover it.
    """
    is_lead = (buf & 0xC0) != 0x80
    char_of_byte = np.cumsum(is_lead, dtype=np.int64) - 1  # char holding each byte
    if starts.size == 0:
        return starts.astype(np.int64), ends.astype(np.int64)
    return char_of_byte[starts], char_of_byte[ends - 1] + 1
