"""The encode pipeline, which every encode method of the Tokenizer goes through.

1. Cut: a batch is cut into parts of consecutive texts of about equal size
   (one part for a small batch or one thread).
2. Prepare, on the calling thread: normalize, split at the allowed special
   tokens, encode as UTF-8 and pack each part into one buffer (``Packed``).
3. Segment, on worker threads (the kernel releases the GIL): the calling
   thread meanwhile prepares later parts and turns finished parts into
   Python objects.
4. Finish: special-token ids merged in, character spans if asked, then
   ``<bos>``/``<eos>``; the caller builds lists or flat arrays from the parts.

A single plain text (no special tokens to match, no spans) takes a short
path through the same steps: one buffer, one kernel call, ids only.
"""

from typing import NamedTuple, Optional

import numpy as np

from ..kernels.lattice import MODE_VITERBI
from ..kernels.segment import segment_spans as _segment_spans
from ..kernels.segment import segment_text, segment_texts
from ..runtime.parallel import Engine, byte_balanced_cuts
from .model import BOS_ID, EOS_ID
from .seeds import check_alpha, check_unused_seed
from .special import merge_specials
from .text import check_text, encode_texts, normalize, pack_bytes, text_bytes, token_char_spans

# Batches smaller than this (in characters) run on the calling thread:
# starting a thread pool costs more than it saves.
PARALLEL_MIN_CHARS = 1 << 16

# Parallel batches are cut into this many parts per thread: enough to even
# out uneven texts and a busy core.
PARTS_PER_THREAD = 8


class Request(NamedTuple):
    """What an encode call asks for. ``allowed``: the special tokens to match
    (indices, from ``SpecialTokens.allowed_ids``) or None; ``seed``: the
    call's seed (unused by Viterbi); text ``t`` of the call draws from stream
    ``first_text + t`` (token files encode a document stream in batches)."""
    alpha: float
    seed: int
    allowed: Optional[frozenset] = None
    spans: bool = False
    add_bos: bool = False
    add_eos: bool = False
    first_text: int = 0


class Packed(NamedTuple):
    """A part's texts packed for the kernels: segment ``s`` is
    ``buf[seg_bounds[s]:seg_bounds[s+1]]`` and starts at character
    ``seg_char[s]`` of its text; text ``t`` is segments
    ``text_seg[t]..text_seg[t+1]-1``; ``specials``: rows ``(text, segment
    it follows, id, char start, char end)``; ``chars``: each normalized
    text's length in characters (for the spans of ``<eos>``), or None."""
    buf: np.ndarray
    seg_bounds: np.ndarray
    text_seg: np.ndarray
    seg_char: np.ndarray
    specials: np.ndarray
    chars: Optional[np.ndarray]


class Part(NamedTuple):
    """Texts ``t0..t1-1`` encoded: text ``t`` is
    ``ids[starts[t - t0]:starts[t - t0 + 1]]``; ``spans``: each token's
    ``(char starts, char ends)``, or None."""
    t0: int
    t1: int
    ids: np.ndarray
    starts: np.ndarray
    spans: Optional[tuple]


class TokenArrays(NamedTuple):
    """A batch's tokens as flat arrays: text ``i`` is
    ``ids[bounds[i]:bounds[i+1]]`` (int32 ids, int64 bounds); ``spans``: an
    int64 ``(n_tokens, 2)`` array of character spans, or None.

    >>> arrays = tok.encode_batch_to_numpy(['a b', 'cd'], offsets=True)
    >>> arrays.bounds.size, arrays.spans.shape == (arrays.ids.size, 2)
    (3, True)
    """
    ids: np.ndarray
    bounds: np.ndarray
    spans: Optional[np.ndarray] = None


_NO_SPECIALS = np.zeros((0, 5), np.int64)


def text_list(texts):
    """A batch as a list of str (any iterable of str; one str is refused, and
    a non-str is a TypeError naming its index)."""
    if isinstance(texts, (str, bytes, bytearray, memoryview)):
        raise TypeError(f'texts must be a list of str, not a single {type(texts).__name__}')
    texts = texts if isinstance(texts, list) else list(texts)
    if not all([type(t) is str for t in texts]):
        for index, text in enumerate(texts):
            check_text(text, index)
    return texts


def marked(ids, add_bos, add_eos, bos_id=BOS_ID, eos_id=EOS_ID):
    """The list ``ids`` of one text with ``<bos>`` before it and ``<eos>``
    after it (or the ids given), as asked (in place); ``add_markers`` is the
    same for arrays."""
    if add_bos:
        ids.insert(0, bos_id)
    if add_eos:
        ids.append(eos_id)
    return ids


