"""The tables and the summary of a replay, built from one drained-state record
(:class:`~snfkit.runner.drained.Drained`). Column meanings: :mod:`snfkit.results`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl

from snfkit import latency_hist
from snfkit.engine.collect_nb import (
    EU_COLUMNS,
    Items,
    count_parts,
    item_counts_nb,
    rank_plan,
    read_ranked,
)
from snfkit.engine.enums import (
    FailureKind,
    OpenReason,
    StateSource,
    TransferKind,
    WaitCause,
    names,
)
from snfkit.engine.faults_nb import FAIL_COLUMNS
from snfkit.engine.pool_nb import RECORD_DTYPE, SHARE_ONE
from snfkit.engine.replay_nb import item_rates_nb
from snfkit.engine.state_nb import TRANSFER_COLUMNS, new_transfers
from snfkit.results import LazyTable, Results
from snfkit.runner.drained import Drained, PacketPart

PERCENTILES = (1.0, 25.0, 50.0, 75.0, 99.0, 99.9)
"""The latency percentiles of every summary (``p1`` ... ``p99.9``)."""
WAIT_CAUSES = names(WaitCause)


def enum_column(codes: np.ndarray, categories: Iterable[str]) -> pl.Series:
    """An Enum column from integer codes (indices into ``categories``; a code out of range
    raises)."""
    cats = list(categories)
    # gathering with a polars index is ~3x faster than with a numpy one (1M rows: 1.4 vs 4.1 ms)
    return pl.Series(cats, dtype=pl.Enum(cats)).gather(pl.Series(np.asarray(codes, np.uint32)))


def _packets_part(part: PacketPart, ol_fill: int | None = None) -> pl.DataFrame:
    """One chunk's per-packet rows from the kernel's columns (``wire_len``: the table's own
    UInt32 column, if it had one, taken as it is). The kernel writes only what cannot be
    derived (:class:`~snfkit.engine.replay_nb.ChunkOut`): finish = arrival + latency - ol,
    service = finish - start, queue = latency - service - state wait - ol. ``ol_fill``: the
    table has ``ol_ns`` and ``lost`` columns (with failures or an OL hop), and where the kernel
    did not write them (no OL can fail) they are this hop and False; None: no such columns."""
    out = part.out
    n = part.ts.shape[0]
    wire_len = part.wire_len_column
    ol: Any = None
    if out.ol.shape[0]:
        ol, lost = out.ol, out.lost
    elif ol_fill is not None:
        ol = pl.repeat(ol_fill, n, dtype=pl.Int64, eager=True)
        lost = pl.repeat(False, n, dtype=pl.Boolean, eager=True)
    finish = np.add(part.ts, out.latency)
    service = np.subtract(finish, out.start)
    queue = np.subtract(out.latency, service)
    queue -= out.state_wait
    if isinstance(ol, np.ndarray):
        finish -= ol
        service -= ol
        # queue = latency - (service - ol) - wait - ol: as it stands
    elif ol_fill:
        finish -= ol_fill
        service -= ol_fill
    return pl.DataFrame(
        {
            "ts_ns": part.ts,
            "flow_id": part.flow,
            "wire_len": part.wire_len.astype(np.uint32) if wire_len is None else wire_len,
            "unit": out.unit,
            "item": out.item,
            "start_ns": out.start,
            "finish_ns": finish,
            "latency_ns": out.latency,
            "queue_ns": queue,
            "state_wait_ns": out.state_wait,
            "service_ns": service,
            "wait_cause": enum_column(out.wait_cause, WAIT_CAUSES),
            "reordered": out.reordered,
            **({"ol_ns": ol, "lost": lost} if ol is not None else {}),
        }
    )


def packets_table(parts: list[PacketPart], ol_fill: int | None = None) -> pl.DataFrame:
    """The packets table of a replay's chunks (:func:`_packets_part` each)."""
    frames = [_packets_part(part, ol_fill) for part in parts]
    return pl.concat(frames) if frames else _empty_packets()


def _origin(run: Drained) -> int:
    """The first packet's time: the kernel counts from it, the tables report the trace's clock."""
    return run.t0 or 0


def _on_clock(times: np.ndarray, run: Drained) -> np.ndarray:
    """Kernel times (from the first packet) on the trace's clock."""
    origin = _origin(run)
    return times + origin if origin else times


