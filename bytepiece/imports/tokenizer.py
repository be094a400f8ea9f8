"""``ImportedTokenizer``: the ``Tokenizer`` over a SentencePiece or HF
unigram model, which ``Tokenizer(path)`` gives for their files."""

from ..core.seeds import SeedStream
from ..core.special import SpecialTokens
from ..runtime.fileio import atomic_write
from ..tokenizer import Tokenizer
from .files import check_exportable, load_imported


class ImportedTokenizer(Tokenizer):
    """A ``Tokenizer`` whose ids, normalizer and decoding are those of a
    SentencePiece unigram ``.model`` or a HF Unigram ``tokenizer.json``
    (docs/usage.md, "Models of other libraries"). ``model_format`` says
    which; ``model_summary`` describes the file. Its pieces are str, as the
    file has them; there are no special tokens to add (the file's control
    and user-defined pieces are its own), ``add_bos``/``add_eos`` use the
    file's ids, and sampling never takes a lone byte inside a known
    character (the library's lattice has none).

    Args:
        model: the file's path (or, for ``tokenizer.json``, its parsed dict).
        seed: as for ``Tokenizer``. ``normalization`` and ``special_tokens``
            must be left unset; ``keep_known_chars`` is always on.
    """

    def __init__(self, model, seed=None, *, normalization='auto', special_tokens=None, keep_known_chars=True):
        imported = load_imported(model, normalization, special_tokens)
        self.model_format = imported.format
        self.model_summary = imported.summary
        self.normalization = None
        self._source = imported.source
        self._vocab, self._table, self._encoder = imported.vocab, imported.table, imported.encoder
        self._statistics = imported.statistics
        self._metadata = {}
        self._special = SpecialTokens(self._table.size)
        self._seeds = SeedStream(seed)

    @property
    def source(self):
        """The model file's bytes, as read."""
        return self._source

    @property
    def special_tokens(self):
        return []

    def add_special_tokens(self, tokens):
        raise ValueError(f'add_special_tokens: a {self.model_format} model keeps the ids of its file')

    def save(self, path):
        """Write the model file as it was read, atomically."""
        atomic_write(path, self._source)

    def convert_to_huggingface(self, path):
        check_exportable(self.model_format, 'huggingface')

    def convert_to_sentencepiece(self, path):
        check_exportable(self.model_format, 'sentencepiece')
