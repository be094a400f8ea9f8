"""Read a SentencePiece ``.model`` file (a ``ModelProto``) without protobuf.

Only what encoding and decoding need is kept: the pieces with their scores
and types, the trainer settings that change encoding, and the normalizer and
denormalizer specs. Field numbers are those of SentencePiece's
``sentencepiece_model.proto``.
"""

import codecs
import os
from typing import NamedTuple, Optional

import numpy as np

from ..core.charencoding import Segments
from ..core.charvocab import SENTENCEPIECE, UNKNOWN_PENALTY, CharVocabulary
from ..core.text import encode_texts, encode_utf8, pack_bytes
from ..kernels.charlattice import encode_sentencepiece
from ..kernels.decode import gather_bytes
from .charsmap import SentencePieceNormalizer, parse_charsmap
from .protobuf import Fields

# Piece types (ModelProto.SentencePiece.Type).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
PIECE_TYPES = {NORMAL: 'normal', UNKNOWN: 'unknown', CONTROL: 'control', USER_DEFINED: 'user-defined',
               UNUSED: 'unused', BYTE: 'byte'}

MODEL_TYPES = {1: 'unigram', 2: 'BPE', 3: 'word', 4: 'char'}

# What SentencePiece decodes an unknown piece to, unless the model says otherwise.
DEFAULT_UNK_SURFACE = ' \u2047 '


class NormalizerSpec(NamedTuple):
    """A ``NormalizerSpec``: the rule set and the whitespace options."""
    name: str
    precompiled_charsmap: bytes
    add_dummy_prefix: bool
    remove_extra_whitespaces: bool
    escape_whitespaces: bool


class SentencePieceFile(NamedTuple):
    """A SentencePiece model: ``pieces`` (str), ``scores`` (float32) and
    ``types`` (int8, the constants above) by id, and the settings encoding
    and decoding depend on."""
    pieces: list
    scores: np.ndarray
    types: np.ndarray
    model_type: int
    byte_fallback: bool
    treat_whitespace_as_suffix: bool
    unk_surface: str
    bos_id: int
    eos_id: int
    pad_id: int
    normalizer: NormalizerSpec
    denormalizer: Optional[NormalizerSpec]


def _normalizer_spec(data, where):
    fields = Fields(data, where)
    return NormalizerSpec(
        name=fields.text(1, '', where, 'name'),
        precompiled_charsmap=fields.bytes(2, where, 'precompiled_charsmap'),
        add_dummy_prefix=fields.bool(3, True, where, 'add_dummy_prefix'),
        remove_extra_whitespaces=fields.bool(4, True, where, 'remove_extra_whitespaces'),
        escape_whitespaces=fields.bool(5, True, where, 'escape_whitespaces'))


def looks_like_sentencepiece(head):
    """Whether a file starting with ``head`` (its first bytes) may be a
    ``ModelProto``: its first field is a piece (field 1, length-delimited)."""
    return len(head) >= 2 and head[0] == 0x0A


