"""Inputs through a file system that fails now and then (a class of this
test's own, as a remote store's connection would): reading is retried and
gives the same documents; a store that fails for good is an error naming
the URL."""

import gzip
import io
import json

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from bytepiece import Trainer
from bytepiece.corpus import records
from bytepiece.runtime import fileio
from bytepiece.corpus.inputs import Files
from bytepiece.tokenfiles import encode_files, open_tokens


class FlakyFile(io.RawIOBase):
    """A file of the store whose every ``every``-th read fails."""

    def __init__(self, data, fs):
        super().__init__()
        self._data, self._fs = io.BytesIO(data), fs

    def readable(self):
        return True

    def seekable(self):
        return not self._fs.streaming

    def seek(self, pos, whence=io.SEEK_SET):
        if self._fs.streaming and (whence, pos) != (io.SEEK_SET, self._data.tell()):
            raise ValueError('Cannot seek streaming HTTP file')  # as fsspec's HTTP streams
        return self._data.seek(pos, whence)

    def tell(self):
        return self._data.tell()

    def readinto(self, buffer):
        self._fs.fault('read')
        return self._data.readinto(buffer)


class FlakyFileSystem(MemoryFileSystem):
    protocol = 'flaky'
    store = {}
    pseudo_dirs = ['']
    every = 3  # 1: every call fails
    streaming = False  # files that cannot seek, as HTTP streams
    calls = 0
    faults = 0

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol('memory://' + path[len('flaky://'):] if path.startswith('flaky://') else path)

    def fault(self, what):
        type(self).calls += 1
        if type(self).calls % type(self).every == 0:
            type(self).faults += 1
            raise ConnectionResetError(f'connection reset during {what}')

    def _open(self, path, mode='rb', **kwargs):
        if 'r' not in mode:
            return super()._open(path, mode, **kwargs)
        self.fault('open')
        return FlakyFile(self.cat_file(path), self)


fsspec.register_implementation('flaky', FlakyFileSystem, clobber=True)
TEXTS = [f'document {i}: ' + 'the quick brown fox jumps over the lazy dog ' * (i % 7 + 1) for i in range(400)]


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    monkeypatch.setattr(records, 'READ_BLOCK', 1024)  # many reads a file, so faults fall mid-file
    monkeypatch.setattr(fileio, 'FIRST_RETRY_WAIT', 0.001)
    monkeypatch.setattr(FlakyFileSystem, 'every', 3)
    lines = ''.join(json.dumps({'text': t}) + '\n' for t in TEXTS).encode()
    fs = FlakyFileSystem()
    fs.pipe('/c/a.jsonl', lines)
    fs.pipe('/c/b.jsonl.gz', gzip.compress(lines))
    (tmp_path / 'a.jsonl').write_bytes(lines)
    return tmp_path


def test_passing_faults_are_retried_with_the_same_documents(corpus):
    before = FlakyFileSystem.faults
    assert list(Files('flaky://c/a.jsonl')) == TEXTS
    assert list(Files('flaky://c/b.jsonl.gz')) == TEXTS
    assert FlakyFileSystem.faults - before > 10, 'the faults happened'


def test_a_stream_that_cannot_seek_is_read_on_after_a_fault(corpus, monkeypatch):
    monkeypatch.setattr(FlakyFileSystem, 'streaming', True)
    monkeypatch.setattr(FlakyFileSystem, 'every', 4)  # a reopen reads the skipped bytes: a call more
    before = FlakyFileSystem.faults
    assert list(Files('flaky://c/a.jsonl')) == TEXTS
    assert list(Files('flaky://c/b.jsonl.gz')) == TEXTS
    assert FlakyFileSystem.faults - before > 10, 'the faults happened'


def test_training_and_token_files_through_faults_equal_local_files(corpus, tmp_path):
    before = FlakyFileSystem.faults
    local, flaky = Trainer(max_vocab_size=400), Trainer(max_vocab_size=400)
    local.train(files=str(corpus / 'a.jsonl'), progress=False, workers=2)
    flaky.train(files='flaky://c/a.jsonl', progress=False, workers=2)
    assert local.pieces == flaky.pieces
    tokenizer = local.tokenizer(400)
    encode_files(str(corpus / 'a.jsonl'), tokenizer, tmp_path / 'local', 'flat', workers=2)
    encode_files('flaky://c/a.jsonl', tokenizer, tmp_path / 'flaky', 'flat', workers=2)
    a, b = open_tokens(tmp_path / 'local'), open_tokens(tmp_path / 'flaky')
    assert a.n_tokens == b.n_tokens > 0 and (a.tokens(0, a.n_tokens) == b.tokens(0, b.n_tokens)).all()
    assert FlakyFileSystem.faults - before > 10, "the faults happened"


def test_a_store_that_fails_for_good_is_an_error_naming_the_url(corpus, monkeypatch):
    monkeypatch.setattr(FlakyFileSystem, 'every', 1)
    with pytest.raises(OSError, match=r"reading failed 6 times, the last: connection reset during open"
                                      r".*'flaky:///?c/a.jsonl'"):
        list(Files('flaky://c/a.jsonl'))
