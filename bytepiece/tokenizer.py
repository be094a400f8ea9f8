"""The Tokenizer: encoding, decoding and sampling, with BytePiece's API.

Examples in the docstrings use the ``tok`` of the ``Tokenizer`` example.
"""

import functools
import os
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .core.encoding import Encoder, Request, TokenArrays, flat_arrays, id_lists, offset_lists, text_list
from .core.model import NUM_SPECIAL, SPECIAL_PIECES, write_model
from .core.pieces import PieceTable
from .core.seeds import SeedStream, check_alpha, check_unused_seed
from .core.special import Allowed, SpecialTokens
from .core.statistics import LatticeStatistics
from .core.text import check_decode_errors, check_normalization, check_text, normalize
from .core.vocab import Vocabulary
from .imports.files import file_format, native_model
from .runtime.parallel import available_cores, check_workers

Seed = Union[int, Tuple[int, ...], np.random.Generator, None]


class Tokenizer:
    """A byte-level unigram tokenizer over a BytePiece model.

    Args:
        model: a model file (JSON, or a ``.zip`` holding one) or the model
            dict itself (docs/format.md); a SentencePiece unigram ``.model`` or
            a HF Unigram ``tokenizer.json`` gives an ``ImportedTokenizer``.
        seed: seeds the random draws of ``alpha >= 0``: an int, a tuple of
            ints (folded into one) or a numpy Generator; None draws a fresh
            seed from the OS in every process the tokenizer draws in. The
            same seed gives the same sequence of draws; in a worker process
            the stream also depends on the worker's identity (``set_seed``).
        normalization: Unicode normalization applied before encoding:
            ``'NFC'`` (BytePiece's), ``'NFKC'``, ``'NFD'``, ``'NFKD'``, or None
            for a byte-exact round trip; ``'auto'`` (the default) takes the
            model file's (NFC for a file that names none).
        special_tokens: user-defined special tokens (strings) added after
            those saved in the model file; see ``add_special_tokens``.
        keep_known_chars: sampling never splits a known character (several
            bytes whose whole UTF-8 is a piece) into lone byte pieces, as
            SentencePiece's byte fallback applies only to unknown characters.

    >>> from bytepiece import Tokenizer, Trainer
    >>> from bytepiece.demo import SAMPLE_DIR
    >>> from bytepiece.corpus.inputs import Files
    >>> trainer = Trainer(max_vocab_size=1000, min_count=4)
    >>> _ = trainer.train(Files(SAMPLE_DIR), progress=False)
    >>> tok = trainer.tokenizer()
    >>> tok.decode(tok.encode('the cat sat on the log.'))
    'the cat sat on the log.'
    """

    model_format = 'bytepiece'  # 'sentencepiece' or 'huggingface' for an ImportedTokenizer

    def __new__(cls, model=None, *args, **kwargs):
        from .imports.tokenizer import ImportedTokenizer  # (which imports this module)
        imported = cls is Tokenizer and file_format(model) in ('sentencepiece', 'huggingface')
        return super().__new__(ImportedTokenizer if imported else cls)

    def __init__(self, model: Union[str, os.PathLike, dict], seed: Seed = None, *,
                 normalization: Optional[str] = 'auto', special_tokens: Optional[Iterable[str]] = None,
                 keep_known_chars: bool = False) -> None:
        pieces, ids, counts, metadata, scores = native_model(model)
        if normalization == 'auto':
            normalization = metadata.get('normalization', 'NFC')
        self.normalization = check_normalization(normalization)
        self._metadata = metadata
        self._vocab = Vocabulary(pieces, ids, counts, metadata.get('token_penalty', 0.0), scores)
        # a partial, not a lambda: the tokenizer pickles (for worker processes)
        self._special = SpecialTokens(self._vocab.size, reserved=SPECIAL_PIECES,
                                      normalize=functools.partial(normalize, normalization=self.normalization))
        self._table = PieceTable(self._vocab, [])
        if not isinstance(keep_known_chars, bool):
            raise TypeError(f'keep_known_chars must be a bool, got {type(keep_known_chars).__name__}')
        self._encoder = Encoder(self._vocab, self._special, self.normalization, keep_known_chars)
        self._statistics = LatticeStatistics(self._vocab, self.normalization)
        self.add_special_tokens(metadata.get('special_tokens', []))
        if special_tokens is not None:
            self.add_special_tokens(special_tokens)
        self._seeds = SeedStream(seed)

    # --- vocabulary -------------------------------------------------------

    @property
    def vocab(self) -> Vocabulary:
        """The vocabulary (read-only), without the special tokens."""
        return self._vocab

    @property
    def vocab_size(self) -> int:
        """Number of ids: ``<pad>``, ``<bos>``, ``<eos>``, the pieces, then the
        user-defined special tokens.

        >>> tok.vocab_size == len(tok.vocab.pieces) + len(tok.special_tokens)
        True
        """
        return self._table.size

    @property
    def keep_known_chars(self) -> bool:
        """Whether sampling keeps known characters whole (set at construction)."""
        return self._encoder.keep_known_chars

    @property
    def encoder(self) -> Encoder:
        """The encode pipeline of the current special tokens, for tools that
        encode in their own batches (token files)."""
        return self._encoder

    @property
    def special_tokens(self) -> List[str]:
        """The user-defined special tokens, in id order (ids from
        ``vocab_size - len(special_tokens)``)."""
        return list(self._special.tokens)

    def add_special_tokens(self, tokens: Iterable[str]) -> int:
        """Register special tokens: each encodes to one id, after the
        vocabulary, when a call allows it (``allowed_special``); by default
        their text is plain text, so a document cannot inject them.
        ``piece_to_id``/``id_to_piece`` know them and ``decode`` restores their
        text. Already registered tokens are skipped; returns how many were added.

        >>> tok.add_special_tokens(['<|end|>'])
        1
        >>> tok.encode('on<|end|>', allowed_special='all')[-1] == tok.piece_to_id('<|end|>')
        True
        """
        # Copy, extend, then publish: the tables that ids index go first and
        # the token list (hence vocab_size) last, so that a call on another
        # thread never accepts an id its tables do not have yet.
        special = self._special.copy()
        added = special.add(tokens)
        if added:
            self._table = PieceTable(self._vocab, special.tokens)
            self._encoder = Encoder(self._vocab, special, self.normalization, self.keep_known_chars)
            self._special = special
        return added

    def piece_to_id(self, piece: Union[bytes, str]) -> int:
        """Id of a piece (bytes), of ``'<pad>'``, ``'<bos>'``, ``'<eos>'``, or
        of a special token (str).

        >>> tok.piece_to_id('<eos>')
        2
        """
        return self._table.piece_to_id(piece)

    def id_to_piece(self, i: int) -> Union[bytes, str]:
        """The piece (bytes) of an id; a str for ids 0..2 and special tokens.

        >>> tok.id_to_piece(tok.piece_to_id(b't'))
        b't'
        """
        return self._table.id_to_piece(i)

    def pieces_to_ids(self, pieces: Sequence[Union[bytes, str]]) -> List[int]:
        """``piece_to_id`` of each piece."""
        if isinstance(pieces, (bytes, bytearray, str)):
            raise TypeError(f'pieces must be a list of pieces, not a single {type(pieces).__name__}')
        return [self._table.piece_to_id(p) for p in pieces]

    def ids_to_pieces(self, ids: Sequence[int]) -> List[Union[bytes, str]]:
        """``id_to_piece`` of each id."""
        if isinstance(ids, (bytes, bytearray, str)):
            raise TypeError(f'ids must be a sequence of ints, got {type(ids).__name__}')
        return [self._table.id_to_piece(i) for i in ids]

    # --- seeds ------------------------------------------------------------

    def set_seed(self, seed: Seed, *, worker: Union[int, Tuple[int, ...], None] = None) -> None:
        """Restart the random draws from ``seed`` (None: a fresh OS seed in
        every process). ``worker``: this copy's identity, an int or tuple of
        ints (e.g. ``(epoch, worker_id)``); the stream is then keyed by the
        seed and the identity, so that workers and epochs draw differently
        and reproducibly. Without one, a PyTorch DataLoader worker uses its
        ``get_worker_info().seed``, other processes the seed alone.
        docs/usage.md, "Sampling in a training loop".

        >>> tok.set_seed(7, worker=(0, 1))
        """
        self._seeds.reset(seed, worker)

    # --- encoding ---------------------------------------------------------

    def _request(self, alpha, seed, allowed, spans=False, add_bos=False, add_eos=False):
        alpha = check_alpha(alpha)
        seed = self._seeds.call_seed(seed) if alpha >= 0 else check_unused_seed(seed)
        return Request(alpha, seed, allowed, spans, add_bos, add_eos)

    def _one(self, text, alpha, seed, allowed_special):
        """The ids (int32 array) of one text."""
        allowed = self._encoder.allowed(allowed_special)
        if allowed is None:
            return self._encoder.one(text, alpha, self._seeds, seed)
        check_text(text)
        return next(self._encoder.parts([text], self._request(alpha, seed, allowed), 1, single=True)).ids

    def tokenize(self, text: str, alpha: float = -1, iter: bool = False, *, seed: Seed = None,
                 allowed_special: Allowed = frozenset()) -> List[Union[bytes, str]]:
        """Split ``text`` into pieces (bytes; special tokens as str).

        ``alpha < 0``: the most likely segmentation (Viterbi). ``0 <= alpha <=
        1e6``: a random segmentation drawn with probability proportional to
        ``exp(alpha * score)``; ``seed`` (an int, a tuple of ints such as
        ``(run_seed, epoch, index)``, or a numpy Generator) makes this call's
        draw reproducible, otherwise the tokenizer's own seed sequence is
        used. ``allowed_special``: ``'all'`` or a set of registered special
        tokens to match in the text (leftmost-longest); by default
        special-token text is plain text. ``iter=True`` returns an iterator.
        The options after BytePiece's (``text, alpha, iter``) are keyword-only.

        >>> b''.join(tok.tokenize('the mat', alpha=0.1, seed=1))
        b'the mat'
        """
        ids = self._one(text, alpha, seed, allowed_special)
        result = self._table.piece_list(ids)  # the table read after the encoder: it has every id the encoder had
        return (p for p in result) if iter else result

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False, alpha: float = -1, iter: bool = False,
               *, seed: Seed = None, allowed_special: Allowed = frozenset()) -> List[int]:
        """Token ids of ``text``, with ``<bos>`` (1) / ``<eos>`` (2) if asked; see
        ``tokenize`` for the other arguments (BytePiece's positional ones first).

        >>> ids = tok.encode('the cat', add_eos=True)
        >>> ids[-1], tok.decode(ids)
        (2, 'the cat')
        """
        ids = self._one(text, alpha, seed, allowed_special)
        result = self._table.id_list(ids)  # the table read after the encoder, as in tokenize
        if add_bos or add_eos:
            result = self._encoder.marked(result, add_bos, add_eos)
        return (i for i in result) if iter else result

    def encode_to_numpy(self, text: str, *, alpha: float = -1, seed: Seed = None,
                        allowed_special: Allowed = frozenset()) -> np.ndarray:
        """Token ids of ``text`` as an int32 numpy array.

        >>> tok.encode_to_numpy('the cat').dtype
        dtype('int32')
        """
        return self._one(text, alpha, seed, allowed_special)

    def encode_with_offsets(self, text: str, *, add_bos: bool = False, add_eos: bool = False, alpha: float = -1,
                            seed: Seed = None, allowed_special: Allowed = frozenset()
                            ) -> Tuple[List[int], List[Tuple[int, int]]]:
        """``(ids, offsets)``: ``offsets[k]`` is token k's ``(start, end)`` in
        characters, of ``text`` itself when normalization is off, of the
        *normalized* text when it is on. A token that starts or ends inside a
        multi-byte character (a partial-UTF-8 piece) covers that whole
        character. ``<bos>`` is ``(0, 0)`` and ``<eos>`` ``(n, n)``.

        >>> ids, offsets = tok.encode_with_offsets('the cat')
        >>> ''.join('the cat'[a:b] for a, b in offsets)
        'the cat'
        """
        check_text(text)
        request = self._request(alpha, seed, self._encoder.allowed(allowed_special), True, add_bos, add_eos)
        lists, offsets = offset_lists(self._encoder.parts([text], request, 1, single=True))
        return lists[0], offsets[0]

    # --- batches ----------------------------------------------------------

    def _parts(self, texts, alpha, seed, allowed_special, num_threads, spans=False, add_bos=False, add_eos=False):
        """A batch through the pipeline: its ``Part`` s in order."""
        texts = text_list(texts)
        threads = check_workers(num_threads, 'num_threads', most=available_cores())
        allowed = self._encoder.allowed(allowed_special)
        return self._encoder.parts(texts, self._request(alpha, seed, allowed, spans, add_bos, add_eos), threads)

    def encode_batch(self, texts: Iterable[str], *, alpha: float = -1, add_bos: bool = False, add_eos: bool = False,
                     num_threads: Optional[int] = None, seed: Seed = None,
                     allowed_special: Allowed = frozenset()) -> List[List[int]]:
        """Token ids of many texts, in parallel over parts of the batch (the
        kernels release the GIL). Equals ``[encode(t, ...) for t in texts]``
        for Viterbi. With ``alpha >= 0``, text ``i`` draws from its own stream
        derived from the call's seed and ``i``, so the result does not depend
        on ``num_threads`` (None: every core), and
        ``encode_batch([t], seed=s)[0] == encode(t, seed=s)``.

        >>> tok.encode_batch(['the cat', 'the dog']) == [tok.encode('the cat'), tok.encode('the dog')]
        True
        """
        return id_lists(self._parts(texts, alpha, seed, allowed_special, num_threads, add_bos=add_bos,
                                    add_eos=add_eos), self._table.id_list)

    def tokenize_batch(self, texts: Iterable[str], *, alpha: float = -1, num_threads: Optional[int] = None,
                       seed: Seed = None, allowed_special: Allowed = frozenset()) -> List[List[Union[bytes, str]]]:
        """Pieces of many texts; see ``encode_batch``.

        >>> tok.tokenize_batch(['the cat'])[0] == tok.tokenize('the cat')
        True
        """
        return id_lists(self._parts(texts, alpha, seed, allowed_special, num_threads), self._table.piece_list)

    def encode_batch_to_numpy(self, texts: Iterable[str], *, alpha: float = -1, add_bos: bool = False,
                              add_eos: bool = False, num_threads: Optional[int] = None, seed: Seed = None,
                              allowed_special: Allowed = frozenset(), offsets: bool = False) -> TokenArrays:
        """Token ids of many texts as flat arrays, with no Python object per
        token: ``TokenArrays(ids, bounds, spans)``, text ``i`` being
        ``ids[bounds[i]:bounds[i+1]]``; ``offsets=True`` fills ``spans`` with
        each token's character span (see ``encode_with_offsets``).

        >>> arrays = tok.encode_batch_to_numpy(['the cat', 'the dog'])
        >>> arrays.ids[arrays.bounds[1]:arrays.bounds[2]].tolist() == tok.encode('the dog')
        True
        """
        return flat_arrays(self._parts(texts, alpha, seed, allowed_special, num_threads, offsets, add_bos, add_eos),
                           offsets)

    def encode_batch_with_offsets(self, texts: Iterable[str], *, add_bos: bool = False, add_eos: bool = False,
                                  alpha: float = -1, num_threads: Optional[int] = None, seed: Seed = None,
                                  allowed_special: Allowed = frozenset()
                                  ) -> Tuple[List[List[int]], List[List[Tuple[int, int]]]]:
        """``(ids lists, offsets lists)`` of many texts; see ``encode_with_offsets``.

        >>> tok.encode_batch_with_offsets(['the cat'])[1] == [tok.encode_with_offsets('the cat')[1]]
        True
        """
        return offset_lists(self._parts(texts, alpha, seed, allowed_special, num_threads, True, add_bos, add_eos))

    # --- decoding ---------------------------------------------------------

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """The bytes of the pieces ``ids`` (ids 0..2 add nothing; a special
        token adds its text).

        >>> tok.decode_bytes(tok.encode('the'))
        b'the'
        """
        return self._table.decode_bytes(ids)

    def decode(self, ids: Sequence[int], *, errors: Optional[str] = None) -> str:
        """Text of ``ids``: the pieces' bytes joined and decoded as UTF-8.

        ``errors``: what to do with bytes that are not valid UTF-8 (ids that
        end inside a character, say), as in ``bytes.decode``. None (default):
        ``'ignore'``, which drops them as BytePiece does (another library's
        model decodes as its library does); ``'replace'`` puts U+FFFD there
        (tiktoken's default) and ``'strict'`` raises ``UnicodeDecodeError``;
        a name ``bytes.decode`` does not know is a ``LookupError``.

        >>> tok.decode([1] + tok.encode('the dog') + [2])
        'the dog'
        >>> cut = tok.encode('€')[:-1]
        >>> tok.decode(cut), tok.decode(cut, errors='replace')
        ('', '\ufffd')
        """
        return self._table.decode(ids, None if errors is None else check_decode_errors(errors))

    # --- lattice statistics ---------------------------------------------------

    def nbest(self, text: str, n: int) -> List[Tuple[List[int], float]]:
        """The ``n`` best segmentations of ``text``, best first, as ``(ids,
        score)``; see ``bytepiece.core.statistics.LatticeStatistics.nbest``."""
        return self._statistics.nbest(text, n)

    def log_likelihood(self, text: str, alpha: float = 1.0) -> float:
        """log Z of ``text``: the log of the sum over its segmentations of
        ``exp(alpha * score)``; see ``LatticeStatistics.log_likelihood``."""
        return self._statistics.log_likelihood(text, alpha)

    def entropy(self, text: str, alpha: float = 1.0) -> float:
        """Entropy (nats) of the segmentation distribution of ``text`` at
        ``alpha``; see ``LatticeStatistics.entropy``."""
        return self._statistics.entropy(text, alpha)

    # --- saving and conversion ------------------------------------------------

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Save the model, atomically, with its normalization and special
        tokens (docs/format.md), so that ``Tokenizer(path)`` gives the same
        encoder. BytePiece 0.6.3 reads the file too (ids kept; it ignores the
        metadata).

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), 'my.model')
        >>> tok.save(path)
        >>> Tokenizer(path).encode('the cat') == tok.encode('the cat')
        True
        """
        vocab = self._vocab
        metadata = dict(self._metadata, normalization=self.normalization, special_tokens=self.special_tokens)
        write_model(path, vocab.pieces[NUM_SPECIAL:], vocab.counts[NUM_SPECIAL:], metadata)

    def convert_to_huggingface(self, path: Union[str, os.PathLike]) -> None:
        """Write a HF ``tokenizer.json`` giving the same ids; see
        ``bytepiece.exports.huggingface.convert_to_huggingface``."""
        from .exports.huggingface import convert_to_huggingface
        convert_to_huggingface(self, path, _stacklevel=3)

    def convert_to_sentencepiece(self, path: Union[str, os.PathLike]) -> None:
        """Write a SentencePiece model of this vocabulary; see
        ``bytepiece.exports.sentencepiece.convert_to_sentencepiece``."""
        from .exports.sentencepiece import convert_to_sentencepiece
        convert_to_sentencepiece(self, path)
