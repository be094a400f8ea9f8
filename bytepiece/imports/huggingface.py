"""Reading HF ``tokenizer.json`` files whose model is ``Unigram``.

``read_tokenizer_json`` gives an ``HFUnigramFile``: the model's pieces and
scores, its added tokens with the ids HF gives them, and HF's text pipeline
around the model: ``split`` cuts a text into added-token ids and the
pre-tokens the model encodes one by one, ``decode`` is ``Tokenizer.decode``.
The components read are ``hf_text.SUPPORTED`` (and null); any other raises
a ``ValueError`` naming the file, the component's JSON path and its type.
Post-processors are kept (``post_processor``) but not applied: ``split``
gives what ``encode(text, add_special_tokens=False)`` encodes.

Files that bytepiece itself exported (``is_bytepiece_export``) are byte-level
and load through bytepiece's own path, not this one.
"""

import functools
import json
import os
import re
from typing import List, NamedTuple, Tuple, Union

import numpy as np

from ..core.charencoding import Segments
from ..core.charvocab import HUGGINGFACE, UNKNOWN_PENALTY, CharVocabulary
from ..core.model import SPECIAL_PIECES
from ..core.text import check_text, encode_utf8, pack_strings
from ..exports.huggingface import CHUNK_REGEX
from .hf_regex import WHITESPACE, word_class
from .hf_text import decoder, field, normalizer, pre_tokenizer, slice_head


class AddedToken(NamedTuple):
    id: int  # the id HF gives it (the JSON's id is only checked by HF)
    content: str
    special: bool
    normalized: bool
    single_word: bool
    lstrip: bool
    rstrip: bool


_NUMBER = re.compile(r'(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?')
_U64_MAX = (1 << 64) - 1
_POW10 = [float(f'1e{k}') for k in range(309)]


def serde_f64(text):
    """The float64 that serde_json (without ``float_roundtrip``, as HF builds
    it) reads for a JSON number: the digits as an integer times or divided by
    one power of ten, which can be an ulp off the correctly rounded value.
    Scores one ulp apart break ties differently, so ids depend on it."""
    m = _NUMBER.fullmatch(text)
    if m is None:
        return float(text)
    negative, whole, fraction, exp = m.groups()
    significand, exponent, overflowed = 0, 0, False
    for d in map(int, whole):
        if overflowed or significand * 10 + d > _U64_MAX:
            overflowed = True
            exponent += 1
        else:
            significand = significand * 10 + d
    for d in map(int, fraction or ''):
        if significand * 10 + d > _U64_MAX:
            break  # serde_json ignores the digits that no longer fit
        significand = significand * 10 + d
        exponent -= 1
    exponent += int(exp or 0)
    value = float(significand)
    while True:
        if abs(exponent) < len(_POW10):
            value = value * _POW10[exponent] if exponent >= 0 else value / _POW10[-exponent]
            break
        if value == 0.0 or exponent >= 0:
            break
        value /= 1e308
        exponent += 308
    return -value if negative else value


def is_bytepiece_export(obj) -> bool:
    """Whether a parsed ``tokenizer.json`` is one bytepiece exported
    (``bytepiece.exports.huggingface``): byte-level pieces split on lines."""
    try:
        model, pre = obj['model'], obj['pre_tokenizer']
        steps = pre['pretokenizers']
        return (model.get('type') == 'Unigram' and pre.get('type') == 'Sequence' and len(steps) == 2
                and steps[0].get('type') == 'Split' and steps[0].get('pattern') == {'Regex': CHUNK_REGEX}
                and steps[1].get('type') == 'ByteLevel' and (obj.get('decoder') or {}).get('type') == 'ByteLevel'
                and [p[0] for p in model['vocab'][:len(SPECIAL_PIECES)]] == list(SPECIAL_PIECES))
    except (KeyError, TypeError, AttributeError, IndexError):
        return False


def _model_type(model):
    if 'type' in model:
        return model['type']
    # files without the tag: HF tells the models apart by their fields
    if 'merges' in model:
        return 'BPE'
    if 'continuing_subword_prefix' in model:
        return 'WordPiece'
    if isinstance(model.get('vocab'), list):
        return 'Unigram'
    if isinstance(model.get('vocab'), dict):
        return 'WordLevel'
    return 'untyped'


