"""bytepiece: a byte-level unigram tokenizer with BytePiece-compatible models."""

from .tokenizer import Tokenizer

__version__ = '0.1.0'
__all__ = ['Tokenizer']
