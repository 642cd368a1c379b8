"""One pass over a chunk's replay columns for the checks :func:`snfkit.prepared.replay_arrays` makes.

The plain-Python twin is :func:`snfkit.reference.checks.scan_columns_reference`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

WIRE_LEN_MAX = 2**32 - 1
"""The largest ``wire_len`` a packets table holds (UInt32)."""


@nb.njit(cache=True, nogil=True)
def scan_columns_nb(ts, flow, wire_len):
    """``(back, lo, hi, bad_len)`` for non-empty columns: the first row whose time is below the
    previous row's (-1 if none), the smallest and largest flow id, and the first row whose
    ``wire_len`` is negative or above :data:`WIRE_LEN_MAX` (-1 if none)."""
    back = np.int64(-1)
    bad_len = np.int64(-1)
    lo = flow[0]
    hi = flow[0]
    for i in range(ts.shape[0]):
        if i > 0 and ts[i] < ts[i - 1] and back < 0:
            back = i
        f = flow[i]
        if f < lo:
            lo = f
        if f > hi:
            hi = f
        w = wire_len[i]
        if (w < 0 or w > WIRE_LEN_MAX) and bad_len < 0:
            bad_len = i
    return back, lo, hi, bad_len
