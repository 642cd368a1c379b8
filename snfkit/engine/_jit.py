"""The numba decorator of the replay kernel's helpers."""

from __future__ import annotations

import numba as nb


def helper(fn):
    """``njit`` for a replay-kernel helper that creates no array: cached, and compiled without
    numba's reference counting (the ``_nrt=False`` option). With it, a helper called for every item
    or push increfs and decrefs the arrays it is given or passes on, an atomic operation each, which
    cost 5-10 % of the proactive replay; without it a function cannot create or return arrays, and
    these never do."""
    return nb.njit(cache=True, _nrt=False)(fn)
