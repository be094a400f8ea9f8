"""Export to the Hugging Face ``tokenizers`` format (``tokenizer.json``).

The exported tokenizer reproduces our Viterbi encoding with stock components:

- normalizer: the tokenizer's Unicode normalization (``NFC`` ...), or none;
- pre-tokenizer: ``Split`` on the chunk regex ``[^\\n]*\\n+|[^\\n]+`` (a run
  of non-newlines plus the newlines after it), isolated, then
  ``ByteLevel`` (no prefix space, no regex), which maps every byte to one
  printable character with GPT-2's byte-to-unicode table;
- model: ``Unigram`` whose vocabulary is our pieces mapped byte by byte
  through the same table, with our scores ``log(count) - log(total)``. This
  works for pieces that are partial UTF-8 too, since every piece is a string
  of byte characters. All 256 bytes are pieces, so no ``<unk>`` is needed;
- decoder: ``ByteLevel``, which maps the characters back to bytes.

HF's Unigram Viterbi (``encode_optimized``) scans start positions in order
and replaces a best path only on a strictly higher score, so on exact ties
the longer last piece wins, as in BytePiece; scores are float64 and summed in
the same order, so ids are identical (see docs/usage.md for the
parity and the known differences).

Ids 0..2 (``<pad>``, ``<bos>``, ``<eos>``) and the user-defined special tokens
are added tokens (``special: true``). HF always matches added tokens in the
text, which equals ``allowed_special='all'`` here; our default treats such
text as plain text.
"""

import json
import math
import os
import warnings

from ..core.model import NUM_SPECIAL, SPECIAL_PIECES
from ..runtime import extras
from ..runtime.fileio import atomic_write

CHUNK_REGEX = r'[^\n]*\n+|[^\n]+'


def bytes_to_unicode():
    """GPT-2's reversible map from the 256 bytes to printable characters."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


_BYTE_TABLE = {b: c for b, c in bytes_to_unicode().items()}  # latin-1 ordinal -> char

# Characters that HF's ByteLevel decoder turns into one byte other than their
# own UTF-8: every character of the table but printable ASCII ('é' -> b'\xe9').
_DECODED_AS_BYTES = frozenset(c for c in _BYTE_TABLE.values() if ord(c) > 0x7E)


def byte_level(piece):
    """A bytes piece as its byte-level string (one character per byte)."""
    return piece.decode('latin-1').translate(_BYTE_TABLE)


_FROM_BYTE_LEVEL = {ord(c): b for b, c in _BYTE_TABLE.items()}


def from_byte_level(text):
    """The bytes piece of a byte-level string (``byte_level``'s inverse)."""
    return text.translate(_FROM_BYTE_LEVEL).encode('latin-1')


def _probe(strings):
    """The float64 values HF tokenizers reads for these JSON number strings."""
    tokenizers = extras.tokenizers()
    vocab = ','.join(f'["p{i}",{s}]' for i, s in enumerate(strings))
    probe = ('{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,'
             '"pre_tokenizer":null,"post_processor":null,"decoder":null,"model":{"type":"Unigram",'
             '"unk_id":null,"vocab":[' + vocab + '],"byte_fallback":false}}')
    return [v[1] for v in json.loads(tokenizers.Tokenizer.from_str(probe).to_str())['model']['vocab']]


def _step(x, k):
    for _ in range(abs(k)):
        x = math.nextafter(x, math.inf if k > 0 else -math.inf)
    return x


_CANDIDATES = (
    repr,
    lambda x: '%.17e' % x,
    lambda x: repr(_step(x, 1)),
    lambda x: repr(_step(x, -1)),
    lambda x: '%.18e' % x,
    lambda x: '%.16e' % x,
    lambda x: repr(_step(x, 2)),
    lambda x: repr(_step(x, -2)),
)


def score_strings(scores):
    """JSON number strings that HF tokenizers parses to exactly ``scores``.

    tokenizers parses JSON floats with serde_json's fast algorithm, which can
    be off by one unit in the last place (for about a quarter of our scores
    with the shortest repr). Scores one ulp off turn exact ties between two
    orders of the same pieces into strict wins and change the ids, so each
    score's text is chosen, by asking the installed tokenizers how it reads
    candidates, to parse to our exact float64. A few values cannot be reached
    by that parser from any decimal text (1 of the 79,813 scores of the 80k
    public model); they keep their shortest repr and are read one ulp off.
    Without tokenizers installed, the shortest repr is used.
    """
    strings = [repr(x) for x in scores]
    if extras.tokenizers(required=False) is None:
        return strings
    pending = list(range(len(scores)))
    for candidate in _CANDIDATES:
        if not pending:
            break
        trial = [candidate(scores[i]) for i in pending]
        parsed = _probe(trial)
        still = []
        for i, text, value in zip(pending, trial, parsed):
            if value == scores[i]:
                strings[i] = text
            else:
                still.append(i)
        pending = still
    return strings


def _dumps(obj, vocab_strings):
    """JSON of ``obj`` with the model's vocabulary written from ``vocab_strings``."""
    text = json.dumps(obj, ensure_ascii=False)
    marker = json.dumps('@@VOCAB@@')
    assert text.count(marker) == 1
    return text.replace(marker, '[' + ','.join(vocab_strings) + ']')


def tokenizer_json(tokenizer):
    """The ``tokenizer.json`` content (a dict) for ``tokenizer``."""
    pieces = tokenizer.vocab.pieces
    base = tokenizer.vocab.size
    scores = tokenizer.vocab.scores.tolist()
    floor = min(scores[NUM_SPECIAL:]) - 100.0
    vocab = [[name, floor] for name in SPECIAL_PIECES]
    vocab += [[byte_level(pieces[i]), scores[i]] for i in range(NUM_SPECIAL, base)]
    specials = list(SPECIAL_PIECES) + tokenizer.special_tokens
    seen = {entry[0]: i for i, entry in enumerate(vocab) if i >= NUM_SPECIAL}
    for k, token in enumerate(specials):
        if token in seen:
            raise ValueError(f'special token {token!r} has the same byte-level text as piece id {seen[token]}; '
                             'HF tokenizers would give both one id')
    for score in scores[NUM_SPECIAL:]:
        if not math.isfinite(score):
            raise ValueError(f'piece score {score!r} is not finite')
    # We match a special token's normalized form in the normalized text: HF
    # does the same for tokens marked normalized (and decodes to the content).
    normalized = tokenizer.normalization is not None
    added = [{'id': i if i < NUM_SPECIAL else base + i - NUM_SPECIAL, 'content': token, 'single_word': False,
              'lstrip': False, 'rstrip': False, 'normalized': normalized, 'special': True}
             for i, token in enumerate(specials)]
    normalization = tokenizer.normalization
    byte_level_options = {'add_prefix_space': False, 'trim_offsets': False, 'use_regex': False}
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': added,
        'normalizer': {'type': normalization} if normalization else None,
        'pre_tokenizer': {'type': 'Sequence', 'pretokenizers': [
            {'type': 'Split', 'pattern': {'Regex': CHUNK_REGEX}, 'behavior': 'Isolated', 'invert': False},
            dict(type='ByteLevel', **byte_level_options),
        ]},
        'post_processor': None,
        'decoder': dict(type='ByteLevel', **byte_level_options),
        'model': {'type': 'Unigram', 'unk_id': None, 'vocab': vocab, 'byte_fallback': False},
    }


