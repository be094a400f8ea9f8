"""convert_to_sentencepiece: the converted model encodes like us
for most texts. Needs the sentencepiece and protobuf packages (``test`` extra)."""

import pytest

spm = pytest.importorskip('sentencepiece')
pytest.importorskip('google.protobuf')


@pytest.fixture(scope='module')
def sp80k(tok80k, tmp_path_factory):
    path = tmp_path_factory.mktemp('sp') / 'bytepiece80k.sp.model'
    tok80k.convert_to_sentencepiece(str(path))
    return spm.SentencePieceProcessor(model_file=str(path))


def test_converted_model_gives_our_ids_on_most_texts(tok80k, sp80k, golden80k):
    same = sum(sp80k.encode(r['text']) == r['ids'] for r in golden80k)
    print(f'\nSentencePiece ids equal ours on {same}/{len(golden80k)} golden sample texts')
    assert same >= 0.7 * len(golden80k)


def test_converted_model_vocabulary(tok80k, sp80k):
    # Our ids keep their meaning; byte-fallback pieces for ASCII bytes come after them.
    assert sp80k.vocab_size() >= tok80k.vocab_size
    assert sp80k.id_to_piece(1) == '<s>' and sp80k.id_to_piece(2) == '</s>'
    assert sp80k.is_unknown(0)
    for i in (300, 1000, 20000, tok80k.vocab_size - 1):
        piece = tok80k.id_to_piece(i)
        try:
            text = piece.decode('utf-8')
        except UnicodeDecodeError:
            continue
        assert sp80k.id_to_piece(i) == text
        assert sp80k.get_score(i) == pytest.approx(tok80k.vocab.scores[i], abs=1e-5)


def test_converted_model_keeps_whitespace_and_newlines(tok80k, sp80k):
    for text in ['hello\n', '  two  spaces\n\n', 'tab\there', '中文 English\n']:
        assert sp80k.decode(sp80k.encode(text)) == text
        assert sp80k.encode(text) == tok80k.encode(text)


def test_converted_model_byte_fallback(tok80k, sp80k):
    """Characters without a piece of their own fall back to byte pieces and round trip."""
    text = '\x00 \U0010ffff \u0f3a'
    assert sp80k.decode(sp80k.encode(text)) == text


def test_converted_40k_model(tok40k, tmp_path):
    """Partial-UTF-8 pieces cannot be SentencePiece pieces; the model still loads and works."""
    path = tmp_path / 'bytepiece40k.sp.model'
    tok40k.convert_to_sentencepiece(str(path))
    sp = spm.SentencePieceProcessor(model_file=str(path))
    text = 'BytePiece is a byte-level tokenizer.\n'
    assert sp.decode(sp.encode(text)) == text
