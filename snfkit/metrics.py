"""Metrics of one replay: the one registry that sweeps, figures, billing and the CLI read.

A metric is a function of :class:`~snfkit.results.Results` that returns one float. The registry
:data:`METRICS` maps its name (used in study configs: ``objectives = ["p99_latency_us"]``) to a
:class:`Metric`. A study computes every registered metric for every trial and stores it as a user
attribute, so the trials table has all of them, not only the objectives. Other modules (billing,
faults, controllers) add theirs with :func:`register_metric`. This module imports neither optuna nor
altair, so a metric can be computed wherever a replay runs.

``overprovision_gbps`` is provisioned minus offered capacity, from the ``epochs`` table: the mean over
epochs of ``provisioned_gbps - offered_gbps`` (each epoch weighs the same; units still alive after
the last packet count in the last epoch, so for a trace much shorter than ``epoch_ns`` choose a
shorter ``epoch_ns`` in ``[params]``).

``billed_cost``, ``provider_cost`` and ``usd_per_gb`` bill the replay under its mode's own model
(:mod:`snfkit.billing`, imported on first use); they are NaN when the bill cannot be computed
without per-packet rows (a packet-mode replay with ``keep_packets=False`` whose largest latency
exceeds the billing granularity), so a study that does not minimise cost never fails on them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl

from snfkit.results import Results

DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class Metric:
    """A named metric. ``func`` is None for a metric that is declared but not available yet."""

    name: str
    func: Callable[[Results], float] | None
    direction: str = "minimize"
    unit: str = ""
    doc: str = ""

    @property
    def available(self) -> bool:
        return self.func is not None


def _latency(q: str) -> Callable[[Results], float]:
    return lambda r: float(r.summary["latency_us"][q])


def _summary(key: str) -> Callable[[Results], float]:
    """The summary's ``key``; NaN when the run does not report it (None: e.g. no moved items)."""

    def value(r: Results) -> float:
        v = r.summary.get(key)
        return float("nan") if v is None else float(v)

    return value


def moved_flowlets(res: Results) -> int:
    """Flowlets whose unit differs from their flow's previous flowlet's unit (or lifetime): the
    summary's ``moved_flowlets`` when the replay reports it, else counted from the flowlets."""
    if isinstance(res.summary.get("moved_flowlets"), int):
        return int(res.summary["moved_flowlets"])
    f = res.flowlets
    if f.height == 0:
        return 0
    prev = f.sort("item").select(
        "flow_id",
        moved=(pl.col("unit") != pl.col("unit").shift(1).over("flow_id"))
        | (pl.col("unit_life") != pl.col("unit_life").shift(1).over("flow_id")),
    )
    return int(prev["moved"].fill_null(False).sum())


def _overprovision_gbps(r: Results) -> float:
    e = r.epochs
    if e.height == 0:
        return 0.0
    return float((e["provisioned_gbps"] - e["offered_gbps"]).mean())


METRICS: dict[str, Metric] = {}
"""Name -> :class:`Metric`; see :func:`register_metric`."""


def register_metric(
    name: str,
    func: Callable[[Results], float] | None,
    *,
    direction: str = "minimize",
    unit: str = "",
    doc: str = "",
) -> Metric:
    """Add (or replace) a metric. ``direction`` is the default when a config names only the metric."""
    if not name.isidentifier():
        raise ValueError(f"metric name {name!r} must be a Python identifier")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r} must be one of {DIRECTIONS}")
    metric = Metric(name, func, direction, unit, doc)
    METRICS[name] = metric
    return metric


for _q, _name in (
    ("p50", "p50_latency_us"),
    ("p99", "p99_latency_us"),
    ("p99.9", "p999_latency_us"),
):
    register_metric(_name, _latency(_q), unit="us", doc=f"{_q} packet latency")