def parse_sentencepiece(data, source='model'):
    """The ``SentencePieceFile`` of a serialized ``ModelProto``; a
    ValueError names what is wrong (``source`` names the file)."""
    where = source
    fields = Fields(data, where)
    raw_pieces = fields.values.get(1, [])
    if not raw_pieces:
        raise ValueError(f'{where}: not a SentencePiece model (no pieces)')
    pieces = []
    scores = np.empty(len(raw_pieces), np.float32)
    types = np.empty(len(raw_pieces), np.int8)
    for i, raw in enumerate(raw_pieces):
        if not isinstance(raw, bytes):
            raise ValueError(f'{where}: piece {i} is not a message')
        piece_where = f'{where}: piece {i}'
        piece_fields = Fields(raw, piece_where)
        piece = piece_fields.text(1, '', piece_where, 'piece')
        if not piece:
            raise ValueError(f'{piece_where} is empty')
        kind = piece_fields.int(3, NORMAL, piece_where, 'type')
        if kind not in PIECE_TYPES:
            raise ValueError(f'{piece_where} ({piece!r}) has unknown type {kind}')
        pieces.append(piece)
        scores[i] = piece_fields.float(2, piece_where, 'score')
        types[i] = kind
    trainer = Fields(fields.bytes(2, where, 'trainer_spec'), f'{where}: trainer_spec')
    twhere = f'{where}: trainer_spec'
    model_type = trainer.int(3, 1, twhere, 'model_type')
    normalizer = _normalizer_spec(fields.bytes(3, where, 'normalizer_spec'), f'{where}: normalizer_spec')
    denormalizer = None
    if 5 in fields.values:
        denormalizer = _normalizer_spec(fields.bytes(5, where, 'denormalizer_spec'), f'{where}: denormalizer_spec')
        if not denormalizer.precompiled_charsmap:
            denormalizer = None  # SentencePiece applies a denormalizer only with rules
    return SentencePieceFile(
        pieces=pieces, scores=scores, types=types, model_type=model_type,
        byte_fallback=trainer.bool(35, False, twhere, 'byte_fallback'),
        treat_whitespace_as_suffix=trainer.bool(24, False, twhere, 'treat_whitespace_as_suffix'),
        unk_surface=trainer.text(44, DEFAULT_UNK_SURFACE, twhere, 'unk_surface'),
        bos_id=trainer.int(41, 1, twhere, 'bos_id'), eos_id=trainer.int(42, 2, twhere, 'eos_id'),
        pad_id=trainer.int(43, -1, twhere, 'pad_id'),
        normalizer=normalizer, denormalizer=denormalizer)


def check_unigram(model, source):
    """``model`` if SentencePiece can encode with it as a unigram model, else
    a ValueError naming the problem (another model type, no unknown piece,
    duplicate pieces, byte pieces without byte fallback, ...)."""
    if model.model_type != 1:
        name = MODEL_TYPES.get(model.model_type, f'type {model.model_type}')
        raise ValueError(f'{source} is a SentencePiece {name} model; bytepiece reads SentencePiece unigram models only')
    unknown = np.flatnonzero(model.types == UNKNOWN)
    if unknown.size != 1:
        raise ValueError(f'{source}: a SentencePiece model needs exactly one unknown piece, found {unknown.size}')
    seen = {}
    for i, (piece, kind) in enumerate(zip(model.pieces, model.types.tolist())):
        reserved = kind in (UNKNOWN, CONTROL, BYTE)
        key = (reserved, piece)
        if key in seen:
            raise ValueError(f'{source}: piece {piece!r} is defined twice (ids {seen[key]} and {i})')
        seen[key] = i
    byte_ids = np.flatnonzero(model.types == BYTE)
    if byte_ids.size and not model.byte_fallback:
        raise ValueError(f'{source}: byte piece {model.pieces[byte_ids[0]]!r} found although byte_fallback is off')
    if model.byte_fallback:
        found = {model.pieces[i] for i in byte_ids.tolist()}
        missing = [b for b in range(256) if f'<0x{b:02X}>' not in found]
        if missing:
            raise ValueError(f'{source}: byte_fallback is on but {len(missing)} byte pieces are missing, '
                             f'e.g. <0x{missing[0]:02X}>')
    return model


def read_sentencepiece(path):
    """Read and check a SentencePiece unigram model file."""
    path = os.fspath(path)
    with open(path, 'rb') as f:
        data = f.read()
    return check_unigram(parse_sentencepiece(data, repr(path)), repr(path))


# SentencePiece's min score starts at FLT_MAX.
_FLT_MAX = np.finfo(np.float32).max


