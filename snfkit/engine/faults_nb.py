"""Failures and recovery (paper §6, §9.4; DESIGN.md "Fault tolerance"): the replay kernel's handlers.

Output loggers. Unit slot u logs to output logger (OL) ``u // units_per_ol``. A packet processed at
``finish`` reaches its OL ``ol_hop_ns`` later; the OL applies its state delta and releases it then:
``release = finish + ol_hop_ns``, and latency = release - arrival. While an OL is down (from its
failure until its recovery is ready), a packet that reaches it is sent again when the recovery OL is
ready: ``release = ol_until + ol_hop_ns``. Per unit, the kernel keeps its last ``R`` packets (the
in-flight ring, :data:`INFLIGHT_COLUMNS`) so that a failure finds the packets the unit had received
but its OL had not released (``release > failure time``); only packets released after the next
scheduled failure are kept (failures come in time order, so no later one finds the others).

Failures are events in the trace's time order (at equal times before anything else), given as rows
of an int64 array (:data:`FAIL_COLUMNS`); the kernel writes each row's outcome. Fail-stop, detected
``detect_ns`` after the failure. Kinds (:data:`~snfkit.engine.enums.FailureKind`):

- ``unit``: the unit's lifetime ends at the failure (its record is marked ``failed``; the packets it
  had not got released do not count as its work). A recovery unit starts at the lowest free ID at
  failure + detect_ns (its start-up per ``recovery_launch``: ``startup`` or ``immediate``) and takes
  over every flow whose state was on the failed unit; the state is there at ``state_at``:

  - ``snf``: pulled from the OL: ``ready + recovery_fixed_ns + bytes x 8 / recovery_bandwidth_bps``;
  - ``chc``: read from the external store: ``ready + store_rtt_ns + bytes x 8 / bandwidth``;
  - ``ftmb``: the last checkpoint (every ``checkpoint_interval_ns`` from the trace's start) loaded
    (``recovery_fixed_ns + bytes x 8 / bandwidth``), then the packets the unit processed since the
    checkpoint replayed at its service times.

  A packet processed again starts no earlier than it first did (what it waited for still
  holds), after its flow's previous packet, and (packet mode, external state) after a store read
  that follows the flow's last write. bytes = affected flows x ``state_bytes``. (In ``packet`` mode and with ``external`` state, state
  lives in the store: ``state_at = ready + store_rtt_ns`` whatever the strategy, nothing moves.) Then the in-flight packets are processed again, once, on
  the recovery unit, in arrival order from ``state_at`` (they wait with cause ``recovery``), and the
  flows' next packets wait for ``state_at`` too. (A flow that had left the failed unit before it
  failed, with a new item elsewhere, stays there; should a later item of it come to the recovery
  unit, its packets there go after the ones processed again.) Recovery time (§9.4: until a unit holds up-to-date
  state for every affected flow): ``state_at - failure`` for snf and ftmb; for chc, until the last
  in-transit packet has been replayed.
- ``ol``: the OL's lifetime ends; a recovery OL starts at failure + detect_ns (+ start-up unless
  immediate) and pulls the state of its units' flows from them (``recovery_fixed_ns + bytes / bw``):
  down until ``ol_until``. Packets that reach it meanwhile are released at ``ol_until + ol_hop_ns``.
- ``controller``: a recovery controller rebuilds the flow clocks and flowlet-to-unit map by querying
  every active unit in turn (``controller_query_ns`` each): arrivals until failure + detect_ns +
  active units x controller_query_ns wait at the controller (their latency counts from their
  arrival; they are dispatched then, in order).
- ``unit_controller``, ``ol_controller``: both at once (the paper protects both pairs).
- ``unit_ol``: a unit and its OL together, which the paper does not protect: the flows' state is
  lost (they restart from a fresh state), and the unit's in-flight packets are lost; both are
  counted, never hidden.

A target of -1 draws an active unit (its OL for the OL kinds) from the failure stream of the seed.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from snfkit.engine._jit import helper
from snfkit.engine.calendar_nb import cal_book, cal_fit
from snfkit.engine.collect_nb import add_epoch_row, hist_bucket
from snfkit.engine.enums import (
    AllocationMode,
    FailureKind,
    RecoveryLaunch,
    RecoveryStrategy,
    StateMode,
    WaitCause,
)
from snfkit.engine.mix_nb import GOLDEN, mix64
from snfkit.engine.pool_nb import retire_unit, set_load, start_unit

FAIL_COLUMNS = (
    "time_ns",
    "kind",
    "target",
    "unit",
    "recovery_unit",
    "recovery_ns",
    "flows_affected",
    "state_bytes_moved",
    "packets_replayed",
    "packets_lost",
    "flows_lost",
    "applied",
)
"""One failure: when (from the trace's first packet), its kind (FailureKind code) and target (a unit
ID, an OL index, or -1: drawn), then what happened: the unit or OL that failed, the recovery unit,
the recovery time, flows whose state was affected, state bytes moved, packets processed again,
packets and flows lost, and 1 once applied."""
(
    F_TIME,
    F_KIND,
    F_TARGET,
    F_UNIT,
    F_NEW,
    F_RECOVERY,
    F_FLOWS,
    F_BYTES,
    F_REPLAYED,
    F_LOST_PKTS,
    F_LOST_FLOWS,
    F_APPLIED,
) = range(12)

INFLIGHT_COLUMNS = (
    "packet",
    "arrival",
    "start",
    "finish",
    "release",
    "service",
    "size",
    "flow",
    "wait",
    "cause",
)
"""One packet in a unit's in-flight ring: its global index, arrival (kernel time), service start,
finish and release, service time, wire length, flow, state wait and wait cause."""
(I_PKT, I_ARR, I_START, I_FINISH, I_REL, I_SVC, I_SIZE, I_FLOW, I_WAIT, I_CAUSE) = range(10)
INFLIGHT_SLOTS = 2048
"""Packets a unit's in-flight ring holds at least; a replay with failures gives each unit
``max(INFLIGHT_SLOTS, INFLIGHT_BUDGET // max_units)`` (zeroed pages cost memory only when written).
A failure that finds more unreleased packets than that on its unit stops the replay with a clear
error (``STATUS_BAD_FAILURE``)."""
INFLIGHT_BUDGET = 2**21
"""In-flight ring entries (80 bytes each) a replay with failures may keep over all its units."""

PATCH_COLUMNS = ("packet", "unit", "start", "state_wait", "latency", "cause", "ol", "lost")
"""A per-packet row of an earlier chunk changed by a failure (the caller applies it; the columns
of :class:`~snfkit.engine.replay_nb.ChunkOut`, which the others derive from)."""

OK = 0
ERR_NOT_ACTIVE = 1  # an explicit target that is not active at the failure
ERR_RING = 2  # more packets in flight on the unit than its ring holds


@helper
def release_time(finish, u, olw, p):
    """When the OL of unit slot u releases a packet processed at ``finish``."""
    arrive = finish + p.ol_hop_ns
    o = u if p.units_per_ol == 1 else u // p.units_per_ol  # (no division per packet)
    if olw[o, 0] <= arrive < olw[o, 1]:
        return olw[o, 1] + p.ol_hop_ns
    return arrive


@helper
def inflight_slot(inflight, un, u):
    """The slot of unit u's in-flight ring where its next packet goes (the caller writes the
    entry, :data:`INFLIGHT_COLUMNS`): the oldest leaves a full ring, and its release is remembered,
    so a failure can tell whether it lost track of an unreleased packet. (No modulo: an integer
    division per packet is a measurable share of a replay with failures.)"""
    slots = inflight.shape[1]
    if un.if_n == slots:
        old = inflight[u, un.if_head, I_REL]
        if old > un.if_lost:
            un.if_lost = old
        un.if_head += 1
        if un.if_head == slots:
            un.if_head = 0
        un.if_n -= 1
    k = un.if_head + un.if_n
    if k >= slots:
        k -= slots
    un.if_n += 1
    return k


@helper
def log_inflight(inflight, un, u, entry):
    """Append a packet (an entry of :data:`INFLIGHT_COLUMNS`) to unit u's in-flight ring. (A loop:
    see :func:`snfkit.engine.flowkeys_nb._grow_keys`.)"""
    k = inflight_slot(inflight, un, u)
    for j in range(entry.shape[0]):
        inflight[u, k, j] = entry[j]


@nb.njit(cache=True, error_model="numpy")
def flows_on(flows, flow_life, u, life, p):
    """The flows whose state is on unit slot u's lifetime ``life`` (fl.unit == u and fl.life ==
    life), in flow order. Found in ``flow_life`` (each flow's fl.life, 8 bytes a flow, which the
    replay kernel keeps when failures are scheduled) instead of the flow records (256 bytes a
    flow): a failure's scans cost 30x less. smart_flow moves flows between units without it, so
    there the records are scanned."""
    n = 0
    if p.mode == AllocationMode.smart_flow:
        for f in range(flows.shape[0]):
            if flows[f].unit == u and flows[f].life == life:
                n += 1
        out = np.empty(n, np.int64)
        n = 0
        for f in range(flows.shape[0]):
            if flows[f].unit == u and flows[f].life == life:
                out[n] = f
                n += 1
        return out
    out = np.empty(flow_life.shape[0], np.int64)
    for f in range(flow_life.shape[0]):  # one pass, without a branch: f is kept if it matches
        out[n] = f
        n += flow_life[f] == life
    return out[:n]


@helper
def unit_finish_on(fl, life):
    """The finish of flow record fl's last packet on the unit lifetime ``life`` it moves to: 0
    (its packets there are done), unless that lifetime is a failure's recovery unit that
    processed the flow's in-flight packets again after the flow had left the failed unit
    (:func:`fail_unit`): its next packets there go after those."""
    return fl.rp_finish if fl.rp_life == life else np.int64(0)


@helper
def _draw_unit(units, c, tau):
    """A slot active at tau, uniformly, from the failure stream; -1 when none is. (A unit started
    after tau, for a packet a recovering controller dispatched late, does not count.)"""
    n = 0
    for u in range(c.hi):
        if units[u].active and units[u].start <= tau:
            n += 1
    if n == 0:
        return -1
    c.fail_rng = c.fail_rng + GOLDEN
    k = np.int64(mix64(c.fail_rng) % np.uint64(n))
    for u in range(c.hi):
        if units[u].active and units[u].start <= tau:
            if k == 0:
                return u
            k -= 1
    return -1


@helper
def _transfer_ns(nbytes, fixed, p):
    return fixed + np.int64(nbytes * 8e9 / p.recovery_bandwidth_bps)


@helper
def _launch(units, ring, c, t, p):
    """Start a recovery unit at t (start-up per ``recovery_launch``); its slot (or -1)."""
    r = start_unit(units, ring, c, t, p)
    if r >= 0 and p.recovery_launch == RecoveryLaunch.immediate:
        units[r].ready = t
        units[r].free = t
    return r


@helper
def _patch(out, patches, c, g0, keep_rows, e, unit, lost):
    """Rewrite a packet's row from its in-flight entry ``e`` (on ``unit``; the latency and the
    OL's share from the entry's release; its queueing is what the rest leaves): in place if the
    packet is in this chunk, else as a patch row the caller applies."""
    if not keep_rows:
        return
    origin = c.origin
    lat = e[I_REL] - e[I_ARR]
    ol = e[I_REL] - e[I_FINISH]
    i = e[I_PKT] - g0
    if i >= 0:
        out.unit[i] = unit
        out.start[i] = e[I_START] + origin
        out.state_wait[i] = e[I_WAIT]
        out.latency[i] = lat
        out.wait_cause[i] = e[I_CAUSE]
        if out.ol.shape[0] > 0:  # (kept where an OL can fail: else ol_hop_ns and not lost)
            out.ol[i] = ol
            out.lost[i] = lost
    else:
        row = patches[c.n_patches]
        row[0] = e[I_PKT]
        row[1] = unit
        row[2] = e[I_START] + origin
        row[3] = e[I_WAIT]
        row[4] = lat
        row[5] = e[I_CAUSE]
        row[6] = ol
        row[7] = lost
        c.n_patches += 1


@helper
def _relatency(hist, c, old_lat, new_lat):
    """Move one packet's latency in the aggregates (the histogram and the sum; the maximum grows)."""
    hist[hist_bucket(old_lat)] -= 1
    hist[hist_bucket(new_lat)] += 1
    c.lat_sum += new_lat - old_lat
    if new_lat > c.lat_max:
        c.lat_max = new_lat


