"""The replay kernel: SNF's controller and the allocation baselines over one chunk of packets.

Semantics (DESIGN.md "Time, packets, units", "Controller", "Allocation modes"); the plain-Python twin
:mod:`snfkit.reference.replay` states the same rules for reading, and tests require identical outputs.

Work items. Packets are grouped into *items*, the units of assignment: flowlets (mode flowlet),
flows (flow, smart_flow: a flow idle for ``flow_timeout_ns`` has ended) or single packets (packet). The
kernel detects them as it goes, with the rule of :mod:`snfkit.engine.flowlets_nb` (a flow's first
packet, a gap strictly above ``close_after_ns``, or, with ``split_bytes`` > 0, the item's bytes plus
the packet's above ``split_bytes``) from the flow record's last time and item bytes, so detection
costs no pass of its own; the open reason (0 new flow, 1 timeout, 2 size) is the item's ``reason``.
The flow record's ``item``, ``last_ts`` and ``bytes`` are exactly the detector's state: an item opens
at every detected boundary and nowhere else. An item stays *open* until
its flow has been idle for ``close_after_ns`` (closed strictly after ``last_ts + close_after_ns``), or
until the next item of its flow opens. Closing records the item's measured rate.

Per packet i at time t (ts[i]):
1. Pending events in time order: smart_flow ticks at or before t, then item closes and proactive
   pushes (:mod:`snfkit.engine.state_nb`) strictly before t. Closes and pushes come as a sorted list
   computed from the trace (:mod:`snfkit.engine.events_nb`), walked with the cursor ``ctl.ev``.
2. If the packet opens an item: assignment (below) and the item's state source (new flow, same
   unit, replica, in-flight replica, pull, store, free). Otherwise it follows its flow's unit.
3. Service: service = per_packet_ns + wire_len * per_byte_ps // 1000, booked in the unit's calendar
   of busy intervals at the earliest gap from max(t, unit ready, the flow's previous packet on this
   unit done), or from when the state is there if it waits (other flows fill the gap; packet mode
   stays FIFO behind the unit's last packet). latency = finish - t = queueing + state wait + service.
4. Aggregates (:mod:`snfkit.engine.collect_nb`): latency histogram, waits, item totals, (epoch,
   unit) sums; the per-packet outputs only when ``p.keep_rows`` (state sources: ``p.keep_src``).

Assignment: retire due units; demand estimate est (first item of a flow: mean measured rate of all
closed items so far, or ``initial_estimate_bps``; later: EWMA of the previous item's measured rate and
the previous estimate); candidates are active units in ID order with est + load < capacity; score =
load / capacity + alpha * has_state (1 on the unit that ran the flow's previous item, or, in proactive
mode, one holding a copy with the flow's current clock); max score wins, ties to the lower ID. No candidate: start a new unit at the lowest free ID (it waits for start-up) if the pool
allows, else the least-loaded unit; both are counted as overflow. Afterwards, if every active unit is
above ``prestart_util`` and none is starting, one more unit starts (prestart).

Load of a unit: ``measured`` = bytes dispatched to it in the last ``n_buckets`` complete buckets
(fewer for a young unit) / that time; ``committed`` (default) = max(measured, sum of the estimates of
its open items).

The controller's own cost (§9.7): an item's first packet reaches its unit ``decision_ns`` after
the controller decides it; with a decision rate (``decide_gap_ns`` > 0) the controller decides one
item at a time, each taking that long, so items arriving faster than it decides queue for it
(``ctl.ctl_free``; the wait counts in the packet's queueing time).

Leases (``p.rm``, one controller of several under a resource manager, paper §7): unit slots are
leases of a share of a unit (:mod:`snfkit.engine.pool_nb`, "Shares"): capacities and service times
follow the share, units started ahead of need are leases of ``rm_increment`` granted after
``rm_rtt_ns`` (an item no lease has room for goes to the least loaded lease unless there is none), and at its first arrival in each new epoch the controller asks for last epoch's load
plus headroom (:func:`~snfkit.engine.pool_nb.lease_to`: more leases, or idle ones given back).

Retirement: a unit with no open item retires at max(last packet received + idle_ns, unit_free); the
controller notices it at its next decision, with the exact time recorded. New units take the lowest
free ID.

Layout. The state is a few structured arrays (one record per flow, per unit slot, plus one control
record of scalars and counters) so that a flow's fields share a cache line and
helpers take a handful of arrays. Helpers never receive the ``ReplayState`` tuple itself: numba
increfs every member of a tuple passed to a function, an atomic operation per array per call, which
cost more than the replay itself when the state was 37 separate arrays. Loops over unit slots stop at
``ctl.hi``, one past the highest active slot.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from snfkit.engine._jit import helper
from snfkit.engine.calendar_nb import cal_book, cal_fit, drain_shape
from snfkit.engine.collect_nb import (
    EPOCH_RING,
    RING_MASK,
    Items,
    add_epoch_row,
    flush_epochs,
    flush_item,
    hist_bucket,
)
from snfkit.engine.enums import (
    AllocationMode,
    OpenReason,
    Placement,
    RecoveryStrategy,
    StateMode,
    StateSource,
    TransferKind,
    WaitCause,
)
from snfkit.engine.faults_nb import (
    F_TIME,
    apply_failure,
    inflight_slot,
    release_time,
    unit_finish_on,
)
from snfkit.engine.mix_nb import pop_low_bit
from snfkit.engine.pool_nb import (
    INF,
    SHARE_ONE,
    lease_service,
    lease_target,
    lease_to,
    maybe_prestart,
    refresh_loads,
    retire_due,
    retire_time,
    retire_unit,
    roll_unit,
    set_load,
    start_unit,
    went_idle,
)
from snfkit.engine.state_nb import add_transfer, open_source, push_state

TIME_LIMIT = np.int64(2**61)
"""Kernel times count from the trace's first packet (the driver shifts them; ``ctl.origin`` is that
packet's time on the trace's clock). The trace's span and every time parameter are bounded
(:data:`snfkit.params.MAX_TIME_PARAM_NS`, :data:`MAX_SPAN_NS`) so that the sums the kernel forms
stay below this; a unit backlog that runs past it stops the replay (``STATUS_TIME_LIMIT``) instead of
overflowing."""
MAX_SPAN_NS = 2**60
"""The longest trace (last - first arrival) a replay takes: about 36 years."""

STATUS_DONE = 0
STATUS_RECORDS_FULL = 2  # unit records, transfer or epoch rows must be drained; call again
STATUS_TIME_LIMIT = 3  # a packet would finish after TIME_LIMIT: the caller raises
STATUS_BAD_FAILURE = 4  # the failure at ctl.fi cannot apply (faults_nb's error in its row)
FAIL_STREAM = np.uint64(0x5F3759DF5F3759DF)
"""Mixed into the seed for the stream that draws failure targets (apart from the replica draws)."""

FLOW_DTYPE = np.dtype(
    [
        # touched by every packet: kept together in the first two cache lines
        ("item", np.int64),  # current item id, -1 none
        ("unit", np.int64),  # unit slot of the current/last item, -1 none
        ("last_ts", np.int64),
        ("last_finish", np.int64),  # max finish time over the flow's processed packets
        ("bytes", np.int64),  # current item's bytes
        ("pkts", np.int64),  # current item's packets
        ("clock", np.int64),  # logical clock: packets of the flow processed so far
        ("last_pkt", np.int64),  # global index of the flow's last packet, -1 none
        ("unit_finish", np.int64),  # finish of the flow's last packet on its current unit
        ("item_end", np.int64),  # last finish of the current item's packets
        ("state_ready", np.int64),  # when the current item's state is there
        ("tick_bytes", np.int64),  # bytes since the last smart_flow tick
        ("open", np.bool_),  # current item still open
        ("need_pull", np.bool_),  # smart_flow moved the flow: its next packet fetches the state
        ("state_cause", np.int8),  # why the item waits for its state (a WaitCause code)
        # touched when an item opens or closes, or a push happens
        ("life", np.int64),  # lifetime id of the unit (slots are reused)
        ("first_ts", np.int64),  # current item's first packet time
        ("est", np.float64),  # current item's demand estimate (bps)
        ("prev_rate", np.float64),  # measured rate of the previous closed item, -1 none
        ("wlanded", np.int64),  # external mode: when the flow's last store write lands
        ("rep_clock", np.int64),  # latest push: clock carried, -1 none
        ("rep_time", np.int64),  # latest push: when sent
        ("rep_arrive", np.int64),  # latest push: when the copies arrive
        ("rep_pkt", np.int64),  # latest push: packet whose post-state was sent
        ("prev_clock", np.int64),  # the push before: clock, -1 none
        ("prev_time", np.int64),
        ("prev_pkt", np.int64),
        ("moved_from", np.int64),  # smart_flow: the slot holding the state of a moved flow
        # a failure's recovery unit that processed the flow's in-flight packets again while the
        # flow was on another unit: its lifetime (-1 none) and their last finish there
        ("rp_life", np.int64),
        ("rp_finish", np.int64),
    ],
    align=True,
)
FLOW_FRESH = np.zeros((), FLOW_DTYPE)
for _name in ("item", "unit", "life", "last_pkt", "rep_clock", "rep_pkt", "prev_clock", "prev_pkt",
              "moved_from", "rp_life"):  # fmt: skip
    FLOW_FRESH[_name] = -1
FLOW_FRESH["prev_rate"] = -1.0
"""A flow never seen: the values new flow records are filled with."""

CTL_DTYPE = np.dtype(
    [
        ("ev", np.int64),  # cursor into the chunk's events
        ("load_bucket", np.int64),  # bucket the units' ld/sc/m are computed for (-1 none)
        ("next_tick", np.int64),
        ("n_records", np.int64),
        ("started", np.bool_),  # True once the first packet set the tick origin
        ("hi", np.int64),  # one past the highest active unit slot
        ("act_ver", np.int64),  # changes whenever a slot starts or retires
        ("allocations", np.int64),
        ("overflow_new", np.int64),
        ("overflow_full", np.int64),
        ("prestarts", np.int64),
        ("moves", np.int64),
        ("state_pulls", np.int64),
        ("reordered", np.int64),
        ("items", np.int64),
        ("lives", np.int64),
        ("rate_count", np.int64),
        ("rate_sum", np.float64),
        ("n_transfers", np.int64),
        ("rng", np.uint64),  # splitmix64 state of the weighted replica draw
        ("pushes", np.int64),
        ("copies", np.int64),
        ("stale_copies", np.int64),  # opens that found a copy with an old clock
        ("stale_used", np.int64),  # opens that started from a version older than the latest
        ("store_reads", np.int64),
        ("store_writes", np.int64),
        ("retire_at", np.int64),  # no idle unit retires before this (0: look)
        ("t0", np.int64),  # first packet's time: epoch 0 starts here (0: times are relative)
        ("origin", np.int64),  # the first packet's time on the trace's clock (set by the caller)
        ("ea", np.int64),  # epoch of the latest arrival
        ("ea_end", np.int64),  # when that epoch ends
        ("eu_hi", np.int64),  # one past the highest slot with epoch cells
        ("n_eu", np.int64),  # epoch rows written, not yet drained by the caller
        ("served", np.int64),  # packets served (each booked once on a unit's calendar)
        ("fi", np.int64),  # cursor into the failure schedule
        ("hold_until", np.int64),  # a failed controller dispatches nothing before this
        ("fail_rng", np.uint64),  # splitmix64 state of the failure targets drawn
        ("lost", np.int64),  # packets lost with their unit and its OL
        ("n_patches", np.int64),  # rows of earlier chunks changed by failures, not yet drained
        ("lat_sum", np.float64),  # a float: a sum of int64 latencies could overflow
        ("lat_max", np.int64),
        ("ep_bytes", np.int64),  # bytes arrived in epoch ea (a resource manager's lease request)
        ("lease_asks", np.int64),  # leases asked for by epoch requests (pool_nb.lease_to)
        ("lease_returns", np.int64),  # idle leases given back by epoch requests
        ("ctl_free", np.int64),  # when the controller has decided every item so far
        ("decide_busy", np.int64),  # controller time spent deciding (with a decision rate)
        ("decide_wait", np.float64),  # items' waits for the controller, summed
        ("decide_waited", np.int64),  # items that waited for the controller
        (
            "transfer_bytes",
            np.int64,
            (3,),
        ),  # bytes moved, by transfer kind (push, pull, store_read)
    ],
    align=True,
)
"""The controller's scalars and counters: a one-record array."""