def one_byte_spaces(model):
    """Whether the encoder may hold each escaped space of the normalized text
    (and each ``▁`` of the text itself) as the byte 0x20 rather than the
    three of U+2581 (``▁``), and match the pieces so: SentencePiece escapes
    spaces (the normalized text has no other 0x20), ``▁`` is a normal piece
    and no piece holds a raw space. The lattice is the same, on fewer bytes."""
    if not model.normalizer.escape_whitespaces:
        return False
    lattice = (model.types == NORMAL) | (model.types == USER_DEFINED)
    pieces = [p for p, edge in zip(model.pieces, lattice.tolist()) if edge]
    return SPACE_SYMBOL in pieces and not any(' ' in p for p in pieces)


def sentencepiece_vocabulary(model, one_byte_space=False):
    """The ``CharVocabulary`` of a checked ``SentencePieceFile``: normal and
    user-defined pieces are edges (unused ones are not); a user-defined
    piece scores ``0.1 * (length - 1)`` as SentencePiece (0.2.2 and later)
    computes it. ``one_byte_space``: pieces are matched with each ``▁`` as
    the byte 0x20 (``one_byte_spaces``)."""
    types = model.types
    scores = model.scores
    normal = scores[types == NORMAL]
    low = np.float32(min(_FLT_MAX, normal.min())) if normal.size else _FLT_MAX
    viterbi = scores.astype(np.float64)
    sample = scores.astype(np.float64)
    for i in np.flatnonzero(types == USER_DEFINED).tolist():
        piece = model.pieces[i]
        # Viterbi counts the length in bytes, the sampling lattice in characters;
        # the product is a double, returned as a float.
        viterbi[i] = float(np.float32(0.1 * (len(piece.encode('utf-8')) - 1)))
        sample[i] = float(np.float32(0.1 * (len(piece) - 1)))
    lattice = np.flatnonzero((types == NORMAL) | (types == USER_DEFINED))
    unk_id = int(np.flatnonzero(types == UNKNOWN)[0])
    unk_score = np.float32(low - np.float32(UNKNOWN_PENALTY))
    keys = [p.replace(SPACE_SYMBOL, ' ').encode('utf-8') for p in model.pieces] if one_byte_space else None
    return CharVocabulary(model.pieces, lattice, viterbi, sample, unk_id, unk_score, SENTENCEPIECE,
                          model.byte_fallback, keys)


SPACE_SYMBOL = '\u2581'


def _replace_each_byte(error):
    """A decoding error handler: one U+FFFD per invalid byte, as SentencePiece
    decodes byte pieces."""
    return '\ufffd' * (error.end - error.start), error.end


codecs.register_error('bytepiece.sentencepiece', _replace_each_byte)


