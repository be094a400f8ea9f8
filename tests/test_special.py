"""Special tokens: registration, opt-in leftmost-longest matching, decoding, persistence."""

import base64
import inspect
import json
import os
import shutil
import unicodedata

import pytest
from conftest import model_path, read_golden, small_vocab
from hypothesis import given, settings
from hypothesis import strategies as st

from bytepiece import Tokenizer
from bytepiece.core.model import model_dict
from bytepiece.core.special import SpecialTokens

SPECIALS = ['<|endoftext|>', '<|end|>', '<mask>', '<|中文|>']


@pytest.fixture(scope='module')
def tok():
    return Tokenizer(model_path('bytepiece.eu.plus.80k'), seed=0, special_tokens=SPECIALS)


@pytest.fixture(scope='module')
def tok40():
    return Tokenizer(model_path('bytepiece.plus.40k'), seed=0, special_tokens=SPECIALS)


def test_ids_come_after_the_vocabulary(tok, tok80k):
    base = tok80k.vocab_size
    assert tok.vocab_size == base + len(SPECIALS)
    assert tok.special_tokens == SPECIALS
    for k, token in enumerate(SPECIALS):
        assert tok.piece_to_id(token) == base + k
        assert tok.id_to_piece(base + k) == token
    assert tok.piece_to_id('<bos>') == 1 and tok.id_to_piece(2) == '<eos>'
    assert tok.piece_to_id(b'a') == tok80k.piece_to_id(b'a')
    with pytest.raises(ValueError, match=str(base + len(SPECIALS))):
        tok.id_to_piece(base + len(SPECIALS))


def test_add_special_tokens_skips_known_ones():
    tok = Tokenizer(model_path('bytepiece.eu.plus.80k'))
    base = tok.vocab_size
    assert tok.add_special_tokens(['<a>', '<b>']) == 2
    assert tok.add_special_tokens(['<b>', '<c>', '<a>']) == 1
    assert tok.special_tokens == ['<a>', '<b>', '<c>']
    assert [tok.piece_to_id(t) for t in ('<a>', '<b>', '<c>')] == [base, base + 1, base + 2]
    assert tok.encode('x<c>y', allowed_special='all')[1] == base + 2


@pytest.mark.parametrize('bad, error, match', [
    ('<eot>', TypeError, 'list of str'),
    ([b'<eot>'], TypeError, "index 0 must be str, got bytes b'<eot>'"),
    (['ok', 3], TypeError, 'index 1 must be str, got int 3'),
    (['ok', ''], ValueError, 'index 1 is empty'),
    (['<pad>'], ValueError, "'<pad>' is already a reserved id"),
    (['a\ud800'], ValueError, 'lone surrogate'),
    (None, TypeError, 'NoneType'),
])
def test_bad_special_tokens(bad, error, match):
    tok = Tokenizer(model_path('bytepiece.eu.plus.80k'))
    with pytest.raises(error, match=match):
        tok.add_special_tokens(bad)
    assert tok.special_tokens == []


def test_special_text_is_plain_text_by_default(tok, tok80k):
    text = 'Hello<|endoftext|> world <mask>!'
    assert tok.encode(text) == tok80k.encode(text)
    assert tok.encode(text, allowed_special=set()) == tok80k.encode(text)
    assert tok.tokenize(text) == tok80k.tokenize(text)
    assert tok.encode_batch([text, text]) == tok80k.encode_batch([text, text])
    assert max(tok.encode(text)) < tok80k.vocab_size


def test_allowed_special_all(tok, tok80k):
    text = 'Hello<|endoftext|>世界\n\n<|end|><|endoftext|>x<mask>'
    eot, end, mask = (tok.piece_to_id(t) for t in ('<|endoftext|>', '<|end|>', '<mask>'))
    expected = (tok80k.encode('Hello') + [eot] + tok80k.encode('世界\n\n') + [end, eot]
                + tok80k.encode('x') + [mask])
    assert tok.encode(text, allowed_special='all') == expected
    pieces = tok.tokenize(text, allowed_special='all')
    assert pieces[1] == '<|endoftext|>' and pieces[-1] == '<mask>'
    assert tok.decode(expected) == text
    assert tok.encode(text, allowed_special='all', add_bos=True, add_eos=True) == [1] + expected + [2]


def test_segments_are_tokenized_separately(tok, tok80k):
    # a special token splits the text: no piece spans across it
    text = 'abc<mask>def'
    mask = tok.piece_to_id('<mask>')
    assert tok.encode(text, allowed_special='all') == tok80k.encode('abc') + [mask] + tok80k.encode('def')