def _read_vocab(model, where):
    vocab = field(model, 'vocab', list, where)
    pieces, scores = [], []
    for i, entry in enumerate(vocab):
        if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str)
                or not isinstance(entry[1], (int, float)) or isinstance(entry[1], bool)):
            raise ValueError(f'{where}.vocab[{i}]: expected [piece, score], got {entry!r}')
        pieces.append(entry[0])
        scores.append(float(entry[1]))
    return pieces, scores


def _read_added(obj, where):
    tokens = obj.get('added_tokens') or []
    if not isinstance(tokens, list):
        raise ValueError(f'{where}.added_tokens: expected a list, got {tokens!r}')
    read = []
    for i, spec in enumerate(tokens):
        at = f'{where}.added_tokens[{i}]'
        if not isinstance(spec, dict):
            raise ValueError(f'{at}: expected an object, got {spec!r}')
        field(spec, 'id', int, at)
        read.append(dict(content=field(spec, 'content', str, at),
                         special=field(spec, 'special', bool, at, False),
                         normalized=field(spec, 'normalized', bool, at, True),
                         single_word=field(spec, 'single_word', bool, at, False),
                         lstrip=field(spec, 'lstrip', bool, at, False),
                         rstrip=field(spec, 'rstrip', bool, at, False)))
    return read


class _Matcher:
    """Leftmost-longest matching of added tokens (HF's Aho-Corasick tries)."""

    def __init__(self, patterns):
        self.ids = {}
        for text, token in patterns:
            self.ids.setdefault(text, token)
        ordered = sorted(self.ids, key=len, reverse=True)  # at one start, the longest first
        self.regex = re.compile('|'.join(map(re.escape, ordered))) if ordered else None


@functools.lru_cache(maxsize=None)
def _word_char():
    return re.compile(f'[{word_class()}]')


def _word_at(text, index):
    """Whether ``text[index]`` is a word character for Rust's regex."""
    return 0 <= index < len(text) and _word_char().match(text, index) is not None


def _find_added(text, matcher):
    """HF's ``AddedVocabulary::find_matches``: ``(start, end, token or None)`` covering ``text``."""
    if matcher.regex is None or not text:
        return [(0, len(text), None)]
    spans = []
    done = 0
    for m in matcher.regex.finditer(text):
        start, stop = m.span()
        token = matcher.ids[m.group()]
        if token.single_word and (_word_at(text, start - 1) or _word_at(text, stop)):
            continue
        if token.lstrip:
            start = max(len(text[:start].rstrip(WHITESPACE)), done)
        if token.rstrip:
            stop = len(text) - len(text[stop:].lstrip(WHITESPACE))
        if done < start:
            spans.append((done, start, None))
        spans.append((start, stop, token))
        done = stop
    if done != len(text):
        spans.append((done, len(text), None))
    return spans


