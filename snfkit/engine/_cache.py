"""Keep numba's on-disk cache in step with snfkit's kernel sources.

numba checks a cached function against its own source file only. A kernel that calls helpers from
another module (``replay_nb`` calls ``state_nb``, ``collect_nb`` uses ``latency_hist`` constants) is
compiled with those helpers inside it, so after an edit of the helper's file alone (a ``git pull``
in an editable install, a developer's change) numba would keep running the old helper code from the
cache. A fresh install rewrites every file and so does not have the problem.

:func:`clear_stale` therefore hashes all numba sources of the package together and, when the hash
differs from the one recorded in a cache folder, deletes that folder's numba cache files
(``*.nbi``, ``*.nbc``) before anything is loaded; they are compiled again on first use. It looks in
the ``__pycache__`` folders next to the sources and, when ``NUMBA_CACHE_DIR`` is set, in the
folders numba derives from it. (numba's last resort, a per-user folder used when neither is
writable, is not checked.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

STAMP = "snfkit-numba-sources.sha256"
"""File in each cache folder recording the sources hash its cache files were compiled from."""

PACKAGE = Path(__file__).resolve().parent.parent


def numba_sources(package: Path = PACKAGE) -> list[Path]:
    """The package's files whose code or constants numba compiles."""
    files = [*sorted((package / "engine").glob("*.py")), *sorted((package / "nf").glob("*.py"))]
    return [*files, package / "latency_hist.py"]


def sources_hash(files: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def cache_dirs(files: Iterable[Path]) -> list[Path]:
    """Where numba keeps the cache of functions defined in these files."""
    dirs = {f.parent / "__pycache__" for f in files}
    try:
        from numba.core import caching, config

        if config.CACHE_DIR:
            for f in files:
                sub = caching._CacheLocator.get_suitable_cache_subpath(str(f))
                dirs.add(Path(config.CACHE_DIR) / sub)
    except (ImportError, AttributeError):  # numba internals moved: in-tree folders only
        pass
    return sorted(dirs)


def clear_stale(files: list[Path] | None = None, dirs: list[Path] | None = None) -> list[Path]:
    """Delete numba cache files compiled from other versions of the sources; returns the folders
    cleared (or newly stamped). Folders that cannot be written are left alone."""
    files = numba_sources() if files is None else files
    digest = sources_hash(files)
    cleared = []
    for d in cache_dirs(files) if dirs is None else dirs:
        stamp = d / STAMP
        try:
            if stamp.read_text() == digest:
                continue
        except OSError:
            pass
        try:
            d.mkdir(parents=True, exist_ok=True)  # (a fresh install: stamp it before numba writes)
            for f in [*d.glob("*.nbi"), *d.glob("*.nbc")]:
                f.unlink(missing_ok=True)
            stamp.write_text(digest)
        except OSError:
            continue
        cleared.append(d)
    return cleared
