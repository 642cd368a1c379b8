"""Twin of :mod:`snfkit.engine.faults_nb`: output loggers, failures and recovery, written to be read.

The model is stated in :mod:`snfkit.engine.faults_nb`'s docstring. Here a unit remembers every packet
it was given in its lifetime (the kernel keeps the last 2,048, enough for the tests' traces), and a
failure rewrites the per-packet outputs of the packets it affects in place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snfkit.engine.enums import FailureKind, names
from snfkit.reference.mix import GOLDEN, MASK64, mix64

FAIL_STREAM = 0x5F3759DF5F3759DF  # (snfkit.engine.replay_nb.FAIL_STREAM)


class Faults:
    """The failure schedule of one replay and the state of the output loggers."""

    def __init__(self, schedule: np.ndarray, params: Any) -> None:
        self.p = params
        self.rows = [[int(v) for v in row] for row in schedule]  # FAIL_COLUMNS, outcomes filled in
        self.next = 0
        self.ol_down: dict[int, list[int]] = {}  # OL -> [from, until)
        self.hold_until = 0
        self.rng_state = (params.state.seed ^ FAIL_STREAM) & MASK64

    @property
    def active(self) -> bool:
        return bool(self.rows)

    def next_time(self) -> int | None:
        return self.rows[self.next][0] if self.next < len(self.rows) else None

    def release(self, finish: int, slot: int) -> int:
        """When the OL of unit ``slot`` releases a packet processed at ``finish``."""
        fp = self.p.faults
        arrive = finish + fp.ol_hop_ns
        window = self.ol_down.get(slot // fp.units_per_ol)
        if window is not None and window[0] <= arrive < window[1]:
            return window[1] + fp.ol_hop_ns
        return arrive

    def _transfer(self, nbytes: int, fixed: int) -> int:
        return fixed + int(nbytes * 8e9 / self.p.faults.recovery_bandwidth_bps)

    def _draw(self, c, tau: int) -> int:
        active = [s for s in sorted(c.units) if c.units[s].start <= tau]
        if not active:
            return -1
        self.rng_state = (self.rng_state + GOLDEN) & MASK64
        return active[mix64(self.rng_state) % len(active)]

    def _launch(self, c, t: int):
        unit = c.start_unit(t)
        if self.p.faults.recovery_launch == "immediate":
            unit.ready = unit.free = t
        return unit

    # -- one failure -------------------------------------------------------------------------
    def apply(self, c, out: dict, ts: list[int]) -> None:
        """The next failure of the schedule (raises on a target that is not active)."""
        row = self.rows[self.next]
        tau, kind, target = row[0], names(FailureKind)[row[1]], row[2]
        row[3] = row[4] = -1
        if kind in ("ol", "ol_controller"):
            if target >= 0:
                o = target
            else:
                u = self._draw(c, tau)
                o = u // self.p.faults.units_per_ol if u >= 0 else -1
            if o >= 0:
                self.fail_ol(o, tau, row, c, out, ts)
        elif kind != "controller":
            if target >= 0 and (target not in c.units or c.units[target].start > tau):
                raise ValueError(f"unit {target} is not active at {tau}")
            u = target if target >= 0 else self._draw(c, tau)
            if u >= 0:
                if kind == "unit_ol":
                    self.fail_ol(u // self.p.faults.units_per_ol, tau, row, c, out, ts)
                self.fail_unit(u, tau, kind == "unit_ol", row, c, out, ts)
        if kind in ("controller", "unit_controller", "ol_controller"):
            back = tau + self.p.faults.detect_ns + len(c.units) * self.p.faults.controller_query_ns
            self.hold_until = max(self.hold_until, back)
            row[5] = max(row[5], back - tau)
        row[11] = 1
        self.next += 1

    def fail_ol(self, o: int, tau: int, row: list[int], c, out: dict, ts: list[int]) -> None:
        fp = self.p.faults
        k = fp.units_per_ol
        flows = [
            f
            for f in c.flows.values()
            if f.unit >= 0
            and f.unit // k == o
            and f.unit in c.units
            and c.units[f.unit].life == f.life
        ]
        nbytes = len(flows) * self.p.state.state_bytes
        start = tau + fp.detect_ns
        if fp.recovery_launch != "immediate":
            start += self.p.units.unit_startup_ns
        until = start + self._transfer(nbytes, fp.recovery_fixed_ns)
        window = self.ol_down.get(o)
        if window is not None and window[1] > tau:
            window[1] = max(window[1], until)
        else:
            self.ol_down[o] = [tau, until]
        resent = 0
        for slot in range(o * k, o * k + k):
            unit = c.units.get(slot)
            if unit is None:
                continue
            for i in unit.given:
                rel = out["release"][i]
                if rel <= tau or out["finish"][i] + fp.ol_hop_ns < tau:
                    continue
                new = self.release(out["finish"][i], slot)
                if new != rel:
                    out["release"][i] = new
                    resent += 1
        row[3] = o
        row[5] = self.ol_down[o][1] - tau
        row[6] = len(flows)
        row[7] = nbytes
        row[8] += resent

    def fail_unit(self, slot: int, tau: int, lose: bool, row: list[int], c, out: dict, ts) -> None:
        fp, p = self.p.faults, self.p
        unit = c.units[slot]
        pending = [i for i in unit.given if out["release"][i] > tau]
        ckpt = (tau // fp.checkpoint_interval_ns) * fp.checkpoint_interval_ns
        log_replay = unit.ck_busy if unit.ck_index == tau // fp.checkpoint_interval_ns else 0
        for i in pending:
            svc = out["finish"][i] - out["start"][i]
            unit.packets -= 1
            unit.bytes -= out["size"][i]
            unit.busy -= svc
            if out["start"][i] >= ckpt:
                log_replay -= svc
        log_replay = max(log_replay, 0)
        c.retire(unit, tau, failed=True)
        launch = tau + fp.detect_ns
        r = self._launch(c, launch)
        affected = [f for f in c.flows.values() if f.unit == slot and f.life == unit.life]
        nbytes = len(affected) * p.state.state_bytes
        if p.modes.mode == "packet" or p.state.state_mode == "external":  # state in a store
            nbytes = 0
            state_at = r.ready + p.state.store_rtt_ns
        elif lose:
            state_at = r.ready
        elif fp.recovery == "snf":
            state_at = r.ready + self._transfer(nbytes, fp.recovery_fixed_ns)
        elif fp.recovery == "chc":
            state_at = r.ready + self._transfer(nbytes, p.state.store_rtt_ns)
        else:
            state_at = r.ready + self._transfer(nbytes, fp.recovery_fixed_ns) + log_replay
        for f in affected:
            f.unit, f.life, f.unit_finish = r.slot, r.life, 0
            if f.state_ready < state_at:
                f.state_ready, f.state_cause = state_at, 4  # recovery
            if f.open:
                r.open_items += 1
                r.committed += f.est
            if lose:
                f.last_pkt = -1
                f.latest = f.before = None  # its replicas are of the old state
            elif not fp.recovery_from_ol:
                f.last_pkt = f.latest.packet if f.latest is not None else -1
        replayed, last = 0, state_at
        for i in pending:
            if lose:
                out["lost"][i] = True
                continue
            f = c.flows[out["flow"][i]]
            svc = out["finish"][i] - out["start"][i]
            old_lat = out["release"][i] - ts[i]
            old_ol = out["release"][i] - out["finish"][i]
            queue = old_lat - svc - out["state_wait"][i] - old_ol
            here = f.unit == r.slot and f.life == r.life  # (else it left the failed unit before)
            before = f.unit_finish if here else f.unit_finish_on(r.life)
            # (a flow that left: its packets here follow a state that was on the failed unit)
            s0 = max(f.state_ready if here else state_at, before, r.ready, out["start"][i])
            rtt = p.state.store_rtt_ns
            if p.modes.mode == "packet":  # a store read after the flow's last write, FIFO
                s0 = max(s0, f.last_finish + rtt, r.free)
            elif p.state.state_mode == "external":  # a read after the flow's last write landed
                s0 = max(s0, f.wlanded + rtt)
            start = r.fit(s0, svc)
            finish = start + svc
            r.book(launch, start, svc)
            last = max(last, finish)
            r.free = max(r.free, finish)
            r.busy += svc
            r.packets += 1
            r.bytes += out["size"][i]
            rel = self.release(finish, r.slot)
            new_lat = rel - ts[i]
            queue = min(queue, new_lat - svc - (rel - finish))  # (served sooner than queued for)
            out["unit"][i], out["start"][i], out["finish"][i] = r.slot, start, finish
            out["release"][i] = rel
            out["state_wait"][i] = new_lat - svc - queue - (rel - finish)
            out["wait_cause"][i] = 4
            if here:
                f.unit_finish = finish
            else:
                f.rp_life, f.rp_finish = r.life, finish
            if p.state.state_mode == "external":
                f.wlanded = finish + rtt // 2
            f.last_finish = max(f.last_finish, finish)
            r.given.append(i)
            replayed += 1
        r.last_recv = max(r.last_recv, launch)
        recovered = last if fp.recovery == "chc" else state_at
        row[3], row[4], row[5] = slot, r.slot, recovered - tau
        row[6], row[7] = len(affected), 0 if lose else nbytes
        row[8] += replayed
        row[9] = len(pending) if lose else 0
        row[10] = len(affected) if lose else 0

    def log_packet(self, unit, i: int, start: int, service: int) -> None:
        """A packet given to a unit (FTMB's log since the checkpoint counts its service)."""
        unit.given.append(i)
        if self.p.faults.recovery == "ftmb":
            k = start // self.p.faults.checkpoint_interval_ns
            if k != unit.ck_index:
                unit.ck_index, unit.ck_busy = k, 0
            unit.ck_busy += service
