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

    def packet_busy_ns(self) -> pl.Series | None:
        """Each packet's busy time at its unit, ``service_ns + state_wait_ns`` (None without rows)."""
        p = self.results.packets
        if p is None:
            return None
        return p.select(busy=pl.col("service_ns") + pl.col("state_wait_ns"))["busy"]

    @cached_property
    def flow_invocations(self) -> pl.DataFrame:
        """One row per flow as a per-flow system sees it: the replay's items of a flow, split where
        the flow is idle more than ``flow_timeout_ns`` (the flow table's idle timeout; in the flow
        modes these are exactly the replay's items). ``duration_ns`` = close - first arrival, close =
        max(last arrival + flow_timeout_ns, last finish)."""
        timeout = int(self.params["flow_timeout_ns"])
        f = self.results.flowlets.select("flow_id", "open_ns", "last_ns", "end_ns")
        new = (pl.col("flow_id") != pl.col("flow_id").shift(1)) | (
            pl.col("open_ns") - pl.col("last_ns").shift(1) > timeout
        )
        flows = (
            f.sort("flow_id", "open_ns")
            .with_columns(segment=new.fill_null(True).cum_sum())
            .group_by("segment")
            .agg(
                pl.col("flow_id").first(),
                pl.col("open_ns").min(),
                pl.col("last_ns").max(),
                pl.col("end_ns").max(),
            )
        )
        close = pl.max_horizontal(pl.col("last_ns") + timeout, pl.col("end_ns"))
        return flows.select(
            "flow_id", "open_ns", duration_ns=(close - pl.col("open_ns")).cast(pl.Int64)
        ).sort("flow_id", "open_ns")

    @cached_property
    def flowlet_invocations(self) -> pl.DataFrame:
        """One row per flowlet (timeout T = ``timeout_ns``, size threshold B = ``size_bytes``):
        ``duration_ns`` = close - first arrival, where a flowlet closes when the next flowlet of its
        flow opens on a size split, else T after its last arrival, and never before its last packet
        finished. Flowlet-mode replays have the flowlets in their table; other modes detect them from
        the packets table (paper §4.1's rule) and need ``keep_packets=True``."""
        timeout = int(self.params["timeout_ns"])
        if self.mode == "flowlet":
            items = self.results.flowlets.select(
                "flow_id",
                "open_ns",
                "last_ns",
                "end_ns",
                size_split=pl.col("reason").cast(pl.String) == "size",
            )
        else:
            items = self._detected_flowlets()
        nxt = pl.col("size_split").shift(-1).over("flow_id", order_by="open_ns").fill_null(False)
        close = pl.when(nxt).then(pl.col("open_ns").shift(-1).over("flow_id", order_by="open_ns"))
        close = pl.max_horizontal(close.otherwise(pl.col("last_ns") + timeout), pl.col("end_ns"))
        return items.select(
            "flow_id", "open_ns", duration_ns=(close - pl.col("open_ns")).cast(pl.Int64)
        ).sort("flow_id", "open_ns")

    def _detected_flowlets(self) -> pl.DataFrame:
        from snfkit.engine.flowlets_nb import FlowletReason, detect_flowlets_nb

        p = self.results.packets
        if p is None:
            raise ParameterError(
                "keep_packets",
                False,
                f"True for per-flowlet billing of a {self.mode!r} replay: its flowlets are found "
                "from the per-packet rows (a flowlet-mode replay has them in its flowlets table)",
            )
        reason, *_ = detect_flowlets_nb(
            p["ts_ns"].to_numpy().astype(np.int64),
            p["flow_id"].to_numpy().astype(np.int64),
            p["wire_len"].to_numpy().astype(np.int64),
            int(self.params["timeout_ns"]),
            int(self.params["size_bytes"]),
        )
        return (
            p.select("flow_id", "ts_ns", "finish_ns")
            .with_columns(reason=pl.Series(reason, dtype=pl.Int8))
            .with_columns(flowlet=(pl.col("reason") >= 0).cum_sum().over("flow_id"))
            .group_by("flow_id", "flowlet")
            .agg(
                open_ns=pl.col("ts_ns").min(),
                last_ns=pl.col("ts_ns").max(),
                end_ns=pl.col("finish_ns").max(),
                size_split=(pl.col("reason").first() == FlowletReason.SIZE),
            )
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
        held = need.with_columns(held=pl.col("need").rolling_max(hold, min_samples=1))
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
