"""Token files: the byte layout of both formats, encode_files against
encode_batch on every engine (a real Dask LocalCluster included), resume,
merge, the reader, and Megatron's own reader where it is installed."""

import gzip
import json
import os
import random
import struct

import numpy as np
import pytest
from conftest import model_path, read_golden

from bytepiece import Tokenizer
from bytepiece.corpus.inputs import ReadReport
from bytepiece.tokenfiles import TokenWriter, encode_files, merge, open_tokens, token_dtype
from bytepiece.tokenfiles import encode as encode_module

M40 = model_path('bytepiece.plus.40k')
M80 = model_path('bytepiece.eu.plus.80k')


@pytest.fixture(scope='module')
def tok():
    return Tokenizer(M40)


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    """JSON lines (with other fields, blank lines and a special token's text),
    the same texts gzipped, and a text file of lines."""
    folder = tmp_path_factory.mktemp('corpus')
    golden = [r['text'] for r in read_golden('bytepiece.plus.40k')]
    rnd = random.Random(1)
    texts = [rnd.choice(golden)[:rnd.randint(0, 400)] for _ in range(300)] + ['', 'x<|eot|>y']
    lines = ''.join(json.dumps({'id': i, 'text': t}, ensure_ascii=i % 2 == 0) + '\n' + '\n' * (i % 7 == 0)
                    for i, t in enumerate(texts))
    (folder / 'a.jsonl').write_text(lines, encoding='utf-8')
    (folder / 'b.jsonl.gz').write_bytes(gzip.compress(lines.encode('utf-8')))
    plain = [t.replace('\n', ' ') for t in texts]
    (folder / 'c.txt').write_text('\n'.join(plain) + '\n\n', encoding='utf-8')
    return {'folder': folder, 'texts': texts, 'lines': [t for t in plain if t]}


def expected_arrays(tok, texts, **kw):
    return tok.encode_batch_to_numpy(texts, **kw)


def folder_bytes(folder):
    """Every data and index file of a shard folder, by name (records and manifest aside)."""
    return {n: (folder / n).read_bytes() for n in sorted(os.listdir(folder)) if not n.endswith('.json')}


# --- byte layouts ------------------------------------------------------------

def write_small(fmt, prefix, dtype):
    with TokenWriter(fmt, prefix, dtype) as w:
        w.add(np.array([5, 6, 7, 8], np.int32), np.array([0, 3, 4, 4]))  # documents [5 6 7], [8], []
        w.add(np.array([9], np.int32), np.array([0, 1]))


def test_megatron_layout_by_hand(tmp_path):
    write_small('megatron', tmp_path / 'd', np.uint16)
    assert (tmp_path / 'd.bin').read_bytes() == struct.pack('<5H', 5, 6, 7, 8, 9)
    expected = (b'MMIDIDX\x00\x00' + struct.pack('<Q', 1) + struct.pack('<B', 8)  # magic, version, uint16
                + struct.pack('<QQ', 4, 5)  # 4 sequences, 5 document indices
                + struct.pack('<4i', 3, 1, 0, 1)  # sequence lengths
                + struct.pack('<4q', 0, 6, 8, 8)  # byte pointers
                + struct.pack('<5q', 0, 1, 2, 3, 4))  # one sequence per document
    assert (tmp_path / 'd.idx').read_bytes() == expected
    write_small('megatron', tmp_path / 'e', np.int32)
    assert (tmp_path / 'e.idx').read_bytes()[17] == 4  # int32's code
    assert struct.unpack('<4q', (tmp_path / 'e.idx').read_bytes()[34 + 16:34 + 48]) == (0, 12, 16, 16)
    data = open_tokens(tmp_path / 'd')
    assert [d.tolist() for d in data] == [[5, 6, 7], [8], [], [9]] and data.n_tokens == 5


def test_flat_layout_by_hand(tmp_path):
    write_small('flat', tmp_path / 'd', np.uint16)
    assert (tmp_path / 'd.ds').read_bytes() == struct.pack('<5H', 5, 6, 7, 8, 9)
    assert (tmp_path / 'd.ds.index').read_bytes() == struct.pack('<4Q', 3, 4, 4, 5)
    assert (tmp_path / 'd.ds.metadata').read_text() == 'bytepiece|2\n5\n'
    write_small('flat', tmp_path / 'e', np.uint32)
    assert (tmp_path / 'e.ds').read_bytes() == struct.pack('<5I', 5, 6, 7, 8, 9)
    data = open_tokens(tmp_path / 'e.ds')
    assert data.dtype == np.uint32 and data.document(-1).tolist() == [9] and data.tokens(2, 4).tolist() == [7, 8]
    with pytest.raises(IndexError, match='document 4 out of range'):
        data.document(4)


