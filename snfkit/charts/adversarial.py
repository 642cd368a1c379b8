"""Adversarial-flowlet chart (paper §9.3, Fig 5): latency percentiles with bursts injected into
every N-th flow, flowlets detected by the timeout alone (B = 0) against timeout and size.

Inputs are ``{(every_nth_flow, detection): Results}`` mappings
(:func:`snfkit.figures.adversarial_runs`), ``detection`` one of ``'timeout'``, ``'timeout + size'``.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from snfkit.charts.compute import PERCENTILE_ORDER, latency_bars
from snfkit.charts.titles import title
from snfkit.results import Results

AdversarialRuns = Mapping[tuple[int, str], Results]


def adversarial_data(runs: AdversarialRuns) -> pl.DataFrame:
    """One row per (case, detection, percentile): ``every_nth_flow`` (a burst in every N-th flow),
    ``workload`` (``'1 in N flows'``), ``detection``, ``percentile``, ``latency_us`` (Fig 5; the
    paper: p99 5.2 ms with the timeout alone, 756 us with timeout and size, at 1 in 10)."""
    rows = [
        {
            "every_nth_flow": int(n),
            "workload": f"1 in {n} flows",
            "detection": det,
            "percentile": q,
            "latency_us": float(res.summary["latency_us"][q]),
        }
        for (n, det), res in runs.items()
        for q in PERCENTILE_ORDER
    ]
    return pl.DataFrame(
        rows,
        schema={
            "every_nth_flow": pl.Int64,
            "workload": pl.String,
            "detection": pl.String,
            "percentile": pl.String,
            "latency_us": pl.Float64,
        },
    )


def adversarial_chart(data: pl.DataFrame, columns: int = 3, *, subtitle: str | None = None):
    """Latency percentiles per flowlet detection (grouped bars, log scale), one panel per
    workload, least aggressive first."""
    import altair as alt

    cases = data.sort("every_nth_flow", descending=True)["workload"].unique(maintain_order=True)
    return (
        latency_bars(data, "detection", "flowlet detection", extra_tooltip=("workload",))
        .properties(width=240, height=180)
        .facet(facet=alt.Facet("workload:N", sort=cases.to_list(), title=None), columns=columns)
        .properties(title=title("Packet latency with adversarial flowlets (NAT)", subtitle))
    )