def test_allowed_subset(tok, tok80k):
    text = 'a<|end|>b<mask>c'
    mask = tok.piece_to_id('<mask>')
    ids = tok.encode(text, allowed_special={'<mask>'})
    assert ids == tok80k.encode('a<|end|>b') + [mask] + tok80k.encode('c')
    assert tok.encode(text, allowed_special=['<mask>']) == ids


@pytest.mark.parametrize('allowed, error, match', [
    ('none', ValueError, "'all' or a set"),
    ({'<nope>'}, ValueError, "'<nope>'"),
    (3, TypeError, 'int'),
])
def test_bad_allowed_special(tok, allowed, error, match):
    with pytest.raises(error, match=match):
        tok.encode('x', allowed_special=allowed)
    with pytest.raises(error, match=match):
        tok.encode_batch(['x'], allowed_special=allowed)


def test_allowed_all_without_specials_is_plain(tok80k):
    assert tok80k.encode('a<mask>b', allowed_special='all') == tok80k.encode('a<mask>b')
    with pytest.raises(ValueError, match='<mask>'):
        tok80k.encode('a', allowed_special={'<mask>'})


def test_leftmost_longest():
    tok = Tokenizer(model_path('bytepiece.eu.plus.80k'), special_tokens=['<a>', '<a><b>', 'b><c', '<c>', 'xx'])
    ids = {t: tok.piece_to_id(t) for t in tok.special_tokens}
    plain = Tokenizer(model_path('bytepiece.eu.plus.80k'))
    # '<a><b>' is longer than '<a>' at the same start; then 'b><c' overlaps
    # nothing (it started inside the match), so '<c>' is found after it
    assert tok.encode('<a><b><c>', allowed_special='all') == [ids['<a><b>'], ids['<c>']]
    # leftmost wins over longest: '<a>' starts before the longer 'b><c'
    assert tok.encode('<a>b><c>', allowed_special='all') == [ids['<a>'], ids['b><c']] + plain.encode('>')
    assert tok.encode('<a><c>', allowed_special='all') == [ids['<a>'], ids['<c>']]
    assert tok.encode('xxx', allowed_special='all') == [ids['xx']] + plain.encode('x')
    assert tok.encode('<a><b>', allowed_special={'<a>'}) == [ids['<a>']] + plain.encode('<b>')


def _reference_matches(text, tokens):
    """Leftmost-longest by brute force."""
    out, pos = [], 0
    while pos < len(text):
        best = None
        for token in tokens:
            if text.startswith(token, pos) and (best is None or len(token) > len(best)):
                best = token
        if best is None:
            pos += 1
        else:
            out.append((pos, pos + len(best), tokens.index(best)))
            pos += len(best)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text('ab<>', min_size=1, max_size=4), min_size=1, max_size=5, unique=True),
       st.text('ab<>x', max_size=30))
def test_matching_property(tokens, text):
    special = SpecialTokens(1000)
    special.add(tokens)
    allowed = special.allowed_ids('all')
    assert special.find(text, allowed) == _reference_matches(text, tokens)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(SPECIALS + ['plain', ' ', '\n', 'é', '中文', '🙂', '<', '|']), max_size=12))
def test_round_trip_with_specials(tok, parts):
    text = ''.join(parts)
    assert tok.decode(tok.encode(text, allowed_special='all')) == unicodedata.normalize('NFC', text)
    assert tok.decode(tok.encode(text)) == unicodedata.normalize('NFC', text)


def test_batch_equals_single(tok, tok40):
    texts = [r['text'] for r in read_golden('bytepiece.eu.plus.80k')[:40]]
    texts = [t[:50] + '<|endoftext|>' + t[50:] + '<mask>' for t in texts] + ['', '<mask>', 'no special']
    for t in (tok, tok40):
        single = [t.encode(x, allowed_special='all') for x in texts]
        assert t.encode_batch(texts, allowed_special='all', num_threads=1) == single
        assert t.encode_batch(texts, allowed_special='all', num_threads=2) == single
        assert t.tokenize_batch(texts, allowed_special='all') == [t.tokenize(x, allowed_special='all') for x in texts]
        ids, starts, _ = t.encode_batch_to_numpy(texts, allowed_special='all')
        assert [ids[starts[i]:starts[i + 1]].tolist() for i in range(len(texts))] == single