def test_tokens_are_synced_as_they_are_written(tmp_path, monkeypatch):
    from bytepiece.tokenfiles import writer
    synced = []
    monkeypatch.setattr(writer, 'SYNC_BYTES', 16)
    monkeypatch.setattr(writer, '_datasync', lambda fd: synced.append(os.fstat(fd).st_size))
    with TokenWriter('flat', tmp_path / 'd', np.uint16) as w:
        for start in range(0, 30, 10):  # 20 bytes a call
            w.add(np.arange(start, start + 10), np.array([0, 10]))
    assert synced == [20, 40, 60], 'each sync sees what was written before it'
    assert open_tokens(tmp_path / 'd.ds').tokens(0, None).tolist() == list(range(30))
    synced.clear()
    with TokenWriter('flat', tmp_path / 'e', np.uint16) as w:  # a merge appends whole token files
        w.add_dataset(tmp_path / 'd.ds', 3, 30, lambda: np.array([10, 10, 10]))
    assert synced == [60] and open_tokens(tmp_path / 'e.ds').tokens(0, None).tolist() == list(range(30))


def test_dtype_rules():
    assert token_dtype('megatron', 65499) == np.uint16 and token_dtype('megatron', 65500) == np.int32
    assert token_dtype('flat', 65536) == np.uint16 and token_dtype('flat', 65537) == np.uint32
    with pytest.raises(ValueError, match='format must be one of'):
        token_dtype('bin', 10)


def test_truncated_files_are_refused(tmp_path):
    for fmt, data_name in (('megatron', 'd.bin'), ('flat', 'd.ds')):
        write_small(fmt, tmp_path / 'd', np.uint16)
        path = tmp_path / data_name
        path.write_bytes(path.read_bytes()[:-2])
        with pytest.raises(ValueError, match='truncated'):
            open_tokens(tmp_path / 'd')
        for p in tmp_path.iterdir():
            p.unlink()
    write_small('megatron', tmp_path / 'd', np.uint16)
    (tmp_path / 'd.idx').write_bytes((tmp_path / 'd.idx').read_bytes()[:-8])
    with pytest.raises(ValueError, match='truncated'):
        open_tokens(tmp_path / 'd')


# --- encode_files against encode_batch -----------------------------------------

@pytest.mark.parametrize('fmt', ['megatron', 'flat'])
def test_shards_equal_encode_batch_on_every_engine(tok, corpus, tmp_path, fmt, monkeypatch):
    src = str(corpus['folder'] / 'a.jsonl')
    texts = corpus['texts']
    expected = expected_arrays(tok, texts, add_eos=True)
    outputs = {}
    for name, engine, workers in (('inline', 'inline', None), ('threads', None, 2), ('processes', 'processes', 2)):
        out = tmp_path / name
        summary = encode_files(src, M40, out, fmt, add_eos=True, engine=engine, workers=workers,
                               partition_bytes=4000)
        assert summary.shards > 5 and summary.documents == len(texts) and summary.tokens == expected.ids.size
        data = open_tokens(out)
        assert data.dtype == np.uint16  # 40k ids
        assert np.array_equal(data.tokens(0, data.n_tokens), expected.ids)
        assert all(np.array_equal(data.document(i), expected.ids[expected.bounds[i]:expected.bounds[i + 1]])
                   for i in range(len(texts)))
        outputs[name] = folder_bytes(out)
    monkeypatch.setattr(encode_module, 'BATCH_CHARS', 100)  # many batches per shard: the same bytes
    encode_files(src, M40, tmp_path / 'small-batches', fmt, add_eos=True, partition_bytes=4000)
    outputs['small batches'] = folder_bytes(tmp_path / 'small-batches')
    assert all(o == outputs['inline'] for o in outputs.values())
    merged = merge(tmp_path / 'inline', tmp_path / 'merged')
    assert np.array_equal(merged.tokens(0, merged.n_tokens), expected.ids) and merged.n_documents == len(texts)
    assert [d.tolist() for d in merged] == [d.tolist() for d in open_tokens(tmp_path / 'inline')]


