"""Sensitivity charts (paper §9.6): K x alpha (Fig 7), the size threshold B (Fig 8).

Inputs are mappings from a parameter value (or tuple of values) to a Results; the metrics are those
of :data:`snfkit.metrics.METRICS` (:data:`METRICS` here only gives them axis titles).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import polars as pl

from snfkit.charts.titles import title as make_title
from snfkit.metrics import compute_metrics
from snfkit.results import Results

METRICS: dict[str, str] = {
    "p50_latency_us": "p50 latency (µs)",
    "p99_latency_us": "p99 latency (µs)",
    "mean_active_units": "mean active units",
    "max_active_units": "max active units",
    "seamless_share": "seamless share of moved flowlets",
    "replication_mbps": "replication (Mbps)",
    "state_pulls": "reactive state pulls",
    "opportunities": "allocation opportunities",
}
"""Metric names of the long tables, with their axis titles."""


def metric_values(res: Results) -> dict[str, float | None]:
    """Every :data:`METRICS` entry of one run, and ``moved_flowlets``, from the metric registry
    (None where the run does not report it)."""
    names = [*METRICS, "moved_flowlets"]
    values = compute_metrics(res, names)
    return {m: None if math.isnan(values[m]) else values[m] for m in names}


def _long(
    keys: list[dict], runs: Sequence[Results], metrics: Sequence[str], key_schema
) -> pl.DataFrame:
    rows = []
    for k, res in zip(keys, runs, strict=True):
        vals = metric_values(res)
        for m in metrics:
            rows.append({**k, "metric": m, "value": vals.get(m)})
    return pl.DataFrame(rows, schema={**key_schema, "metric": pl.String, "value": pl.Float64})


K_ALPHA_METRICS = ("p99_latency_us", "mean_active_units", "seamless_share")


def k_alpha_data(
    runs: Mapping[tuple[int, float], Results], metrics: Sequence[str] = K_ALPHA_METRICS
) -> pl.DataFrame:
    """One row per (K, alpha, metric): ``K``, ``alpha``, ``metric``, ``value`` (Fig 7: p99 latency,
    units and seamless flowlets; the paper: at K = 3, alpha 0 -> 0.75 takes p99 from 107 to
    6.8 us)."""
    keys = [{"K": int(k), "alpha": float(a)} for k, a in runs]
    return _long(keys, list(runs.values()), metrics, {"K": pl.Int64, "alpha": pl.Float64})


SHARES = ("seamless_share",)
"""Metrics that are shares: drawn on a 0-100 % axis."""


def metric_scale(metric: str):
    """The y scale of a metric: log for latencies, 0-1 for shares, zero-based for the other
    quantities (units, Mbps, counts: a 7 % change must not fill the panel)."""
    import altair as alt

    if metric.endswith("latency_us"):
        return alt.Scale(type="log")
    if metric in SHARES:
        return alt.Scale(domain=[0, 1])
    return alt.Scale(zero=True)


def _metric_axis(metric: str):
    import altair as alt

    return alt.Axis(format="%") if metric in SHARES else alt.Axis()


def k_alpha_chart(data: pl.DataFrame, *, subtitle: str | None = None):
    """One panel per metric: the metric against alpha, a line per K."""
    import altair as alt

    metrics = data["metric"].unique(maintain_order=True).to_list()
    panels = []
    for m in metrics:
        panels.append(
            alt.Chart(data.filter(metric=m))
            .mark_line(point=True)
            .encode(
                x=alt.X("alpha:Q", title="alpha"),
                y=alt.Y(
                    "value:Q", title=METRICS.get(m, m), scale=metric_scale(m), axis=_metric_axis(m)
                ),
                color=alt.Color("K:O", title="K", scale=alt.Scale(scheme="viridis")),
                tooltip=["K", "alpha", alt.Tooltip("value:Q", format=",.3f", title=m)],
            )
            .properties(width=220, height=180)
        )
    return alt.hconcat(*panels).properties(
        title=make_title("Replication factor K and balancing knob alpha", subtitle)
    )


B_METRICS = ("p50_latency_us", "p99_latency_us", "mean_active_units")


def size_threshold_data(
    runs: Mapping[int, Results], metrics: Sequence[str] = B_METRICS
) -> pl.DataFrame:
    """One row per (B, metric): ``size_bytes``, ``size_kb``, ``metric``, ``value`` (Fig 8: larger B,
    lower latency, more units). ``size_bytes`` 0 (no size rule) is kept as is."""
    keys = [{"size_bytes": int(b), "size_kb": int(b) / 1000} for b in runs]
    return _long(
        keys, list(runs.values()), metrics, {"size_bytes": pl.Int64, "size_kb": pl.Float64}
    )


def size_threshold_chart(data: pl.DataFrame, *, subtitle: str | None = None):
    """One panel per metric against B (KB, log axis)."""
    import altair as alt

    metrics = data["metric"].unique(maintain_order=True).to_list()
    d = data.filter(pl.col("size_bytes") > 0)
    panels = [
        alt.Chart(d.filter(metric=m))
        .mark_line(point=True, color="#1f5aa6")
        .encode(
            x=alt.X("size_kb:Q", scale=alt.Scale(type="log"), title="size threshold B (KB, log)"),
            y=alt.Y(
                "value:Q", title=METRICS.get(m, m), scale=metric_scale(m), axis=_metric_axis(m)
            ),
            tooltip=["size_bytes", alt.Tooltip("value:Q", format=",.3f", title=m)],
        )
        .properties(width=220, height=180)
        for m in metrics
    ]
    return alt.hconcat(*panels).properties(title=make_title("Flowlet size threshold B", subtitle))