def batch_cuts(texts, threads):
    """How a batch is cut into parts: ``(cuts, threads)``, part ``k`` being
    texts ``cuts[k]..cuts[k+1]-1``; one part on the calling thread for one
    thread or a small batch (starting a pool costs more than it saves)."""
    char_bounds = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)), out=char_bounds[1:])
    if threads == 1 or len(texts) <= 1 or char_bounds[-1] < PARALLEL_MIN_CHARS:
        return [0, len(texts)], 1
    return byte_balanced_cuts(char_bounds, PARTS_PER_THREAD * threads), threads


def add_markers(ids, starts, add_bos, add_eos, bos_id=BOS_ID, eos_id=EOS_ID):
    """Insert ``<bos>``/``<eos>`` (or the ids given) around each text of a
    flat ids array; the flags count by truth value, or are bool arrays (one
    flag per text). Returns ``(ids, starts)``."""
    n_texts = starts.size - 1
    bos, eos = (np.broadcast_to(f if isinstance(f, np.ndarray) else bool(f), n_texts) for f in (add_bos, add_eos))
    new_starts = np.zeros(n_texts + 1, np.int64)
    np.cumsum(np.diff(starts) + bos + eos, out=new_starts[1:])
    out = np.empty(new_starts[-1], np.int32)
    body = np.ones(out.size, bool)
    for flags, where, marker in ((bos, new_starts[:-1], bos_id), (eos, new_starts[1:] - 1, eos_id)):
        out[where[flags]] = marker
        body[where[flags]] = False
    out[body] = ids
    return out, new_starts


def marker_spans(spans, starts, chars, add_bos, add_eos):
    """Spans after ``add_markers``: ``<bos>`` is (0, 0), ``<eos>`` (n, n) for
    a text of n characters."""
    out = (np.empty(starts[-1], np.int64), np.empty(starts[-1], np.int64))
    body = np.ones(starts[-1], bool)
    for flag, where, at in ((add_bos, starts[:-1], 0), (add_eos, starts[1:] - 1, chars)):
        if flag:
            for array in out:
                array[where] = at
            body[where] = False
    for array, values in zip(out, spans):
        array[body] = values
    return out


def segment_spans(vocab, buf, bounds, alpha=-1.0, seed=0):
    """Segment each span ``buf[bounds[i]:bounds[i+1]]`` as it is, with no
    chunk cutting and one random stream (trainers tokenize pieces so).
    Returns ``(ids int32, token_ends int64, span_token_start int64)``."""
    return _segment_spans(buf, bounds, vocab.trie, vocab.draw(alpha), np.uint64(seed))


