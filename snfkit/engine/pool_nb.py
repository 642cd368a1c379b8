"""The unit pool: compute units' records, load windows, calendars of busy intervals and lifecycle.

One place for what every controller does with its units (the calendar of busy intervals is
:mod:`snfkit.engine.calendar_nb`) (DESIGN.md "Time, packets, units"): the
replay kernel (:mod:`snfkit.engine.replay_nb`) and failure recovery (:mod:`snfkit.engine.faults_nb`)
call these helpers, and a resource manager leasing units to several controllers would too. The
semantics are stated in :mod:`snfkit.engine.replay_nb`'s docstring ("Load of a unit",
"Retirement") and by the plain-Python twin's ``Unit`` (:mod:`snfkit.reference.replay`).

Units live in slots (IDs, reused after retirement); ``ctl.hi`` is one past the highest active slot.

Shares. A slot holds a whole unit (``share`` = :data:`SHARE_ONE`) unless its controller works under
a resource manager (``p.rm``, paper §7): a slot is then a *lease* of ``share`` thousandths of a unit,
granted ``rm_rtt_ns`` after it is asked for. A lease plans with that part of the unit's capacity
(``cap``) and serves at that part of its speed (:func:`lease_service`: a shared unit serves each
controller up to its share). The resource manager's side, packing every controller's leases onto shared units,
is :func:`pack_leases_nb` at the end of this module. The epoch's lease request is :func:`lease_to`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from snfkit.engine._jit import helper
from snfkit.engine.calendar_nb import CALENDAR
from snfkit.engine.enums import LoadEstimator

INF = np.int64(2**62)  # "no event"
SHARE_ONE = 1000
"""A whole unit, in the thousandths that leases are counted in."""


UNIT_DTYPE = np.dtype(
    [
        ("active", np.bool_),
        ("drawn", np.bool_),  # scratch flag of the weighted replica draw
        ("w", np.float64),  # the slot's replica draw weight, 1/(ID+1)
        ("ld", np.float64),  # load (bps) in bucket ctl.load_bucket; INF when not active
        ("sc", np.float64),  # ld / capacity: the score before state affinity
        ("m", np.float64),  # measured load in bucket ctl.load_bucket
        ("life", np.int64),  # lifetime id of the slot's current unit
        ("start", np.int64),
        ("ready", np.int64),
        ("free", np.int64),  # time the unit finishes its queued work
        ("last_recv", np.int64),
        ("open", np.int64),  # open items on the unit
        ("committed", np.float64),  # sum of open items' estimates
        ("pkts", np.int64),
        ("bytes", np.int64),
        ("busy", np.int64),
        ("ring_sum", np.int64),  # sum over the bucket ring (complete buckets in the window)
        ("cur_bucket", np.int64),
        ("cur_bytes", np.int64),
        ("start_bucket", np.int64),
        ("cal_n", np.int64),  # busy intervals in the calendar
        ("cal_s", np.int64, (CALENDAR,)),  # their starts, sorted; disjoint
        ("cal_e", np.int64, (CALENDAR,)),  # their ends
        ("cal_full", np.int64),  # placements made at the calendar's end because it was full
        # (the gap before such a placement is booked busy: no later packet fills it)
        # a push from this slot: its candidates' count and weight sum, valid while ctl.act_ver
        # equals px_ver (the active set has not changed since they were summed)
        ("px_ver", np.int64),
        ("px_n", np.int64),
        ("px_tot", np.float64),
        # failures (snfkit.engine.faults_nb): the in-flight ring's first entry and length, the
        # latest release of a packet it dropped while full, and FTMB's log since the checkpoint
        ("if_head", np.int64),
        ("if_n", np.int64),
        ("if_lost", np.int64),
        ("ck_index", np.int64),
        ("ck_busy", np.int64),
        ("tat", np.int64),  # drain shaper: theoretical arrival time of the next packet (GCRA)
        ("share", np.int64),  # thousandths of a unit this slot holds (SHARE_ONE: a whole unit)
        ("cap", np.float64),  # its planning capacity: unit_capacity_bps * share / SHARE_ONE
    ],
    align=True,
)

RECORD_DTYPE = np.dtype(
    [
        ("unit", np.int64),
        ("unit_life", np.int64),
        ("start_ns", np.int64),
        ("ready_ns", np.int64),
        ("retire_ns", np.int64),
        ("packets", np.int64),
        ("bytes", np.int64),
        ("busy_ns", np.int64),
        ("cal_full", np.int64),  # packets booked after the last interval: the calendar was full
        ("failed", np.bool_),  # the lifetime ended in a failure (snfkit.engine.faults_nb)
        ("share", np.int64),  # thousandths of a unit (a lease under a resource manager)
    ],
    align=True,
)
"""One unit lifetime, written when the unit retires."""

# ----------------------------------------------------------------------------- unit load


@helper
def roll_unit(units, ring, u, b, n_buckets):
    """Bring unit u's bucket ring forward to bucket b."""
    un = units[u]
    cb = un.cur_bucket
    if b <= cb:
        return
    # push the current bucket into the ring, then clear the buckets skipped over
    steps = b - cb
    if steps > n_buckets:
        steps = n_buckets + 1
    for k in range(steps):
        slot = (cb + k) % n_buckets
        un.ring_sum -= ring[u, slot]
        if k == 0:
            ring[u, slot] = un.cur_bytes
            un.ring_sum += un.cur_bytes
        else:
            ring[u, slot] = 0
    un.cur_bucket = b
    un.cur_bytes = 0


