"""The billing questions of notebook ``08_billing_models`` and ``benchmarks/reproduce_billing.py``.

- :func:`mode_runs`: one replay per allocation mode, with per-packet rows (the per-packet and
  per-flowlet models read them) and a report epoch that suits the trace (VM sizing reads epochs).
- :func:`cheapest`: per run, the model with the smallest user bill and the smallest provider cost.
- :func:`load_runs`: one workload replayed at several offered loads (inter-arrival times scaled).
- :func:`break_even_allocation_usd`: the per-allocation fee at which SNF's bill equals another
  model's (the paper's "competitive with VMs" claim turns on it).
- :func:`rounding_table`: the same bills at 1 ms and at 100 ms rounding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from snfkit.billing.compare import compare
from snfkit.results import Results

MODES = ("flowlet", "flow", "smart_flow", "packet")
SERVERLESS = ("per_packet", "per_flow", "per_flowlet", "snf")


def mode_runs(
    packets: pl.DataFrame,
    params: Mapping[str, Any] | None = None,
    modes: Sequence[str] = MODES,
) -> dict[str, Results]:
    """``{mode: replay}`` with ``keep_packets=True`` and, unless ``params`` sets it, the report
    epoch of :func:`snfkit.figures.epoch_for` (at least 20 epochs over the trace)."""
    import snfkit
    from snfkit.figures import epoch_for
    from snfkit.traces.transforms import duration_ns

    p = {"epoch_ns": epoch_for(duration_ns(packets)), **(params or {}), "keep_packets": True}
    prepared = snfkit.prepare_trace(packets)
    return {m: snfkit.replay(prepared, **{**p, "mode": m}) for m in modes}


def cheapest(table: pl.DataFrame, rel_tol: float = 1e-9) -> pl.DataFrame:
    """One row per run of a comparison table: ``user_model`` / ``user_usd`` (the smallest bill) and
    ``provider_model`` / ``provider_usd`` (the smallest provider cost). Models within ``rel_tol`` of
    the minimum tie and are listed together (``a, b``); ``all`` when every model ties (the provider
    cost is one figure for every model run on the replay's units)."""
    n_models = table["model"].n_unique()

    def best(col: str) -> pl.DataFrame:
        low = pl.col(col).min().over("run")
        return (
            table.filter(pl.col(col) <= low * (1 + rel_tol))
            .group_by("run", maintain_order=True)
            .agg(pl.col("model"), pl.col(col).min())
            .select(
                "run",
                pl.when(pl.col("model").list.len() == n_models)
                .then(pl.lit("all"))
                .otherwise(pl.col("model").list.join(", "))
                .alias(col.replace("_usd", "_model")),
                col,
            )
        )

    runs = table.select("run").unique(maintain_order=True)
    return runs.join(best("user_usd"), on="run").join(best("provider_usd"), on="run")


def load_runs(
    packets: pl.DataFrame,
    loads_gbps: Sequence[float],
    params: Mapping[str, Any] | None = None,
    modes: Sequence[str] = ("flowlet",),
) -> dict[float, dict[str, Results]]:
    """``{load: {mode: replay}}``: the trace sped up (or slowed down) to each mean load
    (:func:`snfkit.traces.transforms.speedup_to_gbps`, the paper's way of raising load, §9)."""
    from snfkit.traces.transforms import speedup_to_gbps

    return {
        float(load): mode_runs(speedup_to_gbps(packets, load)[0], params, modes)
        for load in loads_gbps
    }


def break_even_allocation_usd(
    runs: Mapping[str, Results], against: str = "vm", run: str = "flowlet", **options: Any
) -> float:
    """The ``snf_allocation_usd`` at which SNF's bill of ``runs[run]`` equals model ``against``'s
    (negative: SNF's compute charge alone costs more). SNF's bill is linear in that fee:
    ``compute + allocations x fee``."""
    t = compare({run: runs[run]}, ["snf", against], snf_allocation_usd=0.0, **options)
    snf, other = (t.filter(pl.col("model") == m).row(0, named=True) for m in ("snf", against))
    return (other["user_usd"] - snf["user_usd"]) / snf["invocations"]


def rounding_table(
    runs: Mapping[str, Results],
    models: Sequence[str] = SERVERLESS,
    granularities_ms: Sequence[float] = (1.0, 100.0),
    **options: Any,
) -> pl.DataFrame:
    """One row per (run, model): ``usd_<g>ms`` for each granularity, and ``ratio`` (the last over
    the first)."""
    cols = []
    for g in granularities_ms:
        t = compare(runs, list(models), granularity_ms=g, **options)
        cols.append(t.select("run", "model", pl.col("user_usd").alias(f"usd_{g:g}ms")))
    out = cols[0]
    for c in cols[1:]:
        out = out.join(c, on=["run", "model"], maintain_order="left")
    first, last = (f"usd_{g:g}ms" for g in (granularities_ms[0], granularities_ms[-1]))
    return out.with_columns(ratio=pl.col(last) / pl.col(first))