class Encoder:
    """The pipeline over one vocabulary, normalization and set of special
    tokens; ``keep_known_chars``: see ``Vocabulary.draw``."""

    bos_id = BOS_ID
    eos_id = EOS_ID

    def __init__(self, vocab, specials, normalization, keep_known_chars=False):
        self.vocab = vocab
        self.specials = specials
        self.normalization = normalization
        self.keep_known_chars = keep_known_chars
        self._viterbi_args = (*vocab.trie, vocab.trie.unit_score, MODE_VITERBI, -1.0, vocab.max_piece_length, 0)
        self._sampling_cache = {}

    @staticmethod
    def marked(ids, add_bos, add_eos):
        """``marked``: the list ``ids`` with ``<bos>``/``<eos>`` as asked."""
        return marked(ids, add_bos, add_eos)

    def check_markers(self, add_bos, add_eos):
        """Every BytePiece model has ``<bos>`` and ``<eos>``."""

    def allowed(self, allowed_special):
        """The special tokens a call matches (indices, for ``Request.allowed``)
        of an ``allowed_special`` argument, or None; unknown tokens raise."""
        if allowed_special or isinstance(allowed_special, str):
            return self.specials.allowed_ids(allowed_special)
        return None

    def one(self, text, alpha, seeds, seed):
        """The ids (int32 array) of one plain text: the short path. ``seeds``:
        the tokenizer's ``SeedStream``, used when ``seed`` is None."""
        if type(alpha) is not int or alpha >= 0:  # the default int alpha skips the check
            alpha = check_alpha(alpha)
        buf = text_bytes(text, self.normalization)
        if alpha < 0:
            if seed is not None:
                check_unused_seed(seed)
            return segment_text(buf, *self._viterbi_args)
        args = self._sampling_cache.get(alpha)
        if args is None:
            args = self.sampling_args(alpha)
        return segment_text(buf, *args, seeds.text_bits(seed))

    def sampling_args(self, alpha):
        """``segment_text``'s arguments, but the stream, for sampling at
        ``alpha`` (a checked float); ``one`` keeps them for its next calls."""
        if len(self._sampling_cache) >= 8:
            self._sampling_cache.clear()
        draw = self.vocab.draw(alpha, self.keep_known_chars)
        args = (*self.vocab.trie, draw.unit_weight, draw.mode, draw.alpha, draw.window)
        self._sampling_cache[alpha] = args
        return args

    def parts(self, texts, request, threads, single=False):
        """Encode ``texts`` (a checked list of str, see ``text_list``); yields
        ``Part`` s in order. With more
        than one thread, parts are segmented on a thread pool as soon as each
        is prepared. ``single``: the list holds one caller's text, which
        error messages name by no index."""
        cuts, threads = batch_cuts(texts, threads)
        draw = self.vocab.draw(request.alpha, self.keep_known_chars)
        prepared = ((t0, t1, self._prepare(texts[t0:t1], None if single else t0, request))
                    for t0, t1 in zip(cuts[:-1], cuts[1:]))
        with Engine('threads', workers=threads) as engine:
            # every part in flight: packing all parts overlaps the first ones' segmentation
            yield from engine.imap(self._segment, ((t0, t1, packed, draw, request) for t0, t1, packed in prepared),
                                   window=len(cuts))

    def _prepare(self, texts, first_index, request):
        n = len(texts)
        chars = None
        if not request.allowed:
            buf, bounds = pack_bytes(encode_texts(texts, self.normalization, first_index))
            seg_char = np.zeros(n, np.int64) if request.spans else None
            if request.spans and request.add_eos:
                chars = np.fromiter((len(normalize(t, self.normalization)) for t in texts), np.int64, n)
            return Packed(buf, bounds, np.arange(n + 1), seg_char, _NO_SPECIALS, chars)
        norm = [normalize(t, self.normalization) for t in texts]
        segments, seg_text, seg_char, specials = self.specials.split(norm, request.allowed)
        try:
            encoded = [s.encode('utf-8') for s in segments]
        except UnicodeEncodeError:
            encode_texts(norm, None, first_index)  # raises, naming the text
            raise
        buf, seg_bounds = pack_bytes(encoded)
        if request.spans:
            chars = np.fromiter(map(len, norm), np.int64, n)
        return Packed(buf, seg_bounds, np.searchsorted(seg_text, np.arange(n + 1)), seg_char, specials, chars)

    def _segment(self, t0, t1, packed, draw, request):
        """A worker's job: segment one prepared part, then finish it."""
        ids, ends, starts = segment_texts(packed.buf, packed.seg_bounds, packed.text_seg, self.vocab.trie, draw,
                                          np.uint64(request.seed), request.first_text + t0,
                                          request.spans or packed.specials.shape[0] > 0)
        spans = None
        if request.spans:
            tok_starts = ends - self.vocab.piece_lengths[ids]
            spans = token_char_spans(packed.buf, tok_starts, ends, packed.seg_bounds, packed.seg_char)
        ids, starts, spans = merge_specials(ids, ends, starts, packed.seg_bounds, packed.specials, spans)
        if request.add_bos or request.add_eos:
            old_starts = starts
            ids, starts = add_markers(ids, old_starts, request.add_bos, request.add_eos)
            if spans is not None:
                spans = marker_spans(spans, starts, packed.chars, request.add_bos, request.add_eos)
        return Part(t0, t1, ids, starts, spans)


# --- outputs: the parts of a batch as Python lists or flat arrays ------------


def id_lists(parts, to_list):
    """One list per text, each made by ``to_list`` from the text's ids (a
    ``PieceTable``'s ``id_list`` or ``piece_list``)."""
    lists = []
    for part in parts:
        ids, bounds = part.ids, part.starts.tolist()
        # one conversion per text: faster than one flat list sliced per text
        lists.extend([to_list(ids[bounds[i]:bounds[i + 1]]) for i in range(part.t1 - part.t0)])
    return lists


def offset_lists(parts):
    """``(id lists, offset lists)``: per text, its ids and ``(start, end)`` spans."""
    lists, offsets = [], []
    for part in parts:
        bounds = part.starts.tolist()
        ids = part.ids.tolist()
        pairs = list(zip(part.spans[0].tolist(), part.spans[1].tolist()))
        for i in range(part.t1 - part.t0):
            lists.append(ids[bounds[i]:bounds[i + 1]])
            offsets.append(pairs[bounds[i]:bounds[i + 1]])
    return lists, offsets


def flat_arrays(parts, spans=False):
    """The parts as one ``TokenArrays`` (``spans`` filled if asked)."""
    parts = list(parts)
    if len(parts) == 1:
        ids, bounds = parts[0].ids, parts[0].starts
    else:
        ids = np.concatenate([p.ids for p in parts]) if parts else np.zeros(0, np.int32)
        bounds = np.zeros(sum(p.t1 - p.t0 for p in parts) + 1, np.int64)
        if parts:
            np.cumsum(np.concatenate([np.diff(p.starts) for p in parts]), out=bounds[1:])
    if not spans:
        return TokenArrays(ids, bounds)
    columns = [np.concatenate([p.spans[k] for p in parts]) if parts else np.zeros(0, np.int64) for k in (0, 1)]
    return TokenArrays(ids, bounds, np.stack(columns, axis=1))