class ReplayState(NamedTuple):
    """Everything the controller remembers between chunks, and the aggregates it keeps
    (:mod:`snfkit.engine.collect_nb`). F flows, U unit slots, W buckets, I items."""

    flows: np.ndarray  # FLOW_DTYPE [F]
    units: np.ndarray  # UNIT_DTYPE [U]
    ring: np.ndarray  # int64 [U, W], bytes per bucket
    records: np.ndarray  # RECORD_DTYPE [R], unit lifetimes not yet drained by the caller
    ctl: np.ndarray  # CTL_DTYPE [1]
    masks: np.ndarray  # uint64 [F, 2, mask_words]: which slots got the latest two pushes
    transfers: np.ndarray  # int64 [len(TRANSFER_COLUMNS), R'] (state_nb), not yet drained
    items: Items  # every item so far (its totals once superseded), one array per field [I]
    hist: np.ndarray  # int64 [N_BUCKETS]: latency histogram
    waits: np.ndarray  # float64 [2, len(WaitCause)]: packets that waited for their state and their
    # state-wait ns, by wait cause (packets without a wait are not counted; floats: no overflow)
    eu: np.ndarray  # int64 [U, EPOCH_RING, 4]: ring of (epoch, unit) cells
    eu_rows: np.ndarray  # int64 [R'', 6]: epoch rows, not yet drained by the caller
    fails: np.ndarray  # int64 [n, len(FAIL_COLUMNS)]: the failure schedule and its outcomes
    inflight: np.ndarray  # int64 [U, R, 10] with failures (R: faults_nb.INFLIGHT_SLOTS), else empty
    olw: np.ndarray  # int64 [OLs, 2]: each output logger's down window [from, until)
    patches: np.ndarray  # int64 [P, len(PATCH_COLUMNS)]: earlier chunks' rows changed by failures
    flow_life: np.ndarray  # int64 [F] with failures: each flow's ``life`` (faults_nb.flows_on)