def test_compressed_text_lines_and_options(tok, corpus, tmp_path):
    tok_special = Tokenizer(M40, special_tokens=['<|eot|>'])
    src = [str(corpus['folder'] / 'b.jsonl.gz'), str(corpus['folder'] / 'c.txt')]
    texts = corpus['texts'] + corpus['lines']  # text: one document per non-empty line
    kw = dict(add_bos=True, add_eos=True, allowed_special='all')
    summary = encode_files(src, M40, tmp_path / 'o', 'flat', special_tokens=['<|eot|>'], **kw)
    expected = expected_arrays(tok_special, texts, **kw)
    data = open_tokens(tmp_path / 'o')
    assert np.array_equal(data.tokens(0, data.n_tokens), expected.ids)
    assert summary.shards == 2 and data.document(len(corpus['texts']) - 1)[2] == tok_special.piece_to_id('<|eot|>')
    assert summary.text_bytes == sum(len(t.encode()) for t in texts)
    assert abs(summary.bytes_per_token - summary.text_bytes / summary.tokens) < 1e-12


@pytest.mark.parametrize('text_documents', ['line', 'paragraph', 'file'])
def test_plain_text_documents_keep_their_bytes(tok, tmp_path, text_documents):
    code = 'def f(x):\n    return x\n\n\nclass A:\n\n    pass\n'
    (tmp_path / 'a.py').write_text(code, encoding='utf-8')
    docs = {'line': ['def f(x):', '    return x', 'class A:', '    pass'],
            'paragraph': ['def f(x):\n    return x', 'class A:', '    pass'], 'file': [code]}[text_documents]
    summary = encode_files(str(tmp_path / 'a.py'), tok, tmp_path / 'o', 'flat', text_documents=text_documents)
    data = open_tokens(tmp_path / 'o')
    assert [tok.decode(data.document(d).tolist()) for d in range(data.n_documents)] == docs
    assert summary.documents == len(docs) and summary.text_documents == text_documents
    assert f'(plain text: a document per {text_documents})' in summary.lines()[0]


def test_sampling_follows_the_seed_rule_on_any_workers(tok, corpus, tmp_path, monkeypatch):
    src = str(corpus['folder'] / 'a.jsonl')
    with pytest.raises(ValueError, match='needs a seed'):
        encode_files(src, M40, tmp_path / 'x', alpha=0.1)
    runs = []
    for k, (engine, workers) in enumerate((('inline', None), (None, 2), ('processes', 2))):
        encode_files(src, M40, tmp_path / str(k), alpha=0.1, seed=7, engine=engine, workers=workers,
                     partition_bytes=4000)
        runs.append(folder_bytes(tmp_path / str(k)))
    assert runs[0] == runs[1] == runs[2]
    # document d of partition p draws from stream (stream_seed(seed, p), d)
    from bytepiece.corpus.inputs import partitions, read
    from bytepiece.kernels.rng import stream_seed
    data = open_tokens(tmp_path / '0')
    parts = partitions(src, partition_bytes=4000)
    k = 0
    for part in parts:
        docs = list(read(part))
        seed = int(stream_seed(np.uint64(7), np.uint64(part.index)))
        want = tok.encode_batch_to_numpy(docs, alpha=0.1, seed=seed)
        got = np.concatenate([data.document(k + i) for i in range(len(docs))]) if docs else want.ids
        assert np.array_equal(got, want.ids)
        k += len(docs)
    assert not np.array_equal(open_tokens(tmp_path / '0').tokens(0, 10**9),
                              expected_arrays(tok, corpus['texts']).ids), 'sampled, not Viterbi'


def test_dask_cluster_writes_the_same_bytes(dask_client, corpus, tmp_path):
    src = str(corpus['folder'] / 'a.jsonl')
    encode_files(src, M40, tmp_path / 'local', 'megatron', add_eos=True, partition_bytes=4000)
    summary = encode_files(src, M40, tmp_path / 'dask', 'megatron', add_eos=True, partition_bytes=4000,
                           engine=dask_client)
    assert summary.shards > 5
    assert folder_bytes(tmp_path / 'dask') == folder_bytes(tmp_path / 'local')
    tokenizer = Tokenizer(M40)  # a Tokenizer object goes to the cluster as one shared value
    encode_files(src, tokenizer, tmp_path / 'object', 'megatron', add_eos=True, partition_bytes=4000,
                 engine=dask_client)
    assert folder_bytes(tmp_path / 'object') == folder_bytes(tmp_path / 'local')


# --- resume, refusals, errors ---------------------------------------------------