@helper
def measured_load(un, b, p):
    """Measured load of unit record un in bucket b (its ring already rolled to b): bytes over the
    complete buckets of the window (fewer for a young unit) / that time."""
    nb_ = b - un.start_bucket
    if nb_ > p.load_buckets:
        nb_ = p.load_buckets
    if nb_ > 0:
        return un.ring_sum * 8e9 / (nb_ * p.load_bucket_ns)
    return 0.0


@helper
def set_load(un, p):
    """Unit record un's load from its measured load and committed estimates (module docstring);
    called whenever either changes, so the assignment loop only reads ``ld`` and ``sc``."""
    load = un.m
    if p.load_estimator == LoadEstimator.committed and un.committed > load:
        load = un.committed
    un.ld = load
    un.sc = load / un.cap


@helper
def refresh_loads(units, ring, c, b, p):
    """Roll every active unit to bucket b and recompute its measured load (once per bucket: the
    window holds complete buckets only, so the measured load is fixed within a bucket)."""
    for u in range(c.hi):
        un = units[u]
        if un.active:
            if b > un.cur_bucket:
                roll_unit(units, ring, u, b, p.load_buckets)
            un.m = measured_load(un, b, p)
            set_load(un, p)
    c.load_bucket = b


# ----------------------------------------------------------------------------- unit lifecycle


@helper
def lease_service(service, share):
    """A service of ``service`` ns on a slot holding ``share`` thousandths of a unit: the slot gets
    that part of the unit's time, so the service stretches by SHARE_ONE / share (rounded up)."""
    if share == SHARE_ONE:
        return service
    return (service * SHARE_ONE + share - 1) // share


@helper
def start_unit(units, ring, c, t, p):
    """Start a unit at the lowest free slot at time t (ready after ``unit_startup_ns``); under a
    resource manager, ask for a lease of ``rm_increment`` instead (granted after ``rm_rtt_ns``).
    Returns the slot or -1 when the pool is full."""
    if p.rm:
        return open_slot(units, ring, c, t, p.rm_increment, t + p.rm_rtt_ns, p)
    return open_slot(units, ring, c, t, np.int64(SHARE_ONE), t + p.unit_startup_ns, p)


@helper
def open_slot(units, ring, c, t, share, ready, p):
    """Open the lowest free slot at time t holding ``share`` thousandths of a unit, usable from
    ``ready``; returns the slot or -1 when the pool is full."""
    for u in range(p.max_units):
        un = units[u]
        if not un.active:
            un.active = True
            c.act_ver += 1
            un.life = c.lives
            c.lives += 1
            un.start = t
            un.ready = ready
            un.free = ready
            un.share = share
            un.cap = p.unit_capacity_bps * share / SHARE_ONE
            un.last_recv = t
            un.open = 0
            un.committed = 0.0
            un.pkts = 0
            un.bytes = 0
            un.busy = 0
            ring[u, :] = 0
            un.ring_sum = 0
            un.cur_bucket = t // p.load_bucket_ns
            un.cur_bytes = 0
            un.start_bucket = t // p.load_bucket_ns
            un.m = 0.0
            set_load(un, p)
            un.cal_n = 0
            un.cal_full = 0
            un.if_head = 0
            un.if_n = 0
            un.if_lost = -1
            un.ck_index = -1
            un.ck_busy = 0
            un.tat = 0
            if u >= c.hi:
                c.hi = u + 1
            went_idle(un, c, p)
            return u
    return -1


