"""Corpus inputs: files, directories, globs and fsspec URLs; text, JSON lines
and Parquet, compressed or not; partitions by byte range; the error policy."""

import bz2
import gzip
import json
import lzma
import os
import random
import re

import pytest

from bytepiece.corpus import records
from bytepiece.corpus.inputs import Files, ReadReport, partitions, read


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    """A text file full of newline runs and a JSON-lines file with text and other fields."""
    folder = tmp_path_factory.mktemp('corpus')
    rnd = random.Random(0)
    text = ''.join(rnd.choice(['a', 'b', '\n', '\n\n\n', 'ü', '中文 ', '\r\n']) for _ in range(20000))
    records = [{'id': i, 'text': ''.join(rnd.choice('ab \nü\u2028"') for _ in range(rnd.randint(0, 60)))}
               for i in range(1000)]
    jsonl = ''.join(json.dumps(r, ensure_ascii=i % 2 == 0) + '\n' for i, r in enumerate(records))
    return {'dir': folder, 'text': text, 'texts': [r['text'] for r in records],
            'txt': write(folder / 't.txt', text.encode()), 'jsonl': write(folder / 'j.jsonl', jsonl.encode())}


def expected_documents(text, text_documents):
    """What a plain-text file's documents are, written plainly."""
    if text_documents == 'file':
        return [text] if text else []
    if text_documents == 'line':
        return [line for line in text.split('\n') if line]
    return [p.strip('\n') for p in re.split('\n\n+', text) if p.strip('\n')]


@pytest.mark.parametrize('partition_bytes', [1, 2, 3, 5, 8, 100, 4096, 1 << 30])
@pytest.mark.parametrize('text_documents', ['line', 'paragraph', 'file'])
def test_byte_ranges_tile_the_file_at_record_boundaries(corpus, tmp_path, partition_bytes, text_documents):
    text = corpus['text'] if partition_bytes > 50 else corpus['text'][:1500]  # tiny ranges: a short file
    path = write(tmp_path / 't.txt', text.encode())
    parts = partitions(path, partition_bytes=partition_bytes, text_documents=text_documents)
    assert [doc for part in parts for doc in read(part)] == expected_documents(text, text_documents)
    assert len(parts) == 1 if text_documents == 'file' else len(parts) >= min(len(text) // partition_bytes, 2)
    texts = corpus['texts'] if partition_bytes > 50 else corpus['texts'][:30]
    path = write(tmp_path / 'j.jsonl', ''.join(json.dumps({'text': t}) + '\n' for t in texts).encode())
    parts = partitions(path, partition_bytes=partition_bytes, text_documents=text_documents)
    assert [doc for part in parts for doc in read(part)] == texts
    assert [p.index for p in parts] == list(range(len(parts)))


@pytest.mark.parametrize('text', ['', '\n', '\n\n\n', 'one', 'one\n', '\none\n\n\ntwo\nlines\n\n', 'a\r\n\r\nb'])
@pytest.mark.parametrize('text_documents', ['line', 'paragraph', 'file'])
def test_plain_text_documents_at_the_edges(tmp_path, text, text_documents):
    path = write(tmp_path / 't.txt', text.encode())
    assert list(Files(path, text_documents=text_documents)) == expected_documents(text, text_documents)
    with pytest.raises(ValueError, match="text_documents must be one of .* got 'lines'"):
        partitions(path, text_documents='lines')


@pytest.mark.parametrize('suffix, compress', [('.gz', gzip.compress), ('.bz2', bz2.compress), ('.xz', lzma.compress),
                                              ('.zst', None)])
def test_compressed_files_are_one_partition_each(corpus, tmp_path, suffix, compress):
    if compress is None:
        import zstandard
        compress = zstandard.ZstdCompressor().compress
    with open(corpus['jsonl'], 'rb') as f:
        path = write(tmp_path / f'j.jsonl{suffix}', compress(f.read()))
    parts = partitions(path, partition_bytes=100)
    assert len(parts) == 1 and parts[0].format == 'jsonl'
    assert list(read(parts[0])) == corpus['texts']


def test_directories_globs_and_urls(corpus, tmp_path):
    write(tmp_path / 'b.jsonl', b'{"text": "b"}\n')
    write(tmp_path / 'a.txt', b'a\n')
    write(tmp_path / '.hidden', b'not read')
    os.mkdir(tmp_path / 'sub')
    write(tmp_path / 'sub' / 'c.jsonl', b'{"text": "c"}\n')
    assert list(Files(tmp_path)) == ['a', 'b', 'c']
    assert list(Files(str(tmp_path / '*.jsonl'))) == ['b']
    assert list(Files([str(tmp_path / 'sub'), str(tmp_path / 'a.txt')])) == ['c', 'a']
    assert list(Files('file://' + str(tmp_path / 'b.jsonl'))) == ['b']


def test_memory_urls():
    import fsspec
    with fsspec.open('memory://corpus/x.jsonl', 'wb') as f:
        f.write(b'{"text": "from memory"}\n{"text": "two"}\n')
    assert list(Files('memory://corpus/x.jsonl')) == ['from memory', 'two']
    assert list(Files('memory://corpus')) == ['from memory', 'two'], 'a directory of the memory filesystem'


def test_missing_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match='not found'):
        partitions(str(tmp_path / 'nope.jsonl'))
    with pytest.raises(FileNotFoundError, match='no corpus file matches'):
        partitions(str(tmp_path / '*.jsonl'))
    with pytest.raises(FileNotFoundError, match='holds no file'):
        partitions(tmp_path)
    with pytest.raises(ValueError, match='no corpus files'):
        partitions([])
    with pytest.raises(ValueError, match='errors must be one of'):
        partitions(tmp_path, errors='ignore')


