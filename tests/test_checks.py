"""The one-pass column scan of replay_arrays against its plain-Python twin."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snfkit.engine.checks_nb import scan_columns_nb
from snfkit.reference.checks import scan_columns_reference


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 50), st.integers(-3, 2**40),
                         st.one_of(st.integers(0, 1600), st.integers(-2, 2**33))),
                min_size=1, max_size=60),
       st.booleans())  # fmt: skip
def test_scan_matches_twin(rows, sort):
    ts = np.array([r[0] for r in rows], np.int64)
    if sort:
        ts = np.sort(ts)
    flow = np.array([r[1] for r in rows], np.int64)
    wl = np.array([r[2] for r in rows], np.int64)
    got = tuple(int(v) for v in scan_columns_nb(ts, flow, wl))
    assert got == scan_columns_reference(ts, flow, wl)
    if sort:
        assert got[0] == -1
