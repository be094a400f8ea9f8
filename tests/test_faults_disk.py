"""A full disk, for real: training, file encoding and merging write into a
small tmpfs and stop with "No space left on device" wherever the space runs
out; the same call, once the file system is grown (its files kept), gives
the output of a run that never failed. Mounting needs root (or a user
namespace): where the machine gives neither, the test cannot run and says so."""

import errno
import os
import subprocess

import pytest

from bytepiece import Trainer
from bytepiece.tokenfiles import encode_files, merge

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'fixtures', 'train', 'mixed.jsonl')
PAGE = 4096
# where each method's work directory keeps its phases' outputs
PHASES = {'unigram': {'chunks', 'prepare', 'unigram'}, 'bytepiece': {'chunks', 'prepare', 'level3', 'model', 'pieces'}}


class SmallFileSystem:
    """A tmpfs mounted at ``path``, grown in place with ``resize``."""

    def __init__(self, path, size):
        self.path = str(path)
        os.makedirs(self.path, exist_ok=True)
        done = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', self.path],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f'this machine lets no test mount a small file system: {done.stderr.strip()}')

    def resize(self, size):
        subprocess.run(['mount', '-o', f'remount,size={size}', self.path], check=True)

    def unmount(self):
        subprocess.run(['umount', '-l', self.path], check=True)


@pytest.fixture
def small_fs(tmp_path):
    fs = SmallFileSystem(tmp_path / 'fs', PAGE)
    yield fs
    fs.unmount()


def used(small_fs):
    st = os.statvfs(small_fs.path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def until_it_fits(small_fs, job, first=PAGE, step=PAGE):
    """Run ``job`` with the file system at ``first`` bytes, then ``step``
    bytes larger after each full-disk stop, until it finishes; the result,
    and the files it stopped at, in order."""
    stops, size = [], first
    small_fs.resize(size)
    while True:
        try:
            result = job()
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
            assert not [n for _, _, files in os.walk(small_fs.path) for n in files if '.tmp' in n], \
                'no partial file is left'
            stops.append(os.path.relpath(e.filename or '?', small_fs.path))
            size += step
            small_fs.resize(size)
            continue
        return result, stops


@pytest.mark.parametrize('method', ['unigram', 'bytepiece'])
def test_training_stopped_by_a_full_disk_resumes_to_the_same_model(small_fs, tmp_path, method):
    def train(work_dir, model):
        trainer = Trainer(max_vocab_size=[400, 600], min_count=2, method=method)
        trainer.train(files=CORPUS, field='body', progress=False, workers=2, work_dir=work_dir)
        return trainer.save(model)

    reference = train(tmp_path / 'ref.work', tmp_path / 'ref.model')
    paths, stops = until_it_fits(small_fs, lambda: train(os.path.join(small_fs.path, 'work'),
                                                         os.path.join(small_fs.path, 'model')), step=2 * PAGE)
    phases = {stop.split(os.sep)[1] if stop.startswith('work') else 'model' for stop in stops}
    assert PHASES[method] <= phases, f'the disk ran out in every phase: {sorted(phases)}'
    for ours, ref in zip(paths, reference):
        with open(ours, 'rb') as a, open(ref, 'rb') as b:
            assert a.read() == b.read()


def test_file_encoding_and_merging_stopped_by_a_full_disk_resume_to_the_same_bytes(small_fs, tmp_path):
    trainer = Trainer(max_vocab_size=500)
    trainer.train(files=CORPUS, field='body', progress=False)
    tokenizer = trainer.tokenizer(500)
    kw = dict(field='body', partition_bytes=4000, workers=2)
    encode_files(CORPUS, tokenizer, tmp_path / 'ref', 'megatron', **kw)
    merge(tmp_path / 'ref', tmp_path / 'ref-merged')
    shards = os.path.join(small_fs.path, 'shards')
    _, stops = until_it_fits(small_fs, lambda: encode_files(CORPUS, tokenizer, shards, 'megatron', **kw))
    assert len(stops) > 3, 'the disk ran out'
    for name in os.listdir(tmp_path / 'ref'):
        if name.endswith(('.bin', '.idx')):
            assert (tmp_path / 'ref' / name).read_bytes() == open(os.path.join(shards, name), 'rb').read()
    # merging next to the shards, in the space left
    merged = os.path.join(small_fs.path, 'merged')
    _, stops = until_it_fits(small_fs, lambda: merge(shards, merged), first=used(small_fs) + 2 * PAGE)
    assert stops and all(stop.startswith('merged.') for stop in stops), stops
    for suffix in ('.bin', '.idx'):
        assert (tmp_path / f'ref-merged{suffix}').read_bytes() == open(merged + suffix, 'rb').read()
