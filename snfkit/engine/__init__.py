"""Numba kernels. Everything here sees only numpy arrays and NamedTuples of scalars.

Each ``*_nb`` kernel has a plain-Python twin in :mod:`snfkit.reference` that tests compare it with.
The one module that is not a kernel, :mod:`snfkit.engine._cache`, keeps numba's on-disk cache in
step with these sources; it runs once, on import, before any kernel is loaded.
"""

from snfkit.engine._cache import clear_stale as _clear_stale

_clear_stale()  # before any kernel is loaded from numba's cache (see snfkit.engine._cache)
