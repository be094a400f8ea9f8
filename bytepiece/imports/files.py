"""Which library a model file comes from, and the parts a ``Tokenizer``
needs to encode and decode with a SentencePiece or HF unigram model."""

import json
import os
from typing import Any, NamedTuple

import numpy as np

from ..core.charencoding import CharEncoder
from ..core.model import NUM_SPECIAL, load_model
from ..core.pieces import PieceTable
from ..core.statistics import CharLatticeStatistics
from ..core.text import pack_bytes
from ..exports.huggingface import from_byte_level
from . import huggingface as hf
from . import sentencepiece as spm

BYTEPIECE = 'bytepiece'
BYTEPIECE_EXPORT = 'bytepiece export'  # a tokenizer.json bytepiece wrote: a BytePiece model
SENTENCEPIECE = 'sentencepiece'
HUGGINGFACE = 'huggingface'


def file_format(model):
    """``'bytepiece'``, ``'bytepiece export'``, ``'sentencepiece'`` or
    ``'huggingface'``: the format of a model path or dict (a file is told by
    its first bytes and, for JSON, by HF's ``model`` key)."""
    if isinstance(model, dict):
        return _json_format(model)
    kind = _file_kind(model)
    if kind != JSON:
        return kind
    try:  # the structure tells the formats apart: no need to read numbers as HF does
        return _json_format(json.loads(_read(os.fsdecode(model))))
    except ValueError:
        return BYTEPIECE  # load_model names the error


JSON = 'json'


def _file_kind(model):
    """``'sentencepiece'``, ``'json'`` (a file that may be a ``tokenizer.json``)
    or ``'bytepiece'``, from a file's first bytes only."""
    if not isinstance(model, (str, bytes, os.PathLike)):
        return BYTEPIECE  # load_model names the wrong type
    path = os.fsdecode(model)
    if not os.path.isfile(path):
        return BYTEPIECE  # load_model names the missing file
    with open(path, 'rb') as f:
        head = f.read(1 << 16)
    if head.lstrip().startswith(b'{'):  # JSON (which may start with a newline, as a ModelProto does)
        # a tokenizer.json names these keys early (its model may come after megabytes)
        return JSON if any(key in head for key in (b'"model"', b'"added_tokens"', b'"truncation"')) else BYTEPIECE
    return SENTENCEPIECE if spm.looks_like_sentencepiece(head) else BYTEPIECE


def _json_format(obj):
    if not isinstance(obj, dict) or not isinstance(obj.get('model'), dict):
        return BYTEPIECE
    return BYTEPIECE_EXPORT if hf.is_bytepiece_export(obj) else HUGGINGFACE


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


class ModelPieceTable(PieceTable):
    """``PieceTable``'s lookups for the pieces of another library's model:
    pieces are str, ids are the file's, and decoding is the library's."""

    def __init__(self, pieces, decoder):
        self.size = len(pieces)
        self.pieces = list(pieces)
        self.piece_data, self.piece_offsets = pack_bytes([p.encode('utf-8') for p in pieces])
        self.ids = {}
        for i, piece in enumerate(pieces):
            self.ids.setdefault(piece, i)
        self.decoder = decoder

    def id_to_piece(self, i):
        return self.pieces[self.check_id(i)]

    def decode(self, ids, errors=None):
        return self.decoder.decode(self.check_ids(ids), errors)

    def decode_bytes(self, ids):
        """The decoded text as UTF-8, bytes that are not UTF-8 kept as they are."""
        return self.decode(ids, 'surrogateescape').encode('utf-8', 'surrogateescape')


class ImportedModel(NamedTuple):
    """What a ``Tokenizer`` is built from for another library's model."""
    format: str
    vocab: Any  # a CharVocabulary
    table: ModelPieceTable
    encoder: CharEncoder
    statistics: Any  # a CharLatticeStatistics
    source: bytes  # the file as read, which ``save`` writes back
    summary: list  # lines describing the model, for ``bytepiece info``


def load_imported(model, normalization='auto', special_tokens=None):
    """The ``ImportedModel`` of a SentencePiece ``.model`` file or a HF
    Unigram ``tokenizer.json`` (a path or its parsed dict).
    ``normalization`` and ``special_tokens`` (the ``Tokenizer``'s) must be
    left unset: such a model has its own."""
    # ``Tokenizer`` chose this path by ``file_format``: the first bytes tell the two apart
    kind = SENTENCEPIECE if not isinstance(model, dict) and _file_kind(model) == SENTENCEPIECE else HUGGINGFACE
    _check_options(kind, normalization, special_tokens)
    if kind == SENTENCEPIECE:
        return _sentencepiece(os.fsdecode(model))
    return _huggingface(model)


def native_model(model):
    """A BytePiece model (path or dict), or the one a ``tokenizer.json`` that
    bytepiece exported holds: ``(pieces, ids, counts, metadata, scores)``,
    ``scores`` None unless the file holds scores rather than counts."""
    kind = file_format(model)
    if kind == BYTEPIECE_EXPORT:
        return exported_model(_tokenizer_json(model))
    if kind != BYTEPIECE:
        raise ValueError(f'{model!r} is a {kind} model: Tokenizer(path) reads it (as an ImportedTokenizer); '
                         f'a subclass of Tokenizer reads BytePiece models only')
    return (*load_model(model), None)


