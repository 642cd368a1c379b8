"""The paper's figures on any trace: the replays behind each figure, their tidy data, the charts, and
the table of the paper's claims beside what this trace gives.

Each ``*_runs`` function replays one trace under the settings of one figure and returns a mapping
from a label to :class:`~snfkit.results.Results`; :mod:`snfkit.charts` turns those into tidy frames
and charts. :func:`compute_figures` runs all of them (with one progress callback for the whole
set), :func:`write_figures` writes every figure (PNG, SVG, HTML), its data (CSV) and the claims
table (markdown), and :func:`make_figures` does both (the ``snfkit figures`` command).

Choices the paper leaves open (docs/REPRODUCTION.md explains their effect):

- **Epochs.** The paper's epoch is 100 ms. Traces shorter than 2 s get a shorter epoch, the largest of
  100, 50, 20, 10, 5, 2, 1 ms, 500, 200, 100 us that still gives at least 20 epochs (the CAIDA
  excerpt, 24 ms: 1 ms). Epochs only change the reports (Figs 1 and 3), never the replay.
- **Every other parameter** is snfkit's default (the paper's: T = 500 us, B = 15 KB, alpha = 0.25,
  K = 3, 1-Gbps units), so smart_flow's 50 and 100 ms periods and the 100-ms unit idle time stay as
  in the paper even on a trace shorter than them. ``params`` overrides any of them for every run.
- **Fig 7** (K x alpha) uses the paper's setting for that figure: 500-Mbps units, at most 15.
- **NFs.** Figs 1-3 and 7-8 run the NAT (as the paper's Fig 2 does); Fig 4 each NF of ``nfs``.
- Replays keep no per-packet table (``keep_packets=False``): latency percentiles come from the
  engine's log histogram (< 0.8 % relative error).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import polars as pl

from snfkit.claims import claims_markdown, claims_table  # the claims table (re-exported)
from snfkit.errors import NoPayloadWarning, ParameterError
from snfkit.prepared import PreparedTrace, prepare_trace
from snfkit.results import Results

Progress = Callable[[int, int | None], None]

MS = 1_000_000
US = 1_000

ALLOCATION_RUNS: dict[str, dict[str, Any]] = {
    "flowlet": {"mode": "flowlet"},
    "flow": {"mode": "flow"},
    "smart_flow (100 ms)": {"mode": "smart_flow", "smart_interval_ns": 100 * MS},
    "smart_flow (50 ms)": {"mode": "smart_flow", "smart_interval_ns": 50 * MS},
    "packet": {"mode": "packet"},
}
"""Figs 1-3: SNF and the paper's baselines (§9.1), label -> replay parameters."""

NFS = ("nat", "lb", "ids", "whitelist", "qos")
"""The paper's five NFs (Fig 4, replication overheads)."""

STATE_MODES = ("external", "reactive", "proactive")
"""Fig 4's state modes, worst first."""

K_VALUES = (1, 3, 5, 7, 9)
ALPHA_VALUES = (0.0, 0.25, 0.5, 0.75, 1.0)
FIG7_PARAMS: dict[str, Any] = {"unit_capacity_bps": 500e6, "max_units": 15}
"""Fig 7's setting (§9.6): "a maximum of 15 compute units", "NF capacity used is 500 Mbps"."""

ADVERSARIAL_EVERY = (100, 50, 10)
"""Fig 5 (§9.3): adversarial flowlets "every 100th, 50th and 10th flow"."""

DETECTIONS: dict[str, dict[str, Any]] = {"timeout": {"size_bytes": 0}, "timeout + size": {}}
"""Fig 5's flowlet detection: the inactivity timeout alone (B = 0) or with the size threshold
(B of the run's parameters, default 15 KB)."""

SIZE_VALUES = (1_500, 3_000, 7_500, 15_000, 30_000, 60_000, 120_000)
"""Fig 8's size thresholds B in bytes (the paper does not list its values)."""

TIMEOUTS_US = (100, 500)
"""§9.6: allocation opportunities at T = 100 us and 500 us."""

