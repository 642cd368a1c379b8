"""Charts in pairs: ``*_data()`` returns the tidy polars frame that is drawn (tested), ``*_chart()``
only draws it with altair. Charts save to standalone HTML with ``chart.save('x.html')``.

Inputs are ``{label: Results}`` mappings, e.g. one replay per allocation mode.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from snfkit.results import Results

PERCENTILE_ORDER = ["p1", "p25", "p50", "p75", "p99", "p99.9"]


def latency_percentiles_data(runs: Mapping[str, Results]) -> pl.DataFrame:
    """One row per (run, percentile): ``run``, ``percentile``, ``latency_us`` (paper Figs 2, 4)."""
    rows = [
        {"run": label, "percentile": q, "latency_us": float(res.summary["latency_us"][q])}
        for label, res in runs.items()
        for q in PERCENTILE_ORDER
    ]
    return pl.DataFrame(rows, schema={"run": pl.String, "percentile": pl.String,
                                      "latency_us": pl.Float64})  # fmt: skip


def latency_percentiles_chart(data: pl.DataFrame):
    """Grouped bars of latency percentiles per run, log scale."""
    import altair as alt

    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("percentile:N", sort=PERCENTILE_ORDER, title="percentile"),
            xOffset=alt.XOffset("run:N"),
            y=alt.Y("latency_us:Q", scale=alt.Scale(type="log"), title="latency (us, log)"),
            color=alt.Color("run:N", title="mode"),
            tooltip=["run", "percentile", "latency_us"],
        )
        .properties(title="Packet latency percentiles", width=420, height=260)
    )


def provisioning_data(runs: Mapping[str, Results]) -> pl.DataFrame:
    """Per (run, epoch): ``time_s`` from the first packet, ``offered_gbps`` (demand) and
    ``provisioned_gbps`` (active units x capacity), long format with a ``series`` column (Fig 1)."""
    parts = []
    for label, res in runs.items():
        e = res.epochs
        t0 = e["start_ns"].min() if e.height else 0
        parts.append(
            e.select(
                pl.lit(label).alias("run"),
                ((pl.col("start_ns") - t0) / 1e9).alias("time_s"),
                pl.col("offered_gbps").alias("demand"),
                pl.col("provisioned_gbps").alias("provisioned"),
            ).unpivot(index=["run", "time_s"], variable_name="series", value_name="gbps")
        )
    if not parts:
        return pl.DataFrame(schema={"run": pl.String, "time_s": pl.Float64, "series": pl.String,
                                    "gbps": pl.Float64})  # fmt: skip
    return pl.concat(parts)


def provisioning_chart(data: pl.DataFrame):
    """Provisioned capacity against demand per epoch, one panel per run."""
    import altair as alt

    return (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("time_s:Q", title="time (s)"),
            y=alt.Y("gbps:Q", title="Gbps"),
            color=alt.Color("series:N", title=""),
            tooltip=["run", "time_s", "series", "gbps"],
        )
        .properties(width=260, height=160)
        .facet(facet=alt.Facet("run:N", title=None), columns=2)
        .properties(title="Provisioned capacity vs demand (per epoch)")
    )
