"""The numba decorator of the replay kernel's helpers."""

from __future__ import annotations

import numba as nb
from numba.core.options import DefaultOptions

_NO_REFCOUNT = {"_nrt": False} if hasattr(DefaultOptions, "_nrt") else {}
"""numba's ``_nrt`` option is not public; should a release drop it, helpers compile as plain
``njit`` (same results, a little slower)."""


def helper(fn):
    """``njit`` for a replay-kernel helper that creates no array: cached, and compiled without
    numba's reference counting (the ``_nrt=False`` option). With it, a helper called for every item
    or push increfs and decrefs the arrays it is given or passes on, an atomic operation each, which
    cost 5-10 % of the proactive replay; without it a function cannot create or return arrays, and
    these never do. Like the kernels, helpers use numba's ``error_model="numpy"``: no check for a
    zero divisor on each integer division (every divisor here is a validated positive parameter or
    guarded), which saves a branch per division and about 1.5 % of the kernel."""
    return nb.njit(cache=True, error_model="numpy", **_NO_REFCOUNT)(fn)
