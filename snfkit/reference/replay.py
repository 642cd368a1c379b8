"""Plain-Python twin of :mod:`snfkit.engine.replay_nb`, written to be read.

It replays a whole trace in one go with small classes instead of parallel arrays, and returns what
the kernel produces: per-packet outputs, the items opened, unit lifetime records and the counters.
Tests require exactly equal outputs (floating-point sums are done in the same order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from snfkit.engine.enums import AllocationMode, StateSource, TransferKind, code, names
from snfkit.params import ReplayParams
from snfkit.reference.faults import Faults
from snfkit.reference.flowlets import detect_flowlets
from snfkit.reference.mix import GOLDEN, mix64

FLOWLET, FLOW, SMART_FLOW, PACKET = names(AllocationMode)
CALENDAR = 16  # busy intervals a unit remembers (snfkit.engine.pool_nb.CALENDAR)
MASK64 = (1 << 64) - 1


class SplitMix64:
    """The kernel's replica-draw stream (same integers, same floats)."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK64

    def uniform(self) -> float:
        self.state = (self.state + GOLDEN) & MASK64
        return float(mix64(self.state) >> 11) * (1.0 / 9007199254740992.0)


@dataclass
class Push:
    """One proactive push of a flow's state: the clock carried, when, which packet, to which slots."""

    clock: int
    time: int
    arrive: int
    packet: int
    slots: frozenset[int]


@dataclass
class Unit:
    slot: int
    life: int
    start: int
    ready: int
    free: int
    last_recv: int
    open_items: int = 0
    committed: float = 0.0
    packets: int = 0
    bytes: int = 0
    busy: int = 0
    window: dict[int, int] = field(default_factory=dict)  # bucket -> bytes dispatched
    start_bucket: int = 0
    calendar: list[list[int]] = field(default_factory=list)  # busy [start, end), sorted
    cal_full: int = 0  # packets booked after the last interval because the calendar was full
    given: list[int] = field(default_factory=list)  # packets given to it (failures replay them)
    ck_index: int = -1  # FTMB: the checkpoint period of its packet log
    ck_busy: int = 0  # FTMB: service of the packets logged since the checkpoint
    tat: int = 0  # drain shaper: when the next packet is due at the drain rate (GCRA)
    share: int = 1000  # thousandths of a unit held (a lease under a resource manager)
    cap: float = 0.0  # planning capacity: the unit's capacity x share / 1000

    def fit(self, s0: int, d: int) -> int:
        """Earliest start >= s0 where d fits between busy intervals (after the last if full)."""
        if len(self.calendar) == CALENDAR:
            s0 = max(s0, self.calendar[-1][1])
        s = s0
        for a, b in self.calendar:
            if b <= s:
                continue
            if a >= s + d:
                break
            s = b
        return s

    def book(self, t: int, s: int, d: int) -> None:
        cal = [iv for iv in self.calendar if iv[1] > t]  # forget what ended by t
        e = s + d
        before = [iv for iv in cal if iv[0] < s]
        after = [iv for iv in cal if iv[0] >= s]
        if before and before[-1][1] == s:
            before[-1][1] = e
            if after and after[0][0] == e:
                before[-1][1] = after.pop(0)[1]
        elif after and after[0][0] == e:
            after[0][0] = s
        elif len(cal) < CALENDAR:
            before.append([s, e])
        else:
            (before or after)[-1][1] = e  # full: s is past the last end; the gap is booked too
            self.cal_full += 1
        self.calendar = before + after

    def measured_bps(self, t: int, bucket_ns: int, n_buckets: int) -> float:
        """Bytes dispatched in the last n complete buckets (fewer for a young unit) / that time."""
        b = t // bucket_ns
        n = min(b - self.start_bucket, n_buckets)
        if n <= 0:
            return 0.0
        total = sum(v for k, v in self.window.items() if b - n_buckets <= k < b)
        return total * 8e9 / (n * bucket_ns)


