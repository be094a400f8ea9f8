"""The docstring examples of the public API run as written."""

import doctest
import importlib

import pytest

from bytepiece import Trainer
from bytepiece.demo import SAMPLE_DIR
from bytepiece.corpus.inputs import Files
MODULES = ['bytepiece.tokenizer', 'bytepiece.core.vocab', 'bytepiece.runtime.parallel', 'bytepiece.corpus.inputs',
           'bytepiece.train.trainer', 'bytepiece.train.prune', 'bytepiece.exports.huggingface', 'bytepiece.core.encoding',
           'bytepiece.core.special', 'bytepiece.core.statistics']


@pytest.fixture(scope='module')
def make_tokenizer():
    """The ``tok`` of the Tokenizer's example: a fresh one for each example."""
    trainer = Trainer(max_vocab_size=1000, min_count=4)
    trainer.train(Files(SAMPLE_DIR), progress=False)
    return trainer.tokenizer


@pytest.mark.parametrize('name', MODULES)
def test_examples(name, make_tokenizer):
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in tests:
        test.globs['tok'] = make_tokenizer()
        runner.run(test)
    assert runner.tries > 0, f'{name} has no example'
    assert runner.failures == 0