@helper
def retire_time(un, idle_ns):
    """When a unit with no open item retires: idle_ns after its last packet, once its queue drains."""
    when = un.last_recv + idle_ns
    return un.free if un.free > when else when


@helper
def retire_unit(units, records, c, u, when):
    un = units[u]
    rec = records[c.n_records]
    rec.unit = u
    rec.unit_life = un.life
    rec.start_ns = un.start
    rec.ready_ns = un.ready
    rec.retire_ns = when
    rec.packets = un.pkts
    rec.bytes = un.bytes
    rec.busy_ns = un.busy
    rec.cal_full = un.cal_full
    rec.failed = False
    rec.share = un.share
    c.n_records += 1
    un.active = False
    c.act_ver += 1
    un.ld = np.inf
    while c.hi > 0 and not units[c.hi - 1].active:
        c.hi -= 1


@helper
def retire_due(units, records, c, t, p):
    """Retire the units due by t. ``c.retire_at`` is a lower bound of every idle unit's retirement
    time (retirement times only grow), so most calls return at once."""
    if t < c.retire_at:
        return
    bound = INF
    for u in range(c.hi):
        un = units[u]
        if un.active and un.open == 0:
            when = retire_time(un, p.unit_idle_ns)
            if when <= t:
                retire_unit(units, records, c, u, when)
            elif when < bound:
                bound = when
    c.retire_at = bound


@helper
def went_idle(un, c, p):
    """Unit record un has no open item any more: it may retire at retire_time (see retire_due)."""
    when = retire_time(un, p.unit_idle_ns)
    if when < c.retire_at:
        c.retire_at = when


@helper
def maybe_prestart(units, ring, c, t, p):
    """Start one unit ahead of need when every active unit is above prestart_util and none starts."""
    n_active = 0
    for u in range(c.hi):
        un = units[u]
        if un.active:
            n_active += 1
            if un.ready > t:
                return  # one is already starting
            if un.sc <= p.prestart_utilization:
                return
    if 0 < n_active < p.max_units:
        start_unit(units, ring, c, t, p)
        c.prestarts += 1


@helper
def lease_to(units, ring, records, c, t, target, p):
    """The epoch's lease request under a resource manager (paper §7), at time t: bring the slots'
    summed shares to ``target`` thousandths. Short: ask for whole units while a whole one is
    missing, then the rest (each granted after ``rm_rtt_ns``). Over: give back slots with no open
    item and an empty queue, highest ID first, while the rest still covers the target (slots with
    open items are given back when they go idle, as every unit retires)."""
    held = np.int64(0)
    for u in range(c.hi):
        if units[u].active:
            held += units[u].share
    if target > held:
        need = target - held
        while need > 0:
            share = need if need < SHARE_ONE else SHARE_ONE
            if open_slot(units, ring, c, t, share, t + p.rm_rtt_ns, p) < 0:
                break
            c.lease_asks += 1
            need -= share
        return
    for u in range(c.hi - 1, -1, -1):
        un = units[u]
        if un.active and un.open == 0 and un.free <= t and held - un.share >= target:
            held -= un.share
            retire_unit(units, records, c, u, t)
            c.lease_returns += 1


@helper
def lease_target(nbytes, p):
    """The epoch's lease request in thousandths of a unit: the load of ``nbytes`` over the last
    epoch, times (1 + ``rm_headroom``), over the unit's capacity, rounded up to ``rm_grain``."""
    want = nbytes * 8e9 / p.epoch_ns * (1.0 + p.rm_headroom) / p.unit_capacity_bps * SHARE_ONE
    return np.int64(np.ceil(want / p.rm_grain)) * p.rm_grain


# ----------------------------------------------------------------------------- resource manager

RM_UNIT_COLUMNS = ("rm_unit", "start_ns", "ready_ns", "retire_ns", "peak_share", "leases")
"""One row per lifetime of a resource manager's unit (:func:`pack_leases_nb`)."""


@helper
def lowest_free(active, n):
    """The lowest of the first n slots not active (-1: none): the rule every pool follows (a new
    unit or lease of a controller takes the lowest free ID, and so does a resource manager's unit)."""
    for u in range(n):
        if not active[u]:
            return u
    return -1


