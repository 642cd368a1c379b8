"""Billing charts: stacked cost components per model and mode, and cost against offered load.

Inputs are comparison tables of :func:`snfkit.billing.compare` (or the ``{load: {run: Results}}``
replays of one workload at several rates for :func:`cost_vs_load_data`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from snfkit.billing import COMPONENTS, compare
from snfkit.charts.theme import color_scale
from snfkit.results import Results

COMPONENT_TITLES = {
    "requests_usd": "requests",
    "duration_usd": "duration (GB-s)",
    "per_flowlet_usd": "per flowlet",
    "hourly_usd": "hourly",
    "per_gb_usd": "per GB",
}
"""Component columns of the comparison table -> legend titles, in stacking order."""


def cost_components_data(table: pl.DataFrame) -> pl.DataFrame:
    """One row per (run, model, component) with ``usd`` > 0; ``component`` is a title of
    :data:`COMPONENT_TITLES`. ``usd`` sums to the table's ``user_usd`` per (run, model)."""
    long = table.select("run", "model", *COMPONENTS).unpivot(
        index=["run", "model"], on=list(COMPONENTS), variable_name="column", value_name="usd"
    )
    return (
        long.filter(pl.col("usd") > 0)
        .with_columns(component=pl.col("column").replace_strict(COMPONENT_TITLES))
        .select("run", "model", "component", "usd")
    )


def cost_components_chart(data: pl.DataFrame, title: str = "What each billing model charges"):
    """Stacked bars of the components per model, one panel per run (mode)."""
    import altair as alt

    comps = [c for c in COMPONENT_TITLES.values() if c in set(data["component"])]
    models = data["model"].unique(maintain_order=True).to_list()
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("model:N", sort=models, title=None),
            y=alt.Y("usd:Q", stack="zero", title="USD"),
            color=alt.Color(
                "component:N", sort=comps, title="component", scale=alt.Scale(**color_scale(comps))
            ),
            order=alt.Order("component:N"),
            tooltip=["run", "model", "component", alt.Tooltip("usd:Q", format=".3g")],
        )
        .properties(width=260, height=220)
        .facet(
            column=alt.Column(
                "run:N", title=None, sort=data["run"].unique(maintain_order=True).to_list()
            )
        )
        .resolve_scale(y="independent")
        .properties(title=title)
    )


def cost_vs_load_data(
    runs: Mapping[float, Mapping[str, Results]],
    models: Sequence[str] | str | None = None,
    **compare_options: Any,
) -> pl.DataFrame:
    """The comparison table of every replay, with ``load_gbps`` (the mapping's key): one row per
    (load, run, model). ``compare_options`` go to :func:`snfkit.billing.compare` (``prices``,
    ``scale_to``, billing options)."""
    parts = [
        compare(by_run, models, **compare_options).with_columns(load_gbps=pl.lit(float(load)))
        for load, by_run in runs.items()
    ]
    return pl.concat(parts).select("load_gbps", pl.exclude("load_gbps")).sort("load_gbps")


def cost_vs_load_chart(
    data: pl.DataFrame, value: str = "usd_per_gb", title: str = "Cost against offered load"
):
    """One line per (run, model) of ``value`` against ``load_gbps``, log scale."""
    import altair as alt

    d = data.with_columns(series=pl.col("run") + " / " + pl.col("model"))
    series = d["series"].unique(maintain_order=True).to_list()
    return (
        alt.Chart(d)
        .mark_line(point=True)
        .encode(
            x=alt.X("load_gbps:Q", title="offered load (Gbps)"),
            y=alt.Y(f"{value}:Q", scale=alt.Scale(type="log"), title=value),
            color=alt.Color("series:N", sort=series, title="run / model"),
            tooltip=["run", "model", "load_gbps", alt.Tooltip(f"{value}:Q", format=".3g")],
        )
        .properties(title=title, width=440, height=280)
    )


def crossovers(
    data: pl.DataFrame,
    a: tuple[str, str],
    b: tuple[str, str],
    value: str = "user_usd",
    x: str = "load_gbps",
) -> list[float]:
    """Where series ``a`` = (run, model) and series ``b`` cross along ``x``: for each pair of
    neighbouring ``x`` values at which ``a - b`` changes sign, the ``x`` of the linear
    interpolation's zero (an ``x`` where they are equal counts once)."""

    def series(run_model: tuple[str, str]) -> pl.DataFrame:
        run, model = run_model
        return data.filter((pl.col("run") == run) & (pl.col("model") == model)).select(
            x, pl.col(value).alias(model + "@" + run)
        )

    joined = series(a).join(series(b), on=x).sort(x)
    xs = joined[x].to_list()
    diff = (joined[:, 1] - joined[:, 2]).to_list()
    out: list[float] = []
    for i, d in enumerate(diff):
        if d == 0:
            out.append(float(xs[i]))
        elif i and diff[i - 1] != 0 and (d > 0) != (diff[i - 1] > 0):
            x0, x1, d0 = xs[i - 1], xs[i], diff[i - 1]
            out.append(float(x0 + (x1 - x0) * d0 / (d0 - d)))
    return out
