"""Numba kernels. Everything here sees only numpy arrays and NamedTuples of scalars.

Each ``*_nb`` kernel has a plain-Python twin in :mod:`snfkit.reference` that tests compare it with.
"""

from snfkit.engine._cache import clear_stale as _clear_stale

_clear_stale()  # before any kernel is loaded from numba's cache (see snfkit.engine._cache)