class ChunkOut(NamedTuple):
    """Per-packet outputs of one chunk, preallocated by the caller: length n when ``p.keep_rows``
    (``src_pkt``: when ``p.keep_src``), else not written and may be empty. Items go to
    ``ReplayState.items``. Only what cannot be derived is written (the packets table computes
    finish = arrival + latency - ol, service = finish - start, queue = latency - service -
    state_wait - ol): fresh memory written per packet is most of what per-packet rows cost."""

    unit: np.ndarray  # int32
    item: np.ndarray  # int64
    start: np.ndarray  # int64, on the trace's clock
    state_wait: np.ndarray  # int64
    latency: np.ndarray  # int64: release - arrival (release = finish without an OL hop)
    wait_cause: np.ndarray  # uint8 (a WaitCause code)
    reordered: np.ndarray  # bool
    src_pkt: np.ndarray  # int64: global index of the packet whose post-state the packet starts from
    ol: np.ndarray  # int64: release - finish (the output logger's hop and downtime), with failures
    lost: np.ndarray  # bool: lost with its unit and OL (with failures)


PARAMS_DTYPE = np.dtype(
    [
        # ReplayParams fields, by their flat names (choices as codes of snfkit.engine.enums)
        ("mode", np.int64),  # AllocationMode
        ("alpha", np.float64),
        ("unit_capacity_bps", np.float64),
        ("load_bucket_ns", np.int64),
        ("load_buckets", np.int64),
        ("load_estimator", np.int64),  # LoadEstimator
        ("ewma_weight", np.float64),
        ("initial_estimate_bps", np.float64),
        ("per_packet_ns", np.int64),
        ("per_byte_ps", np.int64),
        ("unit_startup_ns", np.int64),
        ("unit_idle_ns", np.int64),
        ("prestart_utilization", np.float64),
        ("max_units", np.int64),
        ("smart_interval_ns", np.int64),
        ("consolidate_below", np.float64),
        ("state_mode", np.int64),  # StateMode
        ("replicas", np.int64),
        ("replication_policy", np.int64),  # ReplicationPolicy
        ("state_transfer_ns", np.int64),
        ("store_rtt_ns", np.int64),
        ("state_bytes", np.int64),
        ("seed", np.int64),
        ("clock_check", np.bool_),
        ("epoch_ns", np.int64),
        # derived (snfkit.params.kernel_settings, the one place that derives them)
        ("close_after_ns", np.int64),  # an item is open until its flow is idle this long
        ("push_after_ns", np.int64),  # idle time before a proactive push
        ("split_bytes", np.int64),  # the size threshold B in mode flowlet, else 0 (no size rule)
        ("mask_words", np.int64),  # uint64 words of one unit-slot bit mask
        ("record_transfers", np.bool_),  # write a row per transfer (else only the byte counts)
        ("keep_rows", np.bool_),  # write the per-packet outputs (else only the aggregates)
        ("keep_src", np.bool_),  # write each packet's state source
        # output loggers and failures (snfkit.engine.faults_nb)
        ("ol_hop_ns", np.int64),
        ("units_per_ol", np.int64),
        ("detect_ns", np.int64),
        ("recovery", np.int64),  # RecoveryStrategy
        ("recovery_launch", np.int64),  # RecoveryLaunch
        ("recovery_fixed_ns", np.int64),
        ("recovery_bandwidth_bps", np.float64),
        ("checkpoint_interval_ns", np.int64),
        ("controller_query_ns", np.int64),
        ("recovery_from_ol", np.bool_),
        ("faults", np.bool_),  # derived: failures are scheduled (keep the in-flight rings)
        ("ol_rows", np.bool_),  # derived: write the per-packet ol and lost columns
        # added with issue 19 (appended: the fields above keep their places)
        ("placement", np.int64),  # Placement
        ("decision_ns", np.int64),  # controller time per item, before its first packet
        ("push_unit_ns", np.int64),  # sending unit's time per push copy
        ("push_ns", np.int64),  # derived: time of one push copy (fixed + bytes / bandwidth)
        ("pull_ns", np.int64),  # derived: time of one pull
        ("store_read_on_move", np.bool_),  # external: read the store only on another unit
        ("drain_ps_per_byte", np.int64),  # derived: unit drain shaper, ps per byte (0: none)
        ("drain_burst_ns", np.int64),  # derived: the shaper's burst tolerance
        # added with issue 18: many controllers, a resource manager, the controller's own cost
        ("rm", np.bool_),  # slots are leases from a resource manager (pool_nb's "Shares")
        ("rm_rtt_ns", np.int64),  # a lease request's round trip
        ("rm_increment", np.int64),  # derived: thousandths of a unit asked for on demand
        ("rm_grain", np.int64),  # derived: epoch requests are multiples of this (thousandths)
        ("rm_headroom", np.float64),  # epoch request: last epoch's load x (1 + headroom)
        ("decide_gap_ns", np.int64),  # derived: controller time per decision (0: no limit)
    ],
    align=True,
)
"""The replay's parameters as the kernel takes them: a one-record array (built by
:meth:`snfkit.params.ReplayParams.kernel_record`). Kernels and helpers get this record (one
pointer): numba passes a NamedTuple as one argument per field, and thirty-odd stack pushes per call
cost more than the calls' work on the item path."""