register_metric(
    "mean_latency_us", _summary("latency_mean_us"), unit="us", doc="mean packet latency"
)
register_metric(
    "max_latency_us", _summary("latency_max_us"), unit="us", doc="largest packet latency"
)
register_metric(
    "mean_active_units",
    _summary("mean_active_units"),
    unit="units",
    doc="time-weighted mean of active units over the trace",
)
register_metric(
    "max_active_units", _summary("max_active_units"), unit="units", doc="most units active at once"
)
register_metric(
    "unit_seconds", _summary("unit_seconds"), unit="s", doc="sum of unit lifetimes (what runs)"
)
register_metric(
    "overprovision_gbps",
    _overprovision_gbps,
    unit="Gbps",
    doc="mean over epochs of provisioned minus offered capacity",
)
register_metric("overflow", _summary("overflow"), doc="assignments with no unit that had room")
register_metric("state_pulls", _summary("state_pulls"), doc="reactive state pulls")
register_metric("reordered", _summary("reordered"), doc="packets finishing before an earlier one")
register_metric(
    "allocations", _summary("allocations"), direction="maximize", doc="allocation opportunities"
)
register_metric(
    "opportunities",
    _summary("opportunities"),
    direction="maximize",
    doc="allocations + smart_flow moves",
)
register_metric(
    "moved_flowlets",
    lambda r: float(moved_flowlets(r)),
    doc="items on another unit than their flow's previous item",
)
register_metric(
    "seamless_share",
    _summary("seamless_share"),
    direction="maximize",
    doc="share of moved items that ran at once (NaN when none moved)",
)
register_metric(
    "replication_mbps",
    _summary("replication_mbps"),
    unit="Mbps",
    doc="proactive state push traffic over the trace",
)


def _recovery(q: str) -> Callable[[Results], float]:
    """A recovery-time statistic of the replay's failures (NaN without failures)."""

    def value(r: Results) -> float:
        rec = r.summary.get("recovery_us")
        return float(rec[q]) if rec else float("nan")

    return value


register_metric(
    "recovery_p50_us",
    _recovery("p50"),
    unit="us",
    doc="median recovery time of the replay's failures (snfkit.faults; NaN without failures)",
)
register_metric(
    "recovery_max_us",
    _recovery("max"),
    unit="us",
    doc="longest recovery time of the replay's failures (constrain it: recovery_max_us <= 1000)",
)
register_metric(
    "packets_lost", _summary("packets_lost"), doc="packets lost with a unit and its output logger"
)


def _billing(column: str) -> Callable[[Results], float]:
    """A column of the replay's bill under its mode's own model (:func:`snfkit.billing.native_bill`:
    packet -> per_packet, flow and smart_flow -> per_flow, flowlet -> snf; shipped prices, default
    options); snfkit.billing is imported on first use."""

    def value(r: Results) -> float:
        from snfkit.billing import native_bill
        from snfkit.errors import ParameterError

        try:
            v = native_bill(r)[column]
        except ParameterError:  # needs per-packet rows the replay did not keep
            return float("nan")
        return float("nan") if v is None else float(v)

    return value


register_metric(
    "billed_cost",
    _billing("user_usd"),
    unit="USD",
    doc="the user's bill for the replay under its mode's own billing model (snfkit.billing)",
)
register_metric(
    "provider_cost",
    _billing("provider_usd"),
    unit="USD",
    doc="the provider's cost of the replay's unit-seconds (snfkit.billing)",
)
register_metric(
    "usd_per_gb",
    _billing("usd_per_gb"),
    unit="USD/GB",
    doc="the user's bill per GB processed (snfkit.billing)",
)


def compute_metrics(results: Results, names: Iterable[str] | None = None) -> dict[str, float]:
    """Evaluate the available metrics (or only ``names``) on one replay. NaN becomes None-safe
    float('nan'); callers decide what a NaN objective means."""
    wanted = METRICS if names is None else {n: METRICS[n] for n in names}
    out: dict[str, float] = {}
    for name, metric in wanted.items():
        if metric.func is None:
            continue
        value = float(metric.func(results))
        out[name] = value if math.isfinite(value) else float("nan")
    return out


def _controller_overprovision(q: str) -> Callable[[Results], float]:
    """A statistic over controllers and epochs of provisioned - offered capacity (Gbps): the
    ``controller_epochs`` table of a many-controller replay, else the ``epochs`` table (one
    controller)."""

    def value(r: Results) -> float:
        table = r.controller_epochs if r.controller_epochs is not None else r.epochs
        over = table["overprovision_gbps"]
        if over.len() == 0:
            return float("nan")
        return float(over.mean()) if q == "mean" else float(over.quantile(0.95, "linear"))

    return value


register_metric(
    "controller_overprovision_mean_gbps",
    _controller_overprovision("mean"),
    unit="Gbps",
    doc="mean over controllers and epochs of provisioned minus offered capacity (Fig 6)",
)
register_metric(
    "controller_overprovision_p95_gbps",
    _controller_overprovision("p95"),
    unit="Gbps",
    doc="95th percentile over controllers and epochs of provisioned minus offered capacity",
)
register_metric(
    "controller_utilization",
    lambda r: float((r.summary.get("controller") or {}).get("utilization") or 0.0),
    doc="the controller's decision time over the trace (with a controller_rate; 0 without)",
)