def test_resume_after_a_crash(corpus, tmp_path):
    src = str(corpus['folder'] / 'a.jsonl')
    out = tmp_path / 'out'
    first = encode_files(src, M40, out, add_eos=True, partition_bytes=4000)
    complete = folder_bytes(out)
    # a run killed while writing shard 3: its temporary file is left, its
    # record and the index never written; shard 5 was never started
    (out / 'index.json').unlink()
    (out / 'part-00003.json').unlink()
    (out / '.part-00003.bin.x1y2.tmp').write_bytes(b'partial')
    for name in ('part-00005.json', 'part-00005.bin', 'part-00005.idx'):
        (out / name).unlink()
    with pytest.raises(ValueError, match='has not finished'):
        open_tokens(out)
    kept = os.stat(out / 'part-00001.bin').st_mtime_ns
    again = encode_files(src, M40, out, add_eos=True, partition_bytes=4000)
    assert again.resumed == first.shards - 2 and again.tokens == first.tokens
    assert os.stat(out / 'part-00001.bin').st_mtime_ns == kept, 'a finished shard is not written again'
    assert not (out / '.part-00003.bin.x1y2.tmp').exists(), 'a killed task\'s temporary file is removed'
    assert folder_bytes(out) == complete
    with pytest.raises(ValueError, match='other arguments'):
        encode_files(src, M40, out, add_eos=False, partition_bytes=4000)
    (tmp_path / 'busy').mkdir()
    (tmp_path / 'busy' / 'notes.txt').write_text('mine')
    with pytest.raises(ValueError, match='not empty'):
        encode_files(src, M40, tmp_path / 'busy')


def test_error_policy_and_summary(tmp_path):
    src = tmp_path / 'bad.jsonl'
    src.write_bytes(b'{"text": "good"}\n{"text": 5}\nnot json\n{"text": "b\xffd"}\n{"text": "fine"}\n')
    with pytest.raises(ValueError, match=r'bad.jsonl:2: field .text. is not a string'):
        encode_files(str(src), M40, tmp_path / 'strict')
    summary = encode_files(str(src), M40, tmp_path / 'skip', errors='skip')
    assert summary.documents == 2 and summary.skipped == 3 and len(summary.places) == 3
    assert isinstance(summary, ReadReport), 'the totals of reading are a ReadReport, summed as one'
    assert 'skipped records: 3' in '\n'.join(summary.lines())
    with pytest.raises(FileNotFoundError, match='not found'):
        encode_files(str(tmp_path / 'missing.jsonl'), M40, tmp_path / 'x')


def test_large_vocabulary_dtypes(corpus, tmp_path):
    src = str(corpus['folder'] / 'c.txt')
    for fmt, dtype in (('megatron', np.int32), ('flat', np.uint32)):
        encode_files(src, M80, tmp_path / fmt, fmt)
        data = open_tokens(tmp_path / fmt)
        assert data.dtype == dtype
        assert np.array_equal(data.tokens(0, data.n_tokens), Tokenizer(M80).encode_batch_to_numpy(corpus['lines']).ids)


def test_megatron_reads_our_files(tok, corpus, tmp_path):
    try:
        from megatron.core.datasets.indexed_dataset import IndexedDataset
    except ImportError as e:
        pytest.skip(f'megatron-core is not installed ({e}); benchmarks/encode_files.py runs this check')
    encode_files(str(corpus['folder'] / 'a.jsonl'), M40, tmp_path / 'o', add_eos=True, partition_bytes=4000)
    merge(tmp_path / 'o', tmp_path / 'train')
    dataset = IndexedDataset(str(tmp_path / 'train'))
    expected = expected_arrays(tok, corpus['texts'], add_eos=True)
    assert len(dataset) == len(corpus['texts'])
    for i in range(len(dataset)):
        assert dataset[i].tolist() == expected.ids[expected.bounds[i]:expected.bounds[i + 1]].tolist()
    assert dataset.document_indices.tolist() == list(range(len(dataset) + 1))


def test_merge_refuses_an_unfinished_run(corpus, tmp_path):
    encode_files(str(corpus['folder'] / 'c.txt'), M40, tmp_path / 'o')
    (tmp_path / 'o' / 'index.json').unlink()
    with pytest.raises(ValueError, match='has not finished'):
        merge(tmp_path / 'o', tmp_path / 'm')
    assert not (tmp_path / 'm.bin').exists()
    with pytest.raises(FileNotFoundError, match='not a shard folder'):
        merge(tmp_path, tmp_path / 'm')


