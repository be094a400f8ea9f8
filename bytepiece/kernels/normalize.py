"""SentencePiece's text normalizer over a packed batch of UTF-8 texts.

The rules and the user-defined symbols are each a forward trie in the layout
of ``kernels/trie.py`` (``units`` base/check pairs, flat) whose
``unit_value[u]`` is the key's index (a rule's: its replacement's), -1
where no key ends; no keys, empty arrays.

At each position the longest user-defined symbol is copied verbatim, else
the longest rule key is replaced, else one UTF-8 character is copied (a
malformed byte becomes U+FFFD and consumes one byte), as SentencePiece's
``Normalizer::NormalizePrefix`` does. Around that, whitespace is handled as
``Normalizer::Normalize`` does, and ``norm_to_orig`` (per normalized byte,
the original byte offset it came from, plus one entry for the end) is
computed the same way.
"""

import numpy as np
from numba import njit

SPACE = 0x20
COPIED = 1  # character classes: see normalize_batch
JOINS = 2


@njit(cache=True, nogil=True)
def utf8_length(b0, b1, b2, b3, left):
    """Bytes of the well-formed UTF-8 character ``b0 b1 b2 b3`` (``left``
    of them in the text), 0 if it is malformed (overlong forms, surrogates
    and code points past U+10FFFF are). Scalars, not the buffer: a call with
    an array argument costs reference counting."""
    if b0 < 0x80:
        return 1
    if (b0 & 0xE0) == 0xC0 and left >= 2:
        if (b1 & 0xC0) == 0x80 and (((b0 & 0x1F) << 6) | (b1 & 0x3F)) >= 0x80:
            return 2
    elif (b0 & 0xF0) == 0xE0 and left >= 3:
        if (b1 & 0xC0) == 0x80 and (b2 & 0xC0) == 0x80:
            cp = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
            if cp >= 0x800 and not (0xD800 <= cp < 0xE000):
                return 3
    elif (b0 & 0xF8) == 0xF0 and left >= 4:
        if (b1 & 0xC0) == 0x80 and (b2 & 0xC0) == 0x80 and (b3 & 0xC0) == 0x80:
            cp = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
            if 0x10000 <= cp <= 0x10FFFF:
                return 4
    return 0


@njit(cache=True, nogil=True)
def char_code(b0, b1, b2, left):
    """``(width, code point)`` of the character ``b0 b1 b2`` (``left`` bytes
    in the text) if it is well-formed and under U+10000, else ``(0, 0)``."""
    if b0 < 0x80:
        return 1, b0
    width = utf8_length(b0, b1, b2, 0, left)
    if width == 2:
        return 2, ((b0 & 0x1F) << 6) | (b1 & 0x3F)
    if width == 3:
        return 3, ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
    return 0, 0


@njit(cache=True, nogil=True)
def char_length(buf, pos, end):
    """``utf8_length`` of the character at ``buf[pos]``."""
    left = end - pos
    b1 = np.int64(buf[pos + 1]) if left > 1 else 0
    b2 = np.int64(buf[pos + 2]) if left > 2 else 0
    b3 = np.int64(buf[pos + 3]) if left > 3 else 0
    return utf8_length(np.int64(buf[pos]), b1, b2, b3, left)


@njit(cache=True, nogil=True)
def longest_key(buf, pos, end, units, unit_value):
    """The longest key of a trie (``units``, ``unit_value``; empty arrays: no
    keys) that starts ``buf[pos:end]``: ``(length, value)``, ``(0, -1)`` if none."""
    best = 0
    value = -1
    u = 0
    i = pos
    while i < (end if units.size > 0 else 0):
        v = units[2 * u] + buf[i]
        if units[2 * v + 1] != u:
            break
        u = v
        i += 1
        if unit_value[u] >= 0:
            best = i - pos
            value = unit_value[u]
    return best, value