# ----------------------------------------------------------------------------- items


@helper
def item_rate(first_ts, last_ts, nbytes, npkts, close_after_ns):
    """Measured rate (bps) of a closed item: its bytes over its span, where n packets span n mean
    inter-packet gaps, and no span is taken shorter than the close timeout (T in flowlet mode), so
    a burst of back-to-back packets does not read as a multi-Gbps flow."""
    dur = float(close_after_ns)
    if npkts > 1:
        span = (last_ts - first_ts) * npkts / (npkts - 1)
        if span > dur:
            dur = span
    return nbytes * 8e9 / dur


@nb.njit(cache=True, error_model="numpy")
def item_rates_nb(first_ts, last_ts, nbytes, npkts, close_after_ns):
    """:func:`item_rate` over arrays (the flowlets table's measured rates)."""
    out = np.empty(first_ts.shape[0], np.float64)
    for k in range(first_ts.shape[0]):
        out[k] = item_rate(first_ts[k], last_ts[k], nbytes[k], npkts[k], close_after_ns)
    return out


@helper
def _close_item(fl, un, c, p):
    """Close flow fl's open item (un is the unit slot it was assigned to); records its rate."""
    if fl.life == un.life and un.active:
        un.open -= 1
        un.committed -= fl.est
        set_load(un, p)
        if un.open == 0:
            went_idle(un, c, p)
    rate = item_rate(fl.first_ts, fl.last_ts, fl.bytes, fl.pkts, p.close_after_ns)
    fl.prev_rate = rate
    c.rate_sum += rate
    c.rate_count += 1
    fl.open = False


@helper
def _estimate(fl, c, p):
    if fl.prev_rate >= 0.0:
        return p.ewma_weight * fl.prev_rate + (1.0 - p.ewma_weight) * fl.est
    if c.rate_count > 0:
        return c.rate_sum / c.rate_count
    return p.initial_estimate_bps


@helper
def _holds(un, u, fl, fresh, masks, f):
    """has_state for active slot u (record un): it ran the flow's previous item, or holds a fresh
    copy (bit u of the flow's latest push mask) and started no later than that push. The mask is
    read last: for a flow's first item its row is cold."""
    if u == fl.unit and un.life == fl.life:
        return True
    if not fresh or un.start > fl.rep_time:
        return False
    return (masks[f, 0, u >> 6] >> np.uint64(u & 63)) & np.uint64(1) != 0


@helper
def _first_fit(units, masks, c, fl, f, est, p):
    """Placement ``first_fit`` (§4.2's prose): over the units with room (est + load < capacity),
    score = 1 - k / n for the k-th of the n active units in ID order (0-based), plus alpha *
    has_state as in ``score``; max wins, ties to the lower ID. At alpha = 0 that is the smallest
    ID with room. Returns -1 when no unit has room."""
    n = 0
    for u in range(c.hi):
        if units[u].active:
            n += 1
    affinity = p.alpha > 0.0 and (
        p.state_mode == StateMode.proactive or p.state_mode == StateMode.reactive
    )
    fresh = fl.rep_clock >= 0 and fl.rep_clock == fl.clock
    best = -1
    best_score = -1.0
    k = 0
    for u in range(c.hi):
        un = units[u]
        if not un.active:
            continue
        score = 1.0 - k / n
        k += 1
        if est + un.ld >= un.cap:
            continue
        if affinity and _holds(un, u, fl, fresh, masks, f):
            score += p.alpha
        if score > best_score:
            best = u
            best_score = score
    return best


