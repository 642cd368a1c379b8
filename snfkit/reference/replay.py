"""Plain-Python twin of :mod:`snfkit.engine.replay_nb`, written to be read.

It replays a whole trace in one go with small classes instead of parallel arrays, and returns what
the kernel produces: per-packet outputs, the items opened, unit lifetime records and the counters.
Tests require exactly equal outputs (floating-point sums are done in the same order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snfkit.params import ReplayParams
from snfkit.reference.flowlets import detect_flowlets

FLOWLET, FLOW, SMART_FLOW, PACKET = "flowlet", "flow", "smart_flow", "packet"


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


def item_rate(first_ts: int, last_ts: int, nbytes: int, npkts: int, close_after: int) -> float:
    dur = float(close_after)
    if npkts > 1:
        dur = max(dur, (last_ts - first_ts) * npkts / (npkts - 1))
    return nbytes * 8e9 / dur


class Controller:
    def __init__(self, params: ReplayParams) -> None:
        self.p = params
        self.mode = params.modes.mode
        self.close_after = params.close_after_ns
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
             "reordered"), 0)  # fmt: skip

    # units ------------------------------------------------------------------------------------
    def load(self, u: Unit, t: int) -> float:
        a = self.p.assignment
        m = u.measured_bps(t, a.load_bucket_ns, a.load_buckets)
        if a.load_estimator == "committed" and u.committed > m:
            return u.committed
        return m

    def start_unit(self, t: int) -> Unit | None:
        up = self.p.units
        free_slots = [s for s in range(up.max_units) if s not in self.units]
        if not free_slots:
            return None
        slot = free_slots[0]  # the lowest free ID
        ready = t + up.unit_startup_ns
        unit = Unit(slot, self.lives, t, ready, ready, t,
                    start_bucket=t // self.p.assignment.load_bucket_ns)  # fmt: skip
        self.lives += 1
        self.units[slot] = unit
        return unit

    def retire_due(self, t: int) -> None:
        for slot in sorted(self.units):
            u = self.units[slot]
            if u.open_items == 0:
                when = max(u.last_recv + self.p.units.unit_idle_ns, u.free)
                if when <= t:
                    self.retire(u, when)

    def retire(self, u: Unit, when: int) -> None:
        self.records.append((u.slot, u.life, u.start, u.ready, when, u.packets, u.bytes, u.busy))
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

    def pop_closes(self, before: int) -> None:
        while self.cq_head < len(self.close_queue) and self.close_queue[self.cq_head][0] < before:
            when, fid, item = self.close_queue[self.cq_head]
            f = self.flows[fid]
            if f.open and f.item == item and f.last_ts + self.close_after == when:
                self.close_item(fid)
            self.cq_head += 1

    def estimate(self, f: Flow) -> float:
        a = self.p.assignment
        if f.prev_rate >= 0.0:
            return a.ewma_weight * f.prev_rate + (1.0 - a.ewma_weight) * f.est
        if self.rate_count > 0:
            return self.rate_sum / self.rate_count
        return float(a.initial_estimate_bps)

    def assign_greedy(self, t: int, est: float) -> tuple[Unit, bool, dict[int, float]]:
        loads = {slot: self.load(u, t) for slot, u in sorted(self.units.items())}
        candidates = [(loads[s] / self.cap, s) for s in sorted(loads) if est + loads[s] < self.cap]
        if candidates:
            best = max(candidates, key=lambda c: (c[0], -c[1]))  # max score, then lower ID
            return self.units[best[1]], False, loads
        unit = self.start_unit(t)
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
        if all(loads[s] / self.cap > up.prestart_utilization for s in self.units):
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

    # smart_flow -------------------------------------------------------------------------------
    def move(self, fid: int, dest: Unit) -> None:
        f = self.flows[fid]
        src = self.units[f.unit]
        src.open_items -= 1
        src.committed -= f.est
        dest.open_items += 1
        dest.committed += f.est
        f.unit, f.life, f.need_pull = dest.slot, dest.life, True
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
            if load[u] <= self.cap or rate <= 0.0:
                continue
            dest = next((self.units[v] for v in sorted(self.units)
                         if v != u and load[v] + rate < self.cap), None)  # fmt: skip
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
                or load[u] >= self.p.modes.consolidate_below * self.cap
            ):
                continue
            trial = list(load)
            plan = []
            for fid, rate in open_flows:
                if self.flows[fid].unit != u:
                    continue
                dest = next((v for v in sorted(self.units) if v != u and v not in emptied
                             and trial[v] + rate < self.cap), None)  # fmt: skip
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


def replay_reference(ts, flow, wire_len, params: ReplayParams) -> dict:
    """Replay a whole trace; returns the kernel's outputs as plain arrays and dicts."""
    c = Controller(params)
    p = params
    if c.mode == FLOWLET:
        t_det, b_det = p.flowlets.timeout_ns, p.flowlets.size_bytes
    else:
        t_det, b_det = p.modes.flow_timeout_ns, 0
    _, _, first, reasons = detect_flowlets(ts, flow, wire_len, t_det, b_det)
    open_reason = dict(zip(first.tolist(), reasons.tolist(), strict=True))
    up = p.units
    out = {k: [] for k in ("unit", "item", "start", "finish", "state_wait", "wait_cause",
                           "reordered")}  # fmt: skip
    items = {k: [] for k in ("id", "flow", "unit", "life", "open_ts", "reason", "est",
                             "overflow")}  # fmt: skip
    next_tick = None
    for i, (t, fid, size) in enumerate(
        zip(ts.tolist(), flow.tolist(), wire_len.tolist(), strict=True)
    ):
        f = c.flows.setdefault(fid, Flow())
        if next_tick is None:
            next_tick = t + p.modes.smart_interval_ns
        if c.mode == SMART_FLOW:
            while next_tick <= t:
                c.pop_closes(next_tick)
                c.smart_tick(next_tick)
                next_tick += p.modes.smart_interval_ns
        if c.mode != PACKET:
            c.pop_closes(t)
        if c.mode == PACKET or i in open_reason:
            c.retire_due(t)
            if c.mode == PACKET:
                unit, overflow = c.assign_packet(t)
                est, reason = 0.0, 3
            else:
                if f.open:
                    c.close_item(fid)  # size split
                est = c.estimate(f)
                unit, overflow, loads = c.assign_greedy(t, est)
                reason = open_reason[i]
                unit.open_items += 1
                unit.committed += est
                if p.assignment.load_estimator == "committed" and unit.committed > loads[unit.slot]:
                    loads[unit.slot] = unit.committed
                c.maybe_prestart(t, loads)
            moved = f.unit >= 0 and (f.unit != unit.slot or f.life != unit.life)
            if moved and p.modes.state_mode == "reactive" and c.mode != PACKET:
                f.need_pull = True
            f.item, f.open = c.items, c.mode != PACKET
            c.items += 1
            c.counters["allocations"] += 1
            f.unit, f.life, f.est = unit.slot, unit.life, est
            f.first_ts, f.bytes, f.packets = t, 0, 0
            for k, v in zip(items, (f.item, fid, unit.slot, unit.life, t, reason, est, overflow),
                            strict=True):  # fmt: skip
                items[k].append(v)
        unit = c.units[f.unit]
        b = t // p.assignment.load_bucket_ns
        unit.window[b] = unit.window.get(b, 0) + size
        unit.last_recv = t
        f.bytes += size
        f.packets += 1
        f.last_ts = t
        f.tick_bytes += size
        if c.mode != PACKET:
            c.close_queue.append((t + c.close_after, fid, f.item))
        ready, cause = t, 0
        if c.mode == PACKET:
            ready, cause = max(t, f.last_finish) + p.modes.store_rtt_ns, 2
        elif f.need_pull:
            ready, cause = max(t, f.last_finish) + p.modes.state_transfer_ns, 1
            f.need_pull = False
            c.counters["state_pulls"] += 1
        avail = max(t, unit.free)
        start = max(avail, ready)
        wait = max(ready - avail, 0)
        service = up.per_packet_ns + (size * up.per_byte_ps) // 1000
        finish = start + service
        unit.free = finish
        unit.busy += service
        unit.packets += 1
        unit.bytes += size
        reordered = finish < f.last_finish
        if reordered:
            c.counters["reordered"] += 1
        else:
            f.last_finish = finish
        for k, v in zip(out, (unit.slot, f.item, start, finish, wait, cause if wait > 0 else 0,
                              reordered), strict=True):  # fmt: skip
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
        "records": np.asarray(c.records, np.int64).reshape(-1, 8),
        "counters": c.counters,
        "rate_sum": c.rate_sum,
    }