class HFUnigramFile:
    """A HF Unigram ``tokenizer.json``: the model, added tokens and text pipeline."""

    def __init__(self, obj, name):
        self.name = name
        self._obj = obj  # what pickling keeps: the pipeline's functions are rebuilt from it
        if not isinstance(obj, dict):
            raise ValueError(f'{name!r}: expected a JSON object at the top, got {type(obj).__name__}')
        if obj.get('version', '1.0') != '1.0':
            raise ValueError(f'{name!r}: unknown tokenizer.json version {obj["version"]!r}')
        model = field(obj, 'model', dict, f'{name!r}')
        kind = _model_type(model)
        if kind != 'Unigram':
            what = 'tokenizer whose model names no type' if kind == 'untyped' else f'{kind} tokenizer'
            raise ValueError(f'{name!r} is a Hugging Face {what}; bytepiece reads Unigram models only')
        if is_bytepiece_export(obj):
            raise ValueError(f'{name!r} is a tokenizer bytepiece exported (byte-level pieces); '
                             'bytepiece loads it through its own path, not as a Hugging Face Unigram file')
        where = f'{name!r}: model'
        self.pieces, self.scores = _read_vocab(model, where)
        self.unk_id = field(model, 'unk_id', (int, type(None)), where, None)
        if self.unk_id is not None and not 0 <= self.unk_id < len(self.pieces):
            raise ValueError(f'{where}.unk_id: {self.unk_id} is not a piece id (vocab of {len(self.pieces)})')
        self.byte_fallback = field(model, 'byte_fallback', bool, where, False)
        self.post_processor = obj.get('post_processor')  # not applied: ids without special tokens added
        self.components = {key: _component_name(obj.get(key)) for key in ('normalizer', 'pre_tokenizer', 'decoder')}
        self._normalize = normalizer(obj.get('normalizer'), f'{name!r}: normalizer')
        self._pre_tokenize = pre_tokenizer(obj.get('pre_tokenizer'), f'{name!r}: pre_tokenizer')
        self._decoder = decoder(obj.get('decoder'), f'{name!r}: decoder')
        self._add_tokens(_read_added(obj, f'{name!r}:'))

    def _add_tokens(self, specs):
        """Ids as HF assigns them on loading: an existing added token or
        piece with the same content keeps its id, others count on from the
        vocabulary's size (the JSON's ids are not used)."""
        piece_ids = {piece: i for i, piece in enumerate(self.pieces)}  # the last duplicate wins, as in HF
        by_content, by_id = {}, {}
        next_id = len(self.pieces)
        for spec in specs:
            content = spec['content']
            if not content:
                continue
            known = by_content.get(content)
            if known is not None and by_id[known] == AddedToken(id=known, **spec):
                continue
            token_id = known if known is not None else piece_ids.get(content)
            if token_id is None:
                token_id, next_id = next_id, next_id + 1
            by_content[content] = token_id
            by_id[token_id] = AddedToken(id=token_id, **spec)
        self.added_tokens = sorted(by_id.values())
        self.special_contents = {t.content for t in self.added_tokens if t.special}
        # normalized tokens match, and decode as, their normalized form
        self._decoded = {t.id: self._normalize(t.content, None)[0] if t.normalized else t.content
                         for t in self.added_tokens}
        self._raw_matcher = _Matcher([(t.content, t) for t in self.added_tokens if not t.normalized])
        self._normalized_matcher = _Matcher([(self._decoded[t.id], t) for t in self.added_tokens
                                             if t.normalized and self._decoded[t.id]])

    def __reduce__(self):
        return HFUnigramFile, (self._obj, self.name)

    def describe(self) -> str:
        """The pipeline's components by type, e.g. ``normalizer Sequence(Precompiled, Replace)``."""
        return '; '.join(f'{key.replace("_", "-")} {name}' for key, name in self.components.items())

    def split(self, text: str) -> List[Union[int, str]]:
        """``text`` as HF cuts it before the model: added-token ids (``int``)
        and pre-tokens (``str``, normalized), in order; each pre-token is
        encoded on its own."""
        pieces, added = self.split_parts(text)
        out, done = [], 0
        for before, token_id in added:
            out += pieces[done:before] + [token_id]
            done = before
        return out + pieces[done:]

    def split_parts(self, text: str) -> Tuple[List[str], List[Tuple[int, int]]]:
        """``split`` as the pre-tokens and ``(pre-tokens before it, id)`` of
        each added token."""
        pieces, added = [], []
        for start, stop, token in _find_added(text, self._raw_matcher):
            if token is not None:
                added.append((len(pieces), token.id))
            elif start < stop:
                normalized, head = self._normalize(text[start:stop], 1 if start == 0 else None)
                for s, e, inner in _find_added(normalized, self._normalized_matcher):
                    if inner is not None:
                        added.append((len(pieces), inner.id))
                    elif e > s:
                        pre_tokens = self._pre_tokenize([(normalized[s:e], slice_head(head, s, e))])
                        pieces += [piece for piece, _ in pre_tokens]
        return pieces, added

    def normalize(self, text: str) -> str:
        """HF's ``normalizer.normalize_str``: the normalizer alone, no added tokens."""
        return self._normalize(text, None)[0]

    def decode(self, ids: List[int], skip_special_tokens: bool = True) -> str:
        """HF's ``Tokenizer.decode``: ids that are neither added tokens nor
        pieces are dropped, special tokens too when ``skip_special_tokens``."""
        tokens = []
        for i in ids:
            token = self._decoded.get(i)
            if token is None:
                if not 0 <= i < len(self.pieces):
                    continue
                token = self.pieces[i]
            if skip_special_tokens and token in self.special_contents:
                continue
            tokens.append(token)
        if self._decoder is None:
            return ' '.join(tokens)
        return ''.join(self._decoder(tokens))