def build_results(run: Drained) -> Results:
    """Every table and the summary of a finished replay (the exact latency percentiles, a pass
    over every latency, on a second thread meanwhile: :func:`_latency_percentiles`)."""
    with ThreadPoolExecutor(1, thread_name_prefix="snfkit-percentiles") as pool:
        return _build(run, _latency_percentiles(run, pool))


def _build(run: Drained, percentiles: Callable[[], tuple[list[float], bool]]) -> Results:
    """:func:`build_results`, given the percentiles (a call that waits for them)."""
    p = run.params
    cap = p.assignment.unit_capacity_bps
    counters = run.state.ctl[0]
    t0 = run.t0 if run.t0 is not None else 0
    duration = max(run.t_last - t0, 0)
    units = _units_table(run)
    n_items = int(counters["items"])
    items = Items(*(a[:n_items] for a in run.state.items))  # (not the rest of the state)
    close_after, first = p.close_after_ns, run.t0  # (the lazy tables keep nothing else)
    flowlets = LazyTable(lambda: _flowlets_table(items, close_after, first))
    epochs, epoch_units = _epoch_tables(run, units, cap)
    packets = None
    if run.keep:
        ordered = run.ordered_parts
        parts = run.packet_parts
        hop = p.faults.ol_hop_ns
        ol_fill = hop if run.state.fails.shape[0] or hop > 0 else None
        if p.report.keep_packets == "auto":  # built from the kernel's columns when first read
            packets = LazyTable(lambda: packets_table(ordered() if ordered else parts, ol_fill))
        else:
            packets = packets_table(ordered() if ordered else parts, ol_fill)
    transfers = _transfers_table(run)
    summary = _summary(run, units, duration, counters, *percentiles())
    summary.update(_state_summary(run, duration, counters))
    failures = _failures_table(run)
    summary.update(_failure_summary(run, failures, duration, counters))
    extra: dict[str, Any] = {"wire_bytes": float(items.bytes.sum())}  # (for the NF pass)
    if run.keep_src:
        extra["src_pkt"] = np.concatenate(run.src_parts) if run.src_parts else np.zeros(0, np.int64)
        if run.keep_transfers:
            pushed = transfers.filter(pl.col("kind") == "push")["packet"].to_numpy()
        else:
            pushed = np.concatenate(run.pushed_packets) if run.pushed_packets else np.zeros(0, int)
        extra["pushed_packets"] = pushed
    return Results(
        extra=extra,
        summary=summary,
        params=p.flat(),
        packets=packets,
        flowlets=flowlets,
        epochs=epochs,
        epoch_units=epoch_units,
        units=units,
        transfers=transfers,
        failures=failures,
    )


def _transfers_table(run: Drained) -> pl.DataFrame | None:
    if not run.keep_transfers:
        return None
    state_bytes = run.params.state.state_bytes

    def frame(cols: np.ndarray) -> pl.DataFrame:
        """The table of one transfer buffer (its columns are contiguous: taken without copies)."""
        c = dict(zip(TRANSFER_COLUMNS, cols, strict=True))
        return pl.DataFrame(
            {
                "time_ns": _on_clock(c["time_ns"], run),
                "arrive_ns": _on_clock(c["arrive_ns"], run),
                "flow_id": c["flow_id"],
                "from_unit": c["from_unit"].astype(np.int32),
                "to_unit": c["to_unit"].astype(np.int32),
                "bytes": np.full(cols.shape[1], state_bytes, np.int64),
                "kind": enum_column(c["kind"], names(TransferKind)),
                "clock": c["clock"],
                "packet": c["packet"],
            }
        )

    frames = []
    while run.transfers:  # convert part by part, freeing each: the rows can run to millions
        frames.append(frame(run.transfers.pop(0)))
    return pl.concat(frames) if frames else frame(new_transfers(0))


