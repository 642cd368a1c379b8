"""What a replay used, read from its :class:`~snfkit.results.Results` tables for the billing models.

Everything is a vectorised polars expression over the tables (no loop over packets); each table is
built once per :class:`Usage` and cached. Times are integer ns unless a name ends in ``_s``.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import polars as pl

from snfkit.errors import ParameterError
from snfkit.results import Results

INVOCATION_SCHEMA = {"flow_id": pl.Int64, "open_ns": pl.Int64, "duration_ns": pl.Int64}


def _max_at(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The maximum of each run ``values[starts[i]:starts[i + 1]]`` (the last run to the end)."""
    if starts.shape[0] == 0:
        return values[:0].copy()
    return np.maximum.reduceat(values, starts)


def _int64(column: pl.Series) -> np.ndarray:
    return column.to_numpy().astype(np.int64, copy=False)


def flow_order(flow: np.ndarray) -> np.ndarray:
    """The permutation that groups rows by flow id (>= 0) and keeps their order within a flow: an
    LSD radix sort in 16-bit digits, as numpy's stable sort is a radix sort for 16-bit keys (about
    4x faster than a stable sort of 64-bit keys, and the billing's one sort of packets)."""
    if flow.shape[0] == 0:
        return np.arange(0)
    top = int(flow.max())
    order = np.argsort((flow & 0xFFFF).astype(np.uint16), kind="stable")
    shift = 16
    while top >> shift:
        digit = ((flow[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
    return order


def _invocations(flow: np.ndarray, open_ns: np.ndarray, close_ns: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {"flow_id": flow, "open_ns": open_ns, "duration_ns": close_ns - open_ns},
        schema=INVOCATION_SCHEMA,
    )


class Usage:
    """Aggregates of one replay, computed on first use.

    ``duration_ns``: first to last arrival (the trace's duration, the same in every mode);
    ``packets``: packets processed; ``bytes``: their wire bytes; ``busy_s``: service time summed over
    units; ``unit_s``: unit lifetimes summed (start-up and idle tail included: what a provider runs;
    ``unit_s_in_trace`` clips them to the trace, for extrapolation);
    ``allocations``: work-allocation decisions (flowlets, flows or packets) plus smart_flow moves.
    """

    def __init__(self, results: Results) -> None:
        self.results = results
        self.params = results.params
        self.summary = results.summary

    @property
    def mode(self) -> str:
        return str(self.summary.get("mode", self.params.get("mode", "")))

    @cached_property
    def duration_ns(self) -> int:
        f = self.results.flowlets
        return int(f["last_ns"].max() - f["open_ns"].min()) if f.height else 0

    @property
    def duration_s(self) -> float:
        return self.duration_ns / 1e9

    @cached_property
    def packets(self) -> int:
        return int(self.summary["packets_processed"])

    @cached_property
    def bytes(self) -> int:
        return int(self.results.flowlets["bytes"].sum())

    @property
    def gigabytes(self) -> float:
        return self.bytes / 1e9

    @cached_property
    def busy_s(self) -> float:
        return int(self.results.units["busy_ns"].sum()) / 1e9

    @cached_property
    def unit_s(self) -> float:
        return int(self.results.units["lifetime_ns"].sum()) / 1e9

    @cached_property
    def unit_s_in_trace(self) -> float:
        """Unit lifetimes clipped to [first arrival, last arrival]: a unit's share of one
        repetition when the trace repeats back to back (units alive after the last arrival, and
        their idle tails, belong to the next repetition)."""
        f, u = self.results.flowlets, self.results.units
        if f.height == 0 or u.height == 0:
            return 0.0
        t0 = int(f["open_ns"].min())
        t1 = t0 + self.duration_ns
        clipped = u.select(
            (pl.col("retire_ns").clip(t0, t1) - pl.col("start_ns").clip(t0, t1)).sum()
        ).item()
        return int(clipped) / 1e9

    @property
    def allocations(self) -> int:
        return int(self.summary["opportunities"])

    @property
    def max_latency_ns(self) -> int:
        return round(float(self.summary["latency_max_us"]) * 1000)

    @property
    def capacity_bps(self) -> float:
        return float(self.params["unit_capacity_bps"])

    def packet_busy_ns(self) -> np.ndarray | None:
        """Each packet's busy time at its unit, ``service_ns + state_wait_ns`` (None without rows)."""
        p = self.results.packets
        if p is None:
            return None
        return _int64(p["service_ns"]) + _int64(p["state_wait_ns"])

    @cached_property
    def items_by_flow(self) -> dict[str, np.ndarray]:
        """The flowlets table's columns as arrays, grouped by flow and in time order within one."""
        f = self.results.flowlets
        if not f["open_ns"].is_sorted():
            f = f.sort("open_ns", maintain_order=True)
        flow = _int64(f["flow_id"])
        order = flow_order(flow)
        cols = {"flow_id": flow[order]}
        for c in ("open_ns", "last_ns", "end_ns"):
            cols[c] = _int64(f[c])[order]
        cols["size_split"] = (f["reason"].cast(pl.String) == "size").to_numpy()[order]
        return cols

    @cached_property
    def flow_invocations(self) -> pl.DataFrame:
        """One row per flow as a per-flow system sees it: the replay's items of a flow, split where
        the flow is idle more than ``flow_timeout_ns`` (the flow table's idle timeout; in the flow
        modes these are exactly the replay's items). ``duration_ns`` = close - first arrival, close =
        max(last arrival + flow_timeout_ns, last finish)."""
        timeout = int(self.params["flow_timeout_ns"])
        f = self.items_by_flow
        flow, open_ns, last, end = f["flow_id"], f["open_ns"], f["last_ns"], f["end_ns"]
        new = np.ones(flow.shape[0], bool)
        new[1:] = (flow[1:] != flow[:-1]) | (open_ns[1:] - last[:-1] > timeout)
        starts = np.flatnonzero(new)
        close = np.maximum(_max_at(last, starts) + timeout, _max_at(end, starts))
        return _invocations(flow[starts], open_ns[starts], close)

    @cached_property
    def flowlet_invocations(self) -> pl.DataFrame:
        """One row per flowlet (timeout T = ``timeout_ns``, size threshold B = ``size_bytes``):
        ``duration_ns`` = close - first arrival, where a flowlet closes when the next flowlet of its
        flow opens on a size split, else T after its last arrival, and never before its last packet
        finished. Flowlet-mode replays have the flowlets in their table; other modes detect them from
        the packets table (paper §4.1's rule) and need ``keep_packets=True``."""
        if self.mode == "flowlet":
            f = self.items_by_flow
            flow, open_ns, last, end = f["flow_id"], f["open_ns"], f["last_ns"], f["end_ns"]
            split = f["size_split"]
        else:
            flow, open_ns, last, end, split = self._detected_flowlets()
        timeout = int(self.params["timeout_ns"])
        close = last + timeout
        same_flow = flow[1:] == flow[:-1]
        by_split = same_flow & split[1:]
        close[:-1] = np.where(by_split, open_ns[1:], close[:-1])
        return _invocations(flow, open_ns, np.maximum(close, end))

    def _detected_flowlets(self) -> tuple[np.ndarray, ...]:
        """(flow, open, last arrival, last finish, opened by a size split) per flowlet, sorted by
        flow and time: the packets grouped by flow (a stable sort keeps their order), each flowlet a
        run of them starting at a packet that opens one."""
        from snfkit.engine.enums import OpenReason
        from snfkit.engine.flowlets_nb import detect_flowlets_nb

        p = self.results.packets
        if p is None:
            raise ParameterError(
                "keep_packets",
                False,
                f"True for per-flowlet billing of a {self.mode!r} replay: its flowlets are found "
                "from the per-packet rows (a flowlet-mode replay has them in its flowlets table)",
            )
        ts = _int64(p["ts_ns"])
        flow = _int64(p["flow_id"])
        reason, *_ = detect_flowlets_nb(
            ts,
            flow,
            _int64(p["wire_len"]),
            int(self.params["timeout_ns"]),
            int(self.params["size_bytes"]),
        )
        order = flow_order(flow)  # packets are in arrival order, so each flow's stay in it
        why = reason[order]
        starts = np.flatnonzero(why >= 0)
        first = order[starts]
        last = order[np.append(starts[1:], order.shape[0]) - 1]
        return (
            flow[first],
            ts[first],
            ts[last],
            _max_at(_int64(p["finish_ns"])[order], starts),
            why[starts] == OpenReason.size,
        )

    def vm_fleet(self, hold_ns: int) -> tuple[int, pl.DataFrame]:
        """(peak instances, autoscaled instance lifetimes ``lifetime_ns``), one instance per unit of
        capacity ``unit_capacity_bps``.

        Each epoch (``epoch_ns``, from the first arrival, cut at the last arrival) needs
        ceil(offered_gbps / capacity) instances, and at least one; ``offered_gbps`` is the epoch's
        bytes over the whole epoch, so choose ``epoch_ns`` well below the trace's duration (an epoch
        longer than the trace under-sizes the fleet). The peak fleet runs max(need) instances for
        the whole trace. The autoscaled fleet follows the
        need but keeps an instance ``hold_ns`` after the last epoch that needed it (a rolling maximum
        over the epochs): its k-th instance runs while the held need exceeds k, and each run of
        consecutive epochs is one instance lifetime."""
        epoch = int(self.params["epoch_ns"])
        d = self.duration_ns
        cap = self.capacity_bps
        hold = max(1, math.ceil(hold_ns / epoch))
        need = (
            self.results.epochs.select(
                "epoch",
                length_ns=(d - pl.col("epoch") * epoch).clip(0, epoch),
                need=(pl.col("offered_gbps") * 1e9 / cap - 1e-9).ceil().cast(pl.Int64),
            )
            .filter((pl.col("length_ns") > 0) | (pl.col("epoch") == 0))
            .with_columns(need=pl.max_horizontal("need", pl.lit(1)))
            .sort("epoch")
        )
        peak = int(need["need"].max()) if need.height else 1
        held = need.with_columns(  # the first epochs: the maximum so far
            held=pl.col("need").rolling_max(hold).fill_null(pl.col("need").cum_max())
        )
        lives = (
            held.with_columns(rank=pl.int_ranges(0, "held"))
            .explode("rank")
            .sort("rank", "epoch")
            .with_columns(
                run=(
                    (pl.col("rank") != pl.col("rank").shift(1))
                    | (pl.col("epoch") != pl.col("epoch").shift(1) + 1)
                )
                .fill_null(True)
                .cum_sum()
            )
            .group_by("run")
            .agg(pl.col("rank").first(), lifetime_ns=pl.col("length_ns").sum())
            .select("rank", "lifetime_ns")
            .sort("rank", "lifetime_ns")
        )
        return max(peak, 1), lives
