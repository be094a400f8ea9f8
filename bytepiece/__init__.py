"""bytepiece: a byte-level unigram tokenizer with BytePiece-compatible models."""

from .core.encoding import TokenArrays
from .core.special import SpecialTokens
from .exports.huggingface import convert_to_huggingface
from .runtime.lock import FolderInUse
from .runtime.parallel import Engine
from .tokenizer import Tokenizer
from .train import Trainer, convert_to_bytepiece

__version__ = '0.1.0'
__all__ = ['Tokenizer', 'TokenArrays', 'Trainer', 'Engine', 'convert_to_bytepiece', 'convert_to_huggingface',
           'SpecialTokens', 'FolderInUse']
