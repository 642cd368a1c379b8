"""State-management charts (paper §9.2, Fig 4): latency percentiles of each state mode for each
NF, and where moved flowlets found their state (seamless share, waits).

Inputs are ``{(nf, state_mode): Results}`` mappings (:func:`snfkit.figures.state_runs`).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from snfkit.charts.compute import PERCENTILE_ORDER, latency_bars
from snfkit.charts.theme import color_scale
from snfkit.charts.titles import title as make_title
from snfkit.metrics import moved_flowlets
from snfkit.results import Results

StateRuns = Mapping[tuple[str, str], Results]


def state_latency_data(runs: StateRuns) -> pl.DataFrame:
    """One row per (nf, state mode, percentile): ``nf``, ``state_mode``, ``percentile``,
    ``latency_us`` (Fig 4)."""
    rows = [
        {
            "nf": nf,
            "state_mode": sm,
            "percentile": q,
            "latency_us": float(res.summary["latency_us"][q]),
        }
        for (nf, sm), res in runs.items()
        for q in PERCENTILE_ORDER
    ]
    return pl.DataFrame(
        rows,
        schema={
            "nf": pl.String,
            "state_mode": pl.String,
            "percentile": pl.String,
            "latency_us": pl.Float64,
        },
    )


def state_latency_chart(data: pl.DataFrame, columns: int = 3, *, subtitle: str | None = None):
    """Latency percentiles per state mode (grouped bars, log scale), one panel per NF. Click a
    state mode in the legend to pick it."""
    import altair as alt

    nfs = data["nf"].unique(maintain_order=True).to_list()
    pick = alt.selection_point(fields=["state_mode"], bind="legend")
    return (
        latency_bars(data, "state_mode", "state", extra_tooltip=("nf",), pick=pick)
        .add_params(pick)
        .properties(width=240, height=180)
        .facet(facet=alt.Facet("nf:N", sort=nfs, title=None), columns=columns)
        .properties(title=make_title("Packet latency by state mode, per NF", subtitle))
    )


def _num(summary: dict, key: str) -> float | None:
    v = summary.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def state_sources_data(runs: StateRuns) -> pl.DataFrame:
    """One row per (nf, state mode): ``nf``, ``state_mode``, ``flowlets``, ``moved`` (flowlets on a
    different unit than their flow's previous one), ``seamless_share`` (share of moved flowlets that
    started without waiting for state; the paper: 90.43 % with K = 3), ``state_pulls``,
    ``replication_mbps`` (proactive pushes; the paper: 2.9-4.8 Mbps for its NFs at K = 3),
    ``wait_packets`` and ``wait_mean_us`` (packets that waited for state, any cause, and their mean
    wait), ``state_bytes`` and ``packets_dropped`` (by the NF). Numbers a run does not report are
    null."""
    rows = []
    for (nf, sm), res in runs.items():
        s = res.summary
        waits = s.get("waits") if isinstance(s.get("waits"), dict) else {}
        n = sum(int(w.get("packets", 0)) for w in waits.values())
        total = sum(float(w.get("total_us", 0.0)) for w in waits.values())
        rows.append(
            {
                "nf": nf,
                "state_mode": sm,
                "flowlets": int(s.get("allocations", 0)),
                "moved": moved_flowlets(res),
                "seamless_share": _num(s, "seamless_share"),
                "state_pulls": _num(s, "state_pulls"),
                "replication_mbps": _num(s, "replication_mbps"),
                "wait_packets": float(n) if waits else None,
                "wait_mean_us": (total / n if n else 0.0) if waits else None,
                "state_bytes": _num(s, "state_bytes"),
                "packets_dropped": _num(s, "packets_dropped"),
            }
        )
    schema = {"nf": pl.String, "state_mode": pl.String, "flowlets": pl.Int64, "moved": pl.Int64}
    for c in (
        "seamless_share",
        "state_pulls",
        "replication_mbps",
        "wait_packets",
        "wait_mean_us",
        "state_bytes",
        "packets_dropped",
    ):
        schema[c] = pl.Float64
    return pl.DataFrame(rows, schema=schema)


def seamless_chart(data: pl.DataFrame, *, subtitle: str | None = None):
    """Seamless share of moved flowlets per NF and state mode (bars, 0-100 %), each bar labelled
    with its value, so that a share of zero reads "0 %" rather than as a missing bar; a state mode
    that reports no share (``local``) is left out."""
    import altair as alt

    shown = data.filter(pl.col("seamless_share").is_not_null())
    modes = shown["state_mode"].unique(maintain_order=True).to_list()
    nfs = shown["nf"].unique(maintain_order=True).to_list()
    base = alt.Chart(shown).encode(
        x=alt.X("nf:N", sort=nfs, title=None),
        xOffset=alt.XOffset("state_mode:N", sort=modes),
        y=alt.Y(
            "seamless_share:Q",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
            title="moved flowlets that did not wait",
        ),
    )
    bars = base.mark_bar().encode(
        color=alt.Color(
            "state_mode:N", sort=modes, title="state", scale=alt.Scale(**color_scale(modes))
        ),
        tooltip=[
            "nf",
            "state_mode",
            "moved",
            alt.Tooltip("seamless_share:Q", format=".1%"),
            alt.Tooltip("replication_mbps:Q", format=".2f"),
        ],
    )
    labels = base.mark_text(dy=-6, fontSize=11, baseline="bottom").encode(
        text=alt.Text("seamless_share:Q", format=".0%")
    )
    return (bars + labels).properties(
        title=make_title("Seamless share of moved flowlets", subtitle), width=360, height=220
    )