SMALL = {
    "nfs": ("nat",),
    "k_values": (1, 3, 9),
    "alpha_values": (0.0, 0.25, 0.75),
    "size_values": (3_000, 15_000, 60_000),
    "adversarial_every": (10,),
}
"""The reduced grids of ``small=True`` (CI, the demo's quick runs, notebooks in small mode)."""

EPOCH_LADDER_NS = (
    100 * MS,
    50 * MS,
    20 * MS,
    10 * MS,
    5 * MS,
    2 * MS,
    1 * MS,
    500 * US,
    200 * US,
    100 * US,
)


def epoch_for(duration_ns: int, min_epochs: int = 20) -> int:
    """The report epoch for a trace lasting ``duration_ns``: the paper's 100 ms when that gives at
    least ``min_epochs`` epochs, else the largest value of :data:`EPOCH_LADDER_NS` that does (the
    smallest, 100 us, for a trace shorter than that)."""
    for e in EPOCH_LADDER_NS:
        if duration_ns >= min_epochs * e:
            return e
    return EPOCH_LADDER_NS[-1]


# -- traces -----------------------------------------------------------------------------------


def shared_traces() -> Path:
    """``$SNFKIT_SHARED/traces``, or ``shared/traces`` beside the repository holding snfkit (the
    project's real traces; a clone does not have them)."""
    root = os.environ.get("SNFKIT_SHARED")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "shared"
    return base / "traces"


def small_mode() -> bool:
    """True when ``SNFKIT_NOTEBOOK_SMALL=1`` (CI runs the notebooks that way)."""
    return os.environ.get("SNFKIT_NOTEBOOK_SMALL") == "1"


@dataclass
class Workload:
    """One trace ready for many replays: the packets table (NFs need its addresses and ports), the
    :class:`~snfkit.prepared.PreparedTrace` (flowlet detection cached) and a name for reports."""

    name: str
    packets: pl.DataFrame
    prepared: PreparedTrace = field(repr=False)
    _by_connection: PreparedTrace | None = field(default=None, repr=False)

    @classmethod
    def from_packets(cls, packets: pl.DataFrame, name: str) -> Workload:
        return cls(name=name, packets=packets, prepared=prepare_trace(packets))

    def prepared_for(self, nf: Any = None) -> PreparedTrace:
        """The prepared trace a replay with ``nf`` needs: flows keyed by connection
        (:func:`snfkit.traces.transforms.connections`, prepared once) for a bidirectional NF,
        else :attr:`prepared`."""
        if nf is None:
            return self.prepared
        from snfkit.nf import get_nf

        obj = get_nf(nf) if isinstance(nf, str) else nf
        if not obj.bidirectional or "direction" in self.packets.columns:
            return self.prepared
        if self._by_connection is None:
            from snfkit.traces.transforms import connections

            self._by_connection = prepare_trace(connections(self.packets))
        return self._by_connection

    @property
    def duration_ns(self) -> int:
        if self.packets.height == 0:
            return 0
        return int(self.packets["ts_ns"][-1] - self.packets["ts_ns"][0])

    def describe(self) -> str:
        flows = self.packets["flow_id"].n_unique() if self.packets.height else 0
        secs = self.duration_ns / 1e9
        gbps = self.packets["wire_len"].sum() * 8 / self.duration_ns if self.duration_ns else 0.0
        return (
            f"{self.name}: {self.packets.height:,} packets, {flows:,} flows, "
            f"{secs:.3g} s, {gbps:.3g} Gbps"
        )


