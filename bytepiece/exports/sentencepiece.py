"""Export to a SentencePiece model file."""

from ..core.model import NUM_SPECIAL
from ..runtime import extras
from ..runtime.fileio import atomic_write

# SentencePiece piece types (sentencepiece_model.proto).
_SP_NORMAL, _SP_UNKNOWN, _SP_CONTROL, _SP_UNUSED, _SP_BYTE = 1, 2, 3, 5, 6


def convert_to_sentencepiece(tokenizer, path):
    """Write a SentencePiece unigram model with the same ids and scores.

    Byte fallback on, identity normalizer, no dummy prefix, whitespace kept
    as is. SentencePiece has no plain NFC normalizer, so feed it text
    normalized as the tokenizer does (``unicodedata.normalize('NFC', text)``
    for the default): on text that is not, ids differ. SentencePiece also
    keeps scores as float32, so paths whose scores are equal or differ by
    less than float32 rounding can be chosen differently (28 of 1,996
    documents of the dev corpus, 8 MB). Id ``i`` of the SentencePiece model is our id ``i``: ids 0..2 are
    ``<unk>``, ``<s>``, ``</s>``; a single non-ASCII byte (and NUL) becomes the
    byte piece ``<0xXX>``; an ASCII byte keeps its character (SentencePiece only
    uses byte pieces for unknown characters, so ``'\n'`` must be a normal
    piece to be chosen like ours) and gets an extra byte piece (score -100)
    after our ids, which byte fallback requires. Pieces that are not valid UTF-8 (the unigram
    method's lead prefixes; possible with ``ensure_unicode=False``) cannot be expressed in
    SentencePiece: they become unused placeholders, so the converted model
    never emits them and its ids differ from ours where we would.
    Needs the ``sentencepiece`` extra (and protobuf).
    """
    sp_model = extras.sentencepiece_model()

    vocab = tokenizer.vocab
    model = sp_model.ModelProto()
    for name in ('<unk>', '<s>', '</s>'):
        model.pieces.add(piece=name, score=0.0, type=_SP_UNKNOWN if name == '<unk>' else _SP_CONTROL)
    extra_bytes = []
    for i in range(NUM_SPECIAL, vocab.size):
        piece = vocab.pieces[i]
        score = float(vocab.scores[i])
        if len(piece) == 1 and (piece[0] >= 0x80 or piece[0] == 0):  # SentencePiece rejects a '\0' piece
            model.pieces.add(piece=f'<0x{piece[0]:02X}>', score=score, type=_SP_BYTE)
            continue
        if len(piece) == 1:
            extra_bytes.append(piece[0])
        try:
            text = piece.decode('utf-8')
        except UnicodeDecodeError:
            model.pieces.add(piece=f'<bytepiece:unused:{i}>', score=score, type=_SP_UNUSED)
            continue
        model.pieces.add(piece=text, score=score, type=_SP_NORMAL)
    for byte in extra_bytes:
        model.pieces.add(piece=f'<0x{byte:02X}>', score=-100.0, type=_SP_BYTE)

    spec = model.trainer_spec
    spec.model_type = 1  # unigram
    spec.vocab_size = len(model.pieces)
    spec.byte_fallback = True
    spec.split_by_unicode_script = False
    normalizer = model.normalizer_spec
    normalizer.name = 'identity'
    normalizer.precompiled_charsmap = b''
    normalizer.add_dummy_prefix = False
    normalizer.remove_extra_whitespaces = False
    normalizer.escape_whitespaces = False
    atomic_write(path, model.SerializeToString())
