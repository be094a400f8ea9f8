"""The Tokenizer: BytePiece-compatible encoding, decoding and sampling."""

import functools
import json
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real

import numpy as np

from .automaton import PARALLEL_MIN_BYTES, RANGES_PER_THREAD, PieceAutomaton, byte_balanced_cuts, check_threads
from .kernels import lattice
from .kernels.rng import as_int64_bits, call_seed, stream_seed, text_stream_bits
from .model import NUM_SPECIAL, SPECIAL_PIECES, atomic_write, finite_float, load_model, shown_value
from .special import SpecialTokens, merge_specials
from .text import (check_normalization, check_text, encode_texts, encode_utf8, normalize, pack_bytes,
                   token_char_spans)


# nbest keeps n partial paths per byte position (20 bytes each): at most ~1.3 GiB.
MAX_NBEST_CELLS = 1 << 26


def add_markers(ids, starts, add_bos, add_eos):
    """Insert <bos> (1) / <eos> (2) around each text of a flat ids array.
    The flags count by truth value, as in ``encode`` (``add_bos=2`` is one <bos>)."""
    n_texts = starts.size - 1
    lengths = np.diff(starts) + bool(add_bos) + bool(add_eos)
    new_starts = np.zeros(n_texts + 1, np.int64)
    np.cumsum(lengths, out=new_starts[1:])
    out = np.empty(new_starts[-1], np.int32)
    body = np.ones(out.size, bool)
    if add_bos:
        out[new_starts[:-1]] = 1
        body[new_starts[:-1]] = False
    if add_eos:
        out[new_starts[1:] - 1] = 2
        body[new_starts[1:] - 1] = False
    out[body] = ids
    return out, new_starts


def add_marker_spans(spans, new_starts, text_chars, add_bos, add_eos):
    """Char spans after ``add_markers``: <bos> is (0, 0), <eos> (n, n) for a
    text of n characters."""
    total = int(new_starts[-1])
    starts = np.empty(total, np.int64)
    ends = np.empty(total, np.int64)
    body = np.ones(total, bool)
    if add_bos:
        starts[new_starts[:-1]] = ends[new_starts[:-1]] = 0
        body[new_starts[:-1]] = False
    if add_eos:
        starts[new_starts[1:] - 1] = ends[new_starts[1:] - 1] = text_chars
        body[new_starts[1:] - 1] = False
    starts[body] = spans[0]
    ends[body] = spans[1]
    return starts, ends


# alpha scales the rounding error of a sum of scores (~1e-13): at 1e6 the
# statistics keep about 1e-7; far larger alphas gave meaningless entropies
# (1e100) and overflowed the weights (1e307). Such draws are Viterbi's anyway.
MAX_ALPHA = 1e6


def check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, Real):
        raise TypeError(f'alpha must be a real number, got {type(alpha).__name__}')
    if not finite_float(alpha):
        raise ValueError(f'alpha must be finite, got {shown_value(alpha)}')
    value = float(alpha)  # compared as a float: 1e6 overflows a float16
    if value > MAX_ALPHA:
        raise ValueError(f'alpha must be at most {MAX_ALPHA:g} (beyond it a draw is the best path up to '
                         f'rounding: use alpha < 0 for the best path), got {alpha!r}')
    return value