def workload(
    trace: str | PathLike[str] | pl.DataFrame | None = None,
    *,
    name: str | None = None,
    max_packets: int | None = None,
) -> Workload:
    """A :class:`Workload` from a trace file (any format :func:`snfkit.load_trace` reads), a packets
    table, or None: the CAIDA excerpt in :func:`shared_traces` if it is there, else the synthetic
    ``small_demo(seed=0)``. ``max_packets`` keeps the first packets only (flow ids stay dense)."""
    if isinstance(trace, pl.DataFrame):
        packets, label = trace, name or "packets"
    elif trace is not None:
        from snfkit.traces import load_trace

        path = Path(trace)
        packets, label = load_trace(path), name or path.name
    else:
        caida = shared_traces() / "caida-nyc-2018-10k.pcap"
        if caida.is_file():
            from snfkit.traces import load_trace

            packets, label = load_trace(caida), name or caida.name
        else:
            from snfkit.workloads import small_demo

            packets, label = small_demo(0), name or "small_demo(seed=0)"
    if max_packets is not None and packets.height > max_packets:
        packets = packets.head(max_packets)
        label = f"{label} (first {max_packets:,} packets)"
    return Workload.from_packets(packets, label)


# -- replays ----------------------------------------------------------------------------------


class _Runner:
    """Replays one workload with fixed base parameters, counting replays for a progress callback."""

    def __init__(self, wl: Workload, params: Mapping[str, Any] | None, progress: Progress | None):
        self.wl = wl
        self.base = {"epoch_ns": epoch_for(wl.duration_ns), "keep_packets": False}
        self.user = dict(params or {})
        self.base.update(self.user)
        self.progress = progress
        self.count = [0, None]  # replays done, total (shared with for_workload's runners)

    @property
    def done(self) -> int:
        return self.count[0]

    @property
    def total(self) -> int | None:
        return self.count[1]

    @total.setter
    def total(self, n: int | None) -> None:
        self.count[1] = n

    def for_workload(self, wl: Workload | None) -> _Runner:
        """A runner of ``wl`` (None: this one) with the same parameters and progress count."""
        if wl is None or wl is self.wl:
            return self
        other = _Runner(wl, self.user, self.progress)
        other.count = self.count
        return other

    def __call__(
        self, nf: str | None = None, *, workload: Workload | None = None, **params: Any
    ) -> Results:
        """One replay of the workload (or of ``workload``, a variant of it such as Fig 5's)."""
        from snfkit.runner import replay

        wl = self.wl if workload is None else workload
        with warnings.catch_warnings():  # the IDS on a trace without payload: noted in docs
            warnings.simplefilter("ignore", NoPayloadWarning)
            failures = params.pop("failures", None)
            res = replay(wl.prepared_for(nf), nf=nf, failures=failures, **{**self.base, **params})
        self.count[0] += 1
        if self.progress is not None:
            self.progress(self.done, self.total)
        return res


def _runner(wl, params, progress) -> _Runner:
    return wl if isinstance(wl, _Runner) else _Runner(wl, params, progress)


def compute_runs(
    wl: Workload,
    params: Mapping[str, Any] | None = None,
    *,
    nf: str | None = "nat",
    estimator: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Results]:
    """Figs 1-3: one replay per entry of :data:`ALLOCATION_RUNS`; with ``estimator`` (a
    ``load_estimator``, e.g. the paper's ``'measured'``) every run uses it."""
    run = _runner(wl, params, progress)
    extra = {} if estimator is None else {"load_estimator": estimator}
    return {label: run(nf=nf, **p, **extra) for label, p in ALLOCATION_RUNS.items()}


