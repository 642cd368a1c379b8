"""The numba decorator of the replay kernel's helpers, and the one kind of array kernels take.

Compile time (a first run compiles every kernel; ``benchmarks/bench_coldstart.py``): numba
compiles a kernel once per combination of its argument types, and a constant is a type of its own.
A jitted function calling a helper with a literal (``f(x, 0)``, a module constant such as
``SHARE_ONE``, or a variable that starts as ``0`` and changes in a loop, whose first type is the
literal) compiles that helper for ``Literal[int](0)`` as well as for ``int64``. The kernels pass
``np.int64(0)`` / ``np.bool_(True)`` instead, which are typed ``int64`` / ``bool``: one version of
the helper. Arrays: :func:`kernel_input`.
"""

from __future__ import annotations

import numba as nb
import numpy as np
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


def kernel_input(a, dtype=np.int64) -> np.ndarray:
    """``a`` as a read-only C-contiguous array of ``dtype``: the one kind of input array the
    kernels are compiled for. numba compiles (or loads from its cache) one version of a kernel per
    combination of dtypes, layouts and writability of its arguments, and polars hands out read-only
    views or writable copies depending on the column's memory; the replay kernel compiled a second
    time for a writable ``flow`` cost 4 s of the demo's first run (``benchmarks/bench_coldstart.py``).
    No copy when ``a`` is already such an array; a read-only view when only its flag differs (the
    caller's array stays writable)."""
    a = np.ascontiguousarray(a, dtype)
    if a.flags.writeable:
        a = a.view()
        a.setflags(write=False)
    return a
