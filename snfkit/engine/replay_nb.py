"""The replay kernel: SNF's controller and the allocation baselines over one chunk of packets.

Semantics (DESIGN.md "Time, packets, units", "Controller", "Allocation modes"); the plain-Python twin
:mod:`snfkit.reference.replay` states the same rules for reading, and tests require identical outputs.

Work items. Packets are grouped into *items*, the units of assignment: flowlets (mode flowlet),
flows (flow, smart_flow: a flow idle for ``flow_timeout_ns`` has ended) or single packets (packet). The
caller passes ``open_reason[i]`` (>= 0 when packet i opens a new item: 0 new flow, 1 timeout, 2 size;
-1 otherwise), computed once per (T, B) by :mod:`snfkit.engine.flowlets_nb`. An item stays *open* until
its flow has been idle for ``close_after_ns`` (closed strictly after ``last_ts + close_after_ns``), or
until the next item of its flow opens. Closing records the item's measured rate.

Per packet i at time t (ts[i]):
1. Pending events strictly before t (item closes) and smart_flow ticks at or before t, in time order.
2. If the packet opens an item: assignment (below). Otherwise it follows its flow's unit.
3. Service (Lindley): start = max(t, unit_free, state_ready); finish = start + per_packet_ns +
   wire_len * per_byte_ps // 1000; latency = finish - t = queueing + state wait + service.

Assignment: retire due units; demand estimate est (first item of a flow: mean measured rate of all
closed items so far, or ``initial_estimate_bps``; later: EWMA of the previous item's measured rate and
the previous estimate); candidates are active units in ID order with est + load < capacity; score =
load / capacity + alpha * has_state (has_state is 0 until replicated state lands); max score wins, ties
to the lower ID. No candidate: start a new unit at the lowest free ID (it waits for start-up) if the pool
allows, else the least-loaded unit; both are counted as overflow. Afterwards, if every active unit is
above ``prestart_util`` and none is starting, one more unit starts (prestart).

Load of a unit: ``measured`` = bytes dispatched to it in the last ``n_buckets`` complete buckets
(fewer for a young unit) / that time; ``committed`` (default) = max(measured, sum of the estimates of
its open items).

Retirement: a unit with no open item retires at max(last packet received + idle_ns, unit_free); the
controller notices it at its next decision, with the exact time recorded. New units take the lowest
free ID.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

MODE_FLOWLET = 0
MODE_FLOW = 1
MODE_SMART_FLOW = 2
MODE_PACKET = 3

REASON_PACKET = 3  # item reason code for packet mode (one item per packet)

WAIT_NONE = 0
WAIT_PULL = 1  # reactive pull of the flow's state from its previous unit
WAIT_STORE = 2  # external store read (packet mode)

STATUS_DONE = 0
STATUS_QUEUE_FULL = 1  # the close queue needs to grow; call again from the returned index
STATUS_RECORDS_FULL = 2  # unit lifetime records must be drained; call again

# counters (indices into ReplayState.counters)
C_ALLOCATIONS = 0
C_OVERFLOW_NEW = 1
C_OVERFLOW_FULL = 2
C_PRESTARTS = 3
C_MOVES = 4
C_STATE_PULLS = 5
C_REORDERED = 6
C_ITEMS = 7
C_LIVES = 8
C_RATE_COUNT = 9
N_COUNTERS = 10
# float accumulators (indices into ReplayState.fstate)
F_RATE_SUM = 0
# int scalars (indices into ReplayState.istate)
I_QHEAD = 0
I_QTAIL = 1
I_NEXT_TICK = 2
I_N_RECORDS = 3
I_STARTED = 4  # 1 once the first packet set the tick origin
N_ISTATE = 5


class ReplayState(NamedTuple):
    """Everything the controller remembers between chunks. F flows, U unit slots, W buckets, Q queue."""

    # flows [F]
    f_item: np.ndarray  # int64, current item id, -1 none
    f_open: np.ndarray  # bool, current item still open
    f_unit: np.ndarray  # int64, unit slot of the current/last item, -1 none
    f_life: np.ndarray  # int64, lifetime id of that unit (slots are reused)
    f_last_ts: np.ndarray  # int64
    f_last_finish: np.ndarray  # int64, max finish time over the flow's processed packets
    f_est: np.ndarray  # float64, current item's demand estimate (bps)
    f_prev_rate: np.ndarray  # float64, measured rate of the previous closed item, -1 none
    f_first_ts: np.ndarray  # int64, current item's first packet time
    f_bytes: np.ndarray  # int64, current item's bytes
    f_pkts: np.ndarray  # int64, current item's packets
    f_need_pull: np.ndarray  # bool, next packet waits for a state pull
    f_tick_bytes: np.ndarray  # int64, bytes since the last smart_flow tick
    # unit slots [U]
    u_active: np.ndarray  # bool
    u_life: np.ndarray  # int64, lifetime id of the slot's current unit
    u_start: np.ndarray  # int64
    u_ready: np.ndarray  # int64
    u_free: np.ndarray  # int64, time the unit finishes its queued work
    u_last_recv: np.ndarray  # int64
    u_open: np.ndarray  # int64, open items on the unit
    u_committed: np.ndarray  # float64, sum of open items' estimates
    u_pkts: np.ndarray  # int64
    u_bytes: np.ndarray  # int64
    u_busy: np.ndarray  # int64
    u_ring: np.ndarray  # int64 [U, W], bytes per bucket
    u_ring_sum: np.ndarray  # int64, sum over the ring (complete buckets in the window)
    u_cur_bucket: np.ndarray  # int64
    u_cur_bytes: np.ndarray  # int64
    u_start_bucket: np.ndarray  # int64
    # close queue [Q] (times are non-decreasing)
    q_time: np.ndarray
    q_flow: np.ndarray
    q_item: np.ndarray
    # unit lifetime records [R, 8]: slot, life, start, ready, retire, packets, bytes, busy_ns
    records: np.ndarray
    counters: np.ndarray  # int64 [N_COUNTERS]
    fstate: np.ndarray  # float64 [1]
    istate: np.ndarray  # int64 [N_ISTATE]


class ChunkOut(NamedTuple):
    """Per-packet and per-item outputs of one chunk (preallocated by the caller, length n)."""

    unit: np.ndarray  # int32
    item: np.ndarray  # int64
    start: np.ndarray  # int64
    finish: np.ndarray  # int64
    state_wait: np.ndarray  # int64
    wait_cause: np.ndarray  # int8
    reordered: np.ndarray  # bool
    it_id: np.ndarray  # int64, items opened in this chunk
    it_flow: np.ndarray
    it_unit: np.ndarray
    it_life: np.ndarray
    it_open_ts: np.ndarray
    it_reason: np.ndarray  # int8
    it_est: np.ndarray  # float64
    it_overflow: np.ndarray  # bool
    n_items: np.ndarray  # int64 [1], items written so far in this chunk


# ----------------------------------------------------------------------------- unit load


@nb.njit(cache=True)
def _roll(st, u, b, n_buckets):
    """Bring unit u's bucket ring forward to bucket b."""
    cb = st.u_cur_bucket[u]
    if b <= cb:
        return
    # push the current bucket into the ring, then clear the buckets skipped over
    steps = b - cb
    if steps > n_buckets:
        steps = n_buckets + 1
    for k in range(steps):
        slot = (cb + k) % n_buckets
        st.u_ring_sum[u] -= st.u_ring[u, slot]
        if k == 0:
            st.u_ring[u, slot] = st.u_cur_bytes[u]
            st.u_ring_sum[u] += st.u_cur_bytes[u]
        else:
            st.u_ring[u, slot] = 0
    st.u_cur_bucket[u] = b
    st.u_cur_bytes[u] = 0