@njit(cache=True, nogil=True)
def next_piece(buf, pos, end, pool_bounds, rule_units, rule_value, user_units, user_value):
    """What the text at ``pos`` normalizes to: ``(from_pool, start, length,
    consumed)``, the output being ``length`` bytes at ``start`` of the pool
    or of ``buf``, for ``consumed`` input bytes. ``normalize_span`` repeats
    this inline."""
    best, _ = longest_key(buf, pos, end, user_units, user_value)
    if best > 0:
        return False, pos, best, best
    best, rule = longest_key(buf, pos, end, rule_units, rule_value)
    if best > 0:
        return True, pool_bounds[rule], pool_bounds[rule + 1] - pool_bounds[rule], best
    length = char_length(buf, pos, end)
    if length > 0:
        return False, pos, length, length
    malformed = pool_bounds.size - 2
    return True, pool_bounds[malformed], pool_bounds[malformed + 1] - pool_bounds[malformed], 1


@njit(cache=True, nogil=True)
def reserve(out, align, needed, with_alignment):
    """``out`` (and ``align``, which keeps ``out.size + extra`` entries) grown
    to hold at least ``needed`` bytes."""
    size = max(needed, 2 * out.size)
    grown = np.empty(size, np.uint8)
    grown[:out.size] = out
    if with_alignment:
        grown_align = np.empty(size + align.size - out.size, np.int64)
        grown_align[:align.size] = align
        align = grown_align
    return grown, align


@njit(cache=True, nogil=True)
def put_space(out, align, o, shift, consumed, escape, with_alignment):
    """Write one (escaped) space at ``out[o]``; returns the next position."""
    if escape:  # U+2581 LOWER ONE EIGHTH BLOCK
        out[o] = 0xE2
        out[o + 1] = 0x96
        out[o + 2] = 0x81
        if with_alignment:
            align[o + shift] = consumed
            align[o + shift + 1] = consumed
            align[o + shift + 2] = consumed
        return o + 3
    out[o] = SPACE
    if with_alignment:
        align[o + shift] = consumed
    return o + 1


@njit(cache=True, nogil=True)
def strip_trailing_spaces(out, align, first, o, shift, consumed, escape, with_alignment):
    """Drop (escaped) spaces ending ``out[first:o]``; returns ``(o, consumed)``
    with ``consumed`` taken back to where the first dropped one came from."""
    width = 3 if escape else 1
    while o - first >= width:
        if escape:
            if not (out[o - 3] == 0xE2 and out[o - 2] == 0x96 and out[o - 1] == 0x81):
                break
        elif out[o - 1] != SPACE:
            break
        o -= width
        if with_alignment:
            consumed = align[o + shift]
    return o, consumed


@njit(cache=True, nogil=True)
def skip_leading_spaces(buf, pos, end, pool, pool_bounds, rule_units, rule_value, user_units, user_value):
    """Where the text from ``pos`` stops normalizing to single spaces."""
    while pos < end:
        from_pool, s, length, used = next_piece(buf, pos, end, pool_bounds, rule_units, rule_value,
                                                user_units, user_value)
        if length != 1 or (pool[s] if from_pool else buf[s]) != SPACE:
            break
        pos += used
    return pos