@helper
def _assign_greedy(units, ring, masks, c, fl, f, est, b, t, p):
    """Pseudocode 1 WorkloadAssignment for flow f (record fl); returns (slot, overflow flag).

    score(u) = load/capacity + alpha * has_state(u) over the units where est + load < capacity;
    max score wins, ties to the lower ID. Without the affinity term that is the plain argmax of
    ``sc``; has_state is 1 only on the flow's previous unit and the slots of its latest push, so
    those few are scored separately against the plain argmax."""
    if c.load_bucket != b:
        refresh_loads(units, ring, c, b, p)
    best = -1
    best_score = -1.0
    if p.placement == Placement.first_fit:
        best = _first_fit(units, masks, c, fl, f, est, p)
        if best >= 0:
            return best, False
    n_scored = c.hi if p.placement == Placement.score else 0
    for u in range(n_scored):  # without branches: which unit is best is data, not predictable
        un = units[u]  # inactive slots have ld = inf
        sc = un.sc
        better = (est + un.ld < un.cap) & (sc > best_score)
        best = u if better else best
        best_score = sc if better else best_score
    if best >= 0:
        if p.alpha > 0.0 and (
            p.state_mode == StateMode.proactive or p.state_mode == StateMode.reactive
        ):
            fresh = fl.rep_clock >= 0 and fl.rep_clock == fl.clock
            if _holds(units[best], best, fl, fresh, masks, f):
                best_score += p.alpha
            h = fl.unit
            if h >= 0 and h < c.hi and units[h].active and units[h].life == fl.life:
                un = units[h]
                score = un.sc + p.alpha
                if est + un.ld < un.cap and (
                    score > best_score or (score == best_score and h < best)
                ):
                    best = h
                    best_score = score
            if fresh:
                for w in range((c.hi + 63) >> 6):
                    word = masks[f, 0, w]
                    while word != np.uint64(0):
                        bit, word = pop_low_bit(word)
                        h = w * 64 + bit
                        if h >= c.hi or not units[h].active:
                            continue
                        un = units[h]
                        if un.start > fl.rep_time or est + un.ld >= un.cap:
                            continue
                        score = un.sc + p.alpha
                        if score > best_score or (score == best_score and h < best):
                            best = h
                            best_score = score
        return best, False
    # no unit has room: start one; under a resource manager only when the controller holds no
    # lease (it asks for more through the prestart rule: when all its leases are above it)
    u = start_unit(units, ring, c, t, p) if not p.rm or c.hi == 0 else -1
    if u >= 0:
        c.overflow_new += 1
        return u, True
    least = -1
    for v in range(c.hi):
        if units[v].active and (least < 0 or units[v].ld < units[least].ld):
            least = v
    c.overflow_full += 1
    return least, True


@helper
def _earliest_unit(units, c, t):
    best = -1
    best_start = np.int64(0)
    starting = False
    for u in range(c.hi):
        un = units[u]
        if not un.active:
            continue
        if un.ready > t:
            starting = True
        s = un.free if un.free > t else t
        if best < 0 or s < best_start:
            best = u
            best_start = s
    return best, best_start, starting


@helper
def _assign_packet(units, ring, c, t, p):
    """Packet mode, a per-event platform: the event goes to the active unit that can start it
    soonest (ties to the lower ID). The pool scales on concurrency: when no unit is free at t and
    none is starting, one more unit starts (counted as a prestart) and competes for the packet."""
    best, best_start, starting = _earliest_unit(units, c, t)
    if best < 0:
        u = start_unit(units, ring, c, t, p)
        c.overflow_new += 1
        return u, True
    if best_start > t and not starting:
        if start_unit(units, ring, c, t, p) >= 0:
            c.prestarts += 1
            best, best_start, starting = _earliest_unit(units, c, t)
    return best, False


# ----------------------------------------------------------------------------- smart_flow


@helper
def _move_flow(flows, units, c, f, v, p):
    fl = flows[f]
    src = units[fl.unit]
    dst = units[v]
    src.open -= 1
    src.committed -= fl.est
    set_load(src, p)
    if src.open == 0:
        went_idle(src, c, p)
    dst.open += 1
    dst.committed += fl.est
    set_load(dst, p)
    if not fl.need_pull:
        fl.moved_from = fl.unit
    fl.unit_finish = unit_finish_on(fl, dst.life)
    fl.unit = v
    fl.life = dst.life
    fl.need_pull = p.state_mode != StateMode.local
    c.moves += 1