@dataclass
class Flow:
    item: int = -1
    open: bool = False
    unit: int = -1
    life: int = -1
    last_ts: int = 0
    last_finish: int = 0
    est: float = 0.0
    prev_rate: float = -1.0
    first_ts: int = 0
    bytes: int = 0
    packets: int = 0
    need_pull: bool = False
    tick_bytes: int = 0
    clock: int = 0  # packets processed so far
    last_pkt: int = -1
    wlanded: int = 0  # external: when the last store write lands
    latest: Push | None = None
    before: Push | None = None
    push_entry: int = -1  # index of the flow's live push-queue entry
    moved_from: int = -1
    unit_finish: int = 0  # finish of the flow's last packet on its current unit
    rp_life: int = -1  # a recovery unit that processed its in-flight packets again elsewhere
    rp_finish: int = 0  # (faults.py) and their last finish there
    state_ready: int = 0
    state_cause: int = 0

    def unit_finish_on(self, life: int) -> int:
        """Twin of :func:`snfkit.engine.faults_nb.unit_finish_on`."""
        return self.rp_finish if self.rp_life == life else 0


def item_rate(first_ts: int, last_ts: int, nbytes: int, npkts: int, close_after: int) -> float:
    dur = float(close_after)
    if npkts > 1:
        dur = max(dur, (last_ts - first_ts) * npkts / (npkts - 1))
    return nbytes * 8e9 / dur


