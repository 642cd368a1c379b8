"""The unit calendar (busy intervals with gap filling): numba helpers vs the twin's Unit."""

import numba as nb
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snfkit.engine.calendar_nb import CALENDAR, cal_book, cal_fit
from snfkit.engine.pool_nb import UNIT_DTYPE
from snfkit.reference.replay import Unit


@nb.njit(cache=True)
def _book_all(units, ts, s0s, ds, starts):
    un = units[0]
    for k in range(ts.shape[0]):
        s = cal_fit(un, s0s[k], ds[k])
        cal_book(un, ts[k], s, ds[k])
        starts[k] = s


@st.composite
def bookings(draw):
    n = draw(st.integers(1, 80))
    t = 0
    rows = []
    for _ in range(n):
        t += draw(st.integers(0, 30))
        # most packets start at arrival; some wait for state (a later s0) and leave gaps
        s0 = t + draw(st.sampled_from([0, 0, 0, draw(st.integers(0, 200))]))
        rows.append((t, s0, draw(st.integers(1, 25))))  # services are >= 1 ns (UnitParams)
    return np.array(rows, np.int64).reshape(-1, 3)


@settings(max_examples=400, deadline=None)
@given(bookings())
def test_calendar_equals_twin(rows):
    units = np.zeros(1, UNIT_DTYPE)
    starts = np.zeros(rows.shape[0], np.int64)
    _book_all(units, rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy(), starts)
    twin = Unit(0, 0, 0, 0, 0, 0)
    expected = []
    for t, s0, d in rows.tolist():
        s = twin.fit(s0, d)
        twin.book(t, s, d)
        expected.append(s)
    assert starts.tolist() == expected
    un = units[0]
    n = int(un["cal_n"])
    assert n <= CALENDAR
    got = [[int(un["cal_s"][k]), int(un["cal_e"][k])] for k in range(n)]
    assert got == twin.calendar