class SentencePieceDecoder:
    """Ids to text as ``SentencePieceProcessor.decode`` gives it: control
    pieces vanish, the unknown piece reads ``unk_surface``, runs of byte
    pieces are decoded as UTF-8 (U+FFFD for each invalid byte), ``▁`` reads
    as a space, and the leading one of the text is dropped (every leading
    one while ``remove_extra_whitespaces``); then the denormalizer."""

    def __init__(self, model, denormalize=None):
        types = model.types.tolist()
        surfaces = []
        for piece, kind in zip(model.pieces, types):
            if kind == CONTROL:
                surfaces.append(b'')
            elif kind == UNKNOWN:
                surfaces.append(model.unk_surface.encode('utf-8'))
            elif kind == BYTE:
                surfaces.append(bytes([int(piece[3:5], 16)]))
            else:
                surfaces.append(piece.replace(SPACE_SYMBOL, ' ').encode('utf-8'))
        self.surfaces = surfaces
        self.data, self.offsets = pack_bytes(surfaces)
        self.types = model.types
        self.pieces = model.pieces
        spec = model.normalizer
        self.strip_leading = spec.add_dummy_prefix or spec.remove_extra_whitespaces
        self.strip_all_leading = spec.remove_extra_whitespaces
        self.denormalize = denormalize

    def decode(self, ids, errors=None):
        """The text of ``ids`` (a checked int array); ``errors``: how invalid
        UTF-8 of byte pieces reads (None: as SentencePiece reads it)."""
        errors = errors or 'bytepiece.sentencepiece'
        types = self.types[ids]
        head = []
        i = 0
        if self.strip_leading:
            i, head = self._leading(ids.tolist(), types.tolist(), errors)
        rest = ids[i:]
        is_byte = types[i:] == BYTE
        if is_byte.any() and (types[i:] == CONTROL).any():
            # a control piece ends a run of bytes: decode the runs apart
            text = ''.join(head) + self._decode_runs(rest, is_byte, errors)
        else:
            text = ''.join(head) + str(_gather(rest, self.data, self.offsets), 'utf-8', errors)
        return self.denormalize(text) if self.denormalize is not None else text

    def _leading(self, ids, types, errors):
        """Decode pieces while a leading ``▁`` may still be dropped; returns
        where the rest starts and the decoded head (str parts)."""
        head = []
        pending = bytearray()
        seen_space = False
        for i, (piece_id, kind) in enumerate(zip(ids, types)):
            if kind == BYTE:
                pending += self.surfaces[piece_id]
                continue
            if pending or any(head) or seen_space:
                # the text is no longer empty: no more dropping
                if pending:
                    head.append(bytes(pending).decode('utf-8', errors))
                return i, head
            if kind in (CONTROL, UNKNOWN):
                head.append(self.surfaces[piece_id].decode('utf-8'))
                seen_space = False
                continue
            piece = self.pieces[piece_id]
            seen_space = piece.startswith(SPACE_SYMBOL)
            if seen_space:
                piece = piece[1:]
            if self.strip_all_leading:
                seen_space = False
            head.append(piece.replace(SPACE_SYMBOL, ' '))
        if pending:
            head.append(bytes(pending).decode('utf-8', errors))
        return len(ids), head

    def _decode_runs(self, ids, is_byte, errors):
        out = []
        cuts = np.flatnonzero(np.diff(is_byte.astype(np.int8))) + 1
        for part in np.split(ids, cuts):
            out.append(str(_gather(part, self.data, self.offsets), 'utf-8', errors))
        return ''.join(out)


def _gather(ids, data, offsets):
    return gather_bytes(ids, data, offsets)


class SentencePieceSplitter:
    """The text pipeline of a SentencePiece model for ``CharEncoder``: each
    text normalized is one segment, with the normalizer's alignment mapped
    to characters of the original text when offsets are asked."""

    def __init__(self, normalizer):
        self.normalizer = normalizer
        self._arguments = None  # (vocab, alpha, the kernel's arguments before the seed, after it, all with seed 0)

    def __getstate__(self):
        return {'normalizer': self.normalizer}

    def __setstate__(self, state):
        self.__init__(state['normalizer'])

    def encode_one(self, vocab, text, alpha, seed):
        """The ids (int32 array) of one text, in one kernel call (its
        arguments kept from the last call with the same ``vocab`` and
        ``alpha``: a call of a short text costs mostly its Python)."""
        arguments = self._arguments
        if arguments is None or arguments[0] is not vocab or arguments[1] != alpha:
            *lattice, value, rebase_floor = vocab.kernel_arguments(alpha)
            head = (*self.normalizer.kernel_arguments(), *lattice)
            tail = (value, rebase_floor, vocab.byte_base, vocab.unk_id, vocab.byte_ids, vocab.byte_fallback)
            arguments = (vocab, alpha, head, tail, (*head, np.uint64(0), *tail))
            self._arguments = arguments  # one assignment: threads see the old tuple or the new one
        buf = np.frombuffer(encode_utf8(text), np.uint8)
        if alpha < 0:  # Viterbi draws nothing: the arguments with a seed, made once
            return encode_sentencepiece(buf, *arguments[4])
        return encode_sentencepiece(buf, *arguments[2], np.uint64(seed), *arguments[3])

    def split(self, texts, first_index, offsets):
        try:
            buf, bounds, align = self.normalizer.normalize_batch(texts, alignment=offsets)
        except ValueError:
            encode_texts(texts, None, first_index)  # names the text by its index in the whole batch
            raise
        n = len(texts)
        text_seg = np.arange(n + 1, dtype=np.int64)
        if not offsets:
            return Segments(buf, bounds, text_seg, _NO_FIXED)
        # byte offsets into each original text -> character offsets
        original, orig_bounds = pack_bytes(encode_texts(texts, None, first_index))
        char_before = np.zeros(original.size + 1, np.int64)
        np.cumsum((original & 0xC0) != 0x80, out=char_before[1:])
        per_text = np.diff(bounds) + 1
        text_of = np.repeat(np.arange(n), per_text)
        base = orig_bounds[:-1][text_of]
        align = char_before[base + align] - char_before[base]
        chars = char_before[orig_bounds[1:]] - char_before[orig_bounds[:-1]]
        return Segments(buf, bounds, text_seg, _NO_FIXED, align, chars)


