"""snfkit.engine._cache: numba cache files go when any kernel source changes, and only then."""

from __future__ import annotations

from snfkit.engine._cache import STAMP, clear_stale, numba_sources


def _tree(tmp_path):
    src = tmp_path / "pkg"
    src.mkdir()
    a, b = src / "a_nb.py", src / "b_nb.py"
    a.write_text("x = 1\n")
    b.write_text("y = 2\n")
    cache = src / "__pycache__"
    cache.mkdir()
    return [a, b], cache


def _fill(cache):
    for name in ("a_nb.f-1.py311.nbi", "a_nb.f-1.py311.1.nbc", "b_nb.g-3.py311.nbi"):
        (cache / name).write_bytes(b"cached")


def test_cache_cleared_when_a_helper_file_changes(tmp_path):
    files, cache = _tree(tmp_path)
    _fill(cache)
    assert clear_stale(files, [cache]) == [cache]  # no stamp yet: cleared and stamped
    assert not list(cache.glob("*.nb?")) and (cache / STAMP).exists()
    _fill(cache)
    assert clear_stale(files, [cache]) == []  # same sources: the cache stays
    assert len(list(cache.glob("*.nb?"))) == 3
    files[1].write_text("y = 3\n")  # only the helper's file changes
    assert clear_stale(files, [cache]) == [cache]
    assert not list(cache.glob("*.nb?"))


def test_missing_folder_is_created_and_stamped(tmp_path):
    files, _ = _tree(tmp_path)
    other = tmp_path / "elsewhere" / "cache"
    assert clear_stale(files, [other]) == [other]
    assert len((other / STAMP).read_text()) == 64  # a sha256, hex
    assert clear_stale(files, [other]) == []


def test_package_sources_cover_the_kernels():
    names = {p.name for p in numba_sources()}
    assert {"replay_nb.py", "state_nb.py", "events_nb.py", "collect_nb.py", "nat.py",
            "latency_hist.py"} <= names  # fmt: skip
