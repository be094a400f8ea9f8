"""The recipes of docs/usage.md run as written: HF datasets' map with our
tokenizer, and Megatron's IndexedDataset reading our files."""

import json
import os
import re

import pytest
from conftest import model_path, read_golden

from bytepiece.tokenfiles import encode_files, merge

USAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'docs', 'usage.md')
MODEL = 'bytepiece.eu.plus.80k.zip'


def recipe(name):
    with open(USAGE, encoding='utf-8') as f:
        text = f.read()
    match = re.search(rf'<!-- recipe: {name} -->\n```python\n(.*?)```', text, re.S)
    assert match, f'no recipe {name!r} in docs/usage.md'
    return match.group(1)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """The recipes' files in the current folder: the model and corpus.jsonl."""
    monkeypatch.chdir(tmp_path)
    os.symlink(model_path('bytepiece.eu.plus.80k'), MODEL)
    texts = [r['text'] for r in read_golden('bytepiece.eu.plus.80k')[:60]]
    with open('corpus.jsonl', 'w', encoding='utf-8') as f:
        f.writelines(json.dumps({'text': t, 'n': i}) + '\n' for i, t in enumerate(texts))
    return tmp_path


def test_datasets_recipe(workdir, monkeypatch):
    monkeypatch.setenv('HF_DATASETS_OFFLINE', '1')
    monkeypatch.setenv('HF_HOME', str(workdir / 'hf'))
    pytest.importorskip('datasets', reason='HF datasets is not installed (pip install datasets)')
    exec(recipe('datasets'), {})


def test_megatron_recipe(workdir):
    pytest.importorskip('megatron.core.datasets.indexed_dataset',
                        reason="megatron-core is not installed (pip install 'bytepiece[megatron]')")
    encode_files('corpus.jsonl', MODEL, 'shards', 'megatron', add_eos=True)
    merge('shards', 'train')
    exec(recipe('megatron'), {})