def _tokenizer_json(model):
    """A ``tokenizer.json`` parsed, its numbers read as HF reads them
    (``serde_f64``: scores one ulp off break ties differently)."""
    if isinstance(model, dict):
        return model
    path = os.fsdecode(model)
    return hf.load_json(_read(path), path)


def _check_options(kind, normalization, special_tokens):
    if normalization != 'auto':
        raise ValueError(f'normalization={normalization!r}: a {kind} model normalizes text with its own '
                         f'normalizer; leave normalization at its default')
    if special_tokens:
        raise ValueError(f'special_tokens: a {kind} model keeps the ids of its file; its control and '
                         f'user-defined pieces are its special tokens')


def check_exportable(kind, target):
    """Refuse to export another library's model (the exports write BytePiece models)."""
    if kind == target:
        raise ValueError(f'this is a {kind} model already: save() writes its file')
    raise ValueError(f'this is a {kind} model: bytepiece exports its own models only '
                     f"(for SentencePiece to HF, use transformers' converter)")


def _sentencepiece(path):
    data = _read(path)
    source = repr(path)
    model = spm.check_unigram(spm.parse_sentencepiece(data, source), source)
    one_byte_space = spm.one_byte_spaces(model)
    normalizer = spm.normalizer(model, one_byte_space)
    vocab = spm.sentencepiece_vocabulary(model, one_byte_space)
    decoder = spm.SentencePieceDecoder(model, spm.denormalizer(model))
    table = ModelPieceTable(model.pieces, decoder)
    encoder = CharEncoder(vocab, spm.SentencePieceSplitter(normalizer), _marker_id(model, model.bos_id),
                          _marker_id(model, model.eos_id))
    return ImportedModel(SENTENCEPIECE, vocab, table, encoder, CharLatticeStatistics(vocab, encoder.splitter), data,
                         spm.summary(model))


def _marker_id(model, i):
    return i if 0 <= i < len(model.pieces) else -1


def exported_model(obj):
    """The BytePiece model a ``tokenizer.json`` that ``exports.huggingface``
    wrote holds: ``(pieces, ids, counts, metadata, scores)``; the counts
    give back the file's scores exactly where ``counts_for_scores`` finds
    them (a saved copy then keeps the ids)."""
    vocab = obj['model']['vocab']
    scores = np.array([entry[1] for entry in vocab[NUM_SPECIAL:]], np.float64)
    pieces = [from_byte_level(entry[0]) for entry in vocab[NUM_SPECIAL:]]
    added = obj.get('added_tokens') or []
    special_tokens = [t['content'] for t in added if t['id'] >= len(vocab)]
    normalizer = obj.get('normalizer')
    metadata = {'normalization': normalizer['type'] if normalizer else None, 'special_tokens': special_tokens}
    return pieces, list(range(NUM_SPECIAL, len(vocab))), counts_for_scores(scores), metadata, scores.tolist()


def counts_for_scores(scores, rounds=4):
    """Counts whose scores as a model file's (``log(count) - log(total)``,
    no penalty: ``Vocabulary``) are ``scores``: each count is moved ulp by
    ulp around ``exp(score + log(total))`` until its score is exact, which
    it nearly always can be. A list of floats."""
    counts = np.exp(scores)
    for _ in range(rounds):
        log_total = np.log(float(sum(counts.tolist())))
        counts = np.exp(scores + log_total)
        for _ in range(64):
            got = np.log(counts) - log_total
            low, high = got < scores, got > scores
            if not (low.any() or high.any()):
                break
            counts[low] = np.nextafter(counts[low], np.inf)
            counts[high] = np.nextafter(counts[high], 0.0)
        if np.log(float(sum(counts.tolist()))) == log_total:
            break
    return counts.tolist()


def _huggingface(model):
    source = 'tokenizer.json' if isinstance(model, dict) else repr(os.fsdecode(model))
    if isinstance(model, dict):
        model_file, data = hf.read_tokenizer_json(model), json.dumps(model).encode('utf-8')
    else:  # read once: parsed, and kept as the file save() writes back
        path = os.fsdecode(model)
        data = _read(path)
        model_file = hf.HFUnigramFile(hf.load_json(data, path), path)
    vocab = hf.hf_vocabulary(model_file)
    splitter = hf.HuggingFaceSplitter(model_file)
    table = ModelPieceTable(model_file.pieces + [t.content for t in model_file.added_tokens
                                                 if t.id >= len(model_file.pieces)], hf.HuggingFaceDecoder(model_file))
    encoder = CharEncoder(vocab, splitter)
    return ImportedModel(HUGGINGFACE, vocab, table, encoder, CharLatticeStatistics(vocab, splitter), data,
                         hf.hf_summary(model_file, source))
