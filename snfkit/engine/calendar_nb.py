"""A unit's calendar of busy intervals (docs/model.md "Packets and work items").

A state wait does not block a unit: each unit keeps up to :data:`CALENDAR` busy intervals ahead of
now, and a packet takes the earliest gap of its length from its earliest start, so packets of other
flows fill the time a flowlet waits for its state. The functions work on one unit record
(:data:`snfkit.engine.replay_nb.UNIT_DTYPE`: fields ``cal_n``, ``cal_s``, ``cal_e``, ``cal_full``);
the replay kernel books packet services with them and :mod:`snfkit.engine.state_nb` a push's cost
on its sending unit.
"""

from __future__ import annotations

from snfkit.engine._jit import helper

CALENDAR = 16
"""Busy intervals a unit remembers ahead of now (packets booked after a state wait leave gaps that
later packets of other flows may fill; when all 16 are taken, packets go after the last one)."""


@helper
def cal_fit(un, s0, d):
    """Earliest start >= s0 where a service of d fits between the unit's busy intervals."""
    n = un.cal_n
    if n == 0 or un.cal_e[n - 1] <= s0:
        return s0  # after every busy interval (the common case)
    if n == CALENDAR and un.cal_e[n - 1] > s0:
        s0 = un.cal_e[n - 1]  # full: no gap filling
    s = s0
    for k in range(n):
        if un.cal_e[k] <= s:
            continue
        if un.cal_s[k] >= s + d:
            break
        s = un.cal_e[k]
    return s


@helper
def cal_book(un, t, s, d):
    """Mark [s, s + d) busy (found by :func:`cal_fit`); forget intervals that ended by t.

    The two common cases are handled here, small enough to be inlined into the kernel, with the
    same outcome as the general code in :func:`_cal_book_general`."""
    n = un.cal_n
    if n == 0 or un.cal_e[n - 1] <= t:  # everything ended by t: the new interval is the only one
        un.cal_s[0] = s
        un.cal_e[0] = s + d
        un.cal_n = 1
    elif un.cal_e[0] > t and un.cal_e[n - 1] == s and un.cal_s[n - 1] < s:  # extends the last one
        un.cal_e[n - 1] = s + d
    else:
        _cal_book_general(un, t, s, d)


@helper
def _cal_book_general(un, t, s, d):
    n = un.cal_n
    drop = 0
    while drop < n and un.cal_e[drop] <= t:
        drop += 1
    if drop:
        for k in range(n - drop):
            un.cal_s[k] = un.cal_s[k + drop]
            un.cal_e[k] = un.cal_e[k + drop]
        n -= drop
    k = 0
    while k < n and un.cal_s[k] < s:
        k += 1
    e = s + d
    if k > 0 and un.cal_e[k - 1] == s:  # extends the interval before
        un.cal_e[k - 1] = e
        if k < n and un.cal_s[k] == e:  # and closes the gap to the next
            un.cal_e[k - 1] = un.cal_e[k]
            for j in range(k, n - 1):
                un.cal_s[j] = un.cal_s[j + 1]
                un.cal_e[j] = un.cal_e[j + 1]
            n -= 1
    elif k < n and un.cal_s[k] == e:  # extends the interval after
        un.cal_s[k] = s
    elif n < CALENDAR:
        for j in range(n, k, -1):
            un.cal_s[j] = un.cal_s[j - 1]
            un.cal_e[j] = un.cal_e[j - 1]
        un.cal_s[k] = s
        un.cal_e[k] = e
        n += 1
    else:  # full, and s is at or after the last end (cal_fit saw to it)
        un.cal_e[n - 1] = e
        un.cal_full += 1
    un.cal_n = n


@helper
def drain_shape(un, s0, size, p):
    """The unit's drain shaper (``unit_drain_bps``, ``unit_burst_bytes``): a packet admitted at s0
    starts no earlier than the unit's theoretical arrival time less the burst tolerance (GCRA,
    virtual scheduling), which then moves on by the packet's bytes at the drain rate. A unit thus
    serves a burst of up to ``unit_burst_bytes`` at its service speed and sustains at most its drain
    rate. Returns the shaped earliest start."""
    lim = un.tat - p.drain_burst_ns
    e = s0 if s0 > lim else lim
    base = un.tat if un.tat > e else e
    un.tat = base + size * p.drain_ps_per_byte // 1000
    return e
