"""Bills of several replays under several models, as one tidy table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from os import PathLike
from typing import Any

import polars as pl

from snfkit.billing.models import (
    COMPONENTS,
    MODELS,
    NATIVE_MODELS,
    BillingContext,
    instance,
    resolve_models,
)
from snfkit.billing.options import BillingOptions, billing_options
from snfkit.billing.prices import Prices, load_prices
from snfkit.billing.usage import Usage
from snfkit.errors import ParameterError
from snfkit.results import Results

SCALES = {"hour": 3_600.0, "day": 86_400.0, "month": 730 * 3_600.0}
"""Named extrapolation targets in seconds (a month is 730 hours, as AWS's price pages count)."""

COLUMNS = {
    "run": pl.String,
    "mode": pl.String,
    "model": pl.String,
    "user_usd": pl.Float64,
    "provider_usd": pl.Float64,
    "margin_usd": pl.Float64,
    "usd_per_gb": pl.Float64,
    "usd_per_mpackets": pl.Float64,
    **dict.fromkeys(COMPONENTS, pl.Float64),
    "invocations": pl.Float64,
    "billed_s": pl.Float64,
    "provider_unit_s": pl.Float64,
    "gb": pl.Float64,
    "packets": pl.Float64,
    "duration_s": pl.Float64,
    "scale": pl.Float64,
}
"""The comparison table's columns. Money in USD: ``user_usd`` (the bill, = the sum of the
components), ``provider_usd`` (unit-seconds x the provider's cost of a unit-second), ``margin_usd`` =
user - provider, ``usd_per_gb`` and ``usd_per_mpackets`` (the bill per GB and per million packets;
null when there are none). Components: ``requests_usd`` (per-invocation fees), ``duration_usd``
(GB-seconds, vCPU-seconds or busy time), ``per_flowlet_usd`` (SNF's allocation charge),
``hourly_usd`` (instance- and service-hours), ``per_gb_usd`` (per GB processed, GWLB capacity units,
or SNF's byte charge). ``invocations``: function invocations or VM instances; ``billed_s``: billed
function- or instance-seconds; ``provider_unit_s``: unit-seconds the provider runs; ``gb``,
``packets``, ``duration_s`` describe the traffic billed (scaled); ``scale``: the extrapolation
factor (1 without ``scale_to``). Every amount is scaled."""


def scale_seconds(scale_to: float | str | None) -> float | None:
    """``scale_to`` in seconds: None, a number > 0, or ``hour`` / ``day`` / ``month``."""
    if scale_to is None:
        return None
    if isinstance(scale_to, str):
        if scale_to in SCALES:
            return SCALES[scale_to]
        raise ParameterError("scale_to", scale_to, f"seconds > 0 or one of {', '.join(SCALES)}")
    ok = isinstance(scale_to, int | float) and not isinstance(scale_to, bool)
    if not ok or not math.isfinite(scale_to) or scale_to <= 0:
        raise ParameterError("scale_to", scale_to, f"seconds > 0 or one of {', '.join(SCALES)}")
    return float(scale_to)


def _results(run: Results | str | PathLike[str], name: str) -> Results:
    if isinstance(run, Results):
        return run
    if isinstance(run, str | PathLike):
        return Results.load(run)
    raise ParameterError(
        f"runs[{name!r}]", type(run).__name__, "a Results or a saved-results folder"
    )


def bill_rows(
    name: str,
    results: Results,
    models: list[str],
    prices: Prices,
    options: BillingOptions,
    target_s: float | None,
) -> list[dict[str, Any]]:
    """One comparison row per model for one replay (see :data:`COLUMNS`)."""
    usage = Usage(results)
    scale = 1.0
    if target_s is not None:
        if usage.duration_ns <= 0:
            raise ParameterError(
                "scale_to",
                target_s,
                f"no extrapolation of run {name!r}: it lasts 0 s (one arrival)",
            )
        scale = target_s / usage.duration_s
    ctx = BillingContext(usage, prices, options, extrapolating=target_s is not None)
    unit_second_usd = instance(ctx).second_usd * options.unit_cost_share
    rows = []
    for model in models:
        b = MODELS[model].func(ctx)
        user = b.user_usd * scale
        provider = b.provider_unit_s * unit_second_usd * scale
        gb, packets = usage.gigabytes * scale, usage.packets * scale
        rows.append(
            {
                "run": name,
                "mode": usage.mode,
                "model": model,
                "user_usd": user,
                "provider_usd": provider,
                "margin_usd": user - provider,
                "usd_per_gb": user / gb if gb else None,
                "usd_per_mpackets": user / (packets / 1e6) if packets else None,
                **{c: getattr(b, c) * scale for c in COMPONENTS},
                "invocations": b.invocations * scale,
                "billed_s": b.billed_s * scale,
                "provider_unit_s": b.provider_unit_s * scale,
                "gb": gb,
                "packets": packets,
                "duration_s": usage.duration_s * scale,
                "scale": scale,
            }
        )
    return rows


def compare(
    runs: Mapping[str, Results | str | PathLike[str]],
    models: str | list[str] | tuple[str, ...] | None = None,
    prices: str | PathLike[str] | pl.DataFrame | Prices | None = None,
    *,
    options: BillingOptions | Mapping[str, Any] | None = None,
    scale_to: float | str | None = None,
    **changes: Any,
) -> pl.DataFrame:
    """Bill every run under every model: one row per (run, model), columns :data:`COLUMNS`.

    runs: ``{name: Results}`` (or a folder written by :meth:`Results.save`).
    models: model names or groups (:data:`~snfkit.billing.models.GROUPS`); None: all of
        :data:`~snfkit.billing.models.MODELS`.
    prices: the shipped table (None), a CSV path, a DataFrame or :class:`Prices`.
    options / changes: :class:`BillingOptions`, e.g. ``granularity_ms=100``.
    scale_to: extrapolate each run to this many seconds (or ``hour``, ``day``, ``month``) at its
        own rate: every amount x (target / the run's duration), VM instances billed for their exact
        lifetimes (see docs/billing.md).
    """
    names = resolve_models(models)
    table = load_prices(prices)
    opts = billing_options(options, **changes)
    target = scale_seconds(scale_to)
    rows = []
    for name, run in runs.items():
        rows += bill_rows(str(name), _results(run, str(name)), names, table, opts, target)
    return pl.DataFrame(rows, schema=COLUMNS)


def bill(
    results: Results,
    model: str | None = None,
    prices: str | PathLike[str] | pl.DataFrame | Prices | None = None,
    *,
    options: BillingOptions | Mapping[str, Any] | None = None,
    scale_to: float | str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """One replay under one model (default: its mode's own, :func:`native_model`): a dict with the
    columns of :func:`compare`."""
    name = model if model is not None else native_model(results)
    rows = bill_rows(
        "run",
        results,
        resolve_models(name),
        load_prices(prices),
        billing_options(options, **changes),
        scale_seconds(scale_to),
    )
    return rows[0]


def native_model(results: Results) -> str:
    """The model a replay's allocation mode bills by on a serverless platform: ``per_packet``
    (packet), ``per_flow`` (flow, smart_flow), ``snf`` (flowlet)."""
    mode = str(results.summary.get("mode"))
    if mode not in NATIVE_MODELS:
        raise ParameterError("mode", mode, f"one of {', '.join(NATIVE_MODELS)}")
    return NATIVE_MODELS[mode]


def native_bill(results: Results) -> dict[str, Any]:
    """:func:`bill` under the mode's own model, the shipped prices and default options; cached in
    ``results.extra`` (the metrics ``billed_cost``, ``provider_cost``, ``usd_per_gb`` read it)."""
    key = "billing.native"
    if key not in results.extra:
        results.extra[key] = bill(results)
    return results.extra[key]


def pivot(table: pl.DataFrame, value: str = "user_usd") -> pl.DataFrame:
    """A comparison table as one row per model and one column per run, holding ``value``."""
    return table.pivot(on="run", index="model", values=value, aggregate_function="first")
