"""Model files: load, validate and save vocabularies (see docs/format.md).

A model is a JSON object ``{base64(piece): [id, piece as text, count], ...}``,
optionally inside a ``.zip`` holding one such file. Pieces get ids ``3..``
in ``(len, bytes)`` order; ids 0, 1, 2 are ``<pad>``, ``<bos>``, ``<eos>``.
The entry of id 3 may carry the model's metadata (normalization, special
tokens, training settings) between its text and its count, where BytePiece
0.6.3, which reads only an entry's first and last elements, ignores it.
"""

import base64
import binascii
import json
import lzma
import math
import os
import warnings
import zipfile
import zlib
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np

from ..kernels.jsonscan import count_top_level_keys
from ..runtime.fileio import atomic_write
from .text import NORMALIZATIONS

a2b_base64 = binascii.a2b_base64

SPECIAL_PIECES = ('<pad>', '<bos>', '<eos>')
PAD_ID, BOS_ID, EOS_ID = range(3)
NUM_SPECIAL = len(SPECIAL_PIECES)

METADATA_KEY = 'bytepiece'
METADATA_VERSION = 1


class Model(NamedTuple):
    """What a model file holds: ``pieces`` (bytes), ``ids`` and ``counts`` in
    file order, and ``metadata`` (a dict, empty for a plain BytePiece file)."""
    pieces: list
    ids: list
    counts: list
    metadata: dict


def canonical_order(pieces):
    """The pieces sorted as ids are assigned: by (length, bytes)."""
    return sorted(pieces, key=lambda p: (len(p), p))


def model_dict(pieces, metadata=None):
    """The JSON-able model dict for ``{piece bytes: count}`` (ids in canonical order)."""
    order = canonical_order(pieces)
    return entries_dict(order, [pieces[p] for p in order], metadata)


def entries_dict(pieces, counts, metadata=None):
    """The JSON-able model dict for the pieces of ids 3, 4, ... and their
    counts; ``metadata`` (a dict) goes into the entry of id 3."""
    obj = {}
    for i, (piece, count) in enumerate(zip(pieces, counts), NUM_SPECIAL):
        if isinstance(count, float) and count.is_integer():
            count = int(count)
        obj[base64.b64encode(piece).decode('ascii')] = [i, piece.decode('utf-8', errors='ignore'), count]
    if metadata:
        first = obj[base64.b64encode(pieces[0]).decode('ascii')]
        first.insert(2, {METADATA_KEY: {'version': METADATA_VERSION, **metadata}})
    return obj


def save_model(pieces, path, metadata=None):
    """Save ``{piece bytes: count}`` as a model file, atomically."""
    order = canonical_order(pieces)
    write_model(path, order, [pieces[p] for p in order], metadata)


def write_model(path, pieces, counts, metadata=None):
    """Write the pieces of ids 3, 4, ... with their counts and ``metadata``
    as a model file, atomically (indented as BytePiece writes it)."""
    atomic_write(path, json.dumps(entries_dict(pieces, counts, metadata), indent=4, ensure_ascii=False))


def _metadata(values, ids, source):
    """The metadata of the entry of id 3 (``{}`` if none), checked."""
    entry = values[ids.index(NUM_SPECIAL)]
    element = entry[2] if len(entry) >= 4 else None
    if not isinstance(element, dict) or METADATA_KEY not in element:
        return {}
    meta = element[METADATA_KEY]
    if not isinstance(meta, dict):
        raise ValueError(f'{source}: the metadata must be a JSON object, got {type(meta).__name__}')
    version = meta.get('version')
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f'{source}: the metadata has no valid version: {version!r}')
    if version > METADATA_VERSION:
        raise ValueError(f'{source}: the metadata is version {version}, written by a newer bytepiece '
                         f'(this one reads version {METADATA_VERSION}): upgrade bytepiece')
    if meta.get('normalization', 'NFC') not in NORMALIZATIONS + (None,):
        raise ValueError(f'{source}: unknown normalization {meta["normalization"]!r} in the metadata')
    tokens = meta.get('special_tokens', [])
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f'{source}: the metadata\'s special_tokens must be a list of strings')
    penalty = meta.get('token_penalty', 0.0)
    if isinstance(penalty, bool) or not isinstance(penalty, Real) or not 0 <= penalty < math.inf:
        raise ValueError(f'{source}: the metadata\'s token_penalty must be a finite number >= 0, got {penalty!r}')
    if not isinstance(meta.get('training', {}), dict):
        raise ValueError(f'{source}: the metadata\'s training settings must be a JSON object')
    return {k: v for k, v in meta.items() if k != 'version'}