def test_batch_sampling_with_specials(tok):
    texts = ['sampling <mask> text number %d, with <|end|> more words' % i for i in range(20)] + ['plain']
    one = tok.encode_batch(texts, alpha=0.1, seed=7, num_threads=1, allowed_special='all')
    two = tok.encode_batch(texts, alpha=0.1, seed=7, num_threads=2, allowed_special='all')
    assert one == two
    assert one[0] != one[1] or one[2] != one[3]  # actual draws
    assert tok.encode_batch(texts[:1], alpha=0.1, seed=7, allowed_special='all')[0] == \
        tok.encode(texts[0], alpha=0.1, seed=7, allowed_special='all')
    mask = tok.piece_to_id('<mask>')
    assert all(row.count(mask) == 1 for row in one[:-1])


def read_like_bytepiece(path):
    """``{piece: (id, count)}`` as BytePiece 0.6.3 reads a model file: every
    top-level key is a base64 piece, and of each entry only the first (id)
    and last (count) elements are used."""
    with open(path, encoding='utf-8') as f:
        obj = json.load(f)
    return {base64.b64decode(k): (v[0], v[-1]) for k, v in obj.items()}


def test_save_and_load_special_tokens(tmp_path, tok):
    path = tmp_path / 'model.json'
    tok.save(path)
    assert not os.path.exists(str(path) + '.special.json'), 'no sidecar file'
    loaded = Tokenizer(path)
    assert loaded.special_tokens == SPECIALS
    text = 'x<|endoftext|>y<mask>'
    assert loaded.encode(text, allowed_special='all') == tok.encode(text, allowed_special='all')
    # BytePiece reads the same pieces, ids and counts: the metadata is invisible to it
    seen = read_like_bytepiece(path)
    assert len(seen) == tok.vocab_size - 3 - len(SPECIALS)
    assert all(tok.piece_to_id(p) == i and tok.vocab.counts[i] == c for p, (i, c) in seen.items())
    # more tokens from the constructor come after the saved ones
    more = Tokenizer(path, special_tokens=['<new>', '<mask>'])
    assert more.special_tokens == SPECIALS + ['<new>']


def test_saving_without_special_tokens_drops_them(tmp_path, tok, tok80k):
    path = tmp_path / 'model.json'
    tok.save(path)
    tok80k.save(path)
    assert Tokenizer(path).special_tokens == []


def test_an_old_sidecar_is_not_read_silently(tmp_path):
    path = tmp_path / 'model.zip'  # a model file with no metadata, as bytepiece 0.1 wrote them
    shutil.copy(model_path('bytepiece.plus.40k'), path)
    with open(str(path) + '.special.json', 'w') as f:
        json.dump({'format': 'bytepiece-special-tokens', 'version': 1, 'special_tokens': []}, f)
    with pytest.warns(UserWarning, match='special tokens are now stored in the model file'):
        Tokenizer(path)


def test_tokens_match_in_normalized_form():
    # the text is NFC-normalized before matching: a decomposed token is matched in its NFC form
    token = '<cafe\u0301>'
    tok = Tokenizer(model_path('bytepiece.eu.plus.80k'), special_tokens=[token])
    token_id = tok.piece_to_id(token)
    for text in ('x<caf\u00e9>y', 'x<cafe\u0301>y'):
        ids, offsets = tok.encode_with_offsets(text, allowed_special='all')
        assert ids[1] == token_id and offsets[1] == (1, 7)
    assert tok.decode([token_id]) == token
    raw = Tokenizer(model_path('bytepiece.eu.plus.80k'), special_tokens=[token], normalization=None)
    assert token_id not in raw.encode('x<caf\u00e9>y', allowed_special='all')
    assert token_id in raw.encode('x<cafe\u0301>y', allowed_special='all')
    with pytest.raises(ValueError, match='normalizes to'):
        tok.add_special_tokens(['<caf\u00e9>'])
    with pytest.raises(ValueError, match='normalizes to'):
        Tokenizer(model_path('bytepiece.eu.plus.80k'), special_tokens=['<a\u0301>', '<\u00e1>'])


def test_allowed_special_must_be_a_collection(tok):
    # a one-shot iterator was read once to choose the path and found empty the second time
    with pytest.raises(TypeError, match="allowed_special must be 'all' or a set of special tokens, got generator"):
        tok.encode('x <mask>', allowed_special=(t for t in ['<mask>']))
    with pytest.raises(ValueError, match="allowed_special must be 'all'"):
        tok.encode('x <mask>', allowed_special='')
    assert tok.encode('x <mask>', allowed_special=('<mask>',)) == tok.encode('x <mask>', allowed_special={'<mask>'})


def test_tokens_normalizing_to_a_reserved_name_are_refused():
    with pytest.raises(ValueError, match="normalizes to '<pad>', a reserved id"):
        Tokenizer(model_path('bytepiece.eu.plus.80k'), normalization='NFKC', special_tokens=['\uff1cpad\uff1e'])
    # without normalization the text differs from '<pad>', so it is allowed
    Tokenizer(model_path('bytepiece.eu.plus.80k'), normalization=None, special_tokens=['\uff1cpad\uff1e'])