@pytest.mark.parametrize('fmt', ['megatron', 'flat'])
def test_an_empty_input_gives_an_empty_dataset(tmp_path, fmt):
    (tmp_path / 'empty.txt').write_bytes(b'')
    (tmp_path / 'blank.txt').write_bytes(b'\n\n\n')
    summary = encode_files([str(tmp_path / 'empty.txt'), str(tmp_path / 'blank.txt')], M40, tmp_path / 'o', fmt)
    assert summary.shards == 2 and summary.documents == 0 and summary.tokens == 0
    data = merge(tmp_path / 'o', tmp_path / 'm')
    assert data.n_documents == 0 and data.n_tokens == 0 and list(open_tokens(tmp_path / 'o')) == []


def test_long_documents_are_encoded_in_pieces_with_the_same_ids(tok, tmp_path, monkeypatch):
    rnd = random.Random(3)
    words = ['int', ' x', ' = ', '0;', '\n', '\n\n', '\t', '中文', ' \n', 'über', '\n\n\n']
    docs = [''.join(rnd.choice(words) for _ in range(rnd.randint(0, 600))) for _ in range(40)]
    docs.append('no newline at all ' * 40)
    docs.append('\n' * 300 + 'x')
    src = tmp_path / 'long.jsonl'
    src.write_text(''.join(json.dumps({'text': d}) + '\n' for d in docs), encoding='utf-8')
    pieces = list(encode_module._pieces(docs[0] * 10, 50))
    assert ''.join(pieces) == docs[0] * 10 and len(pieces) > 5
    assert all(p.endswith('\n') and not q.startswith('\n') for p, q in zip(pieces, pieces[1:]))
    monkeypatch.setattr(encode_module, 'BATCH_CHARS', 50)  # most documents are cut into pieces
    kw = dict(add_bos=True, add_eos=True)
    summary = encode_files(str(src), M40, tmp_path / 'o', 'flat', workers=2, **kw)
    expected = expected_arrays(tok, docs, **kw)
    data = merge(tmp_path / 'o', tmp_path / 'm')
    assert summary.documents == len(docs) and data.n_documents == len(docs)
    assert np.array_equal(data.offsets, expected.bounds) and np.array_equal(data.tokens(0, None), expected.ids)


def test_batches_stay_within_their_size(monkeypatch):
    rnd = random.Random(4)
    docs = [''.join(rnd.choice(['ab', 'c\n', '\n\n', 'xyz ']) for _ in range(rnd.randint(0, 90))) for _ in range(60)]
    monkeypatch.setattr(encode_module, 'BATCH_CHARS', 50)
    batches = list(encode_module._batches(iter(docs), ReadReport(), split=True))
    assert all(sum(map(len, b.texts)) <= 50 or len(b.texts) == 1 for b in batches)
    texts = [t for b in batches for t in b.texts]
    starts = np.concatenate([b.starts for b in batches])
    ends = np.concatenate([b.ends for b in batches])
    rebuilt, doc = [], ''
    for text, start, end in zip(texts, starts, ends):
        doc = text if start else doc + text
        if end:
            rebuilt.append(doc)
    assert rebuilt == docs
    assert [b.first for b in batches] == [0] + list(np.cumsum([b.ends.sum() for b in batches]))[:-1]


def test_a_run_that_fails_before_its_first_shard_leaves_no_folder(tmp_path):
    corpus = tmp_path / 'c.jsonl'
    corpus.write_bytes(b'{"text": "fine"}\n{bad\n')
    with pytest.raises(ValueError, match='c.jsonl:2: invalid JSON'):
        encode_files(str(corpus), M40, tmp_path / 'out', 'flat')
    assert not (tmp_path / 'out').exists(), 'nothing to resume: the folder it made is gone'
    corpus.write_bytes(b'{"text": "fine"}\n{"text": "mended"}\n')
    assert encode_files(str(corpus), M40, tmp_path / 'out', 'flat').documents == 2, 'the mended run is not refused'
    (tmp_path / 'kept').mkdir()
    corpus.write_bytes(b'{bad\n')
    with pytest.raises(ValueError):
        encode_files(str(corpus), M40, tmp_path / 'kept', 'flat')
    assert (tmp_path / 'kept').is_dir(), 'a folder that was there before stays'


def test_a_tokenizer_that_does_not_pickle_is_refused_for_processes(tmp_path):
    """A process pool that cannot send a task's arguments would hang on shutdown."""
    from bytepiece.tokenfiles import encode_files
    tok = Tokenizer(model_path('bytepiece.plus.40k'))
    tok.unpicklable = lambda x: x
    src = tmp_path / 'in.txt'
    src.write_text('a line\n' * 200, encoding='utf-8')
    with pytest.raises(ValueError, match='does not pickle'):
        encode_files([str(src)], tok, str(tmp_path / 'out'), 'megatron', engine='processes', workers=2,
                     partition_bytes=256, progress=False)
