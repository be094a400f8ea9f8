"""Optional dependencies: each is imported in ``bytepiece.runtime.extras`` alone,
and a missing one names the extra to install."""

import ast
import os
import sys

import pytest

from bytepiece.runtime import extras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize('check, module, extra', [
    (extras.dask_client, 'distributed', 'dask'),
    (extras.parquet, 'pyarrow.parquet', 'parquet'),
    (extras.zstandard, 'zstandard', 'zstd'),
    (extras.sentencepiece_model, 'sentencepiece.sentencepiece_model_pb2', 'sentencepiece'),
    (extras.tokenizers, 'tokenizers', 'huggingface'),
])
def test_a_missing_extra_is_named(check, module, extra, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # import then raises ImportError
    with pytest.raises(ImportError, match=rf"pip install 'bytepiece\[{extra}\]'"):
        check()


def test_tokenizers_may_be_absent(monkeypatch):
    monkeypatch.setitem(sys.modules, 'tokenizers', None)
    assert extras.tokenizers(required=False) is None


def test_no_other_module_checks_an_import():
    checked = []
    for folder, dirs, files in os.walk(os.path.join(ROOT, 'bytepiece')):
        dirs[:] = [d for d in dirs if d not in ('__pycache__', 'data')]
        for name in files:
            path = os.path.join(folder, name)
            if not name.endswith('.py') or path.endswith(os.path.join('bytepiece', 'extras.py')):
                continue
            with open(path, encoding='utf-8') as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Try) and any(isinstance(n, (ast.Import, ast.ImportFrom))
                                                     for stmt in node.body for n in ast.walk(stmt)):
                    checked.append(f'{os.path.relpath(path, ROOT)}:{node.lineno}')
    assert not checked
