"""Many controllers (paper §7, §9.5): the flows split among N controllers, each replayed by its own
:class:`~snfkit.runner.drive.Driver`, and the N drained records merged into one.

Each controller runs the whole algorithm on its share of the flows (flowlets, assignment, state,
its own units or, under a resource manager, its leases; :mod:`snfkit.engine.pool_nb`). They share
the trace's clock: every controller's epochs start at the trace's first packet. Controllers do
not wait for one another (a lease is granted after its round trip whatever the others do, see
docs/controllers.md), so they run side by side on threads (the kernel releases the GIL).

The merged record is one replay over a pool of N x ``max_units`` slots: controller k's slot u is
slot ``k * max_units + u``, its unit lifetimes and items are numbered after those of controllers
0..k-1, and its packets go back to their rows in the trace. :func:`replay_many` builds the tables
from it (:func:`~snfkit.runner.tables.build_results`), then splits the slot back into
``controller`` and ``unit`` columns and adds each controller's epochs and, under a resource manager,
the leases and the resource manager's units (:mod:`snfkit.pool`).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl

from snfkit.engine.collect_nb import EU_COLUMNS, Items
from snfkit.engine.replay_nb import CTL_DTYPE, ChunkOut
from snfkit.engine.split_nb import scatter_rows_nb, split_flows_nb
from snfkit.engine.state_nb import TR_FLOW, TR_FROM, TR_PACKET, TR_TO
from snfkit.errors import ParameterError
from snfkit.params import ReplayParams
from snfkit.pool import controller_epochs, flow_owners, pack_leases
from snfkit.prepared import PreparedTrace, checked_columns
from snfkit.progress import ProgressCallback, progress_reporter
from snfkit.results import Results
from snfkit.runner import nfpass
from snfkit.runner.drained import Drained, PacketPart
from snfkit.runner.drive import Driver
from snfkit.runner.inputs import chunks_of
from snfkit.runner.tables import build_results

_MAXED = ("lat_max",)
"""Controller counters merged by their maximum (the rest are summed)."""
_KEPT = ("origin", "t0", "started")
"""Controller fields that are the same for every controller (taken from the first)."""


def replay_many(
    packets: Any,
    params: ReplayParams,
    *,
    progress: bool | ProgressCallback = False,
    chunk_size: int = 1_000_000,
    nf_obj: Any = None,
    inputs: tuple | None = None,
    keep_state_sources: bool = False,
) -> Results:
    """Replay ``packets`` through ``params.controllers.controllers`` controllers (see the module
    docstring); ``nf_obj``/``inputs``: an NF and its input arrays (its pass is the NF's sequential
    run over the whole trace, confirmed by ``stale_state_used`` = 0 as for one controller)."""
    ctl_params = params.controllers
    table, ts, flow, wl = _arrays(packets, chunk_size)
    n = ts.shape[0]
    n_ctl = ctl_params.controllers
    keys = table if table is not None else pl.DataFrame({"flow_id": flow})
    owner = flow_owners(keys, n_ctl, params.state.seed)
    if nf_obj is not None and not params.state.clock_check:
        raise ParameterError(
            "clock_check", False, "True with an NF and controllers > 1 (the NF pass is sequential)"
        )
    sequential = nfpass.SequentialNF(nf_obj, lambda: inputs) if nf_obj is not None else None
    t0 = int(ts[0]) if n else 0
    order, starts, local, ids, first = split_flows_nb(flow, owner, np.int64(n_ctl))
    rows = [order[starts[k] : starts[k + 1]] for k in range(n_ctl)]
    shares = [
        (rows[k], local[starts[k] : starts[k + 1]], ids[first[k] : first[k + 1]])
        for k in range(n_ctl)
    ]
    stop = threading.Event()
    lock = threading.Lock()
    merger = _Merger(params, ts, flow, wl, t0)
    with progress_reporter(
        progress, n, f"replay ({params.modes.mode}, {n_ctl} controllers)"
    ) as bar:

        def advance(m: int) -> None:
            with lock:
                bar.advance(m)

        def run(k: int) -> tuple[Drained, np.ndarray]:
            return _one(
                params, t0, ts, wl, shares[k], chunk_size, keep_state_sources, advance, stop
            )

        workers = max(1, min(n_ctl, os.cpu_count() or 1))
        with ThreadPoolExecutor(workers, thread_name_prefix="snfkit-controller") as pool:
            futures = [pool.submit(run, k) for k in range(n_ctl)]
            try:  # controller k merges while the later ones still run
                for k, future in enumerate(futures):
                    merger.add(k, *future.result(), rows[k])
            except BaseException:
                stop.set()  # the other controllers stop at their next chunk
                raise
    merged = merger.finish()
    results = build_results(merged)
    _split_slots(results, params, owner, flow)
    if sequential is not None:
        if results.summary["stale_state_used"]:
            raise RuntimeError("a controller used stale state with clock_check on")
        nfpass.attach(results, nf_obj, sequential.result())
    if not keep_state_sources:
        results.extra.pop("src_pkt", None)
    results.extra.pop("pushed_packets", None)
    results.extra.pop("wire_bytes", None)
    return results


def _arrays(packets: Any, chunk_size: int):
    """(table or None, ts, flow, wire_len) of the whole trace, checked (many controllers need the
    whole trace at once to split it)."""
    if isinstance(packets, PreparedTrace):
        return (
            packets.packets if "ingress" in packets.packets.columns else None,
            packets.ts,
            packets.flow,
            packets.wire_len,
        )
    if isinstance(packets, pl.DataFrame):
        table = packets
    else:
        parts = list(chunks_of(packets, chunk_size)[0])
        if not parts:
            raise ParameterError("packets", "no packets", "a trace with at least one packet")
        table = pl.concat(parts) if len(parts) > 1 else parts[0]
    ts, flow, wl, _ = checked_columns(table)
    return table, ts, flow, wl


def _one(params, t0, ts, wl, share, chunk_size, keep_src, advance, stop):
    """One controller's replay of its ``share``: (its rows, their flow ids renumbered densely in
    the order of the global ids, the global ids), so its per-flow tables stay the size of its
    share. Returns its drained record and its flow ids."""
    rows, local, ids = share
    driver = Driver(params, keep_src=keep_src)
    driver.drained.t0 = t0  # every controller's clock and epochs start at the trace's first packet
    driver.state.ctl["origin"] = t0
    if ids.shape[0]:
        driver.reserve(ids.shape[0], rows.shape[0])
    for a in range(0, rows.shape[0], chunk_size):
        if stop.is_set():
            break
        r = rows[a : a + chunk_size]
        driver.feed_arrays(ts[r], local[a : a + chunk_size], wl[r], n_flows=ids.shape[0])
        advance(r.shape[0])
    return driver.finish(), ids


class _Merger:
    """Merges the controllers' drained records into one (see the module docstring): ``add`` each
    controller's in order 0, 1, ... as it finishes, then ``finish``."""

    def __init__(self, params: ReplayParams, ts, flow, wl, t0: int) -> None:
        self.params, self.ts, self.flow, self.wl, self.t0 = params, ts, flow, wl, t0
        self.ctl = np.zeros(1, CTL_DTYPE)
        self.first: Drained | None = None
        self.items: list[list[np.ndarray]] = [[] for _ in Items._fields]
        self.records: list[np.ndarray] = []
        self.eu_parts: list[np.ndarray] = []
        self.transfers: list[np.ndarray] = []
        self.pushed: list[np.ndarray] = []
        self.scatters: list[
            tuple
        ] = []  # (rows, a controller's chunk outputs, unit and item shifts)
        self.src: list[tuple[np.ndarray, np.ndarray]] = []
        self.hist = self.waits = None
        self.lives = self.n_items = 0

    def add(self, k: int, d: Drained, ids: np.ndarray, r: np.ndarray) -> None:
        """Controller ``k``'s record ``d``: its flows' global ids ``ids``, its rows ``r``."""
        shift = k * self.params.units.max_units
        if self.first is None:
            self.first = d
            self.hist = np.zeros_like(d.state.hist)
            self.waits = np.zeros_like(d.state.waits)
        c, ctl = d.state.ctl, self.ctl
        for name in CTL_DTYPE.names:
            if name in _KEPT:
                ctl[name] = self.first.state.ctl[name]
            elif name in _MAXED:
                ctl[name] = np.maximum(ctl[name], c[name])
            else:
                ctl[name] = ctl[name] + c[name]
        self.hist += d.state.hist
        self.waits += d.state.waits
        n_items = int(c["items"][0])
        moved = {
            "flow": lambda a: ids[a],
            "unit": lambda a: a + shift,
            "life": lambda a: a + self.lives,
        }
        for j, (name, col) in enumerate(zip(Items._fields, d.state.items, strict=True)):
            part = col[:n_items]
            self.items[j].append(moved[name](part) if name in moved else part)
        for rec in d.records:
            rec = rec.copy()
            rec["unit"] += shift
            rec["unit_life"] += self.lives
            self.records.append(rec)
        for rows_eu in d.eu_parts:
            rows_eu = rows_eu.copy()
            rows_eu[:, EU_COLUMNS.index("unit")] += shift
            self.eu_parts.append(rows_eu)
        for batch in d.transfers:
            batch = batch.copy()
            batch[TR_FLOW] = ids[batch[TR_FLOW]]
            for col in (TR_FROM, TR_TO):
                batch[col] = np.where(batch[col] >= 0, batch[col] + shift, batch[col])
            batch[TR_PACKET] = np.where(batch[TR_PACKET] >= 0, r[batch[TR_PACKET]], -1)
            self.transfers.append(batch)
        for p in d.pushed_packets:
            self.pushed.append(np.where(p >= 0, r[p], -1))
        a = 0
        for part in d.packet_parts:
            b = a + part.ts.shape[0]
            self.scatters.append((r[a:b], part, np.int64(shift), np.int64(self.n_items)))
            a = b
        if d.keep_src and d.src_parts:
            self.src.append((r, np.concatenate(d.src_parts)))
        self.lives += int(c["lives"][0])
        self.n_items += n_items

    def finish(self) -> Drained:
        """The merged record. Per-packet rows: in trace order at once with ``keep_packets=True``;
        with ``'auto'``, the controllers' rows serve the latency percentiles and go to trace order
        when the packets table is first read (:attr:`Drained.ordered_parts`)."""
        first, ts, n = self.first, self.ts, self.ts.shape[0]
        state = first.state._replace(
            ctl=self.ctl,
            items=Items(*(np.concatenate(cols) for cols in self.items)),
            hist=self.hist,
            waits=self.waits,
            fails=first.state.fails[:0],
        )
        merged = Drained(
            params=self.params,
            state=state,
            keep=first.keep,
            keep_src=first.keep_src,
            keep_transfers=first.keep_transfers,
            t0=self.t0 if n else None,
        )
        merged.t_last = int(ts[-1]) if n else 0
        merged.n_in = n
        merged.records, merged.eu_parts = self.records, self.eu_parts
        merged.transfers, merged.pushed_packets = self.transfers, self.pushed
        if first.keep:
            scatters, flow, wl = self.scatters, self.flow, self.wl

            def in_trace_order() -> list[PacketPart]:
                out = _packet_out(n, [part for _, part, _, _ in scatters])
                jobs = [(r, part.out, du, di) for r, part, du, di in scatters]
                if jobs:
                    with ThreadPoolExecutor(min(len(jobs), os.cpu_count() or 1)) as pool:
                        list(
                            pool.map(
                                lambda job: scatter_rows_nb(job[0], job[1], out, *job[2:]), jobs
                            )
                        )
                return [PacketPart(ts, flow, wl, out, None)]

            if self.params.report.keep_packets == "auto":
                merged.packet_parts = [part for _, part, _, _ in scatters]
                merged.ordered_parts = in_trace_order
            else:
                merged.packet_parts = in_trace_order()
        if first.keep_src:
            src = np.full(n, -1, np.int64)
            for r, s in self.src:
                src[r] = np.where(s >= 0, r[np.maximum(s, 0)], -1)
            merged.src_parts = [src]
        return merged