@nb.njit(cache=True)
def _measured_bps(st, u, t, p):
    b = t // p.bucket_ns
    _roll(st, u, b, p.n_buckets)
    nb_ = b - st.u_start_bucket[u]
    if nb_ > p.n_buckets:
        nb_ = p.n_buckets
    if nb_ <= 0:
        return 0.0
    return st.u_ring_sum[u] * 8e9 / (nb_ * p.bucket_ns)


@nb.njit(cache=True)
def _load_bps(st, u, t, p):
    m = _measured_bps(st, u, t, p)
    if p.committed_load and st.u_committed[u] > m:
        return st.u_committed[u]
    return m


# ----------------------------------------------------------------------------- unit lifecycle


@nb.njit(cache=True)
def _start_unit(st, t, p):
    """Start a unit at the lowest free slot at time t; returns the slot or -1 when the pool is full."""
    for u in range(p.max_units):
        if not st.u_active[u]:
            st.u_active[u] = True
            st.u_life[u] = st.counters[C_LIVES]
            st.counters[C_LIVES] += 1
            st.u_start[u] = t
            st.u_ready[u] = t + p.startup_ns
            st.u_free[u] = t + p.startup_ns
            st.u_last_recv[u] = t
            st.u_open[u] = 0
            st.u_committed[u] = 0.0
            st.u_pkts[u] = 0
            st.u_bytes[u] = 0
            st.u_busy[u] = 0
            st.u_ring[u, :] = 0
            st.u_ring_sum[u] = 0
            st.u_cur_bucket[u] = t // p.bucket_ns
            st.u_cur_bytes[u] = 0
            st.u_start_bucket[u] = t // p.bucket_ns
            return u
    return -1


