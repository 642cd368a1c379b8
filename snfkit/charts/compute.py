"""Compute-management charts (paper §9.1): latency percentiles per mode (Fig 2), provisioned
capacity against demand (Fig 1), per-epoch unit utilization (Fig 3), allocation opportunities.

Inputs are ``{label: Results}`` mappings, e.g. one replay per allocation mode; labels keep their
order in every chart.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from snfkit.charts.theme import color_scale, log_floor
from snfkit.charts.titles import title as make_title
from snfkit.results import Results

PERCENTILE_ORDER = ["p1", "p25", "p50", "p75", "p99", "p99.9"]

APART_FACTOR = 10.0
"""A run is drawn apart when its median latency is this many times the others' largest."""

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


def latency_bars(
    data: pl.DataFrame, group: str, group_title: str, extra_tooltip=(), *, groups=None, pick=None
):
    """Grouped bars of ``latency_us`` per ``percentile``, one bar per value of ``group``, on a log
    axis (with an explicit baseline: Vega-Lite draws log-scale bars without one at zero height).
    ``groups``: the colour domain (all of the figure's groups, when ``data`` holds some of them);
    ``pick``: a legend-bound selection that dims the other groups."""
    import altair as alt

    groups = groups or data[group].unique(maintain_order=True).to_list()
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("percentile:N", sort=PERCENTILE_ORDER, title="percentile"),
            xOffset=alt.XOffset(f"{group}:N", sort=groups),
            y=alt.Y("latency_us:Q", scale=alt.Scale(type="log"), title="latency (µs, log)"),
            y2=alt.datum(log_floor(data["latency_us"].to_list())),
            color=alt.Color(
                f"{group}:N", title=group_title, sort=groups, scale=alt.Scale(**color_scale(groups))
            ),
            tooltip=[
                *extra_tooltip,
                group,
                "percentile",
                alt.Tooltip("latency_us:Q", format=",.2f", title="latency (µs)"),
            ],
        )
    )
    if pick is not None:
        chart = chart.encode(opacity=alt.condition(pick, alt.value(1.0), alt.value(0.2)))
    return chart


def apart_runs(data: pl.DataFrame, group: str = "run", factor: float = APART_FACTOR) -> list[str]:
    """The groups of a :func:`latency_percentiles_data` frame to draw apart: those whose median
    latency (p50) is more than ``factor`` times the largest p50 of the others (e.g. packet mode,
    which waits for the store at every packet). Empty when that would leave nothing, or no group
    stands out."""
    p50 = data.filter(percentile="p50").select(group, "latency_us").sort("latency_us")
    values = p50["latency_us"].to_list()
    names = p50[group].to_list()
    for cut in range(1, len(values)):  # the first gap of more than factor, from the bottom
        if values[cut - 1] > 0 and values[cut] > factor * values[cut - 1]:
            return names[cut:]
    return []


def latency_percentiles_chart(
    data: pl.DataFrame,
    title: str = "Packet latency percentiles",
    *,
    subtitle: str | None = None,
    apart: list[str] | None = None,
):
    """Grouped bars of latency percentiles per run, log scale. A run far slower than the others
    (:func:`apart_runs`, or the labels in ``apart``) is drawn in a panel of its own with its own
    axis, so that it does not flatten the others. Click a mode in the legend to pick it."""
    import altair as alt

    runs = data["run"].unique(maintain_order=True).to_list()
    apart = apart_runs(data) if apart is None else [r for r in apart if r in runs]
    pick = alt.selection_point(fields=["run"], bind="legend")
    main = data.filter(~pl.col("run").is_in(apart))
    chart = (
        latency_bars(main, "run", "mode", groups=runs, pick=pick)
        .add_params(pick)
        .properties(width=440, height=260)
    )
    if apart:
        side = latency_bars(data.filter(pl.col("run").is_in(apart)), "run", "mode", groups=runs)
        side = side.properties(
            width=70 * len(apart) + 40,
            height=260,
            title=alt.Title(", ".join(apart) + ": own axis", fontSize=11),
        )
        chart = alt.hconcat(chart, side).resolve_scale(y="independent", xOffset="independent")
    return chart.properties(title=make_title(title, subtitle))


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


def provisioning_chart(data: pl.DataFrame, columns: int = 2, *, subtitle: str | None = None):
    """Provisioned capacity against demand per epoch, one panel per run, each with its own
    zero-based y axis (packet mode provisions far more than the others: a shared axis would
    flatten them)."""
    import altair as alt

    runs = data["run"].unique(maintain_order=True).to_list()
    return (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("time_s:Q", title="time (s)"),
            y=alt.Y("gbps:Q", title="Gbps", scale=alt.Scale(zero=True)),
            color=alt.Color(
                "series:N", title="", scale=alt.Scale(**color_scale(["demand", "provisioned"]))
            ),
            tooltip=[
                "run",
                alt.Tooltip("time_s:Q", format=".3f", title="time (s)"),
                "series",
                alt.Tooltip("gbps:Q", format=".3f"),
            ],
        )
        .properties(width=260, height=160)
        .facet(facet=alt.Facet("run:N", title=None, sort=runs), columns=columns)
        .resolve_scale(y="independent")
        .properties(
            title=make_title(
                "Provisioned capacity vs demand (per epoch; own y axis per mode)", subtitle
            )
        )
    )


