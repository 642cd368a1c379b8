"""Numba kernels. Everything here sees only numpy arrays and NamedTuples of scalars.

Each ``*_nb`` kernel has a plain-Python twin in :mod:`snfkit.reference` that tests compare it with.
"""