def periodic_replication_mbps(
    packets: pl.DataFrame, replicas: int, state_bytes: int, period_ns: int
) -> float:
    """The other reading of §9.7's "we proactively replicate state to K compute units every
    250us": every flow that sent a packet in a period of ``period_ns`` pushes K copies of its
    state at the period's end. Mbps over the trace's duration (from the trace alone; the
    replays push once per idle gap instead)."""
    if packets.height < 2:
        return 0.0
    ts = packets["ts_ns"]
    span = int(ts[-1] - ts[0])
    periods = packets.select(
        pl.col("flow_id"), ((pl.col("ts_ns") - ts[0]) // period_ns).alias("period")
    ).n_unique()
    return periods * replicas * state_bytes * 8.0 / span * 1e3 if span else 0.0


def opportunity_runs(
    wl: Workload,
    params: Mapping[str, Any] | None = None,
    timeouts_us: Sequence[int] = TIMEOUTS_US,
    *,
    progress: Progress | None = None,
) -> dict[str, Results]:
    """§9.1 / §9.6: flowlet mode at each T (labels ``flowlet T=100 us``) and the ``flow`` baseline
    (allocation opportunities only depend on the trace and T, B; no NF)."""
    run = _runner(wl, params, progress)
    out = {f"flowlet T={t} us": run(mode="flowlet", timeout_ns=t * US) for t in timeouts_us}
    out["flow"] = run(mode="flow")
    return out


def state_runs(
    wl: Workload,
    params: Mapping[str, Any] | None = None,
    nfs: Sequence[str] = NFS,
    state_modes: Sequence[str] = STATE_MODES,
    *,
    progress: Progress | None = None,
) -> dict[tuple[str, str], Results]:
    """Fig 4: flowlet mode, one replay per (NF, state mode)."""
    run = _runner(wl, params, progress)
    return {(nf, sm): run(nf=nf, mode="flowlet", state_mode=sm) for nf in nfs for sm in state_modes}


def k_alpha_runs(
    wl: Workload,
    params: Mapping[str, Any] | None = None,
    k_values: Sequence[int] = K_VALUES,
    alpha_values: Sequence[float] = ALPHA_VALUES,
    *,
    nf: str | None = "nat",
    progress: Progress | None = None,
) -> dict[tuple[int, float], Results]:
    """Fig 7: proactive flowlet mode over K x alpha, with :data:`FIG7_PARAMS` (unless the
    caller's ``params`` set them)."""
    run = _runner(wl, params, progress)
    fig7 = {k: v for k, v in FIG7_PARAMS.items() if k not in run.user}
    return {
        (k, a): run(nf=nf, mode="flowlet", state_mode="proactive", **fig7, replicas=k, alpha=a)
        for k in k_values
        for a in alpha_values
    }


def size_runs(
    wl: Workload,
    params: Mapping[str, Any] | None = None,
    size_values: Sequence[int] = SIZE_VALUES,
    *,
    nf: str | None = "nat",
    progress: Progress | None = None,
) -> dict[int, Results]:
    """Fig 8: flowlet mode (default state mode) at each size threshold B."""
    run = _runner(wl, params, progress)
    return {b: run(nf=nf, mode="flowlet", size_bytes=b) for b in size_values}


def fault_runs(
    wl: Workload,
    params: Mapping[str, Any] | None = None,
    strategies: Sequence[str] = ("snf", "chc", "ftmb"),
    *,
    nf: str = "nat",
    progress: Progress | None = None,
) -> dict[str, Results]:
    """§9.4: the busiest NAT unit (the most busy time in the epoch halfway through the trace, in a
    failure-free replay) fails halfway through the trace, its recovery unit launched at once; one
    replay per recovery strategy (the replays agree up to the failure). Per-packet rows are kept,
    for the latency around the failure."""
    from snfkit.faults import Failure

    run = _runner(wl, params, progress)
    t_fail = run.wl.duration_ns // 2
    base = run(nf=nf, mode="flowlet")
    epoch = t_fail // base.params["epoch_ns"]  # (epochs count from the first packet, as t_fail)
    eu = base.epoch_units.filter(pl.col("epoch") == epoch).sort("busy_ns", "unit", descending=True)
    target = int(eu["unit"][0]) if eu.height else -1
    fail = [Failure(t_fail, "unit", target)]
    return {
        s: run(
            nf=nf,
            mode="flowlet",
            recovery=s,
            recovery_launch="immediate",
            failures=fail,
            keep_packets=True,
        )
        for s in strategies
    }


CONTROLLERS = 10
"""§9.5: "We use 10 controllers"."""


def controller_runs(
    wl: Workload,
    params: Mapping[str, Any] | None = None,
    *,
    controllers: int = CONTROLLERS,
    progress: Progress | None = None,
) -> dict[str, Results]:
    """§9.5, Fig 6: the workload split among ``controllers`` controllers (fewer when it has fewer
    flows), each owning whole units (``independent``), then leasing from a resource manager
    (``resource_manager``)."""
    run = _runner(wl, params, progress)
    n = min(controllers, max(1, run.wl.packets["flow_id"].n_unique()))
    return {
        "independent": run(controllers=n, resource_manager=False),
        "resource_manager": run(controllers=n, resource_manager=True),
    }


def adversarial_runs(
    wl: Workload,
    params: Mapping[str, Any] | None = None,
    every: Sequence[int] = ADVERSARIAL_EVERY,
    *,
    nf: str | None = "nat",
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[tuple[int, str], Results]:
    """Fig 5 (§9.3): for each N of ``every``, a burst of about 20 packets of about 1400 B
    (:func:`snfkit.workloads.inject_adversarial_flowlets`, seeded by ``seed``) added to every N-th
    flow, replayed in flowlet mode with each detection of :data:`DETECTIONS`; keys
    ``(N, detection)``."""
    from snfkit.workloads import inject_adversarial_flowlets

    run = _runner(wl, params, progress)
    out = {}
    for n in every:
        packets, _ = inject_adversarial_flowlets(run.wl.packets, n, seed=seed)
        variant = Workload.from_packets(packets, f"{run.wl.name} + bursts in 1 in {n} flows")
        for det, p in DETECTIONS.items():
            out[(n, det)] = run(nf=nf, workload=variant, mode="flowlet", **p)
    return out


RUNS_TABLE_KEYS = (
    "latency_us",
    "mean_active_units",
    "max_active_units",
    "opportunities",
    "overflow",
    "state_pulls",
    "reordered",
    "packets_dropped",
    "seamless_share",
    "replication_mbps",
)
"""Summary keys that :func:`runs_table` shows (those a run reports)."""


def runs_table(runs: Mapping[Any, Results], keys: Sequence[str] = RUNS_TABLE_KEYS) -> pl.DataFrame:
    """One row per run (column ``run``, the label as a string) with the summary entries named in
    ``keys``; ``latency_us`` becomes one column per percentile (``p50_us``, ...). Numbers are
    Float64, null where a run does not report the key."""
    rows = []
    for label, res in runs.items():
        s = res.summary
        row: dict[str, Any] = {
            "run": label if isinstance(label, str) else " / ".join(map(str, label))
        }
        for k in keys:
            v = s.get(k)
            if isinstance(v, dict):
                row.update(
                    {
                        f"{q}_us" if k == "latency_us" else f"{k}.{q}": x
                        for q, x in v.items()
                        if isinstance(x, int | float)
                    }
                )
            elif isinstance(v, int | float) and not isinstance(v, bool):
                row[k] = v
        rows.append(row)
    cols = list(dict.fromkeys(c for r in rows for c in r))
    return pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in cols},
        schema={c: pl.String if c == "run" else pl.Float64 for c in cols},
    )