@pytest.mark.parametrize('allowed', [b'all', bytearray(b'x'), [[1]], [b'<mask>'], {5}])
def test_allowed_special_of_wrong_types(tok, allowed):
    with pytest.raises(TypeError, match='allowed_special'):
        tok.encode('x <mask>', allowed_special=allowed)


def test_add_special_tokens_while_other_threads_decode(tmp_path):
    """Adding tokens used to grow vocab_size before the id tables: a decode on
    another thread could accept a new id and read past the end of the old
    offsets array (garbage, MemoryError, IndexError). Now the tables are
    published first and the token list last."""
    import sys
    import threading
    tk = Tokenizer(model_path('bytepiece.plus.40k'))
    errors, stop = [], threading.Event()

    def adder():
        try:
            for k in range(150):
                tk.add_special_tokens([f'<tok{k}>'])
        finally:
            stop.set()

    def reader():
        while not stop.is_set():
            try:
                last = tk.vocab_size - 1
                text = tk.decode([100, last])
                expected = tk.id_to_piece(last)
                if isinstance(expected, str) and not text.endswith(expected):
                    errors.append(('decode', last, text))
                tk.tokenize('a<tok3>b', allowed_special='all')
            except Exception as e:  # noqa: BLE001 - any exception here is the bug
                errors.append(repr(e))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=reader) for _ in range(2)] + [threading.Thread(target=adder)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert tk.special_tokens == [f'<tok{k}>' for k in range(150)]


def test_normalization_clash_message_shows_code_points():
    """'<\u00e9>' and '<e\u0301>' print alike; the error must tell them apart."""
    import re
    composed, decomposed = '<\u00e9>', '<e\u0301>'
    expected = f'{ascii(composed)} normalizes to the text of {ascii(decomposed)}'
    with pytest.raises(ValueError, match=re.escape(expected)):
        Tokenizer(model_path('bytepiece.plus.40k'), special_tokens=[decomposed, composed])


def test_tokenizer_pickles_for_worker_processes():
    # Worker pools (multiprocessing spawn, DataLoader workers) pickle the tokenizer.
    import pickle
    tok = Tokenizer(model_path('bytepiece.plus.40k'), seed=5, normalization='NFKC', special_tokens=SPECIALS)
    copy = pickle.loads(pickle.dumps(tok))
    text = 'ﬁne Cafe\u0301 <|endoftext|> 你好'
    assert copy.normalization == 'NFKC' and copy.special_tokens == tok.special_tokens
    assert copy.encode(text, allowed_special='all') == tok.encode(text, allowed_special='all')
    assert copy.encode(text, alpha=0.1, seed=3) == tok.encode(text, alpha=0.1, seed=3)
    assert copy.encode(text, alpha=0.1) == tok.encode(text, alpha=0.1), 'the tokenizer seed sequence carries over'
    assert pickle.loads(pickle.dumps(SpecialTokens(10))).base == 10


@pytest.mark.parametrize('cls', [SpecialTokens, Tokenizer])
def test_public_methods_are_typed(cls):
    """Every public method (dunders included) annotates its parameters and result."""
    untyped = []
    for name, member in vars(cls).items():
        function = member.fget if isinstance(member, property) else member
        private = name.startswith('_') and not name.startswith('__')
        if private or not inspect.isfunction(function):
            continue
        signature = inspect.signature(function)
        untyped += [f'{name}({p})' for p in list(signature.parameters)[1:]
                    if signature.parameters[p].annotation is inspect.Parameter.empty]
        if signature.return_annotation is inspect.Signature.empty:
            untyped.append(f'{name} -> ?')
    assert not untyped


@pytest.mark.parametrize('method', ['encode', 'tokenize'])
def test_a_token_added_while_a_call_encodes_is_in_its_table(method):
    # another thread's add_special_tokens landing after the call starts and
    # before it encodes (forced: the encoding step adds the token first)
    tok = Tokenizer(model_dict(small_vocab({b'the': 9})))
    encode_one = tok._one

    def one(*args):
        if not tok.special_tokens:
            tok.add_special_tokens(['<new>'])
        return encode_one(*args)
    tok._one = one
    text = 'the ' * 60 + '<new>'  # long enough for the shared objects of the lists
    result = getattr(tok, method)(text, allowed_special='all')
    assert result[-1] == (tok.vocab_size - 1 if method == 'encode' else '<new>')