@nb.njit(cache=True, error_model="numpy")
def fail_ol(o, tau, row, st, c, p, out, g0, keep_rows):
    """OL o fails at tau: down until its recovery has pulled its units' state; unreleased packets
    that reach it meanwhile are released when it is back."""
    flows, units, inflight, olw, hist, patches = (
        st.flows,
        st.units,
        st.inflight,
        st.olw,
        st.hist,
        st.patches,
    )
    k = p.units_per_ol
    n_flows = 0
    for u in range(o * k, min(o * k + k, units.shape[0])):
        if units[u].active:
            n_flows += flows_on(flows, st.flow_life, u, units[u].life, p).shape[0]
    nbytes = n_flows * p.state_bytes
    start = tau + p.detect_ns
    if p.recovery_launch != RecoveryLaunch.immediate:
        start += p.unit_startup_ns
    until = start + _transfer_ns(nbytes, p.recovery_fixed_ns, p)
    if olw[o, 1] > tau:  # still recovering from an earlier failure: the window grows
        if until < olw[o, 1]:
            until = olw[o, 1]
    else:
        olw[o, 0] = tau
    olw[o, 1] = until
    resent = 0
    slots = inflight.shape[1]
    for u in range(o * k, min(o * k + k, units.shape[0])):
        un = units[u]
        if not un.active:
            continue
        for j in range(un.if_n):
            e = inflight[u, (un.if_head + j) % slots]
            if e[I_REL] <= tau or e[I_FINISH] + p.ol_hop_ns < tau:
                continue  # released, or reached the OL before it failed
            new_rel = release_time(e[I_FINISH], u, olw, p)
            if new_rel == e[I_REL]:
                continue
            old_lat = e[I_REL] - e[I_ARR]
            _relatency(hist, c, old_lat, new_rel - e[I_ARR])
            e[I_REL] = new_rel
            _patch(out, patches, c, g0, keep_rows, e, u, np.bool_(False))
            resent += 1
    row[F_UNIT] = o
    row[F_RECOVERY] = until - tau
    row[F_FLOWS] = n_flows
    row[F_BYTES] = nbytes
    row[F_REPLAYED] += resent


