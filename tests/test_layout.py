"""The shape of the code: small modules and functions, and docs that match
the tree (the module table of docs/design.md, every `module.name` named)."""

import ast
import builtins
import importlib
import importlib.util
import json
import os
import pkgutil
import re

import bytepiece
from bytepiece.train.settings import Settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, 'bytepiece')
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# Kernels that are their per-byte loop alone, written out whole: with a call per byte
# they ran slower (docs/design.md, Why the kernels are shaped this way).
LONG_KERNELS = {('bytepiece/kernels/bnlm.py', '_viterbi_chunk'), ('bytepiece/kernels/normalize.py', 'normalize_span')}


def modules():
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != '__pycache__' and d != 'data']
        for name in files:
            if name.endswith('.py'):
                yield os.path.relpath(os.path.join(folder, name), ROOT)


def test_no_module_over_the_limit():
    long = {}
    for path in modules():
        with open(os.path.join(ROOT, path), encoding='utf-8') as f:
            lines = f.read().count('\n')
        if lines > MAX_MODULE_LINES:
            long[path] = lines
    assert not long


def test_no_function_over_the_limit():
    long = {}
    for path in modules():
        with open(os.path.join(ROOT, path), encoding='utf-8') as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and (path, node.name) not in LONG_KERNELS:
                    long[f'{path}:{node.name}'] = length
    assert not long


def test_every_long_kernel_is_still_long():
    lengths = {}
    for path, name in LONG_KERNELS:
        with open(os.path.join(ROOT, path), encoding='utf-8') as f:
            tree = ast.parse(f.read())
        lengths.update({(path, node.name): node.end_lineno - node.lineno + 1 for node in ast.walk(tree)
                        if isinstance(node, ast.FunctionDef) and node.name == name})
    assert set(lengths) == LONG_KERNELS and min(lengths.values()) > MAX_FUNCTION_LINES, 'drop its exemption'


def test_design_module_table_matches_the_tree():
    with open(os.path.join(ROOT, 'docs', 'design.md'), encoding='utf-8') as f:
        text = f.read()
    table = text[text.index('## Modules'):]
    table = table[:table.index('\n## ', 1)]
    named = set()
    for cell in re.findall(r'^\| ([^|]+) \|', table, re.M):
        for path in re.findall(r'`(bytepiece/[\w/]+\.py)`', cell):
            named.add(path)
    assert named == set(modules())


def _private_names_defined(tree):
    """Names starting with one underscore that a module defines: functions,
    classes, and attributes it assigns (``x._name = ...``) or declares."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def test_modules_use_no_private_attribute_of_another():
    """``obj._name`` only where the module itself defines ``_name``: a
    module reaches others through their public names."""
    found = []
    for path in modules():
        with open(os.path.join(ROOT, path), encoding='utf-8') as f:
            tree = ast.parse(f.read())
        own = _private_names_defined(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith('_') and not node.attr.startswith('__')
                    and node.attr not in own):
                found.append(f'{path}:{node.lineno}: .{node.attr}')
    assert not found


def test_token_files_and_statistics_use_public_names():
    """The tokenizer's private state stays in tokenizer.py."""
    private = re.compile(r'\._(encoder|allowed|vocab|table|special|seeds|statistics)\b')
    for path in ('bytepiece/tokenfiles/encode.py', 'bytepiece/core/statistics.py'):
        with open(os.path.join(ROOT, path), encoding='utf-8') as f:
            assert not private.findall(f.read()), path


def test_training_phases_get_what_they_use_not_the_run():
    # the run holds the sequence of phases; a phase gets the engine, work directory and report it uses
    takes_run = set()
    for path in modules():
        if not path.startswith('bytepiece/train/') or path.endswith(('/run.py', '/trainer.py')):
            continue
        with open(os.path.join(ROOT, path), encoding='utf-8') as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and 'run' in [a.arg for a in node.args.args]:
                takes_run.add(f'{path}:{node.name}')
    assert not takes_run


DOCS = ['README.md'] + [os.path.join('docs', name) for name in sorted(os.listdir(os.path.join(ROOT, 'docs')))
                        if name.endswith('.md')]
MODULES = ['bytepiece'] + [m.name for m in pkgutil.walk_packages(bytepiece.__path__, 'bytepiece.')]
FILE_SUFFIXES = {'py', 'json', 'jsonl', 'txt', 'bin', 'idx', 'md', 'npz', 'npy', 'zip', 'en'}
ABSENT_EXTERNALS = {'torch'}  # named by the docs, not installed with the tests


def _resolves(reference):
    """Whether ``a.b.c`` is a module of the package (named in full, from
    ``bytepiece``, or by its last part) and attributes within it."""
    parts = reference.split('.')
    heads = [m for m in MODULES if m == parts[0] or m == f'bytepiece.{parts[0]}' or m.endswith(f'.{parts[0]}')]
    for module in heads:
        rest = parts[1:]
        while rest and f'{module}.{rest[0]}' in MODULES:
            module, rest = f'{module}.{rest[0]}', rest[1:]
        found = importlib.import_module(module)
        for name in rest:
            found = getattr(found, name, None)
        if found is not None:
            return True
    return False


def _external(head):
    ours = any(m == head or m.endswith(f'.{head}') for m in MODULES)
    return not ours and (head in ABSENT_EXTERNALS or hasattr(builtins, head)
                         or importlib.util.find_spec(head) is not None)


def test_every_module_name_in_the_docs_is_in_the_tree():
    unknown = []
    for doc in DOCS:
        with open(os.path.join(ROOT, doc), encoding='utf-8') as f:
            text = f.read()
        for reference in sorted(set(re.findall(r'`([a-z_]\w*(?:\.[A-Za-z_]\w*)+)`', text))):
            parts = reference.split('.')
            if parts[-1] in FILE_SUFFIXES or _external(parts[0]):
                continue
            if not _resolves(reference):
                unknown.append(f'{doc}: {reference}')
    assert not unknown


def test_the_format_example_holds_the_trainers_settings():
    with open(os.path.join(ROOT, 'docs', 'format.md'), encoding='utf-8') as f:
        text = f.read()
    example = re.search(r'"training": (\{.*?\})', text, re.S).group(1)
    shown = json.loads(example)
    written = Settings.checked(shown.get('order'), shown['max_vocab_size'], None, shown['min_count'], False, True,
                               shown['method']).to_dict()
    assert {key: written[key] for key in shown} == shown


def test_the_training_package_lists_its_modules():
    import bytepiece.train
    listed = set(re.findall(r'``(\w+)``\s+\(', bytepiece.train.__doc__))
    present = {m.name for m in pkgutil.iter_modules(bytepiece.train.__path__)}
    assert listed == present