def latency_over_time_data(runs: Mapping[str, Results], bins: int = 100) -> pl.DataFrame:
    """Per (run, time bin): ``run``, ``time_s`` (bin start, from the first packet), ``packets``,
    ``p50_us``, ``p99_us`` and ``max_us`` of the packets arriving in the bin. ``bins`` equal bins
    over the runs' common span; runs without a packets table (``keep_packets=False``) are left
    out. Raises ParameterError when ``bins`` is not a positive integer."""
    from snfkit.errors import ParameterError

    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ParameterError("bins", bins, "a positive integer")
    schema = {
        "run": pl.String,
        "time_s": pl.Float64,
        "packets": pl.Int64,
        "p50_us": pl.Float64,
        "p99_us": pl.Float64,
        "max_us": pl.Float64,
    }
    kept = {k: r.packets for k, r in runs.items() if r.packets is not None and r.packets.height}
    if not kept:
        return pl.DataFrame(schema=schema)
    t0 = min(int(p["ts_ns"].min()) for p in kept.values())
    t1 = max(int(p["ts_ns"].max()) for p in kept.values())
    width = max(-(-(t1 - t0 + 1) // bins), 1)
    us = pl.col("latency_ns").cast(pl.Float64) / 1e3
    parts = [
        p.group_by(((pl.col("ts_ns") - t0) // width).alias("bin"))
        .agg(
            pl.len().cast(pl.Int64).alias("packets"),
            us.quantile(0.5, "linear").alias("p50_us"),
            us.quantile(0.99, "linear").alias("p99_us"),
            us.max().alias("max_us"),
        )
        .sort("bin")
        .select(
            pl.lit(label).alias("run"),
            (pl.col("bin") * width / 1e9).alias("time_s"),
            "packets",
            "p50_us",
            "p99_us",
            "max_us",
        )
        for label, p in kept.items()
    ]
    return pl.concat(parts).cast(schema)


def provisioning_latency_chart(
    provisioning: pl.DataFrame, latency: pl.DataFrame, *, subtitle: str | None = None
):
    """Interactive: provisioned capacity of every mode (top, with the demand in grey) over the p99
    latency (bottom, log). Drag across the top to pick a time window: the bottom zooms to it.
    Click a mode in the legend to show only it (shift-click for several); both axes follow."""
    import altair as alt

    runs = provisioning["run"].unique(maintain_order=True).to_list()
    colors = alt.Scale(**color_scale(runs))
    pick = alt.selection_point(fields=["run"], bind="legend")
    brush = alt.selection_interval(encodings=["x"])
    first = runs[0] if runs else ""
    demand = (
        alt.Chart(provisioning.filter(series="demand", run=first))
        .mark_line(interpolate="step-after", color="#5a6270", strokeDash=[4, 3])
        .encode(x="time_s:Q", y="gbps:Q")
    )
    provisioned = (
        alt.Chart(provisioning.filter(series="provisioned"))
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("time_s:Q", title="time (s)"),
            y=alt.Y(
                "gbps:Q", title="provisioned Gbps (dashed: demand)", scale=alt.Scale(zero=True)
            ),
            color=alt.Color("run:N", title="mode", sort=runs, scale=colors),
            tooltip=[
                "run",
                alt.Tooltip("time_s:Q", format=".3f"),
                alt.Tooltip("gbps:Q", format=".2f"),
            ],
        )
        .add_params(pick, brush)
        .transform_filter(pick)
    )
    top = (demand + provisioned).properties(
        width=560, height=180, title="Provisioned capacity (drag to pick a time window)"
    )
    bottom = (
        alt.Chart(latency)
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=alt.X("time_s:Q", title="time (s)", scale=alt.Scale(domain={"param": brush.name})),
            y=alt.Y("p99_us:Q", title="p99 latency (µs, log)", scale=alt.Scale(type="log")),
            color=alt.Color("run:N", title="mode", sort=runs, scale=colors),
            tooltip=[
                "run",
                alt.Tooltip("time_s:Q", format=".4f"),
                "packets",
                alt.Tooltip("p50_us:Q", format=",.1f"),
                alt.Tooltip("p99_us:Q", format=",.1f"),
            ],
        )
        .transform_filter(pick)
        .properties(width=560, height=180, title="p99 latency in the window")
    )
    return alt.vconcat(top, bottom).properties(
        title=make_title("Provisioning and latency over time", subtitle)
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
    boxes show; linear-interpolated quartiles); runs in the order they first appear in ``data``."""
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
        .sort(pl.col("run").cast(pl.Enum(data["run"].unique(maintain_order=True))), "epoch")
        .with_columns(pl.col("run").cast(pl.String))
    )


def utilization_chart(data: pl.DataFrame, columns: int = 2, *, subtitle: str | None = None):
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
        .properties(title=make_title("Utilization of active units per epoch", subtitle))
    )


def utilization_bands_chart(data: pl.DataFrame, *, subtitle: str | None = None):
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
        .properties(
            title=make_title("Over- and under-utilized units", subtitle),
            width=420,
            height=28 * len(runs),
        )
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


def opportunities_chart(data: pl.DataFrame, *, subtitle: str | None = None):
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
        title=make_title("Allocation opportunities", subtitle), width=380, height=30 * len(runs)
    )
