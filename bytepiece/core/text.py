"""Text to bytes: normalization, UTF-8 encoding and character offsets."""

import codecs
import unicodedata

import numpy as np

NORMALIZATIONS = ('NFC', 'NFKC', 'NFD', 'NFKD')


def pack_bytes(byte_strings):
    """Byte strings packed into one writable ``uint8`` buffer with ``int64``
    bounds: string ``i`` is ``buf[bounds[i]:bounds[i+1]]``. (Writable, so the
    kernels see one array type and compile one signature.)"""
    bounds = np.zeros(len(byte_strings) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, byte_strings), np.int64, len(byte_strings)), out=bounds[1:])
    return np.frombuffer(bytearray().join(byte_strings), np.uint8), bounds


def pack_strings(strings):
    """``pack_bytes`` of the strings' UTF-8, encoded in one call (the bounds
    from the characters' widths); a lone surrogate is a UnicodeEncodeError."""
    joined = ''.join(strings)
    data = bytearray(joined.encode('utf-8'))
    chars = np.zeros(len(strings) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, strings), np.int64, len(strings)), out=chars[1:])
    if len(data) == len(joined):  # ASCII: bytes are characters
        return np.frombuffer(data, np.uint8), chars
    codes = np.frombuffer(joined.encode('utf-32-le'), np.uint32)
    before = np.zeros(codes.size + 1, np.int64)
    np.cumsum(1 + (codes >= 0x80) + (codes >= 0x800) + (codes >= 0x10000), out=before[1:])
    return np.frombuffer(data, np.uint8), before[chars]


def unpack_bytes(buf, bounds):
    """The byte strings that ``pack_bytes`` packed into ``buf`` and ``bounds``."""
    return [buf[s:e].tobytes() for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist())]


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


def text_bytes(text, normalization):
    """One text, normalized, as a uint8 array of its UTF-8 bytes."""
    if type(text) is not str:
        check_text(text)
    return np.frombuffer(encode_utf8(normalize(text, normalization)), np.uint8)


def check_decode_errors(errors):
    """``errors`` if ``bytes.decode`` takes it: the name of an error handler
    that handles decoding errors. Checked up front, since ``bytes.decode``
    looks a handler up only when it meets an invalid byte."""
    if errors in ('ignore', 'replace', 'strict'):
        return errors
    if not isinstance(errors, str):
        raise TypeError(f"errors must be the name of a codec error handler ('strict', 'replace', 'ignore', ...), "
                        f"got {type(errors).__name__}")
    try:
        codecs.lookup_error(errors)(UnicodeDecodeError('utf-8', b'\xff', 0, 1, 'invalid start byte'))
    except LookupError:
        raise LookupError(f"errors={errors!r} is not a codec error handler: use 'strict', 'replace', 'ignore', "
                          f"'backslashreplace', 'surrogateescape' or a name registered with codecs.register_error"
                          ) from None
    except UnicodeDecodeError:
        pass  # a handler that raises, as 'strict' does
    except TypeError:
        raise ValueError(f'errors={errors!r} handles encoding errors only, not decoding ones') from None
    return errors


def encode_utf8(text, index=None, location=None):
    """UTF-8 bytes of ``text``; a lone surrogate is a ValueError, never dropped.
    The message names ``index`` (a text's place in a batch) or starts with
    ``location`` (e.g. ``file:line``)."""
    try:
        return text.encode('utf-8')
    except UnicodeEncodeError as e:
        where = '' if index is None else f' of text {index}'
        prefix = '' if location is None else f'{location}: '
        raise ValueError(
            f'{prefix}cannot encode {text[e.start]!r} at character {e.start}{where} as UTF-8 '
            f'(a lone surrogate); fix the text or decode it with errors="surrogatepass"'
        ) from None


def token_char_spans(buf, tok_starts, tok_ends, seg_bounds, seg_char):
    """Character spans of tokens, relative to the text each comes from.

    ``buf`` packs the UTF-8 bytes of segments (segment ``j`` is
    ``buf[seg_bounds[j]:seg_bounds[j+1]]`` and starts at character
    ``seg_char[j]`` of its text); tokens are byte spans
    ``[tok_starts, tok_ends)`` of ``buf``, none crossing a segment.
    A token that begins or ends inside a multi-byte character (a partial-UTF-8
    piece) is widened to that whole character, so consecutive tokens that
    split one character both cover it. Returns ``(starts, ends)`` int64.
    """
    cum = np.zeros(buf.size + 1, np.int64)  # cum[p]: characters starting before byte p
    np.cumsum((buf & 0xC0) != 0x80, out=cum[1:])
    if tok_starts.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    seg = np.searchsorted(seg_bounds, tok_starts, side='right') - 1
    shift = seg_char[seg] - cum[seg_bounds[seg]]
    return cum[tok_starts + 1] - 1 + shift, cum[tok_ends] + shift


def encode_texts(texts, normalization, first_index=0):
    """Normalized UTF-8 bytes of every text of a list, in list comprehensions
    (the serial part of a batch); a non-str is a TypeError naming its index, a
    lone surrogate a ValueError naming the text (indices counted from
    ``first_index``: the list may be part of a larger batch; None for one
    text, named by no index)."""
    indices = [None] * len(texts) if first_index is None else range(first_index, first_index + len(texts))
    if not all([type(t) is str for t in texts]):
        for index, text in zip(indices, texts):
            check_text(text, index)
    try:
        if normalization is None:
            return [t.encode('utf-8') for t in texts]
        form = normalization
        nf = unicodedata.normalize
        return [t.encode('utf-8') if t.isascii() else nf(form, t).encode('utf-8') for t in texts]
    except UnicodeEncodeError:
        for index, text in zip(indices, texts):
            encode_utf8(normalize(text, normalization), index)
        raise