_NO_FIXED = np.zeros((0, 5), np.int64)


def normalizer(model, one_byte_space=False):
    """The ``SentencePieceNormalizer`` of a model, its user-defined pieces
    kept whole as SentencePiece keeps them; with ``one_byte_space``, an
    escaped space is written 0x20 (``one_byte_spaces``)."""
    spec = model.normalizer
    user_defined = [p for p, kind in zip(model.pieces, model.types.tolist()) if kind == USER_DEFINED]
    return SentencePieceNormalizer(parse_charsmap(spec.precompiled_charsmap) if spec.precompiled_charsmap else {},
                                   add_dummy_prefix=spec.add_dummy_prefix,
                                   remove_extra_whitespaces=spec.remove_extra_whitespaces,
                                   escape_whitespaces=spec.escape_whitespaces,
                                   treat_whitespace_as_suffix=model.treat_whitespace_as_suffix,
                                   user_defined=user_defined, one_byte_space=one_byte_space)


def denormalizer(model):
    """The function decoded text goes through last: the denormalizer's
    rules, or None."""
    spec = model.denormalizer
    if spec is None:
        return None
    return SentencePieceNormalizer(parse_charsmap(spec.precompiled_charsmap),
                                   add_dummy_prefix=spec.add_dummy_prefix,
                                   remove_extra_whitespaces=spec.remove_extra_whitespaces,
                                   escape_whitespaces=spec.escape_whitespaces).normalize


def summary(model):
    """Lines describing a SentencePiece model, for ``bytepiece info``."""
    counts = np.bincount(model.types, minlength=7)
    kinds = ', '.join(f'{counts[k]} {name}' for k, name in PIECE_TYPES.items() if counts[k])
    spec = model.normalizer
    flags = [name for name, on in (('add_dummy_prefix', spec.add_dummy_prefix),
                                   ('remove_extra_whitespaces', spec.remove_extra_whitespaces),
                                   ('escape_whitespaces', spec.escape_whitespaces),
                                   ('treat_whitespace_as_suffix', model.treat_whitespace_as_suffix)) if on]
    lines = ['format: SentencePiece unigram model',
             f'vocab size: {len(model.pieces)} ({kinds})',
             f'normalizer: {spec.name or "custom"} ({len(spec.precompiled_charsmap)} bytes of rules); '
             f'{", ".join(flags) or "no whitespace options"}',
             f'byte fallback: {"on" if model.byte_fallback else "off"}; unknown piece: id '
             f'{int(np.flatnonzero(model.types == UNKNOWN)[0])}']
    if model.denormalizer is not None:
        lines.append(f'denormalizer: {len(model.denormalizer.precompiled_charsmap)} bytes of rules')
    return lines
