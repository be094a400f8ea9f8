"""The optional dependencies (setup.cfg's extras): each is imported here, by
one function that names the extra to install when it is missing."""

import importlib


def _needed(module, what, extra):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs: pip install 'bytepiece[{extra}]'") from None


def dask_client():
    """distributed's ``Client`` (a Dask scheduler address)."""
    return _needed('distributed', 'a Dask scheduler address', 'dask').Client


def parquet():
    """``pyarrow.parquet`` (reading Parquet files)."""
    return _needed('pyarrow.parquet', 'reading Parquet', 'parquet')


def zstandard():
    """``zstandard`` (fsspec reads ``.zst`` files with it)."""
    return _needed('zstandard', 'reading .zst files', 'zstd')


def sentencepiece_model():
    """SentencePiece's model protobuf (``convert_to_sentencepiece``)."""
    return _needed('sentencepiece.sentencepiece_model_pb2', 'convert_to_sentencepiece', 'sentencepiece')


def tokenizers(required=True):
    """HF ``tokenizers``; without ``required``, None when it is not installed."""
    if required:
        return _needed('tokenizers', 'this conversion', 'huggingface')
    try:
        return importlib.import_module('tokenizers')
    except ImportError:
        return None


def zstd_errors():
    """What zstandard raises on damaged data, as a tuple (empty without the extra)."""
    try:
        return (importlib.import_module('zstandard').ZstdError,)
    except ImportError:
        return ()