@nb.njit(cache=True)
def _retire_unit(st, u, when):
    r = st.istate[I_N_RECORDS]
    st.records[r, 0] = u
    st.records[r, 1] = st.u_life[u]
    st.records[r, 2] = st.u_start[u]
    st.records[r, 3] = st.u_ready[u]
    st.records[r, 4] = when
    st.records[r, 5] = st.u_pkts[u]
    st.records[r, 6] = st.u_bytes[u]
    st.records[r, 7] = st.u_busy[u]
    st.istate[I_N_RECORDS] = r + 1
    st.u_active[u] = False


@nb.njit(cache=True)
def _retire_due(st, t, p):
    for u in range(p.max_units):
        if st.u_active[u] and st.u_open[u] == 0:
            when = st.u_last_recv[u] + p.idle_ns
            if st.u_free[u] > when:
                when = st.u_free[u]
            if when <= t:
                _retire_unit(st, u, when)


@nb.njit(cache=True)
def _maybe_prestart(st, t, p, loads):
    """Start one unit ahead of need when every active unit is above prestart_util and none starts."""
    n_active = 0
    for u in range(p.max_units):
        if st.u_active[u]:
            n_active += 1
            if st.u_ready[u] > t:
                return  # one is already starting
            if loads[u] / p.capacity_bps <= p.prestart_util:
                return
    if 0 < n_active < p.max_units:
        _start_unit(st, t, p)
        st.counters[C_PRESTARTS] += 1


# ----------------------------------------------------------------------------- items


@nb.njit(cache=True)
def _item_rate(first_ts, last_ts, nbytes, npkts, close_after_ns):
    """Measured rate (bps) of a closed item: its bytes over its span, where n packets span n mean
    inter-packet gaps, and no span is taken shorter than the close timeout (T in flowlet mode), so
    a burst of back-to-back packets does not read as a multi-Gbps flow."""
    dur = float(close_after_ns)
    if npkts > 1:
        span = (last_ts - first_ts) * npkts / (npkts - 1)
        if span > dur:
            dur = span
    return nbytes * 8e9 / dur


@nb.njit(cache=True)
def _close_item(st, f, p):
    u = st.f_unit[f]
    if st.f_life[f] == st.u_life[u] and st.u_active[u]:
        st.u_open[u] -= 1
        st.u_committed[u] -= st.f_est[f]
    rate = _item_rate(
        st.f_first_ts[f], st.f_last_ts[f], st.f_bytes[f], st.f_pkts[f], p.close_after_ns
    )
    st.f_prev_rate[f] = rate
    st.fstate[F_RATE_SUM] += rate
    st.counters[C_RATE_COUNT] += 1
    st.f_open[f] = False