def _component_name(spec):
    if not isinstance(spec, dict):
        return 'none'
    inner = spec.get('normalizers') or spec.get('pretokenizers') or spec.get('decoders')
    if isinstance(inner, list):
        return f'{spec.get("type")}({", ".join(_component_name(x) for x in inner)})'
    return str(spec.get('type'))


def read_tokenizer_json(source: Union[str, os.PathLike, dict]) -> HFUnigramFile:
    """A HF Unigram ``tokenizer.json``, from its path or its parsed content.

    From a path, scores are read as HF reads them (``serde_f64``); a dict
    already holds Python's reading of them."""
    if isinstance(source, dict):
        return HFUnigramFile(source, '<dict>')
    name = os.fspath(source)
    with open(name, 'rb') as f:
        return HFUnigramFile(load_json(f.read(), name), name)


def load_json(data, name):
    """The JSON text ``data`` (bytes) parsed, numbers read as HF reads them
    (``serde_f64``); a ValueError names the file ``name`` when it is not
    UTF-8 JSON."""
    try:
        return json.loads(data.decode('utf-8'), parse_float=serde_f64)
    except json.JSONDecodeError as error:
        raise ValueError(f'{name!r} is not valid JSON: {error}') from None
    except UnicodeDecodeError as error:
        raise ValueError(f'{name!r} is not UTF-8 text: {error}') from None


# --- the parts of an ImportedTokenizer ------------------------------------------


def hf_vocabulary(model_file):
    """The ``CharVocabulary`` of an ``HFUnigramFile``: every piece is an edge,
    scored as the file says; an unknown character scores the lowest score
    less ``UNKNOWN_PENALTY`` (HF's ``min_score`` is over every piece)."""
    scores = np.asarray(model_file.scores, np.float64)
    unk_score = float(scores.min()) - UNKNOWN_PENALTY if scores.size else -UNKNOWN_PENALTY
    unk_id = -1 if model_file.unk_id is None else model_file.unk_id
    return CharVocabulary(model_file.pieces, np.arange(len(model_file.pieces)), scores, scores, unk_id, unk_score,
                          HUGGINGFACE, model_file.byte_fallback)


class HuggingFaceSplitter:
    """HF's text pipeline for ``CharEncoder``: each pre-token is a segment,
    each added token a fixed token after the segment before it."""

    def __init__(self, model_file):
        self.model_file = model_file

    def split(self, texts, first_index, offsets):
        if offsets:
            raise ValueError('offsets: not available for HF tokenizer.json files (their normalizers keep no '
                             'alignment here); SentencePiece .model files and BytePiece models give them')
        pieces, fixed, text_seg = [], [], [0]
        for t, text in enumerate(texts):
            check_text(text, None if first_index is None else first_index + t)
            if text:  # a text starts with a segment, so that a fixed token has one to follow
                pieces.append('')
            strings, added = self.model_file.split_parts(text)
            fixed += [(t, len(pieces) + before - 1, token_id, 0, 0) for before, token_id in added]
            pieces += strings
            text_seg.append(len(pieces))
        try:
            buf, seg_bounds = pack_strings(pieces)
        except UnicodeEncodeError:  # a lone surrogate, of a text or of the file's pipeline: the error names the text
            for t, text in enumerate(texts):
                index = None if first_index is None else first_index + t
                encode_utf8(text, index)
                for piece in pieces[text_seg[t]:text_seg[t + 1]]:
                    encode_utf8(piece, index)
            raise
        rows = np.array(fixed, np.int64).reshape(-1, 5)
        return Segments(buf, seg_bounds, np.array(text_seg, np.int64), rows)


class HuggingFaceDecoder:
    """``Tokenizer.decode`` of HF (special tokens skipped) for ``ModelPieceTable``."""

    def __init__(self, model_file):
        self.model_file = model_file

    def decode(self, ids, errors=None):
        return self.model_file.decode(ids.tolist())


def hf_summary(model_file, source):
    """Lines describing a HF Unigram file, for ``bytepiece info``."""
    unk = 'none' if model_file.unk_id is None else f'id {model_file.unk_id}'
    return ['format: Hugging Face Unigram tokenizer.json',
            f'vocab size: {len(model_file.pieces)} pieces + {len(model_file.added_tokens)} added tokens',
            f'unknown piece: {unk}; byte fallback: {"on" if model_file.byte_fallback else "off"}',
            f'pipeline: {model_file.describe()}']