def _failures_table(run: Drained) -> pl.DataFrame | None:
    """One row per failure given (None without failures)."""
    rows = run.state.fails
    if rows.shape[0] == 0:
        return None
    c = dict(zip(FAIL_COLUMNS, rows.T, strict=True))
    kinds = [k.replace("_", "+") for k in names(FailureKind)]
    state_bytes = run.params.state.state_bytes
    return pl.DataFrame(
        {
            "time_ns": _on_clock(c["time_ns"], run),
            "kind": enum_column(c["kind"], kinds),
            "target": c["target"],
            "unit": c["unit"],
            "recovery_unit": c["recovery_unit"],
            "strategy": pl.Series([run.params.faults.recovery] * rows.shape[0]),
            "recovery_us": c["recovery_ns"] / 1e3,
            "flows_affected": c["flows_affected"],
            "state_bytes_moved": c["state_bytes_moved"],
            "packets_replayed": c["packets_replayed"],
            "packets_lost": c["packets_lost"],
            "flows_lost": c["flows_lost"],
            "bytes_lost": c["flows_lost"] * state_bytes,
        }
    )


def _failure_summary(run: Drained, failures, duration: int, counters) -> dict[str, Any]:
    """Failures applied, recovery times, packets lost, and the traffic to the output loggers."""
    if failures is None:
        recovery = None
    else:
        rec = failures["recovery_us"]
        recovery = {"p50": float(rec.quantile(0.5, "lower")), "max": float(rec.max())}
    wire = float(run.state.items.bytes[: int(counters["items"])].sum())
    deltas = float(run.n_in * run.params.state.state_bytes)  # the NF pass puts its own deltas
    return {
        "failures": 0 if failures is None else failures.height,
        "recovery_us": recovery,
        "packets_lost": int(counters["lost"]),
        "ol_mbps": (wire + deltas) * 8.0 / duration * 1e3 if duration else 0.0,
    }


def _state_summary(run, duration, counters) -> dict[str, Any]:
    """Where state came from, waits by cause, seamless share, replication traffic."""
    n_items = int(run.state.ctl["items"][0])  # the flowlets table's rows, from the kernel's columns
    items = run.state.items
    counts = item_counts_nb(  # items by (moved, reason, source)
        items.moved[:n_items],
        items.reason[:n_items],
        items.source[:n_items],
        len(names(OpenReason)),
        len(names(StateSource)),
    )
    sources = {
        name: int(n) for name, n in zip(names(StateSource), counts.sum(axis=(0, 1)), strict=True)
    }
    n_moved = int(counts[1].sum())
    seamless_sources = [StateSource.replica, StateSource.free]
    seamless = int(counts[1][:, seamless_sources].sum())
    by_reason = {}
    for name in ("timeout", "size"):  # the reasons whose items can move (§5.2: replication
        # helps a flowlet that follows a gap, not one split off by the size threshold)
        row = counts[1, getattr(OpenReason, name)]
        n, ok = int(row.sum()), int(row[seamless_sources].sum())
        by_reason[name] = {"moved": n, "seamless": ok, "share": ok / n if n else None}
    moved_counts = counts[1].sum(axis=0)
    moved_sources = {
        name: int(n) for name, n in zip(names(StateSource), moved_counts, strict=True) if n
    }
    push_bytes = int(counters["transfer_bytes"][TransferKind.push])
    waits = {}
    for j, cause in enumerate(WAIT_CAUSES[1:], start=1):
        n, total = int(run.state.waits[0, j]), float(run.state.waits[1, j])
        waits[cause] = {
            "packets": n,
            "total_us": total / 1e3,
            "mean_us": total / n / 1e3 if n else 0.0,
        }
    return {
        "state_mode": run.params.state.state_mode,
        "state_sources": sources,
        "moved_flowlets": n_moved,
        "seamless_share": seamless / n_moved if n_moved else None,
        "seamless_by_reason": by_reason,
        "moved_sources": moved_sources,
        "waits": waits,
        "pushes": int(counters["pushes"]),
        "replica_copies": int(counters["copies"]),
        "stale_copies": int(counters["stale_copies"]),
        "stale_state_used": int(counters["stale_used"]),
        "store_reads": int(counters["store_reads"]),
        "store_writes": int(counters["store_writes"]),
        "state_bytes": run.params.state.state_bytes,
        "replication_mbps": push_bytes * 8.0 / duration * 1e3 if duration else 0.0,
    }