def check_seed(seed):
    """A seed is an int in [0, 2**64) or a numpy Generator (one draw is taken)."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**64, dtype=np.uint64))
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f'seed must be an int or a numpy Generator, got {type(seed).__name__}')
    if not 0 <= seed < 2**64:
        raise ValueError(f'seed must be in [0, 2**64), got {seed}')
    return int(seed)


def check_unused_seed(seed):
    """A Viterbi call ignores ``seed`` but still rejects a bad one (a mistake
    would otherwise go unnoticed until sampling); a Generator is not drawn from."""
    if seed is not None and not isinstance(seed, np.random.Generator):
        check_seed(seed)
    return 0


class Tokenizer:
    """A byte-level unigram tokenizer over a BytePiece model.

    Args:
        path_or_dict: a model file (JSON, or a ``.zip`` holding one) or the
            model dict itself (SPEC section 2).
        seed: seeds the random draws of ``alpha >= 0``; None draws a seed from
            the OS. The same seed gives the same sequence of draws.
        normalization: Unicode normalization applied before encoding, ``'NFC'``
            as in BytePiece, or None for a byte-exact round trip
            (``decode(encode(s)) == s``).
        special_tokens: user-defined special tokens (list of str), with ids
            after the vocabulary; see ``add_special_tokens``. Special tokens
            saved with the model (the sidecar ``<model>.special.json`` written
            by ``save``) are loaded first.
    """

    def __init__(self, path_or_dict, seed=None, normalization='NFC', special_tokens=None):
        pieces, ids, counts = load_model(path_or_dict)
        self.normalization = check_normalization(normalization)
        self._automaton = PieceAutomaton(pieces, ids, counts)
        self._pieces = self._automaton.pieces
        self._piece_to_id = {p: i for i, p in enumerate(self._pieces) if i >= NUM_SPECIAL}
        for i, name in enumerate(SPECIAL_PIECES):
            self._piece_to_id[name] = i
        # a partial, not a lambda: the tokenizer pickles (for worker processes)
        self._special = SpecialTokens(self._automaton.vocab_size, reserved=SPECIAL_PIECES,
                                      normalize=functools.partial(normalize, normalization=self.normalization))
        self._all_pieces = self._pieces
        self._piece_data = self._automaton.piece_data
        self._piece_offsets = self._automaton.piece_offsets
        if not isinstance(path_or_dict, dict):
            saved = SpecialTokens.read_sidecar(path_or_dict, self._automaton.vocab_size)
            if saved:
                self.add_special_tokens(saved)
        if special_tokens is not None:
            self.add_special_tokens(special_tokens)
        self.set_seed(seed)

    # --- vocabulary -------------------------------------------------------

    @property
    def vocab_size(self):
        """Number of ids: the pieces plus ``<pad>``, ``<bos>``, ``<eos>``,
        plus the user-defined special tokens (whose ids come last)."""
        return self._automaton.vocab_size + len(self._special)

    @property
    def special_tokens(self):
        """The user-defined special tokens, in id order (ids from
        ``vocab_size - len(special_tokens)``)."""
        return list(self._special.tokens)

    def add_special_tokens(self, tokens):
        """Register special tokens (list of str): each encodes to one id, after
        the vocabulary, when a call allows it (``allowed_special``); by default
        their text is plain text, so a document cannot inject them.
        ``piece_to_id``/``id_to_piece`` know them and ``decode`` restores
        their text. Already registered tokens are skipped; returns how many
        were added."""
        # Copy, extend, then publish: the tables that ids index go first and
        # the token list (hence vocab_size) last, so a call on another thread
        # never accepts an id its tables do not have yet.
        special = self._special.copy()
        added = special.add(tokens)
        if added:
            encoded = [t.encode('utf-8') for t in special.tokens]
            automaton = self._automaton
            lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
            self._piece_offsets = np.concatenate([automaton.piece_offsets,
                                                  automaton.piece_offsets[-1] + np.cumsum(lengths)])
            self._piece_data = np.concatenate([automaton.piece_data, np.frombuffer(b''.join(encoded), np.uint8)])
            self._all_pieces = self._pieces + special.tokens
            self._piece_to_id.update(special.ids)
            self._special = special
        return added

    def piece_to_id(self, piece):
        """Id of a piece (bytes), of ``'<pad>'``, ``'<bos>'``, ``'<eos>'``, or
        of a special token (str)."""
        try:
            return self._piece_to_id[piece]
        except (KeyError, TypeError):
            if not isinstance(piece, (bytes, str)):
                raise TypeError(f'a piece is bytes (or str for special tokens), got {type(piece).__name__}') from None
            raise KeyError(f'{piece!r} is not in the vocabulary') from None

    def id_to_piece(self, i):
        """The piece (bytes) of an id; a str for ids 0..2 and special tokens."""
        i = self._check_id(i)
        return SPECIAL_PIECES[i] if i < NUM_SPECIAL else self._all_pieces[i]

    def pieces_to_ids(self, pieces):
        if isinstance(pieces, (bytes, bytearray, str)):
            raise TypeError(f'pieces must be a list of pieces, not a single {type(pieces).__name__}')
        return [self.piece_to_id(p) for p in pieces]

    def ids_to_pieces(self, ids):
        if isinstance(ids, (bytes, bytearray, str)):
            raise TypeError(f'ids must be a sequence of ints, got {type(ids).__name__}')
        return [self.id_to_piece(i) for i in ids]

    def _check_id(self, i):
        if isinstance(i, bool) or not isinstance(i, Integral):
            raise TypeError(f'token id must be an int, got {type(i).__name__} {i!r}')
        if not 0 <= i < self.vocab_size:
            raise ValueError(f'token id {i} out of range [0, {self.vocab_size})')
        return int(i)

    # --- seeds ------------------------------------------------------------

    def set_seed(self, seed):
        """Restart the random draws from ``seed`` (None: a fresh OS seed)."""
        self._seed = secrets.randbits(64) if seed is None else check_seed(seed)
        self._seed_bits = as_int64_bits(self._seed)
        self._draws = 0

    def _call_seed(self, seed):
        """The seed of one sampling call: the per-call seed if given, else the
        next value of this tokenizer's own sequence."""
        if seed is not None:
            return check_seed(seed)
        self._draws += 1
        return int(call_seed(self._seed_bits, self._draws))

    # --- encoding ---------------------------------------------------------

    def _to_buffer(self, text):
        if type(text) is not str:
            check_text(text)
        return np.frombuffer(encode_utf8(normalize(text, self.normalization)), np.uint8)

    def _segment(self, text, alpha, seed):
        """Token ids (int32 array) of ``text``. The per-text path: short
        texts spend most of a call here, so it stays lean: the default int
        alpha skips the checks, and the text's stream comes from one compiled
        call (the same value as ``stream_seed(self._call_seed(seed), 0)``)."""
        if type(alpha) is not int or alpha >= 0:
            alpha = check_alpha(alpha)
        buf = self._to_buffer(text)
        if alpha < 0:
            if seed is not None:
                check_unused_seed(seed)
            return self._automaton.viterbi_text(buf)
        if seed is None:
            self._draws += 1
            bits = text_stream_bits(self._seed_bits, self._draws)
        else:
            bits = text_stream_bits(as_int64_bits(check_seed(seed)), 0)
        return self._automaton.segment_text(buf, alpha, bits)

    def _encode_texts(self, texts, alpha, seed, allowed_special, offsets, num_threads=None, single=False):
        """Segment texts, with special tokens and character offsets.

        Returns ``(ids, text_tok_start, spans, norm)``: flat int32 ids, where
        each text's tokens begin (n + 1), ``(char starts, char ends)`` or None,
        and the normalized texts.
        """
        alpha = check_alpha(alpha)
        allowed = self._special.allowed_ids(allowed_special)
        if single:
            check_text(texts[0])
        else:
            texts = self._text_list(texts)
            for index, text in enumerate(texts):
                check_text(text, index)
        norm = [normalize(t, self.normalization) for t in texts]
        n_texts = len(norm)
        if allowed:
            segments, seg_text, seg_char, specials = self._special.split(norm, allowed)
        else:
            segments, seg_text = norm, np.arange(n_texts)
            seg_char, specials = np.zeros(n_texts, np.int64), np.zeros((0, 5), np.int64)
        try:
            encoded = [s.encode('utf-8') for s in segments]
        except UnicodeEncodeError:
            for index, text in enumerate(norm):
                encode_utf8(text, None if single else index)
            raise
        buf, seg_bounds = pack_bytes(encoded)
        first_seg = np.searchsorted(seg_text, np.arange(n_texts + 1))
        call_seed = self._call_seed(seed) if alpha >= 0 else check_unused_seed(seed)
        if single or (alpha >= 0 and len(segments) > n_texts):
            # text by text, each on its own random stream (issue 3's rule)
            ids, ends, text_tok_start = self._segment_each(buf, seg_bounds, first_seg, alpha, call_seed, num_threads)
        else:
            ids, ends, seg_tok = self._automaton.segment_texts(buf, seg_bounds, alpha, call_seed, num_threads)
            text_tok_start = seg_tok[first_seg]
        spans = None
        if offsets:
            starts = ends - np.diff(self._automaton.piece_offsets)[ids]
            spans = token_char_spans(buf, starts, ends, seg_bounds, seg_char)
        ids, text_tok_start, spans = merge_specials(ids, ends, text_tok_start, seg_bounds, specials, spans)
        return ids, text_tok_start, spans, norm

    def _segment_each(self, buf, seg_bounds, first_seg, alpha, call_seed, num_threads):
        """Segment texts one kernel call each (on a thread pool: the kernel
        releases the GIL); text ``t`` draws from ``stream_seed(seed, t)``."""
        n_texts = first_seg.size - 1
        automaton = self._automaton

        def one(t):
            s0, s1 = first_seg[t], first_seg[t + 1]
            a, b = seg_bounds[s0], seg_bounds[s1]
            sub = buf[a:b]
            bounds = np.union1d(lattice.chunk_bounds(sub), seg_bounds[s0:s1 + 1] - a)
            text_seed = int(stream_seed(np.uint64(call_seed), t)) if alpha >= 0 else 0
            ids, ends, _ = automaton.segment_spans(sub, bounds, alpha, text_seed)
            return ids, ends + a

        threads = min(check_threads(num_threads), n_texts)
        if threads <= 1:
            results = [one(t) for t in range(n_texts)]
        else:
            with ThreadPoolExecutor(threads) as pool:
                results = list(pool.map(one, range(n_texts)))
        counts = np.fromiter((r[0].size for r in results), np.int64, n_texts)
        text_tok_start = np.zeros(n_texts + 1, np.int64)
        np.cumsum(counts, out=text_tok_start[1:])
        if not results:
            return np.zeros(0, np.int32), np.zeros(0, np.int64), text_tok_start
        return (np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results]),
                text_tok_start)

    def _wants_general(self, allowed_special, return_offsets):
        """Whether a call needs ``_encode_texts`` (checks ``allowed_special``)."""
        if (allowed_special or isinstance(allowed_special, str)) and \
                self._special.allowed_ids(allowed_special) is not None:
            return True
        return bool(return_offsets)

    def tokenize(self, text, alpha=-1, iter=False, seed=None, allowed_special=frozenset()):
        """Split ``text`` into pieces (bytes).

        ``alpha < 0``: the most likely segmentation (Viterbi). ``0 <= alpha <=
        1e6``: a random segmentation drawn with probability proportional to
        ``exp(alpha * score)``; ``seed`` (int or numpy Generator) makes this
        call's draw reproducible, otherwise the tokenizer's own seed sequence
        is used. ``allowed_special``: ``'all'`` or a set of registered special
        tokens to match in the text (leftmost-longest); they come out as
        ``str``. By default (empty set) special-token text is plain text.
        """
        if self._wants_general(allowed_special, False):
            ids = self._encode_texts([text], alpha, seed, allowed_special, False, single=True)[0]
        else:
            ids = self._segment(text, alpha, seed)
        pieces = self._all_pieces
        result = [pieces[i] for i in ids.tolist()]
        return (p for p in result) if iter else result

    def encode(self, text, add_bos=False, add_eos=False, alpha=-1, iter=False, seed=None,
               allowed_special=frozenset(), return_offsets=False):
        """Token ids of ``text``; see ``tokenize`` for ``alpha``, ``seed`` and
        ``allowed_special``.

        ``return_offsets=True`` returns ``(ids, offsets)``, ``offsets[k]`` being
        token k's ``(start, end)`` in characters: of ``text`` itself when
        normalization is off, of the *normalized* text (e.g.
        ``unicodedata.normalize('NFC', text)``) when it is on. A token that
        starts or ends inside a multi-byte character (a partial-UTF-8 piece,
        possible in models trained without ``ensure_unicode``) covers that whole
        character, so consecutive tokens splitting one character overlap on it.
        ``<bos>`` is ``(0, 0)`` and ``<eos>`` ``(n, n)`` for n characters.
        """
        if self._wants_general(allowed_special, return_offsets):
            ids, _, spans, norm = self._encode_texts([text], alpha, seed, allowed_special, return_offsets,
                                                     single=True)
        else:
            ids = self._segment(text, alpha, seed)
        result = ids.tolist()
        if add_bos:
            result.insert(0, 1)
        if add_eos:
            result.append(2)
        if not return_offsets:
            return (i for i in result) if iter else result
        offsets = list(zip(spans[0].tolist(), spans[1].tolist()))
        if add_bos:
            offsets.insert(0, (0, 0))
        if add_eos:
            offsets.append((len(norm[0]), len(norm[0])))
        return ((i for i in result), (o for o in offsets)) if iter else (result, offsets)

    def encode_array(self, text, alpha=-1, seed=None):
        """Token ids of ``text`` as an int32 numpy array."""
        return self._segment(text, alpha, seed)

    # --- batches ----------------------------------------------------------

    @staticmethod
    def _text_list(texts):
        """A batch as a list (any iterable of str is accepted; one str is not)."""
        if isinstance(texts, (str, bytes, bytearray, memoryview)):
            raise TypeError(f'texts must be a list of str, not a single {type(texts).__name__}')
        return texts if isinstance(texts, list) else list(texts)

    def _pack(self, texts):
        """All texts' UTF-8 bytes in one buffer, with text bounds."""
        return pack_bytes(encode_texts(self._text_list(texts), self.normalization))

    def _segment_parts(self, texts, alpha, num_threads, seed):
        """Segment a batch; yields ``(t0, t1, ids, range_token_start)`` for
        consecutive parts. With more than one thread, the batch is packed and
        segmented in parts of about equal size, so that packing (normalization,
        UTF-8) and the caller's work on finished parts, which need the GIL,
        overlap the kernel, which does not."""
        alpha = check_alpha(alpha)
        texts = self._text_list(texts)
        if not all([type(t) is str for t in texts]):
            for index, text in enumerate(texts):
                check_text(text, index)
        call_seed = self._call_seed(seed) if alpha >= 0 else check_unused_seed(seed)
        threads = check_threads(num_threads)
        char_bounds = np.zeros(len(texts) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)), out=char_bounds[1:])
        if threads == 1 or len(texts) <= 1 or char_bounds[-1] < PARALLEL_MIN_BYTES:
            cuts = [0, len(texts)]
            threads = 1  # one part: the calling thread (a pool costs ~0.2 ms to start)
        else:
            cuts = byte_balanced_cuts(char_bounds, RANGES_PER_THREAD * threads)
        normalization = self.normalization
        packed = ((t0, t1, *pack_bytes(encode_texts(texts[t0:t1], normalization, t0)))
                  for t0, t1 in zip(cuts[:-1], cuts[1:]))
        return self._automaton.segment_packed_ranges(packed, alpha, call_seed, threads)

    def _batch_lists(self, texts, alpha, num_threads, seed, add_bos, add_eos, to_list):
        """One list per text, ``to_list`` turning a text's int32 ids into it."""
        lists = []
        for t0, t1, ids, starts in self._segment_parts(texts, alpha, num_threads, seed):
            if add_bos or add_eos:
                ids, starts = add_markers(ids, starts, add_bos, add_eos)
            bounds = starts.tolist()
            # one conversion per text: faster than one flat list sliced per text
            lists.extend([to_list(ids[bounds[i]:bounds[i + 1]]) for i in range(t1 - t0)])
        return lists

    def _batch_arrays(self, texts, alpha, num_threads, seed):
        """Flat int32 ids and int64 text offsets of a batch, from its parts."""
        parts = list(self._segment_parts(texts, alpha, num_threads, seed))
        if len(parts) == 1:
            return parts[0][2], parts[0][3]
        ids = np.concatenate([part[2] for part in parts]) if parts else np.zeros(0, np.int32)
        counts = np.concatenate([np.diff(part[3]) for part in parts]) if parts else np.zeros(0, np.int64)
        starts = np.zeros(counts.size + 1, np.int64)
        np.cumsum(counts, out=starts[1:])
        return ids, starts

    def encode_batch(self, texts, alpha=-1, add_bos=False, add_eos=False, num_threads=None, seed=None,
                     return_arrays=False, return_offsets=False, allowed_special=frozenset()):
        """Encode many texts in one call, in parallel over texts (GIL released).

        Equals ``[encode(t, ...) for t in texts]`` for Viterbi. With ``alpha >= 0``
        text ``i`` draws from its own stream derived from the call's seed and
        ``i``, so the result does not depend on ``num_threads`` (None: all
        cores), and ``encode_batch([t], seed=s)[0] == encode(t, seed=s)``.

        ``return_arrays=True`` returns ``(ids, offsets)``: one flat int32 array
        and int64 offsets, text ``i`` being ``ids[offsets[i]:offsets[i+1]]``
        (bos/eos included when asked), with no Python object per token.

        ``return_offsets=True`` adds each token's character span (see
        ``encode``): lists of ``(start, end)`` per text, i.e.
        ``(ids_lists, spans_lists)``; with ``return_arrays`` a third item, an
        int64 array of shape ``(n_tokens, 2)``. ``allowed_special`` as in
        ``tokenize``.
        """
        if self._wants_general(allowed_special, return_offsets):
            ids, starts, spans, norm = self._encode_texts(texts, alpha, seed, allowed_special, return_offsets,
                                                          num_threads)
        elif not return_arrays:
            return self._batch_lists(texts, alpha, num_threads, seed, add_bos, add_eos, lambda ids: ids.tolist())
        else:
            ids, starts = self._batch_arrays(texts, alpha, num_threads, seed)
            spans = None
        if add_bos or add_eos:
            old_starts = starts
            ids, starts = add_markers(ids, old_starts, add_bos, add_eos)
            if spans is not None:
                chars = np.fromiter(map(len, norm), np.int64, len(norm))
                spans = add_marker_spans(spans, starts, chars, add_bos, add_eos)
        if return_arrays:
            if spans is None:
                return ids, starts
            return ids, starts, np.stack(spans, axis=1) if spans[0].size else np.zeros((0, 2), np.int64)
        bounds = starts.tolist()
        # one tolist per text: faster than one flat list sliced per text
        lists = [ids[bounds[i]:bounds[i + 1]].tolist() for i in range(len(bounds) - 1)]
        if spans is None:
            return lists
        pairs = list(zip(spans[0].tolist(), spans[1].tolist()))
        return lists, [pairs[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]

    def tokenize_batch(self, texts, alpha=-1, num_threads=None, seed=None, allowed_special=frozenset()):
        """Pieces (bytes; special tokens as str) of many texts; see ``encode_batch``."""
        pieces = self._all_pieces
        if not self._wants_general(allowed_special, False):
            return self._batch_lists(texts, alpha, num_threads, seed, False, False,
                                     lambda ids: [pieces[i] for i in ids.tolist()])
        ids, starts, _, _ = self._encode_texts(texts, alpha, seed, allowed_special, False, num_threads)
        flat = [pieces[i] for i in ids.tolist()]
        bounds = starts.tolist()
        return [flat[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]

    # --- decoding ---------------------------------------------------------

    def _check_ids(self, ids):
        """``ids`` as an int64 array, range-checked, with a clear error."""
        if isinstance(ids, memoryview) and ids.format.lstrip('@=<>!') not in ('B', 'b', 'c'):
            ids = np.asarray(ids)  # a view of numbers (a memoryview of bytes is refused below)
        if isinstance(ids, np.ndarray):
            arr = ids
        else:
            if isinstance(ids, (str, bytes, bytearray, memoryview)):
                # text or raw bytes, not ids (iterating bytes would give ints)
                raise TypeError(f'ids must be a sequence of ints, got {type(ids).__name__}')
            try:
                ids = list(ids)
            except TypeError:
                raise TypeError(f'ids must be a sequence of ints, got {type(ids).__name__}') from None
            if not set(map(type, ids)) <= {int}:
                # Checked before numpy converts the list (it would take True
                # as 1, and turn [1, 2.5] into floats, hiding which one is bad).
                for pos, i in enumerate(ids):
                    if isinstance(i, (bool, np.bool_)) or not isinstance(i, Integral):
                        raise TypeError(f'token id at position {pos} is not an int: {i!r}')
            try:
                arr = np.array(ids)
            except (ValueError, OverflowError):
                arr = np.array(ids, dtype=object)
            if arr.dtype.kind not in 'iu':  # ints that numpy made floats (int64 beside uint64)
                arr = np.array(ids, dtype=object)
        if arr.size == 0:
            return np.zeros(0, np.int64)
        if arr.ndim != 1:
            raise ValueError(f'ids must be one-dimensional, got shape {arr.shape}')
        if arr.dtype.kind not in 'iu':
            for pos, i in enumerate(arr.tolist()):
                if isinstance(i, bool) or not isinstance(i, Integral):
                    raise TypeError(f'token id at position {pos} is not an int: {i!r}')
                if not 0 <= i < self.vocab_size:
                    raise ValueError(f'token id {i} at position {pos} out of range [0, {self.vocab_size})')
            arr = arr.astype(np.int64)
        bad = np.flatnonzero((arr < 0) | (arr >= self.vocab_size))
        if bad.size:
            pos = int(bad[0])
            raise ValueError(f'token id {arr[pos]} at position {pos} out of range [0, {self.vocab_size})')
        return arr.astype(np.int64, copy=False)

    def decode_bytes(self, ids):
        """The bytes of the pieces ``ids`` (ids 0..2 add nothing; a special
        token adds its text)."""
        arr = self._check_ids(ids)
        out = lattice.gather_bytes(arr, self._piece_data, self._piece_offsets)
        return out.tobytes()

    def decode(self, ids):
        """Text of ``ids``: the pieces' bytes joined and decoded as UTF-8
        (invalid sequences are dropped, as in BytePiece)."""
        return self.decode_bytes(ids).decode('utf-8', errors='ignore')

    # --- lattice statistics -------------------------------------------------

    def nbest(self, text, n):
        """The ``n`` best segmentations of ``text``, best first, as a list of
        ``(ids, score)``; ``score`` is the sum of the pieces' log
        probabilities. Fewer are returned if the text has fewer."""
        if isinstance(n, bool) or not isinstance(n, Integral):
            raise TypeError(f'n must be an int, got {type(n).__name__}')
        if n <= 0:
            raise ValueError(f'n must be positive, got {n}')
        buf = self._to_buffer(text)
        cells = (buf.size + 1) * n  # the kernel keeps n partial paths per byte position, 20 bytes each
        if cells > MAX_NBEST_CELLS:
            raise ValueError(f'nbest of {buf.size} bytes with n={n} needs {cells * 20 / 2**30:.1f} GiB; '
                             f'(bytes + 1) * n must be at most {MAX_NBEST_CELLS}: split the text or lower n')
        scores, ids, starts = lattice.nbest(buf, lattice.chunk_bounds(buf), self._automaton.trie, int(n))
        ids = ids.tolist()
        starts = starts.tolist()
        return [(ids[starts[r]:starts[r + 1]], float(scores[r])) for r in range(len(scores))]

    def _forward_stats(self, text, alpha):
        alpha = check_alpha(alpha)
        if alpha < 0:
            raise ValueError(f'alpha must be >= 0 for lattice statistics, got {alpha}')
        buf = self._to_buffer(text)
        return lattice.forward_stats(buf, lattice.chunk_bounds(buf), self._automaton.trie, alpha)

    def log_likelihood(self, text, alpha=1.0):
        """log Z: the log of the sum over all segmentations of
        ``exp(alpha * score)`` (with alpha = 1, the log marginal probability
        of the text under the unigram model)."""
        return float(self._forward_stats(text, alpha)[0])

    def entropy(self, text, alpha=1.0):
        """Entropy (nats) of the segmentation distribution at ``alpha``."""
        # log Z - alpha * E[score] cancels: with one likely path, rounding can
        # leave a tiny negative value where the entropy is 0.
        return max(0.0, float(self._forward_stats(text, alpha)[1]))

    # --- saving and conversion ------------------------------------------------

    def save(self, path):
        """Save the model as a BytePiece model file (readable by BytePiece
        0.6.3, ids kept), atomically. Special tokens go to the sidecar
        ``<path>.special.json``, which ``Tokenizer(path)`` loads again and
        BytePiece 0.6.3 ignores; a stale sidecar is removed. The
        normalization is not saved (BytePiece's format has no place for it):
        pass it again when loading."""
        import base64
        path = os.fsdecode(path)  # the sidecar's name is built from it
        automaton = self._automaton
        obj = {}
        for i in range(NUM_SPECIAL, automaton.vocab_size):
            piece, count = automaton.pieces[i], automaton.counts[i]
            if isinstance(count, float) and count.is_integer():
                count = int(count)
            obj[base64.b64encode(piece).decode('ascii')] = [i, piece.decode('utf-8', errors='ignore'), count]
        atomic_write(path, json.dumps(obj, indent=4, ensure_ascii=False))
        self._special.save(path)

    def convert_to_huggingface(self, path):
        """Write a HF ``tokenizer.json`` giving the same ids; see
        ``bytepiece.huggingface.convert_to_huggingface``."""
        from .huggingface import convert_to_huggingface
        convert_to_huggingface(self, path, _stacklevel=3)

    def convert_to_sentencepiece(self, path):
        """Write a SentencePiece model of this vocabulary; see
        ``bytepiece.convert.convert_to_sentencepiece``."""
        from .convert import convert_to_sentencepiece
        convert_to_sentencepiece(self, path)