# -- all figures ------------------------------------------------------------------------------


@dataclass
class FigureData:
    """Everything the figures show, for one trace. ``frames`` maps a figure name (``fig1_provisioning``
    ...) to its tidy data; ``runs`` keeps the Results per experiment."""

    workload: str
    params: dict[str, Any]
    runs: dict[str, dict] = field(default_factory=dict)
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)


FIGURES = {
    "fig1_provisioning": "Fig 1: provisioned capacity vs demand per allocation mode",
    "fig2_latency": "Fig 2: latency percentiles per allocation mode",
    "fig2_latency_measured": "Fig 2 with the paper's measured load estimator (drained rate only)",
    "fig3_utilization": "Fig 3: utilization of active units per epoch (min, quartiles, max)",
    "fig3_utilization_bands": "Fig 3 (summary): share of unit-epochs per utilization band",
    "opportunities": "Allocation opportunities: flowlets (T = 100, 500 us) against flows",
    "fig4_state_latency": "Fig 4: latency percentiles per state mode, per NF",
    "fig4_seamless": "§9.2: seamless share of moved flowlets; replication Mbps",
    "fig5_adversarial": "Fig 5: latency with adversarial flowlets, timeout alone vs timeout + size",
    "fig7_k_alpha": "Fig 7: K x alpha against p99 latency, units, seamless flowlets",
    "fig8_size_threshold": "Fig 8: size threshold B against latency and units",
    "fig94_recovery": "§9.4: recovery time of a failed NAT unit, SNF / CHC / FTMB",
    "fig94_latency": "§9.4: p99 latency around the failure, per recovery strategy",
    "fig6_controllers": "Fig 6: over-provisioning per controller and epoch, independent vs RM",
}
"""Figure names (file stems) and what each shows."""