def _empty_packets() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "ts_ns": pl.Int64,
            "flow_id": pl.Int64,
            "wire_len": pl.UInt32,
            "unit": pl.Int32,
            "item": pl.Int64,
            "start_ns": pl.Int64,
            "finish_ns": pl.Int64,
            "latency_ns": pl.Int64,
            "queue_ns": pl.Int64,
            "state_wait_ns": pl.Int64,
            "service_ns": pl.Int64,
            "wait_cause": pl.Enum(WAIT_CAUSES),
            "reordered": pl.Boolean,
        }
    )


def _units_table(run: Drained) -> pl.DataFrame:
    rec = np.concatenate(run.records) if run.records else np.zeros(0, RECORD_DTYPE)
    rec = rec[np.argsort(rec["unit_life"], kind="stable")]
    table = pl.DataFrame({c: rec[c] for c in RECORD_DTYPE.names})
    origin = _origin(run)
    if origin:
        table = table.with_columns(pl.col("start_ns", "ready_ns", "retire_ns") + origin)
    return table.with_columns((pl.col("retire_ns") - pl.col("start_ns")).alias("lifetime_ns"))


def _flowlets_table(it: Items, close_after_ns: int, t0: int | None) -> pl.DataFrame:
    """The flowlets table from the kernel's item columns (``t0``: the first packet's time)."""
    n = it.flow.shape[0]
    rate = item_rates_nb(it.open_ts, it.last, it.bytes, it.pkts, np.int64(close_after_ns))
    origin = t0 or 0

    def on_clock(times: np.ndarray) -> np.ndarray:
        return times + origin if origin else times

    return pl.DataFrame(
        {
            "item": np.arange(n, dtype=np.int64),
            "flow_id": it.flow,
            "unit": it.unit,
            "unit_life": it.life,
            "open_ns": on_clock(it.open_ts),
            "last_ns": on_clock(it.last),
            "end_ns": on_clock(it.end),
            "packets": it.pkts,
            "bytes": it.bytes,
            "reason": enum_column(it.reason, names(OpenReason)),
            "estimate_gbps": it.est / 1e9,
            "measured_gbps": rate / 1e9,
            "overflow": it.overflow,
            "state_source": enum_column(it.source, names(StateSource)),
            "moved": it.moved,
        }
    )