@nb.njit(cache=True)
def _pop_closes(st, before, p):
    """Close the items whose flows went idle; entries strictly before ``before``."""
    q = st.q_time.shape[0]
    while st.istate[I_QHEAD] < st.istate[I_QTAIL]:
        h = st.istate[I_QHEAD] % q
        if st.q_time[h] >= before:
            break
        f = st.q_flow[h]
        if (
            st.f_open[f]
            and st.f_item[f] == st.q_item[h]
            and st.f_last_ts[f] + p.close_after_ns == st.q_time[h]
        ):
            _close_item(st, f, p)
        st.istate[I_QHEAD] += 1


@nb.njit(cache=True)
def _estimate(st, f, p):
    if st.f_prev_rate[f] >= 0.0:
        return p.ewma_weight * st.f_prev_rate[f] + (1.0 - p.ewma_weight) * st.f_est[f]
    if st.counters[C_RATE_COUNT] > 0:
        return st.fstate[F_RATE_SUM] / st.counters[C_RATE_COUNT]
    return p.initial_estimate_bps


@nb.njit(cache=True)
def _assign_greedy(st, t, est, p, loads):
    """Pseudocode 1 WorkloadAssignment; returns (slot, overflow flag)."""
    best = -1
    best_score = -1.0
    for u in range(p.max_units):
        if not st.u_active[u]:
            loads[u] = 0.0
            continue
        loads[u] = _load_bps(st, u, t, p)
        if est + loads[u] < p.capacity_bps:
            score = loads[u] / p.capacity_bps  # + alpha * has_state, 0 until state lands
            if score > best_score:
                best = u
                best_score = score
    if best >= 0:
        return best, False
    u = _start_unit(st, t, p)
    if u >= 0:
        loads[u] = 0.0
        st.counters[C_OVERFLOW_NEW] += 1
        return u, True
    least = -1
    for v in range(p.max_units):
        if st.u_active[v] and (least < 0 or loads[v] < loads[least]):
            least = v
    st.counters[C_OVERFLOW_FULL] += 1
    return least, True


@nb.njit(cache=True)
def _earliest_unit(st, t, p):
    best = -1
    best_start = np.int64(0)
    starting = False
    for u in range(p.max_units):
        if not st.u_active[u]:
            continue
        if st.u_ready[u] > t:
            starting = True
        s = st.u_free[u] if st.u_free[u] > t else t
        if best < 0 or s < best_start:
            best = u
            best_start = s
    return best, best_start, starting


@nb.njit(cache=True)
def _assign_packet(st, t, p, loads):
    """Packet mode, a per-event platform: the event goes to the active unit that can start it
    soonest (ties to the lower ID). The pool scales on concurrency: when no unit is free at t and
    none is starting, one more unit starts (counted as a prestart) and competes for the packet."""
    best, best_start, starting = _earliest_unit(st, t, p)
    if best < 0:
        u = _start_unit(st, t, p)
        st.counters[C_OVERFLOW_NEW] += 1
        return u, True
    if best_start > t and not starting:
        if _start_unit(st, t, p) >= 0:
            st.counters[C_PRESTARTS] += 1
            best, best_start, starting = _earliest_unit(st, t, p)
    return best, False


# ----------------------------------------------------------------------------- smart_flow


@nb.njit(cache=True)
def _move_flow(st, f, v):
    u = st.f_unit[f]
    st.u_open[u] -= 1
    st.u_committed[u] -= st.f_est[f]
    st.u_open[v] += 1
    st.u_committed[v] += st.f_est[f]
    st.f_unit[f] = v
    st.f_life[f] = st.u_life[v]
    st.f_need_pull[f] = True
    st.counters[C_MOVES] += 1


