"""Text of sources outside the dev corpus, for the compression benchmark: a
check that what a vocabulary gains on the dev split's out-of-domain part is
not tuned to it.

    python benchmarks/other_sources.py DIR     # fetch and unpack once, print the sources

Five sources from Debian packages (fetched with ``apt-get download``,
unpacked with ``dpkg -x``; the benchmark may fetch them, tests never do):

- ``other.english-fortunes``: the English fortune files of ``fortunes`` and
  ``fortunes-min`` (quotations, jokes, verse), 40 fortunes a document;
- ``other.english-gnu``: the GNU coding standards and maintainers' guide
  (``gnu-standards``, plain text), a document per part;
- ``other.chinese-man``: the Simplified Chinese man pages of
  ``manpages-zh`` (troff source), a document per page;
- ``other.python``: the Python of ``python3-requests``, ``-urllib3``,
  ``-jinja2`` and ``-docutils``, a document per file;
- ``other.c-headers``: the C headers of ``linux-libc-dev``, a document per file.

The dev corpus holds none of them (its Chinese fortunes, Debian reference
and handbook are other packages). The versions are those the machine's apt
sources offer; docs/benchmarks.md names the ones measured.
"""

import glob
import gzip
import json
import os
import subprocess
import sys

PACKAGES = ('fortunes', 'fortunes-min', 'gnu-standards', 'manpages-zh', 'python3-requests', 'python3-urllib3',
            'python3-jinja2', 'python3-docutils', 'linux-libc-dev')
NOT_ENGLISH_FORTUNES = ('chinese', 'tang300', 'song100', 'ascii-art', 'translate-me')
FORTUNES_PER_DOCUMENT = 40
FILE_NAME = 'other-sources.jsonl'


def load(folder):
    """``[(src, text)]`` of the other sources, fetched into ``folder`` on first use."""
    path = os.path.join(folder, FILE_NAME)
    if not os.path.exists(path):
        _prepare(folder, path)
    with open(path, encoding='utf-8') as f:
        return [(doc['src'], doc['text']) for doc in map(json.loads, f)]


def _prepare(folder, path):
    root = os.path.join(folder, 'unpacked')
    os.makedirs(root, exist_ok=True)
    for package in PACKAGES:
        if not glob.glob(os.path.join(folder, f'{package}_*.deb')):
            subprocess.run(['apt-get', 'download', package], cwd=folder, check=True)
    for package in PACKAGES:
        for deb in sorted(glob.glob(os.path.join(folder, f'{package}_*.deb'))):
            subprocess.run(['dpkg', '-x', deb, root], check=True)
    docs = list(_documents(root))
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        f.writelines(json.dumps({'src': src, 'text': text}, ensure_ascii=False) + '\n' for src, text in docs)
    os.replace(path + '.tmp', path)


def _documents(root):
    fortunes = os.path.join(root, 'usr/share/games/fortunes')
    for name in sorted(os.listdir(fortunes)):
        path = os.path.join(fortunes, name)
        if '.' in name or name in NOT_ENGLISH_FORTUNES or os.path.islink(path):
            continue
        with open(path, encoding='utf-8', errors='replace') as f:
            items = f.read().split('\n%\n')
        for i in range(0, len(items), FORTUNES_PER_DOCUMENT):
            yield 'other.english-fortunes', '\n%\n'.join(items[i:i + FORTUNES_PER_DOCUMENT])
    for name in ('standards.text.gz', 'maintain.text.gz'):
        with gzip.open(os.path.join(root, 'usr/share/doc/gnu-standards', name), 'rt', encoding='utf-8') as f:
            yield from (('other.english-gnu', part) for part in f.read().split('\n\n\n') if part.strip())
    for path in sorted(glob.glob(os.path.join(root, 'usr/share/man/zh_CN/man*/*.gz'))):
        with gzip.open(path, 'rt', encoding='utf-8', errors='replace') as f:
            yield 'other.chinese-man', f.read()
    for pattern, src in (('usr/lib/python3/dist-packages/**/*.py', 'other.python'),
                         ('usr/include/**/*.h', 'other.c-headers')):
        for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
            with open(path, encoding='utf-8', errors='replace') as f:
                text = f.read()
            if text.strip():
                yield src, text


def main():
    docs = load(sys.argv[1])
    for src in sorted({s for s, _ in docs}):
        texts = [t for s, t in docs if s == src]
        print(f'{src}: {len(texts)} documents, {sum(len(t.encode()) for t in texts) / 1e6:.2f} MB')


if __name__ == '__main__':
    main()