def _packet_out(n: int, parts: list[PacketPart]) -> ChunkOut:
    """Per-packet output arrays for the whole trace, shaped like the controllers' (every row is
    written: each packet has a controller)."""
    if parts:
        like = parts[0].out
        return ChunkOut(*(np.empty(n if a.shape[0] else 0, a.dtype) for a in like))
    return ChunkOut(*(np.empty(0, np.int64) for _ in ChunkOut._fields))


def _split_slots(
    results: Results, params: ReplayParams, owner: np.ndarray, flow: np.ndarray
) -> None:
    """Slot ``k * max_units + u`` back into ``controller`` k and ``unit`` u (each packet's
    controller: its flow's ``owner``); each controller's epochs; under a resource manager, its
    leases and units, and the summary's pool keys."""
    m = params.units.max_units
    cp = params.controllers

    def split(table: pl.DataFrame | None, col: str = "unit") -> pl.DataFrame | None:
        if table is None or col not in table.columns:
            return table
        return table.with_columns(
            controller=(pl.col(col) // m).cast(pl.Int64), **{col: pl.col(col) % m}
        )

    results.units = split(results.units)
    results.map_table("flowlets", split)
    results.epoch_units = split(results.epoch_units)
    results.map_packets(
        lambda t: t.with_columns(
            controller=pl.Series(owner[flow], dtype=pl.Int64), unit=pl.col("unit") % m
        )
    )
    if results.transfers is not None:
        results.transfers = results.transfers.with_columns(
            controller=(pl.col("to_unit") // m).cast(pl.Int64),
            from_unit=pl.when(pl.col("from_unit") >= 0).then(pl.col("from_unit") % m).otherwise(-1),
            to_unit=pl.col("to_unit") % m,
        )
    E = params.report.epoch_ns
    cap = params.assignment.unit_capacity_bps
    n_epochs = results.epochs.height
    per = controller_epochs(results.epoch_units, E, cap)
    grid = pl.DataFrame(
        {
            "controller": np.repeat(np.arange(cp.controllers, dtype=np.int64), n_epochs),
            "epoch": np.tile(np.arange(n_epochs, dtype=np.int64), cp.controllers),
        }
    )
    per = grid.join(per, on=["controller", "epoch"], how="left").with_columns(
        pl.exclude("controller", "epoch").fill_null(0.0)
    )
    results.controller_epochs = per
    over = per["overprovision_gbps"].to_numpy()
    s = results.summary
    s["controllers"] = cp.controllers
    s["resource_manager"] = cp.resource_manager
    s["controller_overprovision_gbps"] = {
        "mean": float(over.mean()) if over.size else float("nan"),
        "p95": float(np.percentile(over, 95)) if over.size else float("nan"),
    }
    if cp.resource_manager:
        u = params.units
        leases, rm_units, late = pack_leases(
            results.units,
            rtt_ns=cp.rm_rtt_ns,
            startup_ns=u.unit_startup_ns,
            idle_ns=u.unit_idle_ns,
            prestart_utilization=u.prestart_utilization,
        )
        results.leases = leases
        results.rm_units = rm_units
        units = results.units
        leased = (units["lifetime_ns"] * units["share"]).sum() / 1000 if units.height else 0
        s["leased_unit_seconds"] = float(leased) / 1e9
        s["unit_seconds"] = float(rm_units["lifetime_ns"].sum()) / 1e9
        if rm_units.height:  # most of the RM's units alive at once (retirements first)
            times = np.concatenate(
                [rm_units["start_ns"].to_numpy(), rm_units["retire_ns"].to_numpy()]
            )
            delta = np.repeat([1, -1], rm_units.height)
            s["max_active_units"] = int(np.cumsum(delta[np.lexsort((delta, times))]).max())
        span = max(s["duration_s"] * 1e9, 1.0)
        t0 = int(results.epochs["start_ns"][0]) if results.epochs.height else 0
        st = np.clip(rm_units["start_ns"].to_numpy(), t0, t0 + span)
        rt = np.clip(rm_units["retire_ns"].to_numpy(), t0, t0 + span)
        s["mean_active_units"] = float((rt - st).sum()) / span
        s["rm_units"] = rm_units.height
        s["rm_late_grants"] = late