@nb.njit(cache=True, error_model="numpy")
def _smart_tick(flows, units, ring, records, c, tau, p):
    """Every X ms: move flows off overloaded units, then empty underused ones where their flows fit
    on other units in use.
    Returns True for a quiet tick: no open flow sent bytes since the last tick and nothing moved,
    started or retired; the ticks after it do the same nothing until the next arrival, event or
    retirement (the caller skips them, so a tick costs nothing while nothing moves)."""
    before = c.moves + c.lives + c.n_records
    retire_due(units, records, c, tau, p)
    n_flows = flows.shape[0]
    count = 0
    for f in range(n_flows):
        if flows[f].open:
            count += 1
    fids = np.empty(count, np.int64)
    rates = np.empty(count, np.float64)
    k = 0
    for f in range(n_flows):
        if flows[f].open:
            fids[k] = f
            rates[k] = flows[f].tick_bytes * 8e9 / p.smart_interval_ns
            k += 1
    # order: by unit, then rate descending, then flow id (stable sorts)
    order = np.argsort(-rates, kind="mergesort")
    fids = fids[order]
    rates = rates[order]
    units_of = np.empty(count, np.float64)  # (exact; float64 like rates: one sort to compile)
    for j in range(count):
        units_of[j] = flows[fids[j]].unit
    order = np.argsort(units_of, kind="mergesort")
    fids = fids[order]
    rates = rates[order]
    load = np.zeros(p.max_units, np.float64)
    for j in range(count):
        load[flows[fids[j]].unit] += rates[j]
    # 1. relieve overloaded units, in ID order, moving their largest flows first
    for j in range(count):
        f = fids[j]
        u = flows[f].unit
        if load[u] <= units[u].cap or rates[j] <= 0.0:
            continue
        target = -1
        for v in range(c.hi):
            if v != u and units[v].active and load[v] + rates[j] < units[v].cap:
                target = v
                break
        if target < 0:
            target = start_unit(units, ring, c, tau, p)
            if target < 0:
                continue
            load[target] = 0.0
        load[u] -= rates[j]
        load[target] += rates[j]
        _move_flow(flows, units, c, f, target, p)
    # 2. consolidate: highest ID first, empty a unit under consolidate_below if all its flows fit
    emptied = np.zeros(p.max_units, np.bool_)
    for u in range(c.hi - 1, -1, -1):
        if not units[u].active or units[u].open == 0:
            continue
        if load[u] >= p.consolidate_below * units[u].cap:
            continue
        trial = load.copy()
        dest = np.full(count, -1, np.int64)
        ok = True
        for j in range(count):
            f = fids[j]
            if flows[f].unit != u:
                continue
            placed = False
            for v in range(c.hi):
                if (  # onto units in use only (a drained one would swap flows back and forth)
                    v != u
                    and units[v].active
                    and units[v].open > 0
                    and not emptied[v]
                    and trial[v] + rates[j] < units[v].cap
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
                    _move_flow(flows, units, c, fids[j], dest[j], p)
            trial[u] = 0.0
            for v in range(p.max_units):  # (a loop: see flowkeys_nb._grow_keys)
                load[v] = trial[v]
            emptied[u] = True
    for f in range(n_flows):
        flows[f].tick_bytes = 0
    traffic = False
    for j in range(count):
        if rates[j] > 0.0:
            traffic = True
            break
    return not traffic and c.moves + c.lives + c.n_records == before


# ----------------------------------------------------------------------------- main loop


@nb.njit(cache=True, nogil=True, error_model="numpy")
def replay_chunk_nb(ts, flow, wire_len, ev_time, ev_code, i0, g0, pr, st, out):
    """Replay packets i0.. of a chunk whose first packet has global index g0, processing the chunk's
    events (:mod:`snfkit.engine.events_nb`) from ``ctl.ev`` on; returns (next index, status). See
    the module docstring. ``pr`` holds the parameters as a one-record array
    (:data:`PARAMS_DTYPE`), the form helpers get."""
    p = pr[0]
    flows = st.flows
    units = st.units
    ring = st.ring
    masks = st.masks
    records = st.records
    transfers = st.transfers
    c = st.ctl[0]
    o_unit, o_item, o_start, o_lat = out.unit, out.item, out.start, out.latency
    o_wait, o_cause, o_reord, o_src = out.state_wait, out.wait_cause, out.reordered, out.src_pkt
    o_ol, o_lost = out.ol, out.lost
    fails, olw, flow_life, inflight = st.fails, st.olw, st.flow_life, st.inflight
    n_fail = fails.shape[0]
    n = ts.shape[0]
    n_ev = ev_time.shape[0]
    n_rec = records.shape[0]
    n_tr = transfers.shape[1]
    items, hist, waits, eu, eu_rows = st.items, st.hist, st.waits, st.eu, st.eu_rows
    eu_limit = eu_rows.shape[0] - EPOCH_RING * eu.shape[0] - 1  # room for a ring flush + 1 row
    flow_mode = p.mode != AllocationMode.packet
    b = np.int64(0)  # load bucket of t, recomputed when t reaches b_end
    b_end = np.int64(-(2**62))
    t_ev = ev_time[c.ev] if c.ev < n_ev else INF  # time of the next event
    if i0 < 0:
        i0 = 0  # (lets the compiler drop negative-index wraparound on the per-packet arrays)
    status = STATUS_DONE
    stop = n
    lat_sum = 0.0  # latency sum (float: it cannot overflow) and maximum, in registers until the end
    lat_max = np.int64(0)
    served = np.int64(0)
    origin = c.origin  # per-packet start and finish are written on the trace's clock
    for i in range(i0, n):
        if c.n_records + p.max_units > n_rec or c.n_transfers + 2 > n_tr or c.n_eu > eu_limit:
            status = STATUS_RECORDS_FULL
            stop = i
            break
        t_arr = ts[i]  # the arrival; t: when the controller dispatches it (later while it recovers;
        # events, ticks, flowlet detection and epochs go by arrivals, as the event lists do)
        t = t_arr
        f = flow[i]
        size = np.int64(wire_len[i])
        if not c.started:
            c.started = True
            c.next_tick = t + p.smart_interval_ns
            c.rng = np.uint64(p.seed)
            c.fail_rng = np.uint64(p.seed) ^ FAIL_STREAM
            c.t0 = t
            c.ea = 0
            c.ea_end = t + p.epoch_ns
        # 1. events before t, in time order: failures at or before t (first at equal times),
        # smart_flow ticks at or before t (a tick before closes and pushes at equal times), item
        # closes and proactive pushes strictly before t. Written out here: a call taking arrays
        # costs an atomic incref per array, and this runs for every packet.
        while True:
            t_fail = fails[c.fi, F_TIME] if c.fi < n_fail else INF
            if (
                t_fail <= t
                and t_fail <= t_ev
                and (p.mode != AllocationMode.smart_flow or t_fail <= c.next_tick)
            ):
                if (
                    c.n_records + p.max_units > n_rec
                    or c.n_eu + 2 * st.inflight.shape[1] + 2 > eu_rows.shape[0]
                    or c.n_patches + st.inflight.shape[1] > st.patches.shape[0]
                ):
                    status = STATUS_RECORDS_FULL
                    break
                err = apply_failure(fails[c.fi], st, c, p, out, g0, p.keep_rows)
                if err != 0:
                    status = STATUS_BAD_FAILURE
                    break
                c.fi += 1
                continue
            if p.mode == AllocationMode.smart_flow and c.next_tick <= t and c.next_tick <= t_ev:
                if c.n_records + p.max_units > n_rec:
                    status = STATUS_RECORDS_FULL
                    break
                quiet = _smart_tick(flows, units, ring, records, c, c.next_tick, p)
                c.next_tick += p.smart_interval_ns
                if quiet:  # skip the ticks up to the next arrival, event or retirement
                    last = min(t, t_ev, c.retire_at - 1)
                    if last >= c.next_tick:
                        skipped = (last - c.next_tick) // p.smart_interval_ns + 1
                        c.next_tick += skipped * p.smart_interval_ns
                continue
            if t_ev >= t:
                break
            code = ev_code[c.ev]
            fe = flows[code >> 1]
            if code & 1 == 0:
                if fe.open:
                    _close_item(fe, units[fe.unit], c, p)
            else:
                if c.n_records + p.max_units > n_rec or c.n_transfers + p.max_units > n_tr:
                    status = STATUS_RECORDS_FULL
                    break
                if t_ev >= c.retire_at:
                    retire_due(units, records, c, t_ev, p)
                when = t_ev if t_ev > fe.last_finish else fe.last_finish
                if fe.state_ready > when:  # (its unit is still waiting for the state: a recovery)
                    when = fe.state_ready
                push_state(units, masks, transfers, c, fe, code >> 1, when, p)
            c.ev += 1
            t_ev = ev_time[c.ev] if c.ev < n_ev else INF
        if status != STATUS_DONE:
            stop = i
            break
        if t < c.hold_until:  # the controller is recovering: dispatched once it is back
            t = c.hold_until
        if t >= b_end:
            b = t // p.load_bucket_ns
            b_end = (b + 1) * p.load_bucket_ns
        if t_arr >= c.ea_end:  # arrivals moved to a later epoch: the earlier ones are final
            e = (t_arr - c.t0) // p.epoch_ns
            flush_epochs(eu, eu_rows, c, e)
            if p.rm:  # the epoch's lease request, from the load of the epoch before
                last = c.ep_bytes if e == c.ea + 1 else 0
                lease_to(units, ring, records, c, t, lease_target(last, p), p)
            c.ep_bytes = 0
            c.ea = e
            c.ea_end = c.t0 + (e + 1) * p.epoch_ns
        c.ep_bytes += size
        fl = flows[f]
        # 2. item boundary (flowlet detection, the module docstring) and assignment
        if p.mode == AllocationMode.packet:
            reason = OpenReason.packet
        elif fl.item < 0:
            reason = OpenReason.new_flow
        elif t_arr - fl.last_ts > p.close_after_ns:  # (detection sees arrivals, as events do)
            reason = OpenReason.timeout
        elif p.split_bytes > 0 and fl.bytes + size > p.split_bytes:
            reason = OpenReason.size
        else:
            reason = -1
        ready = t
        cause = WaitCause.none
        src = fl.last_pkt
        if reason >= 0:
            if t >= c.retire_at:
                retire_due(units, records, c, t, p)
            if p.mode == AllocationMode.packet:
                u, overflow = _assign_packet(units, ring, c, t, p)
                est = 0.0
                source = StateSource.store
            else:
                if fl.open:
                    _close_item(fl, units[fl.unit], c, p)  # size split: the item ends here
                est = _estimate(fl, c, p)
                u, overflow = _assign_greedy(units, ring, masks, c, fl, f, est, b, t, p)
                units[u].open += 1
                units[u].committed += est
                set_load(units[u], p)
                maybe_prestart(units, ring, c, t, p)
                source, ready, src = open_source(units, masks, transfers, c, fl, f, u, t, p)
                if source == StateSource.pull:
                    cause = WaitCause.pull
                elif source == StateSource.replica_wait:
                    cause = WaitCause.replica
                elif source == StateSource.store:
                    cause = WaitCause.store
                fl.need_pull = False
            moved = fl.unit >= 0 and (fl.unit != u or fl.life != units[u].life)
            item = c.items
            c.items += 1
            c.allocations += 1
            fl.open = flow_mode
            if fl.unit != u or fl.life != units[u].life:
                fl.unit_finish = unit_finish_on(fl, units[u].life)
            fl.unit = u
            fl.life = units[u].life
            if p.faults:
                flow_life[f] = fl.life
            fl.est = est
            fl.first_ts = t
            if fl.item >= 0:
                flush_item(items, fl)
            fl.item = item
            fl.bytes = 0
            fl.pkts = 0
            fl.item_end = 0
            items.flow[item] = f
            items.unit[item] = u
            items.life[item] = units[u].life
            items.open_ts[item] = t
            items.est[item] = est
            items.reason[item] = reason
            items.source[item] = source
            items.overflow[item] = overflow
            items.moved[item] = moved
        u = fl.unit
        un = units[u]
        # 3. bookkeeping of the arrival
        if b > un.cur_bucket:
            roll_unit(units, ring, u, b, p.load_buckets)
        un.cur_bytes += size
        un.last_recv = t
        fl.bytes += size
        fl.pkts += 1
        fl.last_ts = t_arr
        fl.tick_bytes += size
        # 4. service
        if p.mode == AllocationMode.packet:
            base = t if t > fl.last_finish else fl.last_finish
            ready = base + p.store_rtt_ns
            cause = WaitCause.store
        elif fl.need_pull:  # smart_flow moved the flow: its state follows
            fl.need_pull = False
            if p.state_mode == StateMode.external:
                ready = (t if t > fl.wlanded else fl.wlanded) + p.store_rtt_ns
                cause = WaitCause.store
                c.store_reads += 1
                add_transfer(transfers, c, p, t, ready, f, np.int64(-1), u, TransferKind.store_read,
                             fl.clock, fl.last_pkt)  # fmt: skip
            else:
                base = t if t > fl.last_finish else fl.last_finish
                if fl.state_ready > base:  # the previous unit is still waiting for the state
                    base = fl.state_ready
                ready = base + p.pull_ns
                cause = WaitCause.pull
                c.state_pulls += 1
                add_transfer(transfers, c, p, base, ready, f, fl.moved_from, u, TransferKind.pull,
                             fl.clock, fl.last_pkt)  # fmt: skip
        service = p.per_packet_ns + (size * p.per_byte_ps) // 1000
        if un.share != SHARE_ONE:  # a lease serves at its share of the unit's speed
            service = lease_service(service, un.share)
        # earliest start: arrival (plus the controller's decision for an item's first packet),
        # unit ready, the flow's previous packet on this unit done; a packet waiting for state
        # books the unit from when the state is there, and packets of other flows fill the gap
        # meanwhile (packet mode: the instance holds the unit, FIFO)
        s0 = t
        if reason >= 0:
            if p.decide_gap_ns > 0:  # the controller decides one item at a time
                if c.ctl_free > s0:
                    c.decide_wait += c.ctl_free - s0
                    c.decide_waited += 1
                    s0 = c.ctl_free
                c.ctl_free = s0 + p.decide_gap_ns
                c.decide_busy += p.decide_gap_ns
            s0 += p.decision_ns
        if un.ready > s0:
            s0 = un.ready
        if fl.unit_finish > s0:
            s0 = fl.unit_finish
        if p.mode == AllocationMode.packet and un.free > s0:
            s0 = un.free
        if p.drain_ps_per_byte > 0:
            s0 = drain_shape(un, s0, size, p)
        if ready > t:
            fl.state_ready = ready
            fl.state_cause = cause
        elif fl.state_ready > t:
            ready = fl.state_ready  # the item's state is still on its way
            cause = fl.state_cause
        avail = cal_fit(un, s0, service)
        start = avail
        if ready > s0:
            start = cal_fit(un, ready, service)
        wait = start - avail
        finish = start + service
        if finish > TIME_LIMIT:  # a backlog beyond what the kernel's times hold: the caller raises
            status = STATUS_TIME_LIMIT
            stop = i
            break
        cal_book(un, t, start, service)
        fl.unit_finish = finish
        if finish > un.free:
            un.free = finish
        un.busy += service
        un.pkts += 1
        un.bytes += size
        reord = finish < fl.last_finish
        if reord:
            c.reordered += 1
        else:
            fl.last_finish = finish
        if p.state_mode == StateMode.external and flow_mode:
            fl.wlanded = finish + p.store_rtt_ns // 2  # the packet's state write
            c.store_writes += 1
        fl.clock += 1
        fl.last_pkt = g0 + i
        if finish > fl.item_end:
            fl.item_end = finish
        if wait == 0:
            cause = WaitCause.none
        # its output logger releases it (snfkit.engine.faults_nb)
        release = finish + p.ol_hop_ns
        if p.faults:
            release = release_time(finish, u, olw, p)
            # a failure finds the packets its unit has not got released: none to come (they are
            # after t, in time order) finds one released by the next, so only these are logged
            if c.fi < n_fail and release > fails[c.fi, F_TIME]:
                entry = inflight[u, inflight_slot(inflight, un, u)]  # (INFLIGHT_COLUMNS order)
                entry[0], entry[1], entry[2], entry[3] = g0 + i, t_arr, start, finish
                entry[4], entry[5], entry[6], entry[7] = release, service, size, f
                entry[8], entry[9] = wait, cause
            if p.recovery == RecoveryStrategy.ftmb:  # the packet log since the last checkpoint
                k = start // p.checkpoint_interval_ns
                if k != un.ck_index:
                    un.ck_index = k
                    un.ck_busy = 0
                un.ck_busy += service
        # 5. aggregates (collect_nb; written out here, as a call taking arrays costs increfs)
        lat = release - t_arr
        served += 1
        lat_sum += lat
        if lat > lat_max:
            lat_max = lat
        hist[hist_bucket(lat)] += 1
        if wait > 0:
            waits[0, cause] += 1
            waits[1, cause] += wait
        if u >= c.eu_hi:
            c.eu_hi = u + 1
        ring_a = c.ea & RING_MASK
        eu[u, ring_a, 0] += 1
        eu[u, ring_a, 1] += size
        ring_s = ring_a
        if start >= c.ea_end:  # the service starts in a later epoch
            es = (start - c.t0) // p.epoch_ns
            ring_s = es & RING_MASK
            if es - c.ea >= EPOCH_RING:  # beyond the ring: a row of its own (room was made)
                ring_s = -1
                add_epoch_row(eu_rows, c, es, u, service, size)
        if ring_s >= 0:
            eu[u, ring_s, 2] += service
            eu[u, ring_s, 3] += size
        if p.keep_rows:
            o_unit[i] = u
            o_item[i] = fl.item
            o_start[i] = start + origin
            o_wait[i] = wait
            o_lat[i] = lat
            o_cause[i] = cause
            o_reord[i] = reord
            if p.ol_rows:
                o_ol[i] = release - finish
                o_lost[i] = False
        if p.keep_src:
            o_src[i] = src
    c.served += served
    c.lat_sum += lat_sum
    if lat_max > c.lat_max:
        c.lat_max = lat_max
    if status == STATUS_DONE and c.started:
        flush_epochs(eu, eu_rows, c, c.ea + EPOCH_RING)  # rows of a cell may repeat; summed later
    return stop, status


@nb.njit(cache=True, nogil=True, error_model="numpy")
def finish_replay_nb(pr, st):
    """End of trace: write every flow's current item totals, close every open item and retire every
    unit at the time it would retire."""
    p = pr[0]
    flows = st.flows
    units = st.units
    c = st.ctl[0]
    for f in range(flows.shape[0]):
        if flows[f].item >= 0:
            flush_item(st.items, flows[f])
        if flows[f].open:
            _close_item(flows[f], units[flows[f].unit], c, p)
    for u in range(c.hi):
        if units[u].active:
            retire_unit(units, st.records, c, u, retire_time(units[u], p.unit_idle_ns))
