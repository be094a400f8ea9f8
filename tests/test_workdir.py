"""Work directories: outputs that appear only complete, a manifest that
refuses another run's arguments, and bucketed array files."""

import json
import os

import numpy as np
import pytest

from bytepiece.runtime.lock import FolderInUse
from bytepiece.runtime.workdir import FORMAT_VERSION, WorkDir, bucket_rows, read_buckets, write_buckets


def test_a_run_resumes_in_its_own_directory(tmp_path):
    work = WorkDir(tmp_path / 'w', {'order': 6, 'files': ['a', 'b']})
    work.save('phase/0001.npz', keys=np.arange(5), counts=np.ones(5))
    with pytest.raises(FolderInUse):
        WorkDir(tmp_path / 'w', {'order': 6, 'files': ['a', 'b']})  # one run at a time
    work.release()
    again = WorkDir(tmp_path / 'w', {'order': 6, 'files': ['a', 'b']})
    assert again.exists('phase/0001.npz')
    assert again.load('phase/0001.npz')['keys'].tolist() == [0, 1, 2, 3, 4]
    again.release()
    with pytest.raises(ValueError, match=r'other arguments \(run.order: 6 there, 7 now\)'):
        WorkDir(tmp_path / 'w', {'order': 7, 'files': ['a', 'b']})
    assert again.exists('phase/0001.npz'), 'nothing is deleted'
    again.close()
    assert not os.path.exists(tmp_path / 'w')


def test_a_directory_of_another_format_version_is_refused_unless_replaced(tmp_path):
    work = WorkDir(tmp_path / 'w', {'order': 6})
    work.save('phase/0001.npz', keys=np.arange(5))
    work.release()
    manifest = json.loads((tmp_path / 'w' / 'manifest.json').read_text())
    (tmp_path / 'w' / 'manifest.json').write_text(json.dumps(dict(manifest, version=FORMAT_VERSION - 1)))
    with pytest.raises(ValueError, match=rf'another version of bytepiece \(format {FORMAT_VERSION - 1}, '
                                         rf'this one writes {FORMAT_VERSION}\)'):
        WorkDir(tmp_path / 'w', {'order': 6})
    again = WorkDir(tmp_path / 'w', {'order': 6}, replace=True)
    assert not again.exists('phase/0001.npz'), 'replaced: the files of the old run are gone'
    again.close()


def test_a_folder_of_other_files_is_refused(tmp_path):
    (tmp_path / 'mine.txt').write_text('data')
    with pytest.raises(ValueError, match='not empty and has no manifest.json'):
        WorkDir(tmp_path, {})
    assert (tmp_path / 'mine.txt').read_text() == 'data'


def test_a_temporary_directory_goes_away(tmp_path):
    work = WorkDir(None, {'x': 1})
    path = work.path
    work.save('a.npz', x=np.zeros(3))
    work.close(keep=True)
    assert not os.path.exists(path)


def test_a_failed_save_leaves_nothing(tmp_path):
    class Broken:
        def __array__(self, *args, **kwargs):
            raise RuntimeError('cannot become an array')

    work = WorkDir(tmp_path / 'w', {})
    with pytest.raises(RuntimeError, match='cannot become an array'):
        work.save('a.npz', x=np.zeros(3), y=Broken())  # fails after the first array is written
    assert not work.exists('a.npz')
    assert [n for n in os.listdir(tmp_path / 'w') if n not in ('manifest.json', '.lock')] == []


def test_buckets_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    n, n_buckets = 1000, 7
    buckets = rng.integers(0, n_buckets, n)
    keys = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    counts = rng.integers(1, 100, n)
    path = str(tmp_path / 'b.bin')
    write_buckets(path, buckets, n_buckets, keys, counts)
    for b in range(n_buckets):
        got_keys, got_counts = read_buckets(path, b)
        assert got_keys.dtype == np.uint64 and got_counts.dtype == counts.dtype
        assert np.array_equal(got_keys, keys[buckets == b]) and np.array_equal(got_counts, counts[buckets == b])
    got_keys, _ = read_buckets(path, 2, 5)
    assert np.array_equal(got_keys, keys[(buckets >= 2) & (buckets < 5)][np.argsort(buckets[(buckets >= 2) & (buckets < 5)], kind='stable')])
    assert bucket_rows(path).tolist() == np.bincount(buckets, minlength=n_buckets).tolist()
    write_buckets(path, np.zeros(0, np.int64), 3, np.zeros(0, np.uint64))
    assert read_buckets(path, 2)[0].size == 0


def test_buckets_with_strings(tmp_path):
    rng = np.random.default_rng(1)
    strings = [bytes(rng.integers(0, 256, rng.integers(0, 9)).astype(np.uint8)) for _ in range(300)]
    data = np.frombuffer(b''.join(strings), np.uint8)
    bounds = np.concatenate([[0], np.cumsum([len(x) for x in strings])]).astype(np.int64)
    buckets = rng.integers(0, 5, len(strings))
    counts = np.arange(len(strings))
    path = str(tmp_path / 's.bin')
    write_buckets(path, buckets, 5, counts, strings=(data, bounds))
    for lo, hi in ((0, 1), (1, 4), (4, 5), (0, 5)):
        got, (gdata, gbounds) = read_buckets(path, lo, hi)
        want = [i for b in range(lo, hi) for i in np.flatnonzero(buckets == b)]
        assert got.tolist() == want
        assert [gdata[gbounds[k]:gbounds[k + 1]].tobytes() for k in range(len(want))] == [strings[i] for i in want]
    write_buckets(path, np.zeros(0, np.int64), 2, np.zeros(0), strings=(np.zeros(0, np.uint8), np.zeros(1, np.int64)))
    got, (gdata, gbounds) = read_buckets(path, 0, 2)
    assert got.size == 0 and gdata.size == 0 and gbounds.tolist() == [0]
