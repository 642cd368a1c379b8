"""Study configurations: TOML files under ``sweeps/`` read into a validated :class:`StudyConfig`.

Layout (every key is described in docs/sweeps.md)::

    [study]
    name = "latency_vs_units"        # default: the file's stem
    n_trials = 100
    objectives = ["p99_latency_us", "mean_active_units"]      # or [{ metric = ..., direction = ... }]
    constraints = [{ metric = "p99_latency_us", max = 2000.0 }]

    [trace]                          # either a file, relative to this config ...
    path = "../../shared/traces/caida-nyc-2018-10k.pcap"
    # ... or a synthetic workload:  workload = "paper_like", seed = 0, scale = 0.02
    max_packets = 10000              # optional

    [params]                         # fixed replay parameters (flat names of snfkit.ReplayParams)
    mode = "flowlet"

    [search]                         # searched parameters
    timeout_ns = { low = 20_000, high = 5_000_000, log = true }
    alpha = { low = 0.0, high = 1.0 }
    state_mode = { choices = ["reactive", "local"] }

    [sampler]
    name = "tpe"                     # tpe, nsga2, random
    seed = 0

Every problem raises :class:`~snfkit.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

from snfkit.errors import ConfigError, ParameterError
from snfkit.metrics import DIRECTIONS, METRICS
from snfkit.params import ReplayParams
from snfkit.sweeps.samplers import SAMPLER_OPTIONS, SAMPLERS
from snfkit.sweeps.space import ParamSpec
from snfkit.sweeps.trace import TraceSpec, check_workload

FORCED = {"keep_packets": False}
"""Parameters every trial runs with; a config may not set them."""

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_TOP_KEYS = ("study", "trace", "params", "search", "sampler")
_STUDY_KEYS = ("name", "n_trials", "objectives", "constraints")
_SPEC_KEYS = ("low", "high", "log", "step", "choices", "type")


@dataclass(frozen=True)
class ObjectiveSpec:
    metric: str
    direction: str = "minimize"


@dataclass(frozen=True)
class ConstraintSpec:
    """``metric <= max`` and/or ``metric >= min``. Optuna's convention: a value <= 0 is feasible."""

    metric: str
    max: float | None = None
    min: float | None = None

    def values(self, metrics: Mapping[str, float]) -> list[float]:
        v = metrics[self.metric]
        out = []
        if self.max is not None:
            out.append(v - self.max)
        if self.min is not None:
            out.append(self.min - v)
        return out

    def labels(self) -> list[str]:
        out = []
        if self.max is not None:
            out.append(f"{self.metric}<={self.max:g}")
        if self.min is not None:
            out.append(f"{self.metric}>={self.min:g}")
        return out


@dataclass(frozen=True)
class SamplerSpec:
    name: str = "tpe"
    seed: int = 0
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class StudyConfig:
    """A validated study. ``base_dir`` is where relative paths and the default storage live."""

    name: str
    n_trials: int
    trace: TraceSpec
    search: tuple[ParamSpec, ...]
    objectives: tuple[ObjectiveSpec, ...]
    constraints: tuple[ConstraintSpec, ...] = ()
    fixed: tuple[tuple[str, Any], ...] = ()
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    source: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def metric_names(self) -> list[str]:
        return [o.metric for o in self.objectives]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def default_storage(self) -> str:
        """SQLite file beside the config: ``<config dir>/<config stem or study name>.db``."""
        stem = self.source.stem if self.source is not None else self.name
        return f"sqlite:///{(self.base_dir / f'{stem}.db').resolve()}"

    def fingerprint(self) -> str:
        """What a resumed study must share with the one in the storage (JSON): trace, fixed
        parameters, search space, objectives and constraints. n_trials and the sampler may change."""
        return json.dumps(
            {
                "trace": self.trace.describe(),
                "fixed": dict(self.fixed),
                "search": {p.name: p.describe() for p in self.search},
                "objectives": [[o.metric, o.direction] for o in self.objectives],
                "constraints": [c.labels() for c in self.constraints],
            },
            sort_keys=True,
            default=str,
        )

    def with_trials(self, n_trials: int) -> StudyConfig:
        return replace(self, n_trials=n_trials)