class Controller:
    def __init__(self, params: ReplayParams) -> None:
        self.p = params
        self.mode = params.modes.mode
        # an item is open until its flow has been idle this long: T for flowlets (and packet
        # mode's per-packet items), the flow timeout for the flow modes (paper §4.1, §9.1)
        if self.mode in (FLOW, SMART_FLOW):
            self.close_after = params.modes.flow_timeout_ns
        else:
            self.close_after = params.flowlets.timeout_ns
        self.cap = float(params.assignment.unit_capacity_bps)
        self.units: dict[int, Unit] = {}  # slot -> active unit
        self.flows: dict[int, Flow] = {}
        self.lives = 0
        self.items = 0
        self.rate_sum = 0.0
        self.rate_count = 0
        self.records: list[tuple[int, ...]] = []
        self.close_queue: list[tuple[int, int, int]] = []  # (time, flow, item), time-ordered
        self.cq_head = 0
        self.counters = dict.fromkeys(
            ("allocations", "overflow_new", "overflow_full", "prestarts", "moves", "state_pulls",
             "reordered", "pushes", "copies", "stale_copies", "stale_used", "store_reads", "store_writes",
             "lease_asks", "lease_returns", "decide_waited"),
            0)  # fmt: skip
        st = params.state
        self.state_mode = st.state_mode
        # a push copy takes state_transfer_ns, a pull pull_transfer_ns (-1: the same), each plus
        # state_bytes over transfer_bps when a bandwidth is given
        per_byte = int(st.state_bytes * 8e9 // st.transfer_bps) if st.transfer_bps > 0 else 0
        self.transfer_ns = st.state_transfer_ns + per_byte
        pull = st.state_transfer_ns if st.pull_transfer_ns == -1 else st.pull_transfer_ns
        self.pull_ns = pull + per_byte
        self.rng = SplitMix64(st.seed)
        self.transfers: list[tuple[int, ...]] = []
        self.push_queue: list[tuple[int, int]] = []  # (time, flow), time-ordered
        self.pq_head = 0
        self.ctl_free = 0  # when the controller has decided every item so far (a decision rate)
        self.decide_wait = 0

    # units ------------------------------------------------------------------------------------
    def load(self, u: Unit, t: int) -> float:
        a = self.p.assignment
        m = u.measured_bps(t, a.load_bucket_ns, a.load_buckets)
        if a.load_estimator == "committed" and u.committed > m:
            return u.committed
        return m

    def start_unit(self, t: int, share: int | None = None) -> Unit | None:
        """A unit at the lowest free ID, ready after its start-up; under a resource manager a
        lease (of ``rm_increment`` unless ``share`` is given), ready after the request's round
        trip (the RM keeps units ready)."""
        up, ctl = self.p.units, self.p.controllers
        free_slots = [s for s in range(up.max_units) if s not in self.units]
        if not free_slots:
            return None
        slot = free_slots[0]  # the lowest free ID
        if ctl.resource_manager:
            share = share if share is not None else round(ctl.rm_increment * 1000)
            ready = t + ctl.rm_rtt_ns
        else:
            share, ready = 1000, t + up.unit_startup_ns
        unit = Unit(slot, self.lives, t, ready, ready, t,
                    start_bucket=t // self.p.assignment.load_bucket_ns,
                    share=share, cap=self.cap * share / 1000)  # fmt: skip
        self.lives += 1
        self.units[slot] = unit
        return unit

    def lease_request(self, t: int, last_bytes: int) -> None:
        """An epoch's request to the resource manager (§7): last epoch's load x (1 + headroom),
        in thousandths of a unit rounded up to the grain; ask for whole units, then the rest, or
        give back idle leases (highest ID first) that the request does not need."""
        ctl, E = self.p.controllers, self.p.report.epoch_ns
        grain = max(1, round(ctl.rm_grain * 1000))
        want = last_bytes * 8e9 / E * (1.0 + ctl.rm_headroom) / self.cap * 1000
        target = math.ceil(want / grain) * grain
        held = sum(u.share for u in self.units.values())
        if target > held:
            need = target - held
            while need > 0 and self.start_unit(t, min(need, 1000)) is not None:
                self.counters["lease_asks"] += 1
                need -= min(need, 1000)
            return
        for slot in sorted(self.units, reverse=True):
            u = self.units[slot]
            if u.open_items == 0 and u.free <= t and held - u.share >= target:
                held -= u.share
                self.retire(u, t)
                self.counters["lease_returns"] += 1

    def retire_due(self, t: int) -> None:
        for slot in sorted(self.units):
            u = self.units[slot]
            if u.open_items == 0:
                when = max(u.last_recv + self.p.units.unit_idle_ns, u.free)
                if when <= t:
                    self.retire(u, when)

    def retire(self, u: Unit, when: int, failed: bool = False) -> None:
        self.records.append(
            (u.slot, u.life, u.start, u.ready, when, u.packets, u.bytes, u.busy, u.cal_full,
             int(failed), u.share)
        )  # fmt: skip
        del self.units[u.slot]

    # items ------------------------------------------------------------------------------------
    def close_item(self, fid: int) -> None:
        f = self.flows[fid]
        u = self.units.get(f.unit)
        if u is not None and u.life == f.life:
            u.open_items -= 1
            u.committed -= f.est
        f.prev_rate = item_rate(f.first_ts, f.last_ts, f.bytes, f.packets, self.close_after)
        self.rate_sum += f.prev_rate
        self.rate_count += 1
        f.open = False

    def estimate(self, f: Flow) -> float:
        a = self.p.assignment
        if f.prev_rate >= 0.0:
            return a.ewma_weight * f.prev_rate + (1.0 - a.ewma_weight) * f.est
        if self.rate_count > 0:
            return self.rate_sum / self.rate_count
        return float(a.initial_estimate_bps)

    def has_copy(self, slot: int, push: Push | None) -> bool:
        u = self.units.get(slot)
        return push is not None and slot in push.slots and u is not None and u.start <= push.time

    def has_state(self, f: Flow, slot: int) -> float:
        """1.0 if the slot ran the flow's previous item or holds a fresh copy of the latest push."""
        u = self.units[slot]
        if f.unit == slot and f.life == u.life:
            return 1.0
        fresh = f.latest is not None and f.latest.clock == f.clock
        return 1.0 if fresh and self.has_copy(slot, f.latest) else 0.0

    def assign_greedy(self, f: Flow, t: int, est: float) -> tuple[Unit, bool, dict[int, float]]:
        loads = {slot: self.load(u, t) for slot, u in sorted(self.units.items())}
        alpha = self.p.assignment.alpha
        affinity = alpha > 0.0 and self.state_mode in ("proactive", "reactive")

        if self.p.assignment.placement == "first_fit":  # §4.2: ID order replaces utilization
            order = sorted(loads)
            base = {s: 1.0 - k / len(order) for k, s in enumerate(order)}
        else:  # Pseudocode 1: utilization
            base = {s: loads[s] / self.units[s].cap for s in loads}

        def score(s: int) -> float:
            return base[s] + (alpha * self.has_state(f, s) if affinity else 0.0)

        candidates = [(score(s), s) for s in sorted(loads) if est + loads[s] < self.units[s].cap]
        if candidates:
            best = max(candidates, key=lambda c: (c[0], -c[1]))  # max score, then lower ID
            return self.units[best[1]], False, loads
        # no unit has room: start one; under a resource manager only when it holds no lease (it
        # asks for more through the prestart rule, when all its leases are above it)
        rm = self.p.controllers.resource_manager
        unit = self.start_unit(t) if not rm or not self.units else None
        if unit is not None:
            loads[unit.slot] = 0.0
            self.counters["overflow_new"] += 1
            return unit, True, loads
        least = min(sorted(loads), key=lambda s: loads[s])
        self.counters["overflow_full"] += 1
        return self.units[least], True, loads

    def maybe_prestart(self, t: int, loads: dict[int, float]) -> None:
        up = self.p.units
        if any(u.ready > t for u in self.units.values()):
            return
        if all(loads[s] / self.units[s].cap > up.prestart_utilization for s in self.units):
            if 0 < len(self.units) < up.max_units:
                self.start_unit(t)
                self.counters["prestarts"] += 1

    def earliest_unit(self, t: int) -> tuple[Unit | None, int]:
        best, best_start = None, 0
        for slot in sorted(self.units):
            u = self.units[slot]
            s = max(u.free, t)
            if best is None or s < best_start:
                best, best_start = u, s
        return best, best_start

    def assign_packet(self, t: int) -> tuple[Unit, bool]:
        best, best_start = self.earliest_unit(t)
        if best is None:
            self.counters["overflow_new"] += 1
            return self.start_unit(t), True
        starting = any(u.ready > t for u in self.units.values())
        if best_start > t and not starting and self.start_unit(t) is not None:
            self.counters["prestarts"] += 1
            best, best_start = self.earliest_unit(t)
        return best, False

    # state ------------------------------------------------------------------------------------
    def transfer(self, when, arrive, fid, src, dst, kind, f: Flow, pkt) -> None:
        st = self.p.state
        self.transfers.append((when, arrive, fid, src, dst, st.state_bytes, code(TransferKind, kind),
                               f.clock, pkt))  # fmt: skip

    def push(self, fid: int, when: int) -> None:
        """The flow's unit sends its state to the units the replication policy picks."""
        f = self.flows[fid]
        st = self.p.state
        remaining = [s for s in sorted(self.units) if s != f.unit]
        n = len(remaining)
        k = n
        if st.replication_policy == "none":
            k = 0
        elif st.replication_policy != "broadcast" and st.replicas < n:
            k = st.replicas
        if k == 0:
            return
        if st.replication_policy == "weighted" and k < n:
            chosen = []
            total = 0.0
            for s in remaining:
                total += 1.0 / (s + 1.0)
            for _ in range(k):
                r = self.rng.uniform() * total
                pick, acc = len(remaining) - 1, 0.0
                for m, s in enumerate(remaining):
                    acc += 1.0 / (s + 1.0)
                    if r < acc:
                        pick = m
                        break
                chosen.append(remaining.pop(pick))
                total -= 1.0 / (chosen[-1] + 1.0)
        else:
            chosen = remaining[:k]
        arrive = when + self.transfer_ns
        send = k * st.push_unit_ns  # the sender's time for the k copies; they leave after it
        if send > 0:
            sender = self.units[f.unit]
            s = sender.fit(when, send)
            sender.book(f.last_ts, s, send)  # forget only what ended before now
            sender.busy += send
            sender.free = max(sender.free, s + send)
            arrive = s + send + self.transfer_ns
        f.before = f.latest
        f.latest = Push(f.clock, when, arrive, f.last_pkt, frozenset(chosen))
        for s in chosen:
            self.transfer(when, arrive, fid, f.unit, s, "push", f, f.last_pkt)
        self.counters["pushes"] += 1
        self.counters["copies"] += k

    def source(self, fid: int, unit: Unit, t: int) -> tuple[str, int, int]:
        """(state source, ready time, packet whose post-state the item starts from)."""
        f = self.flows[fid]
        st = self.p.state
        if f.unit < 0:
            return "new_flow", t, -1
        if self.state_mode == "external" and not (
            st.store_read_on_move and f.unit == unit.slot and f.life == unit.life
        ):  # (read on move: the unit still holds what it wrote; same_unit below)
            ready = max(t, f.wlanded) + st.store_rtt_ns
            self.transfer(t, ready, fid, -1, unit.slot, "store_read", f, f.last_pkt)
            self.counters["store_reads"] += 1
            return "store", ready, f.last_pkt
        if f.unit == unit.slot and f.life == unit.life:
            return "same_unit", t, f.last_pkt
        if self.state_mode == "local":
            return "free", t, f.last_pkt
        if self.state_mode == "proactive":
            if self.has_copy(unit.slot, f.latest):
                if f.latest.clock == f.clock or not st.clock_check:
                    if f.latest.packet != f.last_pkt:  # an old copy used as fresh
                        self.counters["stale_used"] += 1
                    if f.latest.arrive <= t:
                        return "replica", t, f.latest.packet
                    return "replica_wait", f.latest.arrive, f.latest.packet
                self.counters["stale_copies"] += 1
            elif self.has_copy(unit.slot, f.before):
                if not st.clock_check:
                    if f.before.packet != f.last_pkt:
                        self.counters["stale_used"] += 1
                    return "replica", t, f.before.packet
                self.counters["stale_copies"] += 1
        base = max(t, f.last_finish, f.state_ready)  # (the previous unit may still be waiting)
        ready = base + self.pull_ns
        self.transfer(base, ready, fid, f.unit, unit.slot, "pull", f, f.last_pkt)
        self.counters["state_pulls"] += 1
        return "pull", ready, f.last_pkt

    # smart_flow -------------------------------------------------------------------------------
    def move(self, fid: int, dest: Unit) -> None:
        f = self.flows[fid]
        src = self.units[f.unit]
        src.open_items -= 1
        src.committed -= f.est
        dest.open_items += 1
        dest.committed += f.est
        if not f.need_pull:
            f.moved_from = f.unit
        f.unit_finish = f.unit_finish_on(dest.life)
        f.unit, f.life = dest.slot, dest.life
        f.need_pull = self.state_mode != "local"
        self.counters["moves"] += 1

    def smart_tick(self, tau: int) -> None:
        self.retire_due(tau)
        interval = self.p.modes.smart_interval_ns
        open_flows = [(fid, f.tick_bytes * 8e9 / interval) for fid, f in sorted(self.flows.items())
                      if f.open]  # fmt: skip
        # by unit, then rate descending (stable, so ties keep flow order)
        open_flows.sort(key=lambda fr: -fr[1])
        open_flows.sort(key=lambda fr: self.flows[fr[0]].unit)
        n_slots = self.p.units.max_units
        load = [0.0] * n_slots
        for fid, rate in open_flows:
            load[self.flows[fid].unit] += rate
        for fid, rate in open_flows:  # relieve overloaded units
            u = self.flows[fid].unit
            if load[u] <= self.units[u].cap or rate <= 0.0:
                continue
            dest = next((self.units[v] for v in sorted(self.units)
                         if v != u and load[v] + rate < self.units[v].cap), None)  # fmt: skip
            if dest is None:
                dest = self.start_unit(tau)
                if dest is None:
                    continue
                load[dest.slot] = 0.0
            load[u] -= rate
            load[dest.slot] += rate
            self.move(fid, dest)
        emptied: set[int] = set()
        for u in sorted(self.units, reverse=True):  # consolidate underused units
            if (
                self.units[u].open_items == 0
                or load[u] >= self.p.modes.consolidate_below * self.units[u].cap
            ):
                continue
            trial = list(load)
            plan = []
            for fid, rate in open_flows:
                if self.flows[fid].unit != u:
                    continue
                # onto units in use only: moving onto a drained unit would undo the last tick's
                # consolidation, and flows would swap units at every quiet tick
                dest = next((v for v in sorted(self.units) if v != u and v not in emptied
                             and self.units[v].open_items > 0
                             and trial[v] + rate < self.units[v].cap), None)  # fmt: skip
                if dest is None:
                    plan = None
                    break
                trial[dest] += rate
                plan.append((fid, dest))
            if plan is not None:
                for fid, dest in plan:
                    self.move(fid, self.units[dest])
                trial[u] = 0.0
                load = trial
                emptied.add(u)
        for f in self.flows.values():
            f.tick_bytes = 0


def replay_reference(ts, flow, wire_len, params: ReplayParams, failures=None) -> dict:
    """Replay a whole trace; returns the kernel's outputs as plain arrays and dicts. Time counts
    from the trace's first packet (load buckets, epochs and ticks start there; "not yet" is 0);
    the outputs are on the trace's own clock."""
    origin = int(ts[0]) if len(ts) else 0
    schedule = np.zeros((0, 12), np.int64) if failures is None else np.array(failures, np.int64)
    out = _replay_relative(np.asarray(ts, np.int64) - origin, flow, wire_len, params, schedule)
    out["packets"]["start"] += origin
    out["packets"]["finish"] += origin
    out["packets"]["release"] += origin
    if len(out["failures"]):
        out["failures"][:, 0] += origin
    out["items"]["open_ts"] += origin
    out["records"][:, 2:5] += origin  # start, ready, retire
    out["transfers"][:, 0:2] += origin  # sent, arrives
    return out


def _replay_relative(ts, flow, wire_len, params: ReplayParams, schedule) -> dict:
    c = Controller(params)
    F = Faults(schedule, params)
    p = params
    if c.mode == FLOWLET:
        t_det, b_det = p.flowlets.timeout_ns, p.flowlets.size_bytes
    else:
        t_det, b_det = p.modes.flow_timeout_ns, 0
    _, _, first, reasons = detect_flowlets(ts, flow, wire_len, t_det, b_det)
    open_reason = dict(zip(first.tolist(), reasons.tolist(), strict=True))
    up, st = p.units, p.state
    # a proactive push once the flow has been idle replicate_after of the close timeout (§5.2: T/2)
    push_after = max(1, int(st.replicate_after * c.close_after))
    pushing = (c.mode != PACKET and st.state_mode == "proactive"
               and st.replication_policy != "none")  # fmt: skip
    out = {k: [] for k in ("unit", "item", "start", "finish", "state_wait", "wait_cause",
                           "reordered", "src", "release", "lost", "size", "flow")}  # fmt: skip
    ts_list = ts.tolist()
    items = {k: [] for k in ("id", "flow", "unit", "life", "open_ts", "reason", "est",
                             "overflow", "source", "moved")}  # fmt: skip
    next_tick = None
    t_first = int(ts[0]) if len(ts) else 0
    epoch = epoch_bytes = 0  # epoch of the latest arrival and the bytes that arrived in it
    for i, (t_arr, fid, size) in enumerate(
        zip(ts_list, flow.tolist(), wire_len.tolist(), strict=True)
    ):
        t = t_arr  # dispatched then, or later while a failed controller recovers
        f = c.flows.setdefault(fid, Flow())
        if next_tick is None:
            next_tick = t + p.modes.smart_interval_ns
        # events before t in time order: failures (at or before t) first at equal times, then a
        # tick (at or before t), then closes, then pushes (both strictly before t)
        while True:
            cq, pq = c.close_queue, c.push_queue
            t_close = cq[c.cq_head][0] if c.cq_head < len(cq) else None
            t_push = pq[c.pq_head][0] if c.pq_head < len(pq) else None
            heads = [x for x in (t_close, t_push) if x is not None and c.mode != PACKET]
            t_next = min(heads) if heads else None
            t_fail = F.next_time()
            if (t_fail is not None and t_fail <= t and (t_next is None or t_fail <= t_next)
                    and (c.mode != SMART_FLOW or t_fail <= next_tick)):  # fmt: skip
                F.apply(c, out, ts_list)
                continue
            if c.mode == PACKET:
                break
            if c.mode == SMART_FLOW and next_tick <= t and (t_next is None or next_tick <= t_next):
                c.smart_tick(next_tick)
                next_tick += p.modes.smart_interval_ns
                continue
            if t_next is None or t_next >= t:
                break
            if t_close is not None and (t_push is None or t_close <= t_push):
                when, cfid, item = cq[c.cq_head]
                cf = c.flows[cfid]
                if cf.open and cf.item == item and cf.last_ts + c.close_after == when:
                    c.close_item(cfid)
                c.cq_head += 1
            else:
                when, pfid = pq[c.pq_head]
                if c.flows[pfid].push_entry == c.pq_head:  # the flow's latest deadline
                    c.retire_due(when)
                    pf = c.flows[pfid]
                    c.push(pfid, max(when, pf.last_finish, pf.state_ready))
                c.pq_head += 1
        t = max(t, F.hold_until)  # the controller is recovering: dispatched once it is back
        e = (t_arr - t_first) // p.report.epoch_ns
        if e > epoch:  # arrivals moved to a later epoch: under an RM, the epoch's lease request
            if p.controllers.resource_manager:
                c.lease_request(t, epoch_bytes if e == epoch + 1 else 0)
            epoch, epoch_bytes = e, 0
        epoch_bytes += size
        ready, cause, src = t, 0, f.last_pkt
        opens = c.mode == PACKET or i in open_reason
        if opens:
            c.retire_due(t)
            if c.mode == PACKET:
                unit, overflow = c.assign_packet(t)
                est, reason, source = 0.0, 3, "store"
            else:
                if f.open:
                    c.close_item(fid)  # size split
                est = c.estimate(f)
                unit, overflow, loads = c.assign_greedy(f, t, est)
                reason = open_reason[i]
                unit.open_items += 1
                unit.committed += est
                if p.assignment.load_estimator == "committed" and unit.committed > loads[unit.slot]:
                    loads[unit.slot] = unit.committed
                c.maybe_prestart(t, loads)
                source, ready, src = c.source(fid, unit, t)
                cause = {"pull": 1, "replica_wait": 3, "store": 2}.get(source, 0)
                f.need_pull = False
            moved = f.unit >= 0 and (f.unit != unit.slot or f.life != unit.life)
            if f.unit != unit.slot or f.life != unit.life:
                f.unit_finish = f.unit_finish_on(unit.life)
            f.item, f.open = c.items, c.mode != PACKET
            c.items += 1
            c.counters["allocations"] += 1
            f.unit, f.life, f.est = unit.slot, unit.life, est
            f.first_ts, f.bytes, f.packets = t, 0, 0
            for k, v in zip(items, (f.item, fid, unit.slot, unit.life, t, reason, est, overflow,
                                    code(StateSource, source), moved), strict=True):  # fmt: skip
                items[k].append(v)
        unit = c.units[f.unit]
        b = t // p.assignment.load_bucket_ns
        unit.window[b] = unit.window.get(b, 0) + size
        unit.last_recv = t
        f.bytes += size
        f.packets += 1
        f.last_ts = t_arr
        f.tick_bytes += size
        if c.mode != PACKET:
            c.close_queue.append((t_arr + c.close_after, fid, f.item))
        if pushing:
            f.push_entry = len(c.push_queue)
            c.push_queue.append((t_arr + push_after, fid))
        if c.mode == PACKET:
            ready, cause = max(t, f.last_finish) + st.store_rtt_ns, 2
        elif f.need_pull:  # smart_flow moved the flow
            f.need_pull = False
            if st.state_mode == "external":
                ready, cause = max(t, f.wlanded) + st.store_rtt_ns, 2
                c.counters["store_reads"] += 1
                c.transfer(t, ready, fid, -1, unit.slot, "store_read", f, f.last_pkt)
            else:
                base = max(t, f.last_finish, f.state_ready)
                ready, cause = base + c.pull_ns, 1
                c.counters["state_pulls"] += 1
                c.transfer(base, ready, fid, f.moved_from, unit.slot, "pull", f, f.last_pkt)
        per_packet, per_byte = up.per_packet_ns, up.per_byte_ps
        if up.nf_cost:  # the NF's own processing cost on top of the unit's
            per_packet, per_byte = per_packet + up.nf_packet_ns, per_byte + up.nf_byte_ps
        service = per_packet + (size * per_byte) // 1000
        if unit.share != 1000:  # a lease gets its share of the unit's time
            service = -(-service * 1000 // unit.share)
        # an item's first packet reaches its unit after the controller's decision (§9.7); with a
        # decision rate, the controller decides one item at a time and items queue for it
        decided = t
        if opens and p.controllers.controller_rate:
            decided = max(t, c.ctl_free)
            if decided > t:
                c.decide_wait += decided - t
                c.counters["decide_waited"] += 1
            c.ctl_free = decided + round(1e9 / p.controllers.controller_rate)
        s0 = max(decided + (p.assignment.decision_ns if opens else 0), unit.ready, f.unit_finish)
        if c.mode == PACKET:
            s0 = max(s0, unit.free)  # the instance holds the unit through its store I/O
        if up.unit_drain_bps > 0:  # the unit sustains at most its drain rate beyond a burst
            ps_per_byte = max(1, round(8e12 / up.unit_drain_bps))
            s0 = max(s0, unit.tat - up.unit_burst_bytes * ps_per_byte // 1000)
            unit.tat = max(unit.tat, s0) + size * ps_per_byte // 1000
        if ready > t:
            f.state_ready, f.state_cause = ready, cause
        elif f.state_ready > t:
            ready, cause = f.state_ready, f.state_cause
        avail = unit.fit(s0, service)
        start = unit.fit(ready, service) if ready > s0 else avail
        wait = start - avail
        finish = start + service
        unit.book(t, start, service)
        f.unit_finish = finish
        unit.free = max(unit.free, finish)
        unit.busy += service
        unit.packets += 1
        unit.bytes += size
        reordered = finish < f.last_finish
        if reordered:
            c.counters["reordered"] += 1
        else:
            f.last_finish = finish
        if st.state_mode == "external" and c.mode != PACKET:
            f.wlanded = finish + st.store_rtt_ns // 2
            c.counters["store_writes"] += 1
        f.clock += 1
        f.last_pkt = i
        release = finish + p.faults.ol_hop_ns
        if F.active:
            release = F.release(finish, unit.slot)
            F.log_packet(unit, i, start, service)
        for k, v in zip(out, (unit.slot, f.item, start, finish, wait, cause if wait > 0 else 0,
                              reordered, src, release, False, size, fid), strict=True):  # fmt: skip
            out[k].append(v)
    for fid in sorted(c.flows):  # end of trace
        if c.flows[fid].open:
            c.close_item(fid)
    for slot in sorted(c.units):
        u = c.units[slot]
        c.retire(u, max(u.last_recv + up.unit_idle_ns, u.free))
    return {
        "packets": {k: np.asarray(v) for k, v in out.items()},
        "items": {k: np.asarray(v) for k, v in items.items()},
        "records": np.asarray(c.records, np.int64).reshape(-1, 11),
        "transfers": np.asarray(c.transfers, np.int64).reshape(-1, 9),
        "counters": c.counters,
        "rate_sum": c.rate_sum,
        "decide_wait": c.decide_wait,
        "failures": np.asarray(F.rows, np.int64).reshape(-1, 12),
    }