@njit(cache=True, nogil=True)
def normalize_span(buf, pos, end, pool, pool_bounds, rule_units, rule_value, user_units, user_value, classes,
                   flags, out, align, o, shift, consumed, prev_space):
    """The per-piece loop of ``Normalizer::Normalize`` over ``buf[pos:end]``,
    up to a piece ``out`` has no room for: returns ``(pos, o, consumed,
    prev_space, room)``, ``room`` what that piece needs (0 at the end).
    ``next_piece`` is written out and no array is reassigned in the loop: a
    call with array arguments, or an array carried around the loop, costs
    reference counting per byte, more than the trie walks."""
    remove_extra_whitespaces, escape, with_alignment, one_byte_space = flags[1], flags[2], flags[4], flags[5]
    malformed = pool_bounds.size - 2
    end_user = end if user_units.size > 0 else 0  # an empty trie (no arrays) is not walked
    end_rule = end if rule_units.size > 0 else 0
    while pos < end:
        c = buf[pos]
        left = end - pos
        width, cp = char_code(np.int64(c), np.int64(buf[pos + 1]) if left > 1 else 0,
                              np.int64(buf[pos + 2]) if left > 2 else 0, left)
        if width > 0 and classes[cp] & COPIED:  # copied as it is, without a trie walk,
            joins = False  # unless the next character may continue a key
            if pos + width < end:
                n = pos + width
                rest = end - n
                next_width, next_cp = char_code(np.int64(buf[n]), np.int64(buf[n + 1]) if rest > 1 else 0,
                                                np.int64(buf[n + 2]) if rest > 2 else 0, rest)
                joins = next_width == 0 or classes[next_cp] & JOINS != 0
            if not joins:
                if o + 6 > out.size:
                    return pos, o, consumed, prev_space, 6
                if c == SPACE:  # the whitespace rules alone
                    if not prev_space:
                        width = 3 if escape else 1
                        if escape:
                            out[o] = 0xE2
                            out[o + 1] = 0x96
                            out[o + 2] = 0x81
                        else:
                            out[o] = SPACE
                        if with_alignment:
                            for k in range(width):
                                align[o + k + shift] = consumed
                        o += width
                    consumed += 1
                    pos += 1
                    prev_space = remove_extra_whitespaces
                    continue
                if c < 0x80:  # a run of such bytes, each before an ASCII byte that joins none, in one loop
                    limit = min(end - 1, pos + out.size - o - 6)
                    while True:
                        out[o] = c
                        if with_alignment:
                            align[o + shift] = consumed
                        o += 1
                        consumed += 1
                        pos += 1
                        if pos >= limit:
                            break
                        c = buf[pos]
                        n = buf[pos + 1]
                        if c >= 0x80 or c == SPACE or not classes[c] & COPIED or n >= 0x80 or classes[n] & JOINS:
                            break
                    prev_space = False
                    continue
                if one_byte_space and cp == 0x2581:
                    out[o] = SPACE  # a U+2581 of the text itself
                    if with_alignment:
                        align[o + shift] = consumed
                    o += 1
                    consumed += 3
                    pos += 3
                    prev_space = False
                    continue
                for k in range(width):
                    out[o + k] = buf[pos + k]
                    if with_alignment:
                        align[o + k + shift] = consumed
                o += width
                consumed += width
                pos += width
                prev_space = False
                continue
        used = 0
        rule = -1
        u = 0
        i = pos
        while i < end_user:  # user-defined symbols, copied verbatim
            v = user_units[2 * u] + buf[i]
            if user_units[2 * v + 1] != u:
                break
            u = v
            i += 1
            if user_value[u] >= 0:
                used = i - pos
        if used == 0:
            u = 0
            i = pos
            while i < end_rule:  # the longest rule
                v = rule_units[2 * u] + buf[i]
                if rule_units[2 * v + 1] != u:
                    break
                u = v
                i += 1
                if rule_value[u] >= 0:
                    used = i - pos
                    rule = rule_value[u]
            if used == 0:
                left = end - pos
                used = 1 if buf[pos] < 0x80 else utf8_length(
                    np.int64(buf[pos]), np.int64(buf[pos + 1]) if left > 1 else 0,
                    np.int64(buf[pos + 2]) if left > 2 else 0, np.int64(buf[pos + 3]) if left > 3 else 0, left)
                if used == 0:
                    rule = malformed
                    used = 1
        from_pool = rule >= 0
        s = pool_bounds[rule] if from_pool else pos
        length = pool_bounds[rule + 1] - s if from_pool else used
        if prev_space:  # spaces after a space are dropped
            while length > 0 and (pool[s] if from_pool else buf[s]) == SPACE:
                s += 1
                length -= 1
        if length > 0:
            if o + 3 * length + 3 > out.size:  # room for a dummy suffix too
                return pos, o, consumed, prev_space, 3 * length + 3
            i = s
            while i < s + length:
                c = pool[i] if from_pool else buf[i]
                step = 1
                if one_byte_space and c == 0xE2 and i + 2 < s + length:  # a U+2581 of the text itself
                    if (pool[i + 1] if from_pool else buf[i + 1]) == 0x96 and (
                            pool[i + 2] if from_pool else buf[i + 2]) == 0x81:
                        c = SPACE
                        step = 3
                i += step
                width = 3 if c == SPACE and escape else 1
                if width == 3:  # U+2581
                    out[o] = 0xE2
                    out[o + 1] = 0x96
                    out[o + 2] = 0x81
                else:
                    out[o] = c
                if with_alignment:
                    align[o + shift] = consumed
                    if width == 3:
                        align[o + shift + 1] = consumed
                        align[o + shift + 2] = consumed
                o += width
            prev_space = (pool[s + length - 1] if from_pool else buf[s + length - 1]) == SPACE
        consumed += used
        pos += used
        if not remove_extra_whitespaces:
            prev_space = False
    return pos, o, consumed, prev_space, 0