@helper
def _rm_retire_idle(active, leased, empty_since, rec, unit_rec, t, idle_ns):
    """Retire the resource manager's units that have been empty for idle_ns by time t."""
    for u in range(active.shape[0]):
        if active[u] and leased[u] == 0 and empty_since[u] + idle_ns <= t:
            active[u] = False
            rec[unit_rec[u], 3] = empty_since[u] + idle_ns


@helper
def _rm_open(active, leased, empty_since, rec, n_rec, unit_rec, t, startup_ns):
    u = lowest_free(active, active.shape[0])
    active[u] = True
    leased[u] = 0
    empty_since[u] = t
    unit_rec[u] = n_rec
    rec[n_rec, 0] = u
    rec[n_rec, 1] = t
    rec[n_rec, 2] = t + startup_ns
    rec[n_rec, 3] = -1
    rec[n_rec, 4] = 0
    rec[n_rec, 5] = 0
    return u, n_rec + 1


@nb.njit(cache=True, error_model="numpy")
def pack_leases_nb(start, retire, share, rtt_ns, startup_ns, idle_ns, prestart_utilization):
    """The resource manager (paper §7): pack leases (held from ``start`` to ``retire``, ``share``
    thousandths of a unit each, in any order) onto shared units. Returns (the unit of each lease,
    the units' rows of :data:`RM_UNIT_COLUMNS`, leases granted on a unit still starting).

    Events in time order, releases before grants at the same time (a lease held for no time is
    released after them), grants in the order given among equal starts. A grant goes to the fullest running unit where it fits (best fit, ties to
    the lower ID: it packs units to their capacity), else to a new unit at the lowest free ID.
    After each grant, if every running unit holds more than ``prestart_utilization`` of its
    capacity, the RM starts one more (a unit ahead of need, as a controller does). A unit that
    has held no lease for ``idle_ns`` retires. A grant counts as *late* when its unit is ready
    after the lease's request round trip (``start + rtt_ns``): the replay took the lease as usable
    then, so such leases' first packets are optimistic by up to the unit's start-up."""
    n = start.shape[0]
    g_order = np.argsort(start, kind="mergesort")
    r_key = retire * 2 + (retire == start)  # (time, held for no time): a zero-length lease's
    r_order = np.argsort(r_key, kind="mergesort")  # release comes after the grants at its time
    slots = 2 * n + 1
    active = np.zeros(slots, np.bool_)
    leased = np.zeros(slots, np.int64)
    empty_since = np.zeros(slots, np.int64)
    unit_rec = np.zeros(slots, np.int64)
    rec = np.zeros((2 * n + 1, len(RM_UNIT_COLUMNS)), np.int64)
    n_rec = np.int64(0)  # (an int64, not a literal: snfkit.engine._jit)
    unit_of = np.full(n, -1, np.int64)
    late = 0
    gi = 0
    ri = 0
    while gi < n or ri < n:
        if ri < n and (gi >= n or r_key[r_order[ri]] <= 2 * start[g_order[gi]]):
            k = r_order[ri]
            ri += 1
            t = retire[k]
            _rm_retire_idle(active, leased, empty_since, rec, unit_rec, t, idle_ns)
            u = unit_of[k]
            leased[u] -= share[k]
            if leased[u] == 0:
                empty_since[u] = t
            continue
        k = g_order[gi]
        gi += 1
        t = start[k]
        _rm_retire_idle(active, leased, empty_since, rec, unit_rec, t, idle_ns)
        best = -1
        for u in range(slots):
            if active[u] and leased[u] + share[k] <= SHARE_ONE:
                if best < 0 or leased[u] > leased[best]:
                    best = u
        if best < 0:
            best, n_rec = _rm_open(active, leased, empty_since, rec, n_rec, unit_rec, t, startup_ns)
        if rec[unit_rec[best], 2] > t + rtt_ns:
            late += 1
        leased[best] += share[k]
        unit_of[k] = best
        r = unit_rec[best]
        rec[r, 5] += 1
        if leased[best] > rec[r, 4]:
            rec[r, 4] = leased[best]
        spare = False
        for u in range(slots):
            if active[u] and leased[u] <= prestart_utilization * SHARE_ONE:
                spare = True
                break
        if not spare:
            _, n_rec = _rm_open(active, leased, empty_since, rec, n_rec, unit_rec, t, startup_ns)
    for u in range(slots):  # every lease ended: the units retire once idle
        if active[u]:
            rec[unit_rec[u], 3] = empty_since[u] + idle_ns
    return unit_of, rec[:n_rec], late