SECTIONS = ("compute", "opportunities", "state", "adversarial", "k_alpha", "size", "controllers")
"""The experiments of :func:`compute_figures`: Figs 1-3 (both load estimators), allocation
opportunities, Fig 4 and §9.2, Fig 5, Fig 7, Fig 8, Fig 6 (many controllers)."""


def _count_replays(nfs, k_values, alpha_values, size_values, adversarial_every=()) -> int:
    return (
        2 * len(ALLOCATION_RUNS)
        + 4  # fault_runs: a failure-free replay, then one per recovery strategy
        + 2  # controller_runs: independent, resource manager
        + len(TIMEOUTS_US)
        + 1
        + len(nfs) * len(STATE_MODES)
        + len(adversarial_every) * len(DETECTIONS)
        + len(k_values) * len(alpha_values)
        + len(size_values)
    )


def compute_figures(
    wl: Workload,
    params: Mapping[str, Any] | None = None,
    *,
    small: bool = False,
    nfs: Sequence[str] | None = None,
    k_values: Sequence[int] | None = None,
    alpha_values: Sequence[float] | None = None,
    size_values: Sequence[int] | None = None,
    adversarial_every: Sequence[int] | None = None,
    workloads: Mapping[str, Workload] | None = None,
    progress: Progress | None = None,
) -> FigureData:
    """Run every experiment behind :data:`FIGURES` on one workload and build their tidy frames.
    ``small`` picks the reduced grids of :data:`SMALL`; explicit arguments win over both.
    ``workloads`` replaces ``wl`` for some experiments (keys of :data:`SECTIONS`), e.g. the same
    trace at each figure's offered load."""
    from snfkit import charts

    grid = (
        SMALL
        if small
        else {
            "nfs": NFS,
            "k_values": K_VALUES,
            "alpha_values": ALPHA_VALUES,
            "size_values": SIZE_VALUES,
            "adversarial_every": ADVERSARIAL_EVERY,
        }
    )
    nfs = tuple(nfs if nfs is not None else grid["nfs"])
    k_values = tuple(k_values if k_values is not None else grid["k_values"])
    alpha_values = tuple(alpha_values if alpha_values is not None else grid["alpha_values"])
    size_values = tuple(size_values if size_values is not None else grid["size_values"])
    adversarial_every = tuple(
        adversarial_every if adversarial_every is not None else grid["adversarial_every"]
    )
    run = _Runner(wl, params, progress)
    run.total = _count_replays(nfs, k_values, alpha_values, size_values, adversarial_every)
    workloads = dict(workloads or {})
    unknown = set(workloads) - set(SECTIONS)
    if unknown:
        raise ParameterError("workloads", sorted(unknown), "keys among " + ", ".join(SECTIONS))

    def at(section: str) -> _Runner:
        return run.for_workload(workloads.get(section))

    fd = FigureData(workload=wl.describe(), params=dict(run.base))

    comp = compute_runs(at("compute"))
    fd.runs["compute"] = comp
    comp_m = compute_runs(at("compute"), estimator="measured")
    fd.runs["compute_measured"] = comp_m
    fd.frames["fig2_latency_measured"] = charts.latency_percentiles_data(comp_m)
    fd.frames["fig1_provisioning"] = charts.provisioning_data(comp)
    fd.frames["fig2_latency"] = charts.latency_percentiles_data(comp)
    util = charts.utilization_data(comp)
    fd.frames["fig3_utilization"] = charts.utilization_box_data(util)
    fd.frames["fig3_utilization_bands"] = charts.utilization_bands_data(util)

    opp = opportunity_runs(at("opportunities"))
    fd.runs["opportunities"] = opp
    fd.frames["opportunities"] = charts.opportunities_data(opp, baseline="flow")

    st = state_runs(at("state"), nfs=nfs)
    fd.runs["state"] = st
    fd.frames["fig4_state_latency"] = charts.state_latency_data(st)
    fd.frames["fig4_seamless"] = charts.state_sources_data(st)
    if "nat" in nfs:  # §9.7's other reading of "replicate every 250 us"
        from snfkit.traces.transforms import connections

        pro = st[("nat", "proactive")]
        state_wl = workloads.get("state", wl)
        packets = state_wl.packets
        if "direction" not in packets.columns:
            packets = connections(packets)
        fd.runs["diagnostics"] = {
            "replication_periodic_mbps": periodic_replication_mbps(
                packets,
                pro.params["replicas"],
                pro.params["state_bytes"],
                int(pro.params["timeout_ns"] * pro.params["replicate_after"]),
            )
        }
    if adversarial_every:
        adv = adversarial_runs(at("adversarial"), every=adversarial_every)
        fd.runs["adversarial"] = adv
        fd.frames["fig5_adversarial"] = charts.adversarial_data(adv)
    ka = k_alpha_runs(at("k_alpha"), k_values=k_values, alpha_values=alpha_values)
    fd.runs["k_alpha"] = ka
    fd.frames["fig7_k_alpha"] = charts.k_alpha_data(ka)
    sz = size_runs(at("size"), size_values=size_values)
    fd.runs["size"] = sz
    fd.frames["fig8_size_threshold"] = charts.size_threshold_data(sz)
    ctl = controller_runs(at("controllers"))
    fd.runs["controllers"] = ctl
    fd.frames["fig6_controllers"] = charts.overprovision_data(ctl)
    ft = fault_runs(run)
    fd.runs["faults"] = ft
    fd.frames["fig94_recovery"] = charts.recovery_data(ft)
    fd.frames["fig94_latency"] = charts.latency_around_failure_data(
        ft, window_ns=max(wl.duration_ns // 4, 1)
    )
    return fd


FIGURE_RUNS = {
    "fig1_provisioning": "compute",
    "fig2_latency": "compute",
    "fig3_utilization": "compute",
    "fig3_utilization_bands": "compute",
    "opportunities": "opportunities",
    "fig4_state_latency": "state",
    "fig4_seamless": "state",
    "fig7_k_alpha": "k_alpha",
    "fig8_size_threshold": "size",
    "fig94_recovery": "faults",
    "fig94_latency": "faults",
    "fig6_controllers": "controllers",
}
"""The experiment (a key of ``FigureData.runs``) behind each figure."""


def figure_subtitle(fd: FigureData, name: str) -> str:
    """The trace and the settings of figure ``name``'s runs (:func:`snfkit.charts.figure_subtitle`)."""
    from snfkit.charts.titles import figure_subtitle as subtitle

    return subtitle(fd.workload, fd.runs.get(FIGURE_RUNS.get(name, ""), {}))


def figure_chart(name: str, data: pl.DataFrame, subtitle: str | None = None):
    """The altair chart of figure ``name`` (a key of :data:`FIGURES`) drawn from its frame, with
    ``subtitle`` under its title (:func:`figure_subtitle`)."""
    from snfkit import charts

    draw = {
        "fig1_provisioning": charts.provisioning_chart,
        "fig2_latency": lambda d, subtitle: charts.latency_percentiles_chart(
            d, "Packet latency percentiles per allocation mode", subtitle=subtitle
        ),
        "fig2_latency_measured": lambda d, subtitle: charts.latency_percentiles_chart(
            d,
            "Packet latency percentiles per allocation mode (measured load estimator)",
            subtitle=subtitle,
        ),
        "fig3_utilization": charts.utilization_chart,
        "fig3_utilization_bands": charts.utilization_bands_chart,
        "opportunities": charts.opportunities_chart,
        "fig4_state_latency": charts.state_latency_chart,
        "fig4_seamless": charts.seamless_chart,
        "fig5_adversarial": charts.adversarial_chart,
        "fig7_k_alpha": charts.k_alpha_chart,
        "fig8_size_threshold": charts.size_threshold_chart,
        "fig94_recovery": charts.recovery_chart,
        "fig94_latency": charts.latency_around_failure_chart,
        "fig6_controllers": charts.overprovision_chart,
    }
    if name not in draw:
        raise ParameterError("figure", name, "one of " + ", ".join(FIGURES))
    return draw[name](data, subtitle=subtitle)


def write_figures(
    fd: FigureData,
    out: str | PathLike[str],
    formats: Iterable[str] = ("png", "svg", "html"),
    *,
    progress: Progress | None = None,
) -> list[Path]:
    """Write each figure of ``fd`` in ``formats``, its data as ``<figure>.csv``, ``claims.md`` (the
    paper's claims beside this trace's numbers) and ``index.html`` (every figure on one page).
    Returns the files written."""
    from snfkit.charts import save_chart

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    formats = list(formats)
    names = [n for n in FIGURES if n in fd.frames]
    for i, name in enumerate(names):
        frame = fd.frames[name]
        csv = out / f"{name}.csv"
        frame.with_columns(pl.col(pl.Enum).cast(pl.String)).write_csv(csv)
        written.append(csv)
        chart = figure_chart(name, frame, figure_subtitle(fd, name))
        written += save_chart(chart, out / name, formats)
        if progress is not None:
            progress(i + 1, len(names))
    claims = out / "claims.md"
    claims.write_text(claims_markdown(claims_table(fd), fd.workload) + "\n")
    written.append(claims)
    index = out / "index.html"
    index.write_text(_index_html(fd, names, "html" in formats, "png" in formats))
    written.append(index)
    return written


def _index_html(fd: FigureData, names: list[str], html: bool, png: bool) -> str:
    from html import escape

    parts = [
        f"<!doctype html><meta charset='utf-8'><title>snfkit figures</title>"
        f"<body style='font-family:sans-serif;max-width:1100px;margin:auto'>"
        f"<h1>snfkit figures</h1><p>{escape(fd.workload)}</p>"
    ]
    for name in names:
        parts.append(f"<h2>{escape(FIGURES[name])}</h2>")
        if png:
            parts.append(f"<img src='{name}.png' style='max-width:100%'>")
        if html:
            parts.append(
                f"<p><a href='{name}.html'>interactive</a> · <a href='{name}.csv'>data</a></p>"
            )
    parts.append("<p><a href='claims.md'>the paper's claims beside this trace</a></p></body>")
    return "\n".join(parts) + "\n"


def make_figures(
    trace: str | PathLike[str] | pl.DataFrame | Workload | None,
    out: str | PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    small: bool = False,
    formats: Iterable[str] = ("png", "svg", "html"),
    progress: Progress | None = None,
    **grids: Any,
) -> FigureData:
    """:func:`compute_figures` then :func:`write_figures` into ``out``; returns the data."""
    wl = trace if isinstance(trace, Workload) else workload(trace)
    fd = compute_figures(wl, params, small=small, progress=progress, **grids)
    write_figures(fd, out, formats)
    return fd


__all__ = [
    "ADVERSARIAL_EVERY",
    "ALLOCATION_RUNS",
    "FIGURES",
    "SECTIONS",
    "FigureData",
    "Workload",
    "adversarial_runs",
    "claims_markdown",
    "claims_table",
    "compute_figures",
    "compute_runs",
    "epoch_for",
    "figure_chart",
    "figure_subtitle",
    "k_alpha_runs",
    "make_figures",
    "opportunity_runs",
    "periodic_replication_mbps",
    "runs_table",
    "shared_traces",
    "size_runs",
    "small_mode",
    "state_runs",
    "workload",
    "write_figures",
]