@njit(cache=True, nogil=True)
def normalize_text(buf, start, end, pool, pool_bounds, rule_units, rule_value, user_units, user_value, classes,
                   flags, out, align, o, shift):
    """Normalize ``buf[start:end]`` into ``out`` from ``o`` (alignment at
    ``align[o + shift]``); returns ``(out, align, o)`` past its last byte."""
    add_dummy_prefix, remove_extra_whitespaces, escape, whitespace_as_suffix, with_alignment, _ = flags
    pos = start
    if remove_extra_whitespaces:
        pos = skip_leading_spaces(buf, pos, end, pool, pool_bounds, rule_units, rule_value, user_units, user_value)
    consumed = pos - start
    first = o
    if pos == end:  # empty, or spaces only: nothing, as SentencePiece writes
        if with_alignment:
            align[o + shift] = consumed
        return out, align, o
    if out.size < o + 6:
        out, align = reserve(out, align, o + 6, with_alignment)
    if add_dummy_prefix and not whitespace_as_suffix:
        o = put_space(out, align, o, shift, consumed, escape, with_alignment)
    prev_space = remove_extra_whitespaces
    while True:
        pos, o, consumed, prev_space, room = normalize_span(buf, pos, end, pool, pool_bounds, rule_units, rule_value,
                                                            user_units, user_value, classes, flags, out, align, o,
                                                            shift, consumed, prev_space)
        if room == 0:
            break
        out, align = reserve(out, align, o + room, with_alignment)
    if remove_extra_whitespaces:
        o, consumed = strip_trailing_spaces(out, align, first, o, shift, consumed, escape, with_alignment)
    if add_dummy_prefix and whitespace_as_suffix:
        o = put_space(out, align, o, shift, consumed, escape, with_alignment)
    if with_alignment:
        align[o + shift] = consumed
    return out, align, o


@njit(cache=True, nogil=True)
def normalize_batch(buf, bounds, pool, pool_bounds, rule_units, rule_value, user_units, user_value, classes, flags):
    """Normalize texts ``buf[bounds[t]:bounds[t+1]]``. ``rule_value`` indexes
    the replacements: replacement ``k`` is ``pool[pool_bounds[k]:pool_bounds[k+1]]``,
    the last one U+FFFD (a malformed byte's). ``classes`` (by code point,
    below U+10000): ``COPIED`` for a character that no rule key or
    user-defined symbol is or starts with but for keys it starts followed by
    a ``JOINS`` character (such a character, not followed by one, is copied
    without a trie walk). ``flags`` is
    ``(add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces,
    treat_whitespace_as_suffix, with_alignment, one_byte_space)``; with
    ``one_byte_space`` (and ``escape_whitespaces`` off) a U+2581 of the text
    is written as the byte 0x20 too.
    Returns ``(out, out_bounds, align)``: text ``t`` normalized is
    ``out[out_bounds[t]:out_bounds[t+1]]``, its ``norm_to_orig`` (offsets
    into its own bytes) ``align[out_bounds[t]+t:out_bounds[t+1]+t+1]``
    (``align`` is empty without alignment)."""
    n_texts = bounds.size - 1
    with_alignment = flags[4]
    size = bounds[-1] - bounds[0]
    room = size + size // 16 + 6 * n_texts + 64
    if flags[2]:  # an escaped space takes 3 bytes
        for i in range(bounds[0], bounds[-1]):
            room += 2 * (buf[i] == SPACE)
    out = np.empty(room, np.uint8)
    align = np.empty(out.size + n_texts + 1 if with_alignment else 0, np.int64)
    out_bounds = np.zeros(n_texts + 1, np.int64)
    o = 0
    for t in range(n_texts):
        out, align, o = normalize_text(buf, bounds[t], bounds[t + 1], pool, pool_bounds, rule_units, rule_value,
                                       user_units, user_value, classes, flags, out, align, o, t)
        out_bounds[t + 1] = o
    n_align = o + n_texts if with_alignment else 0
    if 4 * o < 3 * out.size:  # copied only when much of the room is unused
        return out[:o].copy(), out_bounds, align[:n_align].copy()
    return out[:o], out_bounds, align[:n_align]
