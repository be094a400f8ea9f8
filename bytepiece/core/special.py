"""User-defined special tokens: registry, matching and persistence.

Special tokens (``<|endoftext|>``, ``<mask>``, ...) are strings that encode to
one id each, after the model's vocabulary. They are found in a text with a
pyahocorasick automaton, leftmost-longest: scanning left to right, the match
that starts first wins, and among matches starting at the same character the
longest; matched text is then skipped. Matching only happens when a call allows
it (``allowed_special``): by default a special token's text is plain text.

They are saved in the model file's metadata (docs/format.md).
"""

from collections.abc import Collection, Iterable
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple, Union

import numpy as np

# ``allowed_special`` of an encode call: 'all' or a collection of registered tokens
Allowed = Union[str, Collection[str]]
Spans = Tuple[np.ndarray, np.ndarray]


def _unchanged(text):
    return text


class SpecialTokens:
    """An ordered set of special tokens with ids ``base, base + 1, ...``.

    ``base`` is the size of the model's vocabulary (pieces plus ``<pad>``,
    ``<bos>``, ``<eos>``). ``reserved`` are names that are already ids
    (``'<pad>'``, ...) and cannot be registered again. Tokenizers hold one;
    ``Tokenizer.add_special_tokens`` is the usual way in.

    >>> specials = SpecialTokens(1000, reserved=('<pad>',))
    >>> specials.add(['<|end|>', '<mask>'])
    2
    >>> specials.ids['<mask>'], specials.find('a<mask>b<|end|>', specials.allowed_ids('all'))
    (1001, [(1, 7, 1), (8, 15, 0)])
    """

    def __init__(self, base: int, reserved: Iterable[str] = (),
                 normalize: Optional[Callable[[str], str]] = None) -> None:
        self.base = int(base)
        self.tokens: List[str] = []  # id - base -> str
        self.ids: Dict[str, int] = {}  # str -> id
        self._reserved = set(reserved)
        self._automaton = None
        # matching runs on normalized text, so each token is matched in its
        # normalized form (its registered text is what decode gives back)
        self._normalize = normalize or _unchanged
        self._forms = {}  # normalized form -> token

    def copy(self) -> 'SpecialTokens':
        """An independent copy (the caller adds to it, then swaps it in, so that
        concurrent calls never see a token list longer than the id tables)."""
        other = SpecialTokens(self.base, self._reserved, self._normalize)
        other.tokens = list(self.tokens)
        other.ids = dict(self.ids)
        other._forms = dict(self._forms)
        other._automaton = self._automaton
        return other

    def __len__(self) -> int:
        return len(self.tokens)

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def add(self, tokens: Iterable[str]) -> int:
        """Register ``tokens`` (an iterable of non-empty str); already
        registered ones are skipped. Returns how many were added."""
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Iterable):
            raise TypeError(f'special tokens must be a list of str, got {type(tokens).__name__}')
        tokens = list(tokens)
        for pos, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TypeError(f'special token at index {pos} must be str, got {type(token).__name__} {token!r}')
            if not token:
                raise ValueError(f'special token at index {pos} is empty')
            if token in self._reserved:
                raise ValueError(f'special token {token!r} is already a reserved id of the model')
            try:
                token.encode('utf-8')
            except UnicodeEncodeError:
                raise ValueError(f'special token {token!r} is not valid UTF-8 (a lone surrogate)') from None
        added = 0
        forms = dict(self._forms)
        for token in tokens:
            form = self._normalize(token)
            if form in self._reserved:  # it would match the text of <pad>, <bos> or <eos>
                raise ValueError(f'special token {ascii(token)} normalizes to {form!r}, a reserved id of the model')
            if forms.setdefault(form, token) != token:
                # ascii() shows the code points: the two often print alike
                raise ValueError(f'special token {ascii(token)} normalizes to the text of {ascii(forms[form])}: '
                                 f'with this normalization only one of them can be registered')
        for token in tokens:
            if token not in self.ids:
                self._forms[self._normalize(token)] = token
                self.ids[token] = self.base + len(self.tokens)
                self.tokens.append(token)
                added += 1
        if added:
            self._automaton = None
        return added

    def token(self, token_id: int) -> str:
        """The special token of id ``token_id`` (from ``base``)."""
        return self.tokens[token_id - self.base]

    # --- matching -----------------------------------------------------------

    def _get_automaton(self):
        if self._automaton is None:
            import ahocorasick
            automaton = ahocorasick.Automaton()
            for k, token in enumerate(self.tokens):
                form = self._normalize(token)
                automaton.add_word(form, (k, len(form)))
            automaton.make_automaton()
            self._automaton = automaton
        return self._automaton

    def allowed_ids(self, allowed: Optional[Allowed]) -> Optional[FrozenSet[int]]:
        """The token indices (id - base) allowed by ``allowed_special``:
        ``'all'``, or a set / list of registered special tokens. Returns None
        when no token may match."""
        if allowed is None:
            return None
        if isinstance(allowed, str):
            if allowed != 'all':
                raise ValueError(f"allowed_special must be 'all' or a set of special tokens, got {allowed!r}")
            return frozenset(range(len(self.tokens))) if self.tokens else None
        if not isinstance(allowed, Collection) or isinstance(allowed, (bytes, bytearray)):
            # a one-shot iterator is refused too: calls read allowed_special more than once
            raise TypeError(f"allowed_special must be 'all' or a set of special tokens, got {type(allowed).__name__}")
        indices = set()
        for token in allowed:
            if not isinstance(token, str):
                raise TypeError(f'allowed_special holds {token!r}: special tokens are str')
            if token not in self.ids:
                raise ValueError(f'allowed_special names {token!r}, which is not a registered special token')
            indices.add(self.ids[token] - self.base)
        return frozenset(indices) if indices else None

    def find(self, text: str, allowed: Collection[int]) -> List[Tuple[int, int, int]]:
        """Leftmost-longest matches of the allowed tokens in ``text``:
        a list of ``(start, end, index)`` in characters, non-overlapping, in
        order. ``allowed``: token indices, from ``allowed_ids``."""
        hits = []
        every = len(allowed) == len(self.tokens)
        for end, (k, length) in self._get_automaton().iter(text):
            if every or k in allowed:
                hits.append((end + 1 - length, -length, k))
        if not hits:
            return hits
        hits.sort()
        out = []
        pos = 0
        for start, neg_length, k in hits:
            if start >= pos:
                pos = start - neg_length
                out.append((start, pos, k))
        return out

    def split(self, texts: Sequence[str], allowed: Optional[Collection[int]]
              ) -> Tuple[List[str], np.ndarray, np.ndarray, np.ndarray]:
        """Cut each text at its special tokens.

        Returns ``(segments, seg_text, seg_char, specials)``: ``segments``
        are the plain pieces of text (every text gives ``m + 1`` segments for
        ``m`` special tokens, some possibly empty), ``seg_text[j]`` the index
        of the text segment ``j`` comes from, ``seg_char[j]`` the character
        where it starts in that text, and ``specials`` an int64 array of rows
        ``(text index, segment index it follows, id, char start, char end)``.
        """
        segments = []
        seg_text = []
        seg_char = []
        rows = []
        base = self.base
        for t, text in enumerate(texts):
            matches = self.find(text, allowed) if allowed else ()
            pos = 0
            for start, end, k in matches:
                segments.append(text[pos:start])
                seg_text.append(t)
                seg_char.append(pos)
                rows.append((t, len(segments) - 1, base + k, start, end))
                pos = end
            segments.append(text[pos:] if pos else text)
            seg_text.append(t)
            seg_char.append(pos)
        specials = np.array(rows, np.int64).reshape(-1, 5)
        return segments, np.array(seg_text, np.int64), np.array(seg_char, np.int64), specials