def tokenizer_config(tokenizer):
    """``tokenizer_config.json`` for ``transformers.AutoTokenizer``."""
    return {
        'tokenizer_class': 'PreTrainedTokenizerFast',
        'pad_token': SPECIAL_PIECES[0],
        'bos_token': SPECIAL_PIECES[1],
        'eos_token': SPECIAL_PIECES[2],
        'additional_special_tokens': tokenizer.special_tokens,
        'clean_up_tokenization_spaces': False,
        'model_max_length': 1 << 30,
    }


def convert_to_huggingface(tokenizer, path, *, _stacklevel=2) -> None:
    """Write ``tokenizer`` as a HF ``tokenizer.json``.

    ``path`` is the file to write, or an existing directory: then
    ``tokenizer.json`` and ``tokenizer_config.json`` are written into it, so
    that ``transformers.AutoTokenizer.from_pretrained(path)`` loads it.
    ``tokenizers.Tokenizer.from_file`` gives our ids (Viterbi encoding, with
    every special token matched). Files are written atomically.

    >>> import os, tempfile, tokenizers
    >>> path = os.path.join(tempfile.mkdtemp(), 'tokenizer.json')
    >>> convert_to_huggingface(tok, path)
    >>> tokenizers.Tokenizer.from_file(path).encode('def f(x):').ids == tok.encode('def f(x):')
    True
    """
    path = os.fspath(path)
    garbled = [t for t in tokenizer.special_tokens if _DECODED_AS_BYTES.intersection(t)]
    if garbled:
        warnings.warn(f'special token {garbled[0]!r} (and {len(garbled) - 1} more) holds characters that HF\'s '
                      f'ByteLevel decoder reads as single bytes (Latin-1 letters, U+0100-U+0143): HF ids are the '
                      f'same, but HF decodes the token garbled', stacklevel=_stacklevel)
    obj = tokenizer_json(tokenizer)
    vocab = obj['model']['vocab']
    obj['model']['vocab'] = '@@VOCAB@@'
    strings = score_strings([score for _, score in vocab])
    content = _dumps(obj, [f'[{json.dumps(piece, ensure_ascii=False)},{score}]'
                           for (piece, _), score in zip(vocab, strings)])
    if os.path.isdir(path):
        atomic_write(os.path.join(path, 'tokenizer.json'), content)
        atomic_write(os.path.join(path, 'tokenizer_config.json'),
                     json.dumps(tokenizer_config(tokenizer), ensure_ascii=False, indent=2))
    else:
        atomic_write(path, content)
