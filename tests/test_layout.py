"""The shape of the code: small modules and functions, and a module table in
docs/design.md that matches the tree."""

import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, 'bytepiece')
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# Kernels that are their per-byte loop alone, written out whole: with a call per byte
# they ran slower (docs/design.md, Why the kernels are shaped this way).
LONG_KERNELS = {('bytepiece/kernels/bnlm.py', '_viterbi_chunk')}


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