def _reject_duplicate_keys(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f'duplicate key {key!r} in model JSON')
            seen.add(key)
    return obj


def read_model_json(path):
    """Read the raw JSON object of a model file (plain JSON or a zip of one)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f'model file not found: {path!r}')
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if not m.endswith('/')]
                if len(members) != 1:
                    raise ValueError(f'{path!r}: a model zip must hold exactly one file, found {members}')
                raw = archive.read(members[0])
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, OSError) as e:
            raise ValueError(f'{path!r}: cannot read the model zip: {e}') from None
    else:
        with open(path, 'rb') as f:
            raw = f.read()
        if raw.startswith(b'PK\x03\x04'):  # a zip's first header, but is_zipfile found no directory
            raise ValueError(f'{path!r}: cannot read the model zip: it is truncated or damaged')
    try:
        obj = json.loads(raw.decode('utf-8'))
    except UnicodeDecodeError as e:
        raise ValueError(f'{path!r} is not UTF-8 JSON: {e}') from None
    except json.JSONDecodeError as e:
        raise ValueError(f'{path!r} is not valid JSON: {e}') from None
    if isinstance(obj, dict) and count_top_level_keys(np.frombuffer(raw, np.uint8)) != len(obj):
        try:
            json.loads(raw.decode('utf-8'), object_pairs_hook=_reject_duplicate_keys)
        except ValueError as e:
            raise ValueError(f'{path!r}: {e}') from None
    return obj


def _decode_piece(key):
    if not isinstance(key, str):
        raise ValueError(f'piece key {key!r} is not a string')
    try:
        piece = binascii.a2b_base64(key.encode('ascii'), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError(f'piece key {key!r} is not valid base64') from None
    if not piece:
        raise ValueError(f'piece key {key!r} decodes to an empty piece')
    return piece


def finite_float(x):
    """Whether ``x`` converts to a finite float64 (a huge int overflows)."""
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


def shown_value(x):
    """``repr(x)``, shortened for a huge int."""
    text = repr(x)
    return text if len(text) <= 40 else f'{text[:12]}...{text[-4:]} ({len(text)} digits)'


def _first_bad_entry(keys, values):
    """The message for the first malformed ``[id, text, count]`` entry."""
    for key, value in zip(keys, values):
        if not isinstance(value, (list, tuple)) or len(value) < 2:
            return f'entry for {key!r} must be [id, text, count], got {value!r}'
        piece_id, count = value[0], value[-1]
        if isinstance(piece_id, bool) or not isinstance(piece_id, Integral):
            return f'id of piece {key!r} is not an int: {piece_id!r}'
        if isinstance(count, bool) or not isinstance(count, Real) or not count > 0:
            return f'count of piece {key!r} must be a positive number, got {count!r}'
        if not finite_float(count):
            return f'count of piece {key!r} is too large for a float64: {shown_value(count)}'
    return 'malformed entries'  # not reached: the checks above cover the fast path's


def _plain_number(x):
    """numpy scalars as Python ints and floats (exact sums, no int64 wraparound)."""
    return x.item() if isinstance(x, np.generic) else x


def parse_model(obj, source='model'):
    """Validate a model dict and return a ``Model``: ``pieces`` are bytes,
    ``ids`` ints and ``counts`` positive numbers, in file order. Raises
    ValueError saying what is wrong and where."""
    if not isinstance(obj, dict):
        raise ValueError(f'{source}: a model must be a JSON object, got {type(obj).__name__}')
    keys = list(obj)
    values = list(obj.values())
    try:
        pieces = [a2b_base64(k, strict_mode=True) for k in keys]
        if not all(pieces):
            raise ValueError
    except (binascii.Error, ValueError, TypeError):
        for k in keys:  # find the culprit for the message
            try:
                _decode_piece(k)
            except ValueError as e:
                raise ValueError(f'{source}: {e}') from None
        raise
    try:
        ids = [v[0] for v in values]
        counts = [v[-1] for v in values]
        if not set(map(type, ids)) <= {int} or not set(map(type, counts)) <= {int, float}:
            # numpy scalars (a dict built in Python): as Python numbers; bools stay rejected
            ids = [_plain_number(i) for i in ids]
            counts = [_plain_number(c) for c in counts]
        ok = (set(map(type, values)) <= {list, tuple} and min(map(len, values), default=2) >= 2
              and set(map(type, ids)) <= {int} and set(map(type, counts)) <= {int, float})
        count_array = np.array(counts, dtype=np.float64)
        ok = ok and bool(np.all(count_array > 0) and np.all(np.isfinite(count_array)))
    except (TypeError, ValueError, KeyError, IndexError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f'{source}: {_first_bad_entry(keys, values)}')
    # Scores are log(count) - log(total): the total must be a finite float too.
    total = sum(counts)
    if not finite_float(total):
        raise ValueError(f'{source}: the counts add up to more than the largest float64 (1.8e308), so the '
                         f'scores log(count / total) are undefined; the largest count is {shown_value(max(counts))}')
    n = len(pieces)
    if len(set(pieces)) != n:
        first_key = {}
        for key, piece in zip(keys, pieces):
            if piece in first_key:
                raise ValueError(f'{source}: duplicate piece {piece!r} (keys {first_key[piece]!r} and {key!r})')
            first_key[piece] = key
    single = {p[0] for p in pieces if len(p) == 1}
    if len(single) != 256:
        missing = [b for b in range(256) if b not in single]
        shown = ', '.join(f'0x{b:02X}' for b in missing[:8]) + (' ...' if len(missing) > 8 else '')
        raise ValueError(f'{source}: {len(missing)} single bytes missing from the vocabulary: {shown}')
    if len(set(ids)) != n:
        seen = set()
        for p, i in zip(pieces, ids):
            if i in seen:
                raise ValueError(f'{source}: duplicate id {i} (piece {p!r})')
            seen.add(i)
    if min(ids) != NUM_SPECIAL or max(ids) != n + NUM_SPECIAL - 1:
        bad = next(i for i in ids if not NUM_SPECIAL <= i < n + NUM_SPECIAL)
        raise ValueError(f'{source}: piece ids must be exactly {NUM_SPECIAL}..{n + NUM_SPECIAL - 1}, found id {bad}')
    return Model(pieces, ids, counts, _metadata(values, ids, source))


def load_model(path_or_dict):
    """Load and validate a model from a path (JSON or zip) or an in-memory dict."""
    if isinstance(path_or_dict, dict):
        return parse_model(path_or_dict)
    if not isinstance(path_or_dict, (str, bytes, os.PathLike)):
        raise TypeError(f'expected a model path or dict, got {type(path_or_dict).__name__}')
    path = os.fsdecode(path_or_dict)
    model = parse_model(read_model_json(path), source=repr(path))
    if 'special_tokens' not in model.metadata and os.path.exists(path + _OLD_SIDECAR):
        warnings.warn(f'{path + _OLD_SIDECAR!r} is not read: special tokens are now stored in the model file. '
                      f'Load the model with special_tokens=[...] and save it again', stacklevel=3)
    return model


# Where bytepiece 0.1 saved special tokens, beside the model file.
_OLD_SIDECAR = '.special.json'