def _epoch_tables(
    run: Drained, units: pl.DataFrame, cap: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    E = run.params.report.epoch_ns
    t0 = run.t0 if run.t0 is not None else 0
    n_epochs = (run.t_last - t0) // E + 1 if run.n_in else 0
    starts = units["start_ns"].to_numpy()
    retires = units["retire_ns"].to_numpy()
    slots = units["unit"].to_numpy()
    shares = units["share"].to_numpy()
    active = _active_per_epoch(starts, retires, slots, shares, t0, E, n_epochs)
    rows = (
        np.concatenate(run.eu_parts) if run.eu_parts else np.zeros((0, len(EU_COLUMNS)), np.int64)
    )
    traffic = (
        pl.DataFrame(rows, schema=list(EU_COLUMNS), orient="row")
        .group_by("epoch", "unit")
        .agg(pl.all().sum())
    )
    eu = (
        active.join(traffic, on=["epoch", "unit"], how="full", coalesce=True)
        .filter(pl.col("epoch") < n_epochs)
        .fill_null(0)
        .sort("epoch", "unit")
        .with_columns(
            utilization=pl.when(pl.col("active_ns") > 0)
            .then(pl.col("bytes") * 8e9 / (cap * pl.col("active_ns")))
            .otherwise(None),
            busy_fraction=pl.when(pl.col("active_ns") > 0)
            .then(pl.col("busy_ns") / pl.col("active_ns"))
            .otherwise(None),
        )
    )
    max_active = _max_active_per_epoch(starts, retires, t0, E, n_epochs)
    offered = traffic.group_by("epoch").agg(pl.col("bytes").sum().alias("offered_bytes"))
    base = pl.DataFrame({"epoch": np.arange(n_epochs, dtype=np.int64)})
    per = eu.group_by("epoch").agg(
        pl.col("active_ns").sum(),
        pl.col("leased_ns").sum(),
        pl.col("processed_bytes").sum().alias("processed_bytes"),
    )
    epochs = (
        base.join(offered, on="epoch", how="left")
        .join(per, on="epoch", how="left")
        .fill_null(0)
        .with_columns(
            start_ns=t0 + pl.col("epoch") * E,
            offered_gbps=pl.col("offered_bytes") * 8.0 / E,
            processed_gbps=pl.col("processed_bytes") * 8.0 / E,
            mean_active_units=pl.col("active_ns") / E,
            max_active_units=pl.Series(max_active, dtype=pl.Int64),
        )
        .with_columns(provisioned_gbps=pl.col("leased_ns") / SHARE_ONE / E * cap / 1e9)
        .with_columns(overprovision_gbps=pl.col("provisioned_gbps") - pl.col("offered_gbps"))
        .select(
            "epoch",
            "start_ns",
            "offered_gbps",
            "processed_gbps",
            "mean_active_units",
            "max_active_units",
            "provisioned_gbps",
            "overprovision_gbps",
        )
    )
    return epochs, eu.drop("processed_bytes")


def _active_per_epoch(starts, retires, slots, shares, t0, E, n_epochs) -> pl.DataFrame:
    """Each unit lifetime's active time in each epoch it overlaps: rows (epoch, unit, active_ns,
    leased_ns = active time x the lifetime's share in thousandths of a unit), summed over the
    lifetimes of a slot (vectorised: a unit alive for a million epochs costs a
    million rows, not a million Python steps)."""
    if n_epochs == 0 or len(starts) == 0:
        e_lo = e_hi = np.zeros(0, np.int64)
    else:
        e_lo = np.maximum((starts - t0) // E, 0)
        e_hi = np.minimum((retires - t0) // E, n_epochs - 1)
    count = np.maximum(e_hi - e_lo + 1, 0)
    life = np.repeat(np.arange(len(count)), count)
    first = np.cumsum(count) - count
    epoch = e_lo[life] + (np.arange(life.shape[0]) - first[life])
    lo = np.maximum(starts[life], t0 + epoch * E)
    hi = np.minimum(retires[life], t0 + (epoch + 1) * E)
    keep = hi > lo
    return (
        pl.DataFrame(
            {
                "epoch": epoch[keep].astype(np.int64),
                "unit": slots[life][keep].astype(np.int64),
                "active_ns": (hi - lo)[keep].astype(np.int64),
                "leased_ns": ((hi - lo) * shares[life])[keep].astype(np.int64),
            }
        )
        .group_by("epoch", "unit")
        .agg(pl.col("active_ns").sum(), pl.col("leased_ns").sum())
    )


def _alive_steps(starts, retires) -> tuple[np.ndarray, np.ndarray]:
    """Unit starts and retirements in time order (retirements first at the same instant) and the
    number of units alive after each."""
    times = np.concatenate([starts, retires])
    delta = np.concatenate([np.ones(len(starts), np.int64), -np.ones(len(retires), np.int64)])
    order = np.lexsort((delta, times))
    return times[order], np.cumsum(delta[order])


def _max_active_per_epoch(starts, retires, t0, E, n_epochs) -> np.ndarray:
    """Most units alive at once within each epoch: the level at the epoch's start, or a level
    reached by an event strictly inside it (vectorised over epochs)."""
    out = np.zeros(n_epochs, np.int64)
    if n_epochs == 0 or len(starts) == 0:
        return out
    times, alive = _alive_steps(starts, retires)
    lo = t0 + np.arange(n_epochs, dtype=np.int64) * E
    before = np.searchsorted(times, lo, side="right") - 1
    out[:] = np.where(before >= 0, alive[np.maximum(before, 0)], 0)
    epoch = (times - t0) // E
    inside = (times > t0 + epoch * E) & (epoch >= 0) & (epoch < n_epochs)
    np.maximum.at(out, epoch[inside], alive[inside])
    return out


def _latency_parts(run: Drained) -> list[np.ndarray]:
    """The per-packet latencies of the chunks (lost packets, which have none, left out)."""
    if not run.keep:
        return []
    if int(run.state.ctl["lost"][0]):
        parts = [part.out.latency[~part.out.lost] for part in run.packet_parts]
    else:
        parts = [part.out.latency.view() for part in run.packet_parts]
    for part in parts:  # read-only, as the column chunks these kernels were compiled for
        part.setflags(write=False)
    return parts


class _Shared:
    """An iterator that threads can share (each item goes to one of them)."""

    def __init__(self, items) -> None:
        self._items = iter(items)
        self._lock = threading.Lock()

    def __iter__(self) -> _Shared:
        return self

    def __next__(self):
        with self._lock:
            return next(self._items)


def _latency_percentiles(
    run: Drained, pool: ThreadPoolExecutor
) -> Callable[[], tuple[list[float], bool]]:
    """A call that returns the summary's latency percentiles (ns) and whether they are exact:
    from the per-packet latencies when kept, else from the kernel's log histogram. The count
    pass over the chunks' latencies starts on a thread of ``pool`` now, and the call counts the
    chunks that thread has not taken yet on the caller's thread."""
    parts = _latency_parts(run)
    hist = run.state.hist
    n_lat = sum(part.shape[0] for part in parts)
    if not n_lat:
        from_hist = latency_hist.percentiles(hist, list(PERCENTILES)), False
        return lambda: from_hist
    # numpy's percentile(method="lower") ranks, read with the kernel's latency histogram from
    # the chunks' columns (no copy, no partition of the whole column)
    ranks = np.floor((n_lat - 1) * (np.asarray(PERCENTILES) / 100)).astype(np.int64)
    plan = rank_plan(parts, ranks, hist)
    shared = _Shared(parts)
    theirs = pool.submit(count_parts, shared, plan)  # (its kernel releases the GIL)

    def result() -> tuple[list[float], bool]:
        counts = count_parts(shared, plan)
        counts += theirs.result()
        return [float(v) for v in read_ranked(parts, plan, counts, hist)], True

    return result


def _summary(run, units, duration, counters, pct, exact) -> dict[str, Any]:
    names = ["p1", "p25", "p50", "p75", "p99", "p99.9"]
    unit_ns = int(units["lifetime_ns"].sum()) if units.height else 0
    offered_bits = float(run.state.items.bytes[: int(counters["items"])].sum()) * 8.0
    max_active = (
        int(_alive_steps(units["start_ns"].to_numpy(), units["retire_ns"].to_numpy())[1].max())
        if units.height
        else 0
    )
    # time-weighted mean over the trace's span [t0, t_last]
    t0 = run.t0 if run.t0 is not None else 0
    span = max(duration, 1)
    if units.height:
        s = np.clip(units["start_ns"].to_numpy(), t0, t0 + span)
        r = np.clip(units["retire_ns"].to_numpy(), t0, t0 + span)
        mean_active = float((r - s).sum()) / span
    else:
        mean_active = 0.0
    allocations = int(counters["allocations"])
    moves = int(counters["moves"])
    return {
        "mode": run.params.modes.mode,
        "packets_in": run.n_in,
        "packets_served": int(counters["served"]),
        "packets_processed": int(counters["served"]),
        "packets_dropped": 0,
        "latency_us": {k: v / 1e3 for k, v in zip(names, pct, strict=True)},
        "latency_mean_us": (float(counters["lat_sum"]) / int(counters["served"]) / 1e3)
        if int(counters["served"])
        else float("nan"),
        "latency_max_us": int(counters["lat_max"]) / 1e3,
        "latency_exact": exact,
        "mean_active_units": mean_active,
        "max_active_units": max_active,
        "unit_seconds": unit_ns / 1e9,
        "allocations": allocations,
        "moves": moves,
        "opportunities": allocations + moves,
        "overflow": int(counters["overflow_new"] + counters["overflow_full"]),
        "prestarts": int(counters["prestarts"]),
        "state_pulls": int(counters["state_pulls"]),
        "reordered": int(counters["reordered"]),
        "duration_s": duration / 1e9,
        "offered_gbps": offered_bits / span if duration else float("nan"),
        "rm_epoch_leases": int(counters["lease_asks"]),
        "rm_leases_returned": int(counters["lease_returns"]),
        "controller": _controller_summary(counters, duration),
    }


def _controller_summary(counters, duration: int) -> dict[str, Any]:
    """The controller's decisions, and with a decision rate its utilisation (decision time over
    the trace's duration; above 1 it could not keep up) and the items that queued for it."""
    waited = int(counters["decide_waited"])
    busy = int(counters["decide_busy"])
    return {
        "decisions": int(counters["allocations"]),
        "utilization": busy / duration if busy and duration else (0.0 if not busy else None),
        "waited": waited,
        "wait_mean_us": float(counters["decide_wait"]) / waited / 1e3 if waited else 0.0,
    }
