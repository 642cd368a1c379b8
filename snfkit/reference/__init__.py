"""Plain-Python twins of the numba kernels in :mod:`snfkit.engine`, written for clarity, not speed.

Tests run each kernel and its twin on random inputs (hypothesis) and require identical outputs.
"""
