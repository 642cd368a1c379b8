"""Compute-management charts (paper §9.1): latency percentiles per mode (Fig 2), provisioned
capacity against demand (Fig 1), per-epoch unit utilization (Fig 3), allocation opportunities.

Inputs are ``{label: Results}`` mappings, e.g. one replay per allocation mode; labels keep their
order in every chart.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from snfkit.charts.theme import color_scale, log_floor
from snfkit.results import Results

PERCENTILE_ORDER = ["p1", "p25", "p50", "p75", "p99", "p99.9"]

UTILIZATION_BANDS = [
    "idle (<10%)",
    "under (10-50%)",
    "good (50-90%)",
    "full (90-100%)",
    "over (>100%)",
]
"""Utilization bands of :func:`utilization_data`, by offered load over planned capacity."""


def latency_percentiles_data(runs: Mapping[str, Results]) -> pl.DataFrame:
    """One row per (run, percentile): ``run``, ``percentile``, ``latency_us`` (paper Figs 2, 4)."""
    rows = [
        {"run": label, "percentile": q, "latency_us": float(res.summary["latency_us"][q])}
        for label, res in runs.items()
        for q in PERCENTILE_ORDER
    ]
    return pl.DataFrame(
        rows, schema={"run": pl.String, "percentile": pl.String, "latency_us": pl.Float64}
    )


def latency_bars(data: pl.DataFrame, group: str, group_title: str, extra_tooltip=()):
    """Grouped bars of ``latency_us`` per ``percentile``, one bar per value of ``group``, on a log
    axis (with an explicit baseline: Vega-Lite draws log-scale bars without one at zero height)."""
    import altair as alt

    groups = data[group].unique(maintain_order=True).to_list()
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("percentile:N", sort=PERCENTILE_ORDER, title="percentile"),
            xOffset=alt.XOffset(f"{group}:N", sort=groups),
            y=alt.Y("latency_us:Q", scale=alt.Scale(type="log"), title="latency (us, log)"),
            y2=alt.datum(log_floor(data["latency_us"].to_list())),
            color=alt.Color(
                f"{group}:N", title=group_title, sort=groups, scale=alt.Scale(**color_scale(groups))
            ),
            tooltip=[
                *extra_tooltip,
                group,
                "percentile",
                alt.Tooltip("latency_us:Q", format=",.2f"),
            ],
        )
    )


def latency_percentiles_chart(data: pl.DataFrame, title: str = "Packet latency percentiles"):
    """Grouped bars of latency percentiles per run, log scale."""
    return latency_bars(data, "run", "mode").properties(title=title, width=440, height=260)


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
        return pl.DataFrame(
            schema={"run": pl.String, "time_s": pl.Float64, "series": pl.String, "gbps": pl.Float64}
        )
    return pl.concat(parts)


def provisioning_chart(data: pl.DataFrame, columns: int = 2):
    """Provisioned capacity against demand per epoch, one panel per run."""
    import altair as alt

    runs = data["run"].unique(maintain_order=True).to_list()
    return (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("time_s:Q", title="time (s)"),
            y=alt.Y("gbps:Q", title="Gbps"),
            color=alt.Color(
                "series:N", title="", scale=alt.Scale(**color_scale(["demand", "provisioned"]))
            ),
            tooltip=[
                "run",
                alt.Tooltip("time_s:Q", format=".3f"),
                "series",
                alt.Tooltip("gbps:Q", format=".3f"),
            ],
        )
        .properties(width=260, height=160)
        .facet(facet=alt.Facet("run:N", title=None, sort=runs), columns=columns)
        .properties(title="Provisioned capacity vs demand (per epoch)")
    )


def _band(col: pl.Expr) -> pl.Expr:
    b = UTILIZATION_BANDS
    return (
        pl.when(col < 0.1)
        .then(pl.lit(b[0]))
        .when(col < 0.5)
        .then(pl.lit(b[1]))
        .when(col < 0.9)
        .then(pl.lit(b[2]))
        .when(col <= 1.0)
        .then(pl.lit(b[3]))
        .otherwise(pl.lit(b[4]))
    )


def utilization_data(runs: Mapping[str, Results]) -> pl.DataFrame:
    """One row per (run, epoch, active unit) (Fig 3): ``run``, ``epoch``, ``time_s`` (epoch start
    from the first packet), ``unit``, ``utilization`` (offered bytes over capacity x the unit's
    active time in the epoch; above 1 the plan was exceeded), ``busy_fraction`` and ``band`` (one of
    :data:`UTILIZATION_BANDS`). Units active for no time in an epoch are left out."""
    parts = []
    for label, res in runs.items():
        e, eu = res.epochs, res.epoch_units
        t0 = e["start_ns"].min() if e.height else 0
        starts = e.select("epoch", ((pl.col("start_ns") - t0) / 1e9).alias("time_s"))
        parts.append(
            eu.filter(pl.col("utilization").is_not_null())
            .join(starts, on="epoch", how="left")
            .select(
                pl.lit(label).alias("run"),
                "epoch",
                "time_s",
                "unit",
                pl.col("utilization").cast(pl.Float64),
                pl.col("busy_fraction").cast(pl.Float64),
            )
        )
    schema = {
        "run": pl.String,
        "epoch": pl.Int64,
        "time_s": pl.Float64,
        "unit": pl.Int64,
        "utilization": pl.Float64,
        "busy_fraction": pl.Float64,
    }
    out = pl.concat(parts) if parts else pl.DataFrame(schema=schema)
    return out.with_columns(band=_band(pl.col("utilization")).cast(pl.Enum(UTILIZATION_BANDS)))


def utilization_bands_data(data: pl.DataFrame) -> pl.DataFrame:
    """From :func:`utilization_data`: per (run, band), ``unit_epochs`` and ``share`` of the run's
    unit-epochs (every band present, zeros included)."""
    runs = data["run"].unique(maintain_order=True)
    grid = pl.DataFrame({"run": runs}).join(
        pl.DataFrame({"band": pl.Series(UTILIZATION_BANDS, dtype=pl.Enum(UTILIZATION_BANDS))}),
        how="cross",
    )
    counts = data.group_by("run", "band").agg(pl.len().cast(pl.Int64).alias("unit_epochs"))
    return (
        grid.join(counts, on=["run", "band"], how="left")
        .with_columns(pl.col("unit_epochs").fill_null(0))
        .with_columns(share=pl.col("unit_epochs") / pl.col("unit_epochs").sum().over("run"))
        .with_columns(pl.col("share").fill_nan(0.0))
    )


def utilization_box_data(data: pl.DataFrame) -> pl.DataFrame:
    """From :func:`utilization_data`: per (run, epoch), ``time_s``, ``units`` (active units with a
    utilization) and the utilization's ``min``, ``q1``, ``median``, ``q3``, ``max`` (what Fig 3's
    boxes show; linear-interpolated quartiles)."""
    u = pl.col("utilization")
    return (
        data.group_by("run", "epoch", maintain_order=True)
        .agg(
            pl.col("time_s").first(),
            pl.len().cast(pl.Int64).alias("units"),
            u.min().alias("min"),
            u.quantile(0.25, "linear").alias("q1"),
            u.median().alias("median"),
            u.quantile(0.75, "linear").alias("q3"),
            u.max().alias("max"),
        )
        .sort("run", "epoch", maintain_order=True)
    )


def utilization_chart(data: pl.DataFrame, columns: int = 2):
    """Per-epoch distribution of active units' utilization from :func:`utilization_box_data`
    (whiskers min to max, box q1 to q3, a tick at the median; one panel per run), with a rule at
    the planned capacity (1.0)."""
    import altair as alt

    runs = data["run"].unique(maintain_order=True).to_list()
    x = alt.X("epoch:O", title="epoch", axis=alt.Axis(labelOverlap=True))
    tip = [
        "run",
        "epoch",
        "units",
        alt.Tooltip("min:Q", format=".2f"),
        alt.Tooltip("median:Q", format=".2f"),
        alt.Tooltip("max:Q", format=".2f"),
    ]
    whisker = (
        alt.Chart()
        .mark_rule(color="#1f5aa6")
        .encode(x=x, y=alt.Y("min:Q", title="unit utilization (offered / capacity)"), y2="max:Q")
    )
    box = (
        alt.Chart().mark_bar(color="#1f5aa6", size=7).encode(x=x, y="q1:Q", y2="q3:Q", tooltip=tip)
    )
    median = alt.Chart().mark_tick(color="white", thickness=2, size=7).encode(x=x, y="median:Q")
    rule = alt.Chart().mark_rule(color="#c0392b", strokeDash=[4, 3]).encode(y=alt.datum(1.0))
    return (
        alt.layer(whisker, box, median, rule, data=data)
        .properties(width=260, height=160)
        .facet(facet=alt.Facet("run:N", title=None, sort=runs), columns=columns)
        .properties(title="Utilization of active units per epoch")
    )


def utilization_bands_chart(data: pl.DataFrame):
    """Stacked share of unit-epochs per utilization band, one bar per run."""
    import altair as alt

    runs = data["run"].unique(maintain_order=True).to_list()
    colors = ["#9ecae1", "#f2b134", "#2a9d4b", "#1f5aa6", "#c0392b"]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("run:N", sort=runs, title=None),
            x=alt.X("share:Q", axis=alt.Axis(format="%"), title="share of unit-epochs"),
            color=alt.Color(
                "band:N",
                sort=UTILIZATION_BANDS,
                scale=alt.Scale(domain=UTILIZATION_BANDS, range=colors),
                title="utilization",
            ),
            order=alt.Order("band_index:Q"),
            tooltip=["run", "band", "unit_epochs", alt.Tooltip("share:Q", format=".1%")],
        )
        .transform_calculate(band_index=f"indexof({UTILIZATION_BANDS!r}, datum.band)")
        .properties(title="Over- and under-utilized units", width=420, height=28 * len(runs))
    )


def opportunities_data(runs: Mapping[str, Results], baseline: str = "flow") -> pl.DataFrame:
    """One row per run: ``run``, ``allocations``, ``moves``, ``opportunities`` (allocations + moves)
    and ``ratio`` (opportunities over the ``baseline`` run's; null without that run). The paper
    counts flowlets against flows: 3.36x (§9.1), 5.18x at T = 100 us and 4.66x at 500 us (§9.6)."""
    base = runs[baseline].summary["opportunities"] if baseline in runs else None
    rows = [
        {
            "run": label,
            "allocations": int(res.summary["allocations"]),
            "moves": int(res.summary.get("moves", 0)),
            "opportunities": int(res.summary["opportunities"]),
            "ratio": (res.summary["opportunities"] / base) if base else None,
        }
        for label, res in runs.items()
    ]
    return pl.DataFrame(
        rows,
        schema={
            "run": pl.String,
            "allocations": pl.Int64,
            "moves": pl.Int64,
            "opportunities": pl.Int64,
            "ratio": pl.Float64,
        },
    )


def opportunities_chart(data: pl.DataFrame):
    """Allocation opportunities per run, labelled with the ratio to the baseline."""
    import altair as alt

    runs = data["run"].to_list()
    base = alt.Chart(data).encode(
        y=alt.Y("run:N", sort=runs, title=None),
        x=alt.X("opportunities:Q", title="allocation opportunities"),
    )
    bars = base.mark_bar().encode(
        color=alt.Color("run:N", sort=runs, scale=alt.Scale(**color_scale(runs)), legend=None),
        tooltip=[
            "run",
            "allocations",
            "moves",
            "opportunities",
            alt.Tooltip("ratio:Q", format=".2f"),
        ],
    )
    labels = (
        base.mark_text(align="left", dx=4, fontSize=11)
        .encode(text="label:N")
        .transform_calculate(label="datum.ratio == null ? '' : format(datum.ratio, '.2f') + 'x'")
    )
    return (bars + labels).properties(
        title="Allocation opportunities", width=380, height=30 * len(runs)
    )
