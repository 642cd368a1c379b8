"""Failure recovery (§9.4): recovery time per strategy, and latency over time around a failure."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import polars as pl

from snfkit.charts.titles import title
from snfkit.errors import ParameterError
from snfkit.results import Results

PAPER_RECOVERY_US = {"snf": 140.0, "chc": 3_200.0, "ftmb": 25_700.0}
"""§9.4: one NAT unit failed at 50 % load, the failover unit launched at once."""


def _failures(res: Results, label: str) -> pl.DataFrame:
    if res.failures is None or res.failures.height == 0:
        raise ParameterError("runs", label, "replays with failures (snfkit.replay(failures=...))")
    return res.failures


def recovery_data(runs: Mapping[str, Results]) -> pl.DataFrame:
    """One row per (strategy, failure): ``strategy``, ``time_ns``, ``kind``, ``recovery_us``,
    ``flows_affected``, ``packets_replayed``, and ``paper_us`` (§9.4's value, where it has one)."""
    frames = []
    for label, res in runs.items():
        f = _failures(res, label)
        frames.append(
            f.select(
                pl.lit(label).alias("strategy"),
                "time_ns",
                pl.col("kind").cast(pl.String),
                "recovery_us",
                "flows_affected",
                "packets_replayed",
                pl.lit(PAPER_RECOVERY_US.get(label), pl.Float64).alias("paper_us"),
            )
        )
    return pl.concat(frames)


def recovery_chart(data: pl.DataFrame, *, subtitle: str | None = None):
    """Recovery time per strategy (log scale), the paper's values as ticks beside the bars."""
    base = alt.Chart(data).encode(
        x=alt.X("strategy:N", title="recovery strategy", sort=list(PAPER_RECOVERY_US)),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("mean(recovery_us):Q", title="recovery time (µs)", scale=alt.Scale(type="log")),
        tooltip=["strategy", "mean(recovery_us)", "max(recovery_us)", "sum(packets_replayed)"],
    )
    paper = (
        base.transform_filter("datum.paper_us != null")
        .mark_tick(color="black", thickness=2, size=30)
        .encode(y="mean(paper_us):Q", tooltip=["strategy", "mean(paper_us)"])
    )
    return (bars + paper).properties(
        title=title("Recovery time per strategy (ticks: the paper's §9.4 values)", subtitle),
        width=260,
        height=220,
    )


def latency_around_failure_data(
    runs: Mapping[str, Results], window_ns: int = 20_000_000, bins: int = 80
) -> pl.DataFrame:
    """Per strategy, the packets of the flows the first failure hit (flows with a packet on the
    failed unit before it failed) arriving within ``window_ns`` of it, binned by arrival:
    ``strategy``, ``t_ms`` (bin start, ms from the failure), ``p99_us``, ``max_us``, ``packets``."""
    frames = []
    for label, res in runs.items():
        if res.packets is None:
            raise ParameterError("runs", label, "replays with keep_packets=True")
        first = _failures(res, label).sort("time_ns").row(0, named=True)
        t_fail = int(first["time_ns"])
        hit = res.packets.filter((pl.col("unit") == first["unit"]) & (pl.col("ts_ns") < t_fail))[
            "flow_id"
        ].unique()
        width = max(2 * window_ns // bins, 1)
        frames.append(
            res.packets.filter(
                pl.col("flow_id").is_in(hit.implode())
                & ((pl.col("ts_ns") - t_fail).abs() <= window_ns)
            )
            .with_columns(bin=(pl.col("ts_ns") - t_fail + window_ns) // width)
            .group_by("bin")
            .agg(
                pl.col("latency_ns").quantile(0.99, "lower").alias("p99_ns"),
                pl.col("latency_ns").max().alias("max_ns"),
                pl.len().alias("packets"),
            )
            .select(
                pl.lit(label).alias("strategy"),
                ((pl.col("bin") * width - window_ns) / 1e6).alias("t_ms"),
                (pl.col("p99_ns") / 1e3).alias("p99_us"),
                (pl.col("max_ns") / 1e3).alias("max_us"),
                pl.col("packets").cast(pl.Int64),
            )
            .sort("t_ms")
        )
    return pl.concat(frames)


def latency_around_failure_chart(data: pl.DataFrame, *, subtitle: str | None = None):
    """The largest latency of the failed unit's flows over time around the failure (at 0 ms), one
    line per strategy."""
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("t_ms:Q", title="arrival, ms from the failure"),
            y=alt.Y("max_us:Q", title="largest latency per bin (µs)", scale=alt.Scale(type="log")),
            color=alt.Color("strategy:N", sort=list(PAPER_RECOVERY_US)),
            tooltip=["strategy", "t_ms", "p99_us", "max_us", "packets"],
        )
    )
    rule = alt.Chart(pl.DataFrame({"t_ms": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(x="t_ms:Q")
    return (lines + rule).properties(
        title=title("Latency around a unit failure (the failed unit's flows)", subtitle),
        width=420,
        height=220,
    )
