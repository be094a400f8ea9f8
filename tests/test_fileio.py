"""Files: atomic outputs (a temporary file, then a rename) and compressed inputs."""

import os
import stat
import subprocess
import sys
import threading

import pytest

from bytepiece.runtime.fileio import atomic_output, atomic_write, compression_suffix, open_input


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / 'model.json'
    path.write_text('old', encoding='utf-8')


    with pytest.raises(TypeError):
        atomic_write(path, 12345)  # not str or bytes: the write fails
    assert path.read_text(encoding='utf-8') == 'old'
    assert os.listdir(tmp_path) == ['model.json'], 'no temporary file is left behind'
    atomic_write(path, 'new ✓')
    assert path.read_text(encoding='utf-8') == 'new ✓'
    atomic_write(str(path), b'bytes')
    assert path.read_bytes() == b'bytes'
    assert os.listdir(tmp_path) == ['model.json']


def test_saved_model_has_default_permissions(tmp_path):
    """A saved model is readable like any file the user writes (0666 & ~umask),
    not private as the temporary file it was written through."""
    import os
    from bytepiece.core.model import save_model
    path = tmp_path / 'm.model'
    save_model({bytes([b]): 1 for b in range(256)}, path)
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask


def test_atomic_output_streams_and_keeps_old_file_on_error(tmp_path):
    path = tmp_path / 'out.txt'
    path.write_bytes(b'old')
    with pytest.raises(RuntimeError, match='stop'):
        with atomic_output(path) as f:
            f.write(b'partial')
            raise RuntimeError('stop')
    assert path.read_bytes() == b'old' and os.listdir(tmp_path) == ['out.txt']
    with atomic_output(str(path)) as f:
        f.write(b'a')
        f.write(b'b')
        assert path.read_bytes() == b'old', 'the file appears only when the block ends'
    assert path.read_bytes() == b'ab' and os.listdir(tmp_path) == ['out.txt']


def test_atomic_output_follows_links_keeps_modes_and_writes_streams_in_place(tmp_path):
    real = tmp_path / 'real.txt'
    real.write_bytes(b'old')
    os.chmod(real, 0o640)
    link = tmp_path / 'link.txt'
    link.symlink_to(real)
    atomic_write(link, b'new')
    assert link.is_symlink() and real.read_bytes() == b'new', 'the link stays, the file it names is replaced'
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640, 'the old file keeps its permissions'
    # A path that is not a regular file is written in place, never replaced by
    # one, also through a link (a FIFO here, not /dev/null: a regression would
    # replace the machine's /dev/null when the tests run as root).
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    fifo_link = tmp_path / 'fifo-link'
    fifo_link.symlink_to(fifo)
    for path, data in [(fifo, b'through the pipe'), (fifo_link, b'through the link')]:
        received = []
        reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
        reader.start()
        atomic_write(path, data)
        reader.join(10)
        assert received == [data] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert fifo_link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ['fifo', 'fifo-link', 'link.txt', 'real.txt']


def test_atomic_output_to_dev_stdout_writes_through_the_descriptor(tmp_path):
    # '/dev/stdout' redirected to a file: written at the descriptor's position,
    # never a new file renamed over the redirect target
    log = tmp_path / 'log.txt'
    log.write_text('earlier\n')
    script = ("import sys; sys.path.insert(0, %r)\n"
              "from bytepiece.runtime.fileio import atomic_write\n"
              "print('header', flush=True)\n"
              "atomic_write('/dev/stdout', b'model\\n')\n"
              "atomic_write('/dev/fd/1', b'again\\n')\n"
              "print('footer')\n" % os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(log, 'ab') as out:
        subprocess.run([sys.executable, '-c', script], stdout=out, check=True, timeout=120)
    assert log.read_text() == 'earlier\nheader\nmodel\nagain\nfooter\n'
    assert os.listdir(tmp_path) == ['log.txt']


def test_atomic_write_errors_name_the_target(tmp_path):
    (tmp_path / 'adir').mkdir()
    with pytest.raises(IsADirectoryError, match='adir'):
        atomic_write(tmp_path / 'adir', 'x')
    with pytest.raises(FileNotFoundError, match='missing'):
        atomic_write(tmp_path / 'missing' / 'm.model', 'x')
    with pytest.raises(FileNotFoundError, match='output directory not found.*newdir'):
        atomic_write(os.path.join(tmp_path, 'newdir', ''), 'x')
    (tmp_path / 'afile').write_text('kept')
    with pytest.raises(NotADirectoryError, match='output path is not a directory.*afile'):
        atomic_write(os.path.join(tmp_path, 'afile', ''), 'x')
    atomic_write(os.fsencode(tmp_path / 'bytes-path'), 'x')  # a bytes path works too
    assert (tmp_path / 'bytes-path').read_text() == 'x' and (tmp_path / 'afile').read_text() == 'kept'
    assert sorted(os.listdir(tmp_path)) == ['adir', 'afile', 'bytes-path'] and os.listdir(tmp_path / 'adir') == []


@pytest.mark.parametrize('suffix', ['', '.gz', '.xz', '.bz2', '.GZ'])
def test_open_input_decompresses_by_suffix(tmp_path, suffix):
    import bz2
    import gzip
    import lzma
    data = 'ünïcödé\n'.encode() * 100
    compress = {'': bytes, '.gz': gzip.compress, '.xz': lzma.compress, '.bz2': bz2.compress}[suffix.lower()]
    path = tmp_path / f'text.txt{suffix}'
    path.write_bytes(compress(data))
    assert compression_suffix(path) == suffix.lower()
    with open_input(path) as f:
        assert f.read() == data
    with pytest.raises(IsADirectoryError, match='directory'):
        open_input(tmp_path)