@nb.njit(cache=True, error_model="numpy")
def fail_unit(u, tau, lose_state, row, st, c, p, out, g0, keep_rows):
    """Unit slot u fails at tau (see the module docstring); returns OK or an error code."""
    flows, units, ring, records, inflight = st.flows, st.units, st.ring, st.records, st.inflight
    olw, hist, waits, eu_rows, patches = st.olw, st.hist, st.waits, st.eu_rows, st.patches
    un = units[u]
    if un.if_lost > tau:
        return ERR_RING
    slots = inflight.shape[1]
    life = un.life
    # the packets it had not got released (copied: the recovery unit may reuse the slot) are not
    # its work
    ckpt = (tau // p.checkpoint_interval_ns) * p.checkpoint_interval_ns
    log_replay = un.ck_busy if un.ck_index == tau // p.checkpoint_interval_ns else 0
    pending = np.empty((un.if_n, len(INFLIGHT_COLUMNS)), np.int64)
    n_if = 0
    for j in range(un.if_n):
        e = inflight[u, (un.if_head + j) % slots]
        if e[I_REL] > tau:
            for w in range(e.shape[0]):  # (a loop: see flowkeys_nb._grow_keys)
                pending[n_if, w] = e[w]
            n_if += 1
            un.pkts -= 1
            un.bytes -= e[I_SIZE]
            un.busy -= e[I_SVC]
            if e[I_START] >= ckpt:
                log_replay -= e[I_SVC]
    if log_replay < 0:
        log_replay = 0
    retire_unit(units, records, c, u, tau)
    records[c.n_records - 1].failed = True
    launch = tau + p.detect_ns
    r = _launch(units, ring, c, launch, p)  # (the failed slot is free: never -1)
    rn = units[r]
    # the flows whose state was on the failed unit
    on = flows_on(flows, st.flow_life, u, life, p)
    n_flows = on.shape[0]
    nbytes = n_flows * p.state_bytes
    if p.mode == AllocationMode.packet or p.state_mode == StateMode.external:  # state in a store
        nbytes = 0
        state_at = rn.ready + p.store_rtt_ns
    elif lose_state:  # nothing left to fetch: the flows start again on the new unit
        state_at = rn.ready
    elif p.recovery == RecoveryStrategy.snf:
        state_at = rn.ready + _transfer_ns(nbytes, p.recovery_fixed_ns, p)
    elif p.recovery == RecoveryStrategy.chc:
        state_at = rn.ready + _transfer_ns(nbytes, p.store_rtt_ns, p)
    else:  # ftmb: load the checkpoint, replay the log since it
        state_at = rn.ready + _transfer_ns(nbytes, p.recovery_fixed_ns, p) + log_replay
    for f in on:
        fl = flows[f]
        fl.unit = r
        fl.life = rn.life
        st.flow_life[f] = rn.life
        fl.unit_finish = 0
        if fl.state_ready < state_at:
            fl.state_ready = state_at
            fl.state_cause = WaitCause.recovery
        if fl.open:
            rn.open += 1
            rn.committed += fl.est
        if lose_state:  # the flow starts again from a fresh state; its replicas are of the old one
            fl.last_pkt = -1
            fl.rep_clock = -1
            fl.prev_clock = -1
        elif not p.recovery_from_ol:  # fault injection: bootstrap from the latest replica
            fl.last_pkt = fl.rep_pkt
    set_load(rn, p)
    # the in-flight packets: processed again, once, in arrival order (or lost with the state)
    replayed = 0
    lost = 0
    last = state_at  # the last in-flight packet's new finish
    for j in range(n_if):
        e = pending[j]
        old_lat = e[I_REL] - e[I_ARR]
        old_ol = e[I_REL] - e[I_FINISH]
        queue = old_lat - e[I_SVC] - e[I_WAIT] - old_ol
        if lose_state:
            hist[hist_bucket(old_lat)] -= 1
            c.lat_sum -= old_lat
            c.served -= 1
            if e[I_WAIT] > 0:
                waits[0, e[I_CAUSE]] -= 1
                waits[1, e[I_CAUSE]] -= e[I_WAIT]
            _patch(out, patches, c, g0, keep_rows, e, u, np.bool_(True))
            lost += 1
            continue
        svc = e[I_SVC]
        fl = flows[e[I_FLOW]]
        # a flow that left the failed unit before it failed keeps its place (and its order) on
        # its unit; its packets processed again here are ordered among themselves (rp_*), and
        # start from the recovered state too: the state they follow was on the failed unit
        here = fl.unit == r and fl.life == rn.life
        before = fl.unit_finish if here else unit_finish_on(fl, rn.life)
        # here: the recovered state, or a pull still on its way (the later)
        s0 = fl.state_ready if here else state_at
        if before > s0:  # the flow's packets in order
            s0 = before
        if rn.ready > s0:
            s0 = rn.ready
        if e[I_START] > s0:  # never before it first started: whatever it waited for holds
            s0 = e[I_START]
        if p.mode == AllocationMode.packet:  # a store read after the flow's last write, FIFO
            if fl.last_finish + p.store_rtt_ns > s0:
                s0 = fl.last_finish + p.store_rtt_ns
            if rn.free > s0:
                s0 = rn.free
        elif p.state_mode == StateMode.external and fl.wlanded + p.store_rtt_ns > s0:
            s0 = fl.wlanded + p.store_rtt_ns  # a store read after the flow's last write landed
        start = cal_fit(rn, s0, svc)
        finish = start + svc
        cal_book(rn, launch, start, svc)
        if finish > last:
            last = finish
        if finish > rn.free:
            rn.free = finish
        rn.busy += svc
        rn.pkts += 1
        rn.bytes += e[I_SIZE]
        rel = release_time(finish, r, olw, p)
        new_lat = rel - e[I_ARR]
        new_ol = rel - finish
        if queue > new_lat - svc - new_ol:  # served sooner than first queued for
            queue = new_lat - svc - new_ol
        wait = new_lat - svc - queue - new_ol
        _relatency(hist, c, old_lat, new_lat)
        if e[I_WAIT] > 0:
            waits[0, e[I_CAUSE]] -= 1
            waits[1, e[I_CAUSE]] -= e[I_WAIT]
        waits[0, WaitCause.recovery] += 1
        waits[1, WaitCause.recovery] += wait
        # busy time and processed bytes: off the failed unit's epoch, onto the recovery unit's
        add_epoch_row(eu_rows, c, e[I_START] // p.epoch_ns, u, -svc, -e[I_SIZE])
        add_epoch_row(eu_rows, c, start // p.epoch_ns, r, svc, e[I_SIZE])
        if here:
            fl.unit_finish = finish
        else:
            fl.rp_life = rn.life
            fl.rp_finish = finish
        if p.state_mode == StateMode.external:
            fl.wlanded = finish + p.store_rtt_ns // 2
        if finish > fl.last_finish:
            fl.last_finish = finish
        if finish > fl.item_end:
            fl.item_end = finish
        e[I_START], e[I_FINISH], e[I_REL], e[I_WAIT] = start, finish, rel, wait
        e[I_CAUSE] = WaitCause.recovery
        _patch(out, patches, c, g0, keep_rows, e, r, np.bool_(False))
        log_inflight(inflight, rn, r, e)
        replayed += 1
    if rn.last_recv < launch:
        rn.last_recv = launch
    c.lost += lost
    recovered = state_at
    if p.recovery == RecoveryStrategy.chc:
        recovered = last  # the in-transit packets replayed
    row[F_UNIT] = u
    row[F_NEW] = r
    row[F_RECOVERY] = recovered - tau
    row[F_FLOWS] = n_flows
    row[F_BYTES] = 0 if lose_state else nbytes
    row[F_REPLAYED] += replayed
    row[F_LOST_PKTS] = lost
    row[F_LOST_FLOWS] = n_flows if lose_state else 0
    return OK


@nb.njit(cache=True, error_model="numpy")
def fail_controller(tau, row, units, c, p):
    """The controller fails at tau: arrivals wait until it has queried every active unit."""
    n = 0
    for u in range(c.hi):
        if units[u].active:
            n += 1
    back = tau + p.detect_ns + n * p.controller_query_ns
    if back > c.hold_until:
        c.hold_until = back
    if row[F_RECOVERY] < back - tau:
        row[F_RECOVERY] = back - tau


@nb.njit(cache=True, error_model="numpy")
def apply_failure(row, st, c, p, out, g0, keep_rows):
    """One failure event (a row of the schedule); returns OK or an error code."""
    units = st.units
    tau = row[F_TIME]
    kind = row[F_KIND]
    target = row[F_TARGET]
    has_unit = kind == FailureKind.unit or kind == FailureKind.unit_controller
    has_unit = has_unit or kind == FailureKind.unit_ol
    has_ol = kind == FailureKind.ol or kind == FailureKind.ol_controller
    has_ol = has_ol or kind == FailureKind.unit_ol
    has_ctl = kind == FailureKind.controller or kind == FailureKind.unit_controller
    has_ctl = has_ctl or kind == FailureKind.ol_controller
    row[F_UNIT] = -1
    row[F_NEW] = -1
    if has_unit or has_ol:
        if kind == FailureKind.ol or kind == FailureKind.ol_controller:
            if target >= 0:  # an OL: fails whether or not its units are active
                o = target
            else:
                u = _draw_unit(units, c, tau)
                o = u // p.units_per_ol if u >= 0 else -1
            if o >= 0:
                fail_ol(o, tau, row, st, c, p, out, g0, keep_rows)
        else:
            u = target if target >= 0 else _draw_unit(units, c, tau)
            if target >= 0 and (
                target >= c.hi or not units[target].active or units[target].start > tau
            ):
                return ERR_NOT_ACTIVE
            if u >= 0:
                lose = kind == FailureKind.unit_ol
                if lose:
                    fail_ol(u // p.units_per_ol, tau, row, st, c, p, out, g0, keep_rows)
                status = fail_unit(u, tau, lose, row, st, c, p, out, g0, keep_rows)
                if status != OK:
                    return status
    if has_ctl:
        fail_controller(tau, row, units, c, p)
    row[F_APPLIED] = 1
    return OK