@nb.njit(cache=True)
def _smart_tick(st, tau, p):
    """Every X ms: move flows off overloaded units, then empty underused ones where flows fit."""
    _retire_due(st, tau, p)
    n_flows = st.f_open.shape[0]
    count = 0
    for f in range(n_flows):
        if st.f_open[f]:
            count += 1
    flows = np.empty(count, np.int64)
    rates = np.empty(count, np.float64)
    k = 0
    for f in range(n_flows):
        if st.f_open[f]:
            flows[k] = f
            rates[k] = st.f_tick_bytes[f] * 8e9 / p.smart_interval_ns
            k += 1
    # order: by unit, then rate descending, then flow id (stable sorts)
    order = np.argsort(-rates, kind="mergesort")
    flows = flows[order]
    rates = rates[order]
    units_of = np.empty(count, np.int64)
    for j in range(count):
        units_of[j] = st.f_unit[flows[j]]
    order = np.argsort(units_of, kind="mergesort")
    flows = flows[order]
    rates = rates[order]
    load = np.zeros(p.max_units, np.float64)
    for j in range(count):
        load[st.f_unit[flows[j]]] += rates[j]
    # 1. relieve overloaded units, in ID order, moving their largest flows first
    for j in range(count):
        f = flows[j]
        u = st.f_unit[f]
        if load[u] <= p.capacity_bps or rates[j] <= 0.0:
            continue
        target = -1
        for v in range(p.max_units):
            if v != u and st.u_active[v] and load[v] + rates[j] < p.capacity_bps:
                target = v
                break
        if target < 0:
            target = _start_unit(st, tau, p)
            if target < 0:
                continue
            load[target] = 0.0
        load[u] -= rates[j]
        load[target] += rates[j]
        _move_flow(st, f, target)
    # 2. consolidate: highest ID first, empty a unit under consolidate_below if all its flows fit
    emptied = np.zeros(p.max_units, np.bool_)
    for u in range(p.max_units - 1, -1, -1):
        if not st.u_active[u] or st.u_open[u] == 0:
            continue
        if load[u] >= p.consolidate_below * p.capacity_bps:
            continue
        trial = load.copy()
        dest = np.full(count, -1, np.int64)
        ok = True
        for j in range(count):
            f = flows[j]
            if st.f_unit[f] != u:
                continue
            placed = False
            for v in range(p.max_units):
                if (
                    v != u
                    and st.u_active[v]
                    and not emptied[v]
                    and trial[v] + rates[j] < p.capacity_bps
                ):
                    trial[v] += rates[j]
                    dest[j] = v
                    placed = True
                    break
            if not placed:
                ok = False
                break
        if ok:
            for j in range(count):
                if dest[j] >= 0:
                    _move_flow(st, flows[j], dest[j])
            trial[u] = 0.0
            load[:] = trial
            emptied[u] = True
    for f in range(n_flows):
        st.f_tick_bytes[f] = 0


# ----------------------------------------------------------------------------- main loop


