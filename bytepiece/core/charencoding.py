"""The encode pipeline of a SentencePiece or HF unigram model: the same
steps, requests and outputs as ``core.encoding.Encoder`` (whose docstring
describes them), over a ``CharVocabulary``.

The file's text pipeline (``Splitter``) turns texts into segments: the
normalized text for SentencePiece, the pre-tokens and added tokens for HF.
Each segment is segmented whole, unknown characters are resolved as the
library resolves them, and character offsets are mapped back to the
original text through the normalizer's alignment.
"""

from typing import NamedTuple, Optional

import numpy as np

from ..runtime.parallel import Engine
from .encoding import Part, add_markers, batch_cuts, marked, marker_spans
from .seeds import check_alpha, check_unused_seed
from .special import merge_specials
from .text import check_text


class Segments(NamedTuple):
    """Texts cut into segments for the kernels: segment ``s`` is
    ``buf[seg_bounds[s]:seg_bounds[s+1]]``, text ``t`` has segments
    ``text_seg[t]..text_seg[t+1]-1``; ``fixed``: rows ``(text, segment it
    follows, id, char start, char end)`` of tokens the pipeline itself
    decided (HF's added tokens), as ``SpecialTokens.split`` gives them;
    ``align``: for each segment byte and each segment end, the character
    of the original text it comes from, and ``chars``: each text's length in
    characters (both None unless offsets were asked)."""
    buf: np.ndarray
    seg_bounds: np.ndarray
    text_seg: np.ndarray
    fixed: np.ndarray
    align: Optional[np.ndarray] = None
    chars: Optional[np.ndarray] = None


class CharEncoder:
    """``Encoder``'s interface over a ``CharVocabulary`` and a splitter (an
    object whose ``split(texts, first_index, offsets)`` returns
    ``Segments``). ``bos_id``/``eos_id``: the model's, or -1 if it has none."""

    keep_known_chars = True  # the character lattice has no lone bytes inside known characters

    def __init__(self, vocab, splitter, bos_id=-1, eos_id=-1):
        self.vocab = vocab
        self.splitter = splitter
        self.bos_id = bos_id
        self.eos_id = eos_id
        self._fused = getattr(splitter, 'encode_one', None)  # one kernel call per text, where the splitter has one

    def allowed(self, allowed_special):
        if allowed_special or isinstance(allowed_special, str):
            raise ValueError('allowed_special: this model has no special tokens to allow; its control and '
                             'user-defined pieces are handled as its library handles them')
        return None

    def check_markers(self, add_bos, add_eos):
        for flag, value, name in ((add_bos, self.bos_id, 'add_bos'), (add_eos, self.eos_id, 'add_eos')):
            if flag and value < 0:
                raise ValueError(f'{name}=True: this model has no {name[4:]} piece')

    def marked(self, ids, add_bos, add_eos):
        """The list ``ids`` with the model's bos and eos ids, as asked."""
        self.check_markers(add_bos, add_eos)
        return marked(ids, add_bos, add_eos, self.bos_id, self.eos_id)

    def one(self, text, alpha, seeds, seed):
        """The ids (int32 array) of one text."""
        alpha = check_alpha(alpha)
        if type(text) is not str:
            check_text(text)
        if alpha < 0:
            if seed is not None:
                check_unused_seed(seed)
            call = 0
        else:
            call = seeds.call_seed(seed)
        if self._fused is not None:
            return self._fused(self.vocab, text, alpha, call)
        segments = self.splitter.split([text], None, False)
        tokens = self._segment(segments, alpha, call, 0, False)
        ids = tokens.ids
        if segments.fixed.shape[0]:
            ids, _, _ = merge_specials(ids, tokens.ends, tokens.seg_start[segments.text_seg], segments.seg_bounds,
                                       segments.fixed)
        return ids

    def _segment(self, segments, alpha, seed, first_text, with_ends):
        with_ends = with_ends or segments.fixed.shape[0] > 0
        tokens = self.vocab.segment(segments.buf, segments.seg_bounds, segments.text_seg, alpha, seed, first_text,
                                    with_ends)
        return self.vocab.resolve(tokens)

    def parts(self, texts, request, threads, single=False):
        """Encode ``texts`` (a checked list of str); yields ``Part`` s in order."""
        if request.add_bos or request.add_eos:
            self.check_markers(request.add_bos, request.add_eos)
        cuts, threads = batch_cuts(texts, threads)
        prepared = ((t0, t1, self.splitter.split(texts[t0:t1], None if single else t0, request.spans))
                    for t0, t1 in zip(cuts[:-1], cuts[1:]))
        with Engine('threads', workers=threads) as engine:
            yield from engine.imap(self._part, ((t0, t1, segments, request) for t0, t1, segments in prepared),
                                   window=len(cuts))

    def _part(self, t0, t1, segments, request):
        tokens = self._segment(segments, request.alpha, request.seed, request.first_text + t0, request.spans)
        ids, ends, seg_start = tokens
        starts = seg_start[segments.text_seg]
        spans = None
        if request.spans:
            spans = self._spans(segments, tokens)
        ids, starts, spans = merge_specials(ids, ends, starts, segments.seg_bounds, segments.fixed, spans)
        if request.add_bos or request.add_eos:
            ids, starts = add_markers(ids, starts, request.add_bos, request.add_eos, self.bos_id, self.eos_id)
            if spans is not None:
                spans = marker_spans(spans, starts, segments.chars, request.add_bos, request.add_eos)
        return Part(t0, t1, ids, starts, spans)

    @staticmethod
    def _spans(segments, tokens):
        """Each token's (start, end) in characters of its original text:
        tokens tile their segment, and ``align`` maps a segment's byte
        positions to original characters."""
        ids, ends, seg_start = tokens
        n_seg = segments.seg_bounds.size - 1
        seg_of = np.repeat(np.arange(n_seg), np.diff(seg_start))
        starts = np.empty_like(ends)
        if ends.size:
            starts[1:] = ends[:-1]
        first = seg_start[:-1][np.diff(seg_start) > 0]
        starts[first] = segments.seg_bounds[seg_of[first]]
        # align has one more entry per segment than the segment has bytes
        return segments.align[starts + seg_of], segments.align[ends + seg_of]

