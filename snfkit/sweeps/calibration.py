"""Calibration: an Optuna study that fits the settings the paper does not state to numbers it does.

The paper states its parameters (T, B, alpha, K, BW_max = 1 Gbps, load buckets) but not the offered
load of each figure, a unit's per-byte processing cost, or how long moving state takes. A
calibration searches those unknowns so that a few of the paper's numbers come out, and every other
claim is then measured under the fitted settings, out of sample (docs/REPRODUCTION.md).

A config (``sweeps/paper_calibration.toml``)::

    [study]
    name = "paper_calibration"
    n_trials = 48
    # base = "paper_calibration"  # start from that study's fitted settings (a later stage)

    [trace]                      # a workload of snfkit.workloads.presets, its options
    workload = "paper_trace"
    seed = 0
    scale = 0.05

    [params]                     # fixed replay parameters (flat names of snfkit.ReplayParams)
    nf_cost = true

    [search]                     # searched: replay parameters, and load_gbps (the trace's load)
    load_gbps = { low = 0.2, high = 3.0, log = true }
    per_byte_ps = { low = 0, high = 400 }

    [[targets]]                  # one paper number each: a replay (run) and a metric of it
    # (run.adversarial_every = N replays the trace with bursts in every N-th flow, as Fig 5)
    name = "nat_p99_proactive"
    run = { state_mode = "proactive" }
    metric = "p99_latency_us"
    value = 11.01

    [sampler]                    # TPE: seed, startup trials, multivariate (default true)
    seed = 0
    n_startup_trials = 12

Every run replays the workload with the NAT (``nf``; flows keyed by connection) and the run's
parameters on top of the fixed and searched ones. ``load_gbps`` sets the trace's load the way the
paper does it, by dividing every inter-arrival time of the workload made at its native rate
(:func:`snfkit.traces.transforms.speedup`), so the trace is made once and each trial only rescales
it. The loss is the root mean square of ``ln(measured / value)`` over the targets: a factor of 2 on
every target is a loss of 0.69. Trials are TPE samples (seeded); the study lives in an SQLite file
beside the config unless ``storage`` says otherwise.

Run it with ``python -m snfkit.sweeps.calibration sweeps/paper_calibration.toml [--trials N]
[--write]``; ``--write`` stores the best trial as the preset :func:`snfkit.presets.paper_calibrated`
reads (``snfkit/sweeps/data/<study>.json``), stamped with the config's fingerprint.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from os import PathLike
from pathlib import Path
from typing import Any

from snfkit.errors import ConfigError
from snfkit.results import Results
from snfkit.sweeps.config import check_params, fixed_params, only_keys, param_spec, table_of
from snfkit.sweeps.space import ParamSpec

TRACE_OPTIONS = ("load_gbps",)
"""Searched names that set the trace (its offered load), not the replay."""

TARGET_METRICS: dict[str, Callable[[Results], float]] = {
    "p50_latency_us": lambda r: float(r.summary["latency_us"]["p50"]),
    "p99_latency_us": lambda r: float(r.summary["latency_us"]["p99"]),
    "seamless_pct": lambda r: 100.0 * float(r.summary["seamless_share"] or 0.0),
    "mean_active_units": lambda r: float(r.summary["mean_active_units"]),
}
"""Metrics a target may name (a seamless share with no moved flowlet counts as 0)."""

DATA = Path(__file__).resolve().parent / "data"
"""Where ``--write`` stores fitted settings (shipped with the package)."""


@dataclass(frozen=True)
class Target:
    """One paper number: replay ``run`` (extra parameters) and read ``metric``; want ``value``."""

    name: str
    run: tuple[tuple[str, Any], ...]
    metric: str
    value: float


@dataclass(frozen=True)
class CalibrationConfig:
    """A validated calibration config (module docstring)."""

    source: str
    name: str
    n_trials: int
    workload: str
    trace: tuple[tuple[str, Any], ...]
    fixed: dict[str, Any]
    search: tuple[ParamSpec, ...]
    targets: tuple[Target, ...]
    nf: str = "nat"
    seed: int = 0
    n_startup_trials: int = 12
    multivariate: bool = True
    base: Path = field(default=Path("."), compare=False)

    def fingerprint(self) -> str:
        """A hash of everything that decides a trial's outcome (not ``n_trials``)."""
        doc = {
            "workload": self.workload,
            "trace": list(self.trace),
            "fixed": self.fixed,
            "search": [s.describe() for s in self.search],
            "targets": [[t.name, list(t.run), t.metric, t.value] for t in self.targets],
            "nf": self.nf,
            "seed": self.seed,
            "n_startup_trials": self.n_startup_trials,
            "multivariate": self.multivariate,
        }
        text = json.dumps(doc, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def replay_params(fixed: Mapping[str, Any]) -> dict[str, Any]:
    """The replay parameters among a config's fixed values (``_base`` names the study they
    started from)."""
    return {k: v for k, v in fixed.items() if not k.startswith("_")}


def load_calibration(path: str | PathLike[str]) -> CalibrationConfig:
    """Read and check a calibration config; a problem is a ConfigError naming the key."""
    from snfkit.sweeps.trace import check_workload

    path = Path(path)
    src = str(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(src, "file", str(e)) from None
    only_keys(data, ("study", "trace", "params", "search", "targets", "sampler"), "", src)
    study = table_of(data, "study", src, required=True)
    only_keys(study, ("name", "n_trials", "nf", "base"), "study.", src)
    n_trials = study.get("n_trials", 48)
    if not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(src, "study.n_trials", f"{n_trials!r}: expected an integer >= 1")
    trace = table_of(data, "trace", src, required=True)
    workload = trace.pop("workload", None)
    if not isinstance(workload, str):
        raise ConfigError(src, "trace.workload", "expected a workload name")
    check_workload(workload, trace, src)
    fixed = fixed_params(table_of(data, "params", src), src)
    base_study = study.get("base")
    if base_study is not None:  # start from another study's fitted settings
        record = DATA / f"{base_study}.json"
        if not isinstance(base_study, str) or not record.is_file():
            raise ConfigError(src, "study.base", f"{base_study!r}: no fitted study of that name")
        rec = json.loads(record.read_text())
        inherited = {k: v for k, v in rec["values"].items() if k not in TRACE_OPTIONS}
        fixed = {**rec["fixed"], **inherited, **fixed}
        fixed["_base"] = f"{base_study}@{rec['fingerprint']}"
    search_raw = table_of(data, "search", src, required=True)
    defaults = {"load_gbps": 1.0}
    from snfkit.params import ReplayParams

    defaults.update(ReplayParams().flat())
    specs = []
    for name, raw in search_raw.items():
        key = f"search.{name}"
        if name not in defaults:
            raise ConfigError(src, key, "not a replay parameter or a trace option (load_gbps)")
        if name in fixed or name in trace:
            raise ConfigError(src, key, "is also fixed; keep one of the two")
        if not isinstance(raw, Mapping):
            raise ConfigError(src, key, "expected a table { low = ..., high = ... }")
        spec = param_spec(name, dict(raw), defaults[name], key, src)
        if name not in TRACE_OPTIONS:
            for value in spec.corners():
                check_params({**replay_params(fixed), name: value}, {name: key}, src)
        specs.append(spec)
    targets = []
    for i, raw in enumerate(data.get("targets") or []):
        key = f"targets[{i}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(src, key, "expected a table")
        only_keys(raw, ("name", "run", "metric", "value"), key + ".", src)
        run = raw.get("run", {})
        if not isinstance(run, Mapping):
            raise ConfigError(src, key + ".run", "expected a table of replay parameters")
        every = run.get("adversarial_every", 1)
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ConfigError(src, key + ".run.adversarial_every", f"{every!r}: an integer >= 1")
        plain = {k: v for k, v in run.items() if k != "adversarial_every"}
        check_params({**replay_params(fixed), **plain}, {k: f"{key}.run.{k}" for k in plain}, src)
        metric = raw.get("metric")
        if metric not in TARGET_METRICS:
            raise ConfigError(
                src, key + ".metric", f"{metric!r} is not one of {sorted(TARGET_METRICS)}"
            )
        value = raw.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(src, key + ".value", f"{value!r}: expected a number > 0")
        name = raw.get("name", f"{metric}@{i}")
        targets.append(Target(str(name), tuple(sorted(run.items())), metric, float(value)))
    if not targets:
        raise ConfigError(src, "targets", "empty: give at least one [[targets]] table")
    sampler = table_of(data, "sampler", src)
    only_keys(sampler, ("seed", "n_startup_trials", "multivariate"), "sampler.", src)
    multivariate = sampler.get("multivariate", True)
    if not isinstance(multivariate, bool):
        raise ConfigError(src, "sampler.multivariate", f"{multivariate!r}: expected true or false")
    return CalibrationConfig(
        source=src,
        name=str(study.get("name", path.stem)),
        n_trials=n_trials,
        workload=workload,
        trace=tuple(sorted(trace.items())),
        fixed=fixed,
        search=tuple(specs),
        targets=tuple(targets),
        nf=str(study.get("nf", "nat")),
        seed=int(sampler.get("seed", 0)),
        n_startup_trials=int(sampler.get("n_startup_trials", 12)),
        multivariate=multivariate,
        base=path.parent,
    )


@cache
def _native(workload: str, trace: tuple[tuple[str, Any], ...]):
    """The workload at its native rate (no speedup), keyed by connection, and that rate (Gbps)."""
    import inspect

    from snfkit.sweeps.trace import workloads
    from snfkit.traces.transforms import connections, mean_gbps

    opts = dict(trace)
    make = workloads()[workload]
    if "native_gbps" in inspect.signature(make).parameters:  # paper_trace: its native rate
        from snfkit.workloads.presets import PAPER_TRACE_NATIVE_GBPS

        native = opts.get("native_gbps", PAPER_TRACE_NATIVE_GBPS)
        opts["load_gbps"] = native  # so that the speedup below is paper_trace's own, bit for bit
        return connections(make(**opts)), float(native)
    packets = connections(make(**opts))
    return packets, mean_gbps(packets)


def workload_at(config: CalibrationConfig, load_gbps: float | None):
    """The config's workload with its inter-arrival times divided to give ``load_gbps`` (None:
    as made), keyed by connection."""
    from snfkit.traces.transforms import speedup

    packets, native = _native(config.workload, config.trace)
    return packets if load_gbps is None else speedup(packets, load_gbps / native)


def evaluate(config: CalibrationConfig, values: Mapping[str, Any]) -> dict[str, float]:
    """Replay each distinct target run at the settings ``values`` (searched names; the rest from
    the config) and return every target's measured metric, by target name."""
    from snfkit import prepare_trace, replay
    from snfkit.workloads import inject_adversarial_flowlets

    packets = workload_at(config, values.get("load_gbps"))
    traces: dict[int, Any] = {}
    params = {**replay_params(config.fixed)}
    params.update({k: v for k, v in values.items() if k not in TRACE_OPTIONS})
    done: dict[tuple, Results] = {}
    out = {}
    for t in config.targets:
        run = dict(t.run)
        every = run.pop("adversarial_every", 1)  # Fig 5: bursts in every N-th flow
        if every not in traces:
            table = (
                packets if every == 1 else inject_adversarial_flowlets(packets, every, seed=0)[0]
            )
            traces[every] = prepare_trace(table)
        if t.run not in done:
            done[t.run] = replay(traces[every], nf=config.nf, keep_packets=False, **params, **run)
        out[t.name] = TARGET_METRICS[t.metric](done[t.run])
    return out


def loss(config: CalibrationConfig, measured: Mapping[str, float]) -> float:
    """Root mean square of ln(measured / value) over the targets (a zero measurement counts as
    a thousandth of the target)."""
    logs = [math.log(max(measured[t.name], t.value * 1e-3) / t.value) for t in config.targets]
    return math.sqrt(sum(x * x for x in logs) / len(logs))


def run_calibration(
    config: CalibrationConfig, n_trials: int | None = None, storage: str | None = None
):
    """Run (or resume) the study: ``n_trials`` more trials (default: up to the config's count).
    Each trial stores its measured targets as user attributes."""
    import optuna

    from snfkit.sweeps.study import make_storage, quiet_optuna

    url = storage or f"sqlite:///{(config.base / config.name).with_suffix('.db')}"
    with quiet_optuna():
        study = optuna.create_study(
            study_name=config.name,
            storage=make_storage(url, source=config.source),
            sampler=optuna.samplers.TPESampler(
                seed=config.seed,
                n_startup_trials=config.n_startup_trials,
                multivariate=config.multivariate,
            ),
            load_if_exists=True,
        )
    stored = study.user_attrs.get("fingerprint")
    if stored is None:
        study.set_user_attr("fingerprint", config.fingerprint())
    elif stored != config.fingerprint():
        raise ConfigError(
            config.source, "study.name", f"study {config.name!r} in {url} was made from another "
            "config; give this one a new study.name or delete the old study"
        )  # fmt: skip

    def objective(trial) -> float:
        values = {s.name: s.suggest(trial) for s in config.search}
        measured = evaluate(config, values)
        for k, v in measured.items():
            trial.set_user_attr(k, v)
        return loss(config, measured)

    done = len([t for t in study.trials if t.state.name == "COMPLETE"])
    todo = n_trials if n_trials is not None else max(0, config.n_trials - done)
    with quiet_optuna():
        study.optimize(objective, n_trials=todo)
    return study


def fitted(study, config: CalibrationConfig) -> dict[str, Any]:
    """The best trial as the preset's record: study, config fingerprint, trial number, loss, the
    fitted values, the fixed parameters, the workload and each target beside its measurement."""
    best = study.best_trial
    return {
        "study": config.name,
        "config": Path(config.source).name,
        "fingerprint": config.fingerprint(),
        "trials": len(study.trials),
        "best_trial": best.number,
        "loss": best.value,
        "workload": {"name": config.workload, **dict(config.trace)},
        "fixed": config.fixed,
        "values": dict(best.params),
        "targets": {
            t.name: {"paper": t.value, "measured": best.user_attrs.get(t.name)}
            for t in config.targets
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument(
        "--trials", type=int, default=None, help="more trials to run (default: to n_trials)"
    )
    ap.add_argument("--storage", default=None)
    ap.add_argument("--write", action="store_true", help="store the best trial as the preset")
    args = ap.parse_args(argv)
    config = load_calibration(args.config)
    study = run_calibration(config, args.trials, args.storage)
    rec = fitted(study, config)
    print(json.dumps(rec, indent=2))
    if args.write:
        DATA.mkdir(exist_ok=True)
        (DATA / f"{config.name}.json").write_text(json.dumps(rec, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "TARGET_METRICS",
    "CalibrationConfig",
    "Target",
    "evaluate",
    "fitted",
    "load_calibration",
    "loss",
    "run_calibration",
    "workload_at",
]