BAD_LINES = [b'{"text": "ok 1"}', b'{"text": "bad \xff byte"}', b'not json', b'{"other": 1}', b'{"text": 5}',
             b'{"text": "lone \\ud800 surrogate"}', b'["text"]', b'', b'{"text": "ok 2"}']


def test_strict_errors_name_the_file_and_line(tmp_path):
    path = write(tmp_path / 'bad.jsonl', b'\n'.join(BAD_LINES) + b'\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: invalid UTF-8 at byte 14"):
        list(Files(path))
    for k, what in [(2, 'invalid JSON'), (3, "no field 'text'"), (4, "field 'text' is not a string"),
                    (5, 'a lone surrogate')]:
        path = write(tmp_path / f'bad{k}.jsonl', b'{"text": "fine"}\n' + BAD_LINES[k] + b'\n')
        with pytest.raises(ValueError, match=f'bad{k}.jsonl:2: {what}'):
            list(Files(path))


@pytest.mark.parametrize('name, body, where', [
    ('late.jsonl', b'{"text": "fine"}\n' * 40 + b'{"text": "bad \xff"}\n', 'late.jsonl:41: invalid UTF-8'),
    ('late.txt', b'fine text\n\n' * 40 + b'bad \xfe\n', 'late.txt:81: invalid UTF-8')])
def test_lines_are_counted_across_read_blocks(tmp_path, monkeypatch, name, body, where):
    monkeypatch.setattr(records, 'READ_BLOCK', 64)  # the bad line is many blocks in
    path = write(tmp_path / name, body)
    with pytest.raises(ValueError, match=where):
        list(Files(path))


def test_skip_and_replace_count_what_they_drop(tmp_path):
    path = write(tmp_path / 'bad.jsonl', b'\n'.join(BAD_LINES) + b'\n')
    (part,) = partitions(path, errors='skip')
    report = ReadReport()
    assert list(read(part, report)) == ['ok 1', 'ok 2']
    assert report.skipped == 6 and report.documents == 2
    assert report.places[0].endswith('bad.jsonl:2: invalid UTF-8 at byte 14')
    assert len(report.places) == 5, 'the first few places'
    (part,) = partitions(path, errors='replace')
    report = ReadReport()
    assert list(read(part, report)) == ['ok 1', 'bad \ufffd byte', 'lone \ufffd surrogate', 'ok 2']
    assert report.replaced == 2 and report.skipped == 4


def test_records_are_read_as_pythons_json_reads_them(tmp_path):
    """What the fast parser refuses but ``json`` accepts still gives its text;
    what both accept gives the same text."""
    lines = [b'{"text": "nan field", "x": NaN}', b'{"text": "big int", "n": 123456789012345678901234567890}',
             b'{"text": "first", "text": "last"}', b'  {"text": "spaces"}  \r', b'{"text": "\\ud83d\\ude00 \\u00e9"}',
             b'\t \r', b'{"text": "' + b'\xe4\xb8\xad' * 5000 + b'"}']
    path = write(tmp_path / 'odd.jsonl', b'\n'.join(lines) + b'\n')
    expected = [json.loads(line)['text'] for line in lines if line.strip()]
    assert list(Files(path)) == expected and expected[2] == 'last' and len(expected) == 6


def test_text_files_under_each_policy(tmp_path):
    path = write(tmp_path / 'bad.txt', b'good line\nbad \xfe line\n\nlast')
    with pytest.raises(ValueError, match='bad.txt:2: invalid UTF-8 at byte 4'):
        list(Files(path))
    assert list(Files(path, errors='skip')) == ['good line', 'last']
    assert list(Files(path, errors='replace')) == ['good line', 'bad \ufffd line', 'last']
    # the record dropped is the document: a paragraph, or the file
    assert list(Files(path, errors='skip', text_documents='paragraph')) == ['last']
    assert list(Files(path, errors='replace', text_documents='paragraph')) == ['good line\nbad \ufffd line', 'last']
    assert list(Files(path, errors='skip', text_documents='file')) == []
    for text_documents in ('paragraph', 'file'):
        with pytest.raises(ValueError, match='bad.txt:2: invalid UTF-8 at byte 4'):
            list(Files(path, text_documents=text_documents))
    # in a later partition the place is a byte offset
    with pytest.raises(ValueError, match=r'bad.txt at byte 14: invalid UTF-8'):
        list(Files(path, partition_bytes=5))


def test_parquet_row_groups(tmp_path):
    pa = pytest.importorskip('pyarrow')
    import pyarrow.parquet as pq
    texts = [f'document {i}' for i in range(100)]
    path = str(tmp_path / 'c.parquet')
    pq.write_table(pa.table({'content': texts, 'n': list(range(100))}), path, row_group_size=30)
    parts = partitions(path, field='content')
    assert len(parts) == 4 and all(p.format == 'parquet' for p in parts)
    assert [t for p in parts for t in read(p)] == texts
    pq.write_table(pa.table({'content': ['a', None]}), path)
    with pytest.raises(ValueError, match='row 1'):
        list(Files(path, field='content'))
    assert list(Files(path, field='content', errors='skip')) == ['a']


def test_partitions_pickle_small(corpus):
    import pickle
    parts = partitions(corpus['jsonl'], partition_bytes=1000)
    assert all(len(pickle.dumps(p)) < 500 for p in parts)
    assert pickle.loads(pickle.dumps(parts[3])) == parts[3]


@pytest.mark.parametrize('partition_bytes', [1, 3, 7, 64, 1 << 30])
def test_text_lines_are_one_document_each(corpus, tmp_path, partition_bytes):
    text = corpus['text'][:3000]
    path = write(tmp_path / 't.txt', text.encode())
    parts = partitions(path, partition_bytes=partition_bytes)  # the default: a document per line
    report = ReadReport()
    docs = [doc for part in parts for doc in read(part, report)]
    assert docs == [line for line in text.split('\n') if line], 'non-empty lines, newline dropped'
    assert report.documents == len(docs) and report.input_bytes == len(text.encode())
    assert all(p.format == 'lines' for p in parts)
