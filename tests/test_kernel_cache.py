"""The numba cache of the kernels is dropped when any kernel source changes
(numba itself checks only the file of each function it compiled)."""

import os

from bytepiece.kernels import CACHE_STAMP, drop_stale_cache


def make_package(folder, sources):
    os.makedirs(folder / '__pycache__', exist_ok=True)
    for name, text in sources.items():
        (folder / name).write_text(text)


def cached_files(folder):
    return sorted(n for n in os.listdir(folder / '__pycache__') if n.endswith(('.nbi', '.nbc')))


def test_a_change_in_any_source_drops_the_cache(tmp_path):
    make_package(tmp_path, {'a.py': 'x = 1\n', 'b.py': 'y = 2\n'})
    cache = tmp_path / '__pycache__'
    for name in ('a.f-1.py311.nbi', 'a.f-1.py311.1.nbc', 'b.g-3.py311.nbi'):
        (cache / name).write_bytes(b'compiled')
    assert drop_stale_cache(str(tmp_path)) == 3  # no stamp yet: compiled from unknown sources
    assert cached_files(tmp_path) == [] and (cache / CACHE_STAMP).exists()
    (cache / 'a.f-1.py311.nbi').write_bytes(b'compiled')  # numba caches again
    assert drop_stale_cache(str(tmp_path)) == 0  # the same sources: kept
    assert cached_files(tmp_path) == ['a.f-1.py311.nbi']
    (tmp_path / 'b.py').write_text('y = 3\n')  # only the other module changes
    assert drop_stale_cache(str(tmp_path)) == 1
    assert cached_files(tmp_path) == []
    (cache / 'a.f-1.py311.nbi').write_bytes(b'compiled')
    (tmp_path / 'c.py').write_text('')  # a new module counts too
    assert drop_stale_cache(str(tmp_path)) == 1


def test_no_cache_folder_is_left_alone(tmp_path):
    (tmp_path / 'a.py').write_text('x = 1\n')
    assert drop_stale_cache(str(tmp_path)) == 0
    assert not (tmp_path / '__pycache__').exists()


def test_the_installed_kernels_are_stamped():
    import bytepiece.kernels as kernels
    from bytepiece.kernels import sources_digest
    folder = os.path.dirname(kernels.__file__)
    stamp = os.path.join(folder, '__pycache__', CACHE_STAMP)
    if os.path.exists(stamp):  # a read-only install has no stamp (numba caches elsewhere)
        with open(stamp, encoding='ascii') as f:
            assert f.read().strip() == sources_digest(folder)
