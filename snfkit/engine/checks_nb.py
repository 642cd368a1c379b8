"""One pass over a chunk's replay columns for the checks :func:`snfkit.prepared.replay_arrays` makes.

The plain-Python twin is :func:`snfkit.reference.checks.scan_columns_reference`.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def scan_columns_nb(ts, flow):
    """``(back, lo, hi)`` for non-empty ``ts`` and ``flow``: the first row whose time is below the
    previous row's (-1 if none), and the smallest and largest flow id."""
    back = np.int64(-1)
    lo = flow[0]
    hi = flow[0]
    for i in range(1, ts.shape[0]):
        if ts[i] < ts[i - 1] and back < 0:
            back = i
        f = flow[i]
        if f < lo:
            lo = f
        if f > hi:
            hi = f
    return back, lo, hi