@nb.njit(cache=True)
def replay_chunk_nb(ts, flow, wire_len, open_reason, i0, p, st, out):
    """Replay packets i0.. of a chunk; returns (next index, status). See the module docstring."""
    n = ts.shape[0]
    q = st.q_time.shape[0]
    loads = np.zeros(p.max_units, np.float64)
    flow_mode = p.mode != MODE_PACKET
    for i in range(i0, n):
        if st.istate[I_N_RECORDS] + p.max_units > st.records.shape[0]:
            return i, STATUS_RECORDS_FULL
        if flow_mode and st.istate[I_QTAIL] - st.istate[I_QHEAD] >= q:
            return i, STATUS_QUEUE_FULL
        t = ts[i]
        f = flow[i]
        size = np.int64(wire_len[i])
        if st.istate[I_STARTED] == 0:
            st.istate[I_STARTED] = 1
            st.istate[I_NEXT_TICK] = t + p.smart_interval_ns
        # 1. events before t
        if p.mode == MODE_SMART_FLOW:
            while st.istate[I_NEXT_TICK] <= t:
                if st.istate[I_N_RECORDS] + p.max_units > st.records.shape[0]:
                    return i, STATUS_RECORDS_FULL
                tau = st.istate[I_NEXT_TICK]
                _pop_closes(st, tau, p)
                _smart_tick(st, tau, p)
                st.istate[I_NEXT_TICK] = tau + p.smart_interval_ns
        if flow_mode:
            _pop_closes(st, t, p)
        # 2. assignment
        overflow = False
        opens = p.mode == MODE_PACKET or open_reason[i] >= 0
        if opens:
            _retire_due(st, t, p)
            if p.mode == MODE_PACKET:
                u, overflow = _assign_packet(st, t, p, loads)
                est = 0.0
                reason = REASON_PACKET
            else:
                if st.f_open[f]:
                    _close_item(st, f, p)  # size split: the previous item ends here
                est = _estimate(st, f, p)
                u, overflow = _assign_greedy(st, t, est, p, loads)
                reason = open_reason[i]
                st.u_open[u] += 1
                st.u_committed[u] += est
                if p.committed_load and st.u_committed[u] > loads[u]:
                    loads[u] = st.u_committed[u]
                _maybe_prestart(st, t, p, loads)
            moved = st.f_unit[f] >= 0 and (st.f_unit[f] != u or st.f_life[f] != st.u_life[u])
            if moved and p.reactive_state and flow_mode:
                st.f_need_pull[f] = True
            item = st.counters[C_ITEMS]
            st.counters[C_ITEMS] += 1
            st.counters[C_ALLOCATIONS] += 1
            st.f_item[f] = item
            st.f_open[f] = flow_mode
            st.f_unit[f] = u
            st.f_life[f] = st.u_life[u]
            st.f_est[f] = est
            st.f_first_ts[f] = t
            st.f_bytes[f] = 0
            st.f_pkts[f] = 0
            k = out.n_items[0]
            out.it_id[k] = item
            out.it_flow[k] = f
            out.it_unit[k] = u
            out.it_life[k] = st.u_life[u]
            out.it_open_ts[k] = t
            out.it_reason[k] = reason
            out.it_est[k] = est
            out.it_overflow[k] = overflow
            out.n_items[0] = k + 1
        u = st.f_unit[f]
        # 3. bookkeeping of the arrival
        b = t // p.bucket_ns
        _roll(st, u, b, p.n_buckets)
        st.u_cur_bytes[u] += size
        st.u_last_recv[u] = t
        st.f_bytes[f] += size
        st.f_pkts[f] += 1
        st.f_last_ts[f] = t
        st.f_tick_bytes[f] += size
        if flow_mode:
            tail = st.istate[I_QTAIL] % q
            st.q_time[tail] = t + p.close_after_ns
            st.q_flow[tail] = f
            st.q_item[tail] = st.f_item[f]
            st.istate[I_QTAIL] += 1
        # 4. service
        ready = t
        cause = WAIT_NONE
        if p.mode == MODE_PACKET:
            base = t if t > st.f_last_finish[f] else st.f_last_finish[f]
            ready = base + p.store_rtt_ns
            cause = WAIT_STORE
        elif st.f_need_pull[f]:
            base = t if t > st.f_last_finish[f] else st.f_last_finish[f]
            ready = base + p.transfer_ns
            cause = WAIT_PULL
            st.f_need_pull[f] = False
            st.counters[C_STATE_PULLS] += 1
        free = st.u_free[u]
        avail = t if t > free else free
        start = avail if avail > ready else ready
        wait = ready - avail if ready > avail else 0
        service = p.per_packet_ns + (size * p.per_byte_ps) // 1000
        finish = start + service
        st.u_free[u] = finish
        st.u_busy[u] += service
        st.u_pkts[u] += 1
        st.u_bytes[u] += size
        reord = finish < st.f_last_finish[f]
        if reord:
            st.counters[C_REORDERED] += 1
        else:
            st.f_last_finish[f] = finish
        out.unit[i] = u
        out.item[i] = st.f_item[f]
        out.start[i] = start
        out.finish[i] = finish
        out.state_wait[i] = wait
        out.wait_cause[i] = cause if wait > 0 else WAIT_NONE
        out.reordered[i] = reord
    return n, STATUS_DONE


@nb.njit(cache=True)
def finish_replay_nb(p, st):
    """End of trace: close every open item and retire every unit at the time it would retire."""
    for f in range(st.f_open.shape[0]):
        if st.f_open[f]:
            _close_item(st, f, p)
    st.istate[I_QHEAD] = st.istate[I_QTAIL]
    for u in range(p.max_units):
        if st.u_active[u]:
            when = st.u_last_recv[u] + p.idle_ns
            if st.u_free[u] > when:
                when = st.u_free[u]
            _retire_unit(st, u, when)