def load_config(path: str | PathLike[str]) -> StudyConfig:
    """Read and validate a TOML study config. Relative trace paths are relative to the file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(p, "<file>", f"cannot read the config: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(p, "<file>", f"not valid TOML: {exc}") from None
    return config_from_dict(data, base_dir=p.resolve().parent, source=p)


def config_from_dict(
    data: Mapping[str, Any],
    *,
    base_dir: str | PathLike[str] | None = None,
    source: str | PathLike[str] | None = None,
) -> StudyConfig:
    """Validate a config given as a dict (the TOML layout). ``source`` only names it in errors."""
    src = Path(source) if source is not None else None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    only_keys(data, _TOP_KEYS, "", src)
    study = table_of(data, "study", src, required=True)
    only_keys(study, _STUDY_KEYS, "study.", src)

    name = study.get("name", src.stem if src is not None else None)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(src, "study.name", f"{name!r}: expected a name of letters, digits, _.-")
    n_trials = study.get("n_trials")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(src, "study.n_trials", f"{n_trials!r}: expected an integer >= 1")

    objectives = _objectives(study.get("objectives"), src)
    constraints = _constraints(study.get("constraints", []), src)
    trace = _trace(table_of(data, "trace", src, required=True), base, src)
    fixed = fixed_params(table_of(data, "params", src), src)
    search = _search(table_of(data, "search", src, required=True), fixed, src)
    sampler = _sampler(table_of(data, "sampler", src), src)
    return StudyConfig(
        name=name,
        n_trials=n_trials,
        trace=trace,
        search=search,
        objectives=objectives,
        constraints=constraints,
        fixed=tuple(fixed.items()),
        sampler=sampler,
        source=src,
        base_dir=base,
    )


# -- helpers ----------------------------------------------------------------------------------


def only_keys(d: Mapping[str, Any], allowed: tuple[str, ...], prefix: str, src) -> None:
    for key in d:
        if key not in allowed:
            raise ConfigError(
                src, f"{prefix}{key}", f"unknown key; expected one of {', '.join(allowed)}"
            )


def table_of(data: Mapping[str, Any], key: str, src, *, required: bool = False) -> dict[str, Any]:
    if key not in data:
        if required:
            raise ConfigError(src, key, f"missing: the config needs a [{key}] table")
        return {}
    value = data[key]
    if not isinstance(value, Mapping):
        raise ConfigError(src, key, f"expected a table, found {type(value).__name__}")
    return dict(value)


def _metric(name: Any, key: str, src) -> str:
    if not isinstance(name, str) or name not in METRICS:
        known = ", ".join(n for n, m in METRICS.items() if m.available)
        raise ConfigError(src, key, f"unknown metric {name!r}; expected one of {known}")
    if not METRICS[name].available:
        raise ConfigError(src, key, f"metric {name!r} is not available yet: {METRICS[name].doc}")
    return name


def _objectives(value: Any, src) -> tuple[ObjectiveSpec, ...]:
    if value is None:
        raise ConfigError(src, "study.objectives", "missing: name one or more metrics to minimize")
    if isinstance(value, str | Mapping):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(src, "study.objectives", "expected a non-empty list of metric names")
    out = []
    for i, item in enumerate(value):
        key = f"study.objectives[{i}]"
        if isinstance(item, Mapping):
            only_keys(item, ("metric", "direction"), key + ".", src)
            metric = _metric(item.get("metric"), key + ".metric", src)
            direction = item.get("direction", METRICS[metric].direction)
            if direction not in DIRECTIONS:
                raise ConfigError(src, key + ".direction", f"{direction!r}: expected {DIRECTIONS}")
        else:
            metric = _metric(item, key, src)
            direction = METRICS[metric].direction
        out.append(ObjectiveSpec(metric, direction))
    names = [o.metric for o in out]
    if len(set(names)) != len(names):
        raise ConfigError(src, "study.objectives", f"a metric appears twice: {names}")
    return tuple(out)


def _number(value: Any, key: str, src) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(src, key, f"{value!r}: expected a number")
    return float(value)


def _constraints(value: Any, src) -> tuple[ConstraintSpec, ...]:
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(src, "study.constraints", "expected a list of {metric, max/min} tables")
    out = []
    for i, item in enumerate(value):
        key = f"study.constraints[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(src, key, "expected a table { metric = ..., max = ... }")
        only_keys(item, ("metric", "max", "min"), key + ".", src)
        metric = _metric(item.get("metric"), key + ".metric", src)
        hi = _number(item["max"], key + ".max", src) if "max" in item else None
        lo = _number(item["min"], key + ".min", src) if "min" in item else None
        if hi is None and lo is None:
            raise ConfigError(src, key, "give max and/or min")
        if hi is not None and lo is not None and lo > hi:
            raise ConfigError(src, key, f"min {lo:g} is above max {hi:g}: nothing is feasible")
        out.append(ConstraintSpec(metric, hi, lo))
    return tuple(out)


def _trace(t: dict[str, Any], base: Path, src) -> TraceSpec:
    max_packets = t.pop("max_packets", None)
    if max_packets is not None and (
        isinstance(max_packets, bool) or not isinstance(max_packets, int) or max_packets < 1
    ):
        raise ConfigError(src, "trace.max_packets", f"{max_packets!r}: expected an integer >= 1")
    if ("path" in t) == ("workload" in t):
        raise ConfigError(src, "trace", "give exactly one of path (a file) or workload (synthetic)")
    if "path" in t:
        only_keys(t, ("path",), "trace.", src)
        if not isinstance(t["path"], str) or not t["path"]:
            raise ConfigError(src, "trace.path", f"{t['path']!r}: expected a file path")
        path = (base / Path(t["path"]).expanduser()).resolve()
        if not path.is_file():
            raise ConfigError(
                src,
                "trace.path",
                f"cannot read the trace: {path} does not exist or is not a file",
            )
        return TraceSpec(path=path, max_packets=max_packets)
    workload = t.pop("workload")
    check_workload(workload, t, src)
    return TraceSpec(workload=workload, options=tuple(sorted(t.items())), max_packets=max_packets)


def _valid_names() -> list[str]:
    return sorted(ReplayParams().flat())


def _unknown_param(name: str, key: str, src) -> ConfigError:
    return ConfigError(
        src, key, f"unknown replay parameter {name!r}; valid names: {', '.join(_valid_names())}"
    )


def check_params(values: dict[str, Any], blame: dict[str, str], src) -> None:
    """Build ReplayParams from ``values``; blame a ParameterError on the config key of its name."""
    try:
        ReplayParams.from_flat(**values)
    except ParameterError as exc:
        key = blame.get(exc.name, f"params.{exc.name}")
        raise ConfigError(src, key, str(exc)) from None


def fixed_params(params: dict[str, Any], src) -> dict[str, Any]:
    defaults = ReplayParams().flat()
    for name in params:
        if name in FORCED:
            raise ConfigError(
                src, f"params.{name}", f"trials always run with {name}={FORCED[name]}"
            )
        if name not in defaults:
            raise _unknown_param(name, f"params.{name}", src)
    check_params(params, {n: f"params.{n}" for n in params}, src)
    return params


def _search(search: dict[str, Any], fixed: dict[str, Any], src) -> tuple[ParamSpec, ...]:
    if not search:
        raise ConfigError(src, "search", "empty: name at least one parameter to search")
    defaults = ReplayParams().flat()
    specs = []
    for name, raw in search.items():
        key = f"search.{name}"
        if name in FORCED:
            raise ConfigError(src, key, f"trials always run with {name}={FORCED[name]}")
        if name not in defaults:
            raise _unknown_param(name, key, src)
        if name in fixed:
            raise ConfigError(src, key, "is also fixed in [params]; keep one of the two")
        if not isinstance(raw, Mapping):
            raise ConfigError(src, key, "expected a table { low = ..., high = ... } or { choices }")
        spec = param_spec(name, dict(raw), defaults[name], key, src)
        for value in spec.corners():
            check_params(
                {**fixed, name: value},
                {name: f"{key}.{'choices' if spec.kind == 'categorical' else 'low/high'}"},
                src,
            )
        specs.append(spec)
    return tuple(specs)


def param_spec(name: str, raw: dict[str, Any], default: Any, key: str, src) -> ParamSpec:
    only_keys(raw, _SPEC_KEYS, key + ".", src)
    kind = raw.get("type")
    if kind is None:
        if "choices" in raw or isinstance(default, bool | str):
            kind = "categorical"
        else:
            kind = "int" if isinstance(default, int) else "float"
    if kind not in ("int", "float", "categorical"):
        raise ConfigError(src, key + ".type", f"{kind!r}: expected int, float or categorical")
    if kind == "categorical":
        choices = raw.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(src, key + ".choices", "expected a non-empty list of values")
        if len({json.dumps(c) for c in choices}) != len(choices):
            raise ConfigError(src, key + ".choices", f"a value appears twice: {choices}")
        extra = [k for k in ("low", "high", "log", "step") if k in raw]
        if extra:
            raise ConfigError(src, f"{key}.{extra[0]}", "not allowed with choices")
        return ParamSpec(name, "categorical", choices=tuple(choices))
    if "choices" in raw:
        raise ConfigError(src, key + ".choices", f"not allowed for a {kind} range (type = {kind})")
    for bound in ("low", "high"):
        if bound not in raw:
            raise ConfigError(src, f"{key}.{bound}", "missing: a range needs low and high")
    low = _number(raw["low"], key + ".low", src)
    high = _number(raw["high"], key + ".high", src)
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(src, key + ".log", f"{log!r}: expected true or false")
    step = raw.get("step")
    if step is not None:
        step = _number(step, key + ".step", src)
        if step <= 0:
            raise ConfigError(src, key + ".step", f"{step:g}: expected a number > 0")
        if log:
            raise ConfigError(src, key + ".step", "not allowed with log = true")
    if kind == "int":
        for bound, v in (("low", low), ("high", high), ("step", step)):
            if v is not None and not float(v).is_integer():
                raise ConfigError(src, f"{key}.{bound}", f"{v:g}: {name} is an integer parameter")
    if not low < high:
        raise ConfigError(src, key, f"empty range: low ({low:g}) must be below high ({high:g})")
    if log and low <= 0:
        raise ConfigError(src, key + ".low", f"{low:g}: a log range needs low > 0")
    if kind == "int":
        return ParamSpec(
            name, "int", int(low), int(high), log, int(step) if step is not None else None
        )
    return ParamSpec(name, "float", low, high, log, step)


def _sampler(s: dict[str, Any], src) -> SamplerSpec:
    name = s.pop("name", "tpe")
    if name not in SAMPLERS:
        raise ConfigError(
            src, "sampler.name", f"unknown sampler {name!r}; expected one of {SAMPLERS}"
        )
    seed = s.pop("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(src, "sampler.seed", f"{seed!r}: expected an integer >= 0")
    allowed = SAMPLER_OPTIONS[name]
    for key, value in s.items():
        if key not in allowed:
            opts = ", ".join(["name", "seed", *allowed])
            raise ConfigError(src, f"sampler.{key}", f"{name} takes no option {key!r} ({opts})")
        typ = allowed[key]
        if isinstance(value, bool) != (typ is bool) or not isinstance(value, typ):
            raise ConfigError(src, f"sampler.{key}", f"{value!r}: expected {typ.__name__}")
    if name == "nsga2" and s.get("population_size", 2) < 2:
        raise ConfigError(src, "sampler.population_size", "expected an integer >= 2")
    if name == "tpe" and s.get("n_startup_trials", 0) < 0:
        raise ConfigError(src, "sampler.n_startup_trials", "expected an integer >= 0")
    return SamplerSpec(name, seed, tuple(sorted(s.items())))