def merge_specials(ids: np.ndarray, tok_ends: np.ndarray, text_tok_start: np.ndarray, seg_bounds: np.ndarray,
                   specials: np.ndarray, spans: Optional[Spans] = None
                   ) -> Tuple[np.ndarray, np.ndarray, Optional[Spans]]:
    """Insert special tokens among the plain tokens of segmented texts.

    ``ids``/``tok_ends``: the plain tokens of all texts, in order, with byte
    ends in the packed plain buffer where segment ``j`` is
    ``seg_bounds[j]:seg_bounds[j+1]``; ``text_tok_start``: per text, where
    its tokens begin (n_texts + 1 entries); ``specials``: rows from
    ``SpecialTokens.split``; ``spans``: optional ``(char starts, char ends)``
    of the plain tokens. Returns ``(ids, text_tok_start, spans)`` merged.
    """
    if specials.shape[0] == 0:
        return ids, text_tok_start, spans
    # a special token follows segment j: it sits at the byte where segment j ends
    pos = seg_bounds[specials[:, 1] + 1]
    idx = np.searchsorted(tok_ends, pos, side='right')
    merged = np.insert(ids, idx, specials[:, 2].astype(ids.dtype))
    per_text = np.bincount(specials[:, 0], minlength=text_tok_start.size - 1)
    new_start = text_tok_start.copy()
    new_start[1:] += np.cumsum(per_text)
    if spans is not None:
        spans = (np.insert(spans[0], idx, specials[:, 3]), np.insert(spans[1], idx, specials[:, 4]))
    return merged, new_start, spans
