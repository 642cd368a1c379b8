"""Failure schedules: explicit :class:`Failure` rows or a seeded :func:`random_failures` process,
checked and turned into the kernel's schedule array (:data:`snfkit.engine.faults_nb.FAIL_COLUMNS`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from snfkit.engine.enums import FailureKind, code, names
from snfkit.engine.faults_nb import F_KIND, F_TARGET, F_TIME, FAIL_COLUMNS
from snfkit.errors import ParameterError

KINDS = tuple(name.replace("_", "+") for name in names(FailureKind))
"""The failure kinds as users write them: unit, ol, controller, unit+controller, ol+controller,
unit+ol (a unit and its own OL: the case the paper does not protect; the state is lost)."""


def _kind(kind: Any, where: str) -> str:
    name = kind.replace("+", "_") if isinstance(kind, str) else kind
    if not isinstance(name, str) or name not in names(FailureKind):
        raise ParameterError(where, kind, "one of " + ", ".join(repr(k) for k in KINDS))
    return name


@dataclass(frozen=True)
class Failure:
    """One fail-stop failure.

    time_ns: when, in ns after the trace's first packet (within the trace).
    kind: one of :data:`KINDS`.
    target: the unit ID that fails (kinds with a unit), the OL index (kinds ``ol`` and
        ``ol+controller``; unit u logs to OL u // units_per_ol), or -1 (default): a unit active
        at that time, drawn with the replay's seed. Ignored for ``controller``.
    """

    time_ns: int
    kind: str = "unit"
    target: int = -1

    def __post_init__(self) -> None:
        t = self.time_ns
        if isinstance(t, bool) or not isinstance(t, int | np.integer) or t < 0:
            raise ParameterError(
                "Failure.time_ns", t, "an integer >= 0 (ns after the first packet)"
            )
        _kind(self.kind, "Failure.kind")
        tg = self.target
        if isinstance(tg, bool) or not isinstance(tg, int | np.integer) or tg < -1:
            raise ParameterError("Failure.target", tg, "a unit ID or OL index >= 0, or -1 (drawn)")


@dataclass(frozen=True)
class RandomFailures:
    """A Poisson process of failures (see :func:`random_failures`)."""

    rate_per_s: float
    kinds: tuple[str, ...] = ("unit",)
    seed: int = 0

    def draw(self, span_ns: int) -> list[Failure]:
        """The failures within ``span_ns`` after the first packet: exponential gaps of mean
        1 / rate, each a kind drawn uniformly from ``kinds``, its target drawn by the replay."""
        rng = np.random.default_rng(self.seed)
        out, t = [], 0.0
        mean_gap_ns = 1e9 / self.rate_per_s
        while True:
            t += rng.exponential(mean_gap_ns)
            if t > span_ns:
                return out
            out.append(Failure(int(t), str(rng.choice(self.kinds)), -1))


def random_failures(
    rate_per_s: float, kinds: Iterable[str] = ("unit",), seed: int = 0
) -> RandomFailures:
    """Failures at a rate (per second of trace time), of the given kinds, reproducible by seed."""
    if (
        isinstance(rate_per_s, bool)
        or not isinstance(rate_per_s, int | float)
        or not (0 < rate_per_s <= 1e9)
    ):
        raise ParameterError("rate_per_s", rate_per_s, "a number in (0, 1e9]")
    kinds = tuple(kinds) if not isinstance(kinds, str) else (kinds,)
    if not kinds:
        raise ParameterError("kinds", kinds, "at least one of " + ", ".join(KINDS))
    for k in kinds:
        _kind(k, "kinds")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ParameterError("seed", seed, "an integer in [0, 2**63)")
    return RandomFailures(float(rate_per_s), kinds, seed)


_SPEC = re.compile(
    r"^(?P<kind>[a-z+_]+)(?::(?P<target>\d+))?@(?P<time>[0-9.]+)(?P<unit>ns|us|ms|s)?$"
)
_SCALE = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


def parse_failure(text: str) -> Failure:
    """``KIND[:TARGET]@TIME[ns|us|ms|s]`` (the CLI's ``--fail``), e.g. ``unit:3@10ms``,
    ``controller@20ms``, ``unit+ol@1.5s``; time after the trace's first packet (default unit ns)."""
    m = _SPEC.match(text.strip())
    if m is None:
        raise ParameterError(
            "--fail", text, "KIND[:TARGET]@TIME[ns|us|ms|s], e.g. unit:3@10ms or controller@20ms"
        )
    try:
        t = float(m["time"]) * _SCALE[m["unit"] or "ns"]
    except ValueError:
        raise ParameterError("--fail", text, "a number of ns, us, ms or s after '@'") from None
    target = int(m["target"]) if m["target"] is not None else -1
    return Failure(round(t), m["kind"], target)


def schedule_array(failures: Any, span_ns: int | None, max_units: int, units_per_ol: int):
    """The kernel's schedule (int64 [n, len(FAIL_COLUMNS)], by time) from a list of
    :class:`Failure` (or a :class:`RandomFailures` process, drawn over ``span_ns``). Targets beyond
    the pool and times beyond ``span_ns`` (when known) raise ParameterError naming the failure."""
    if failures is None:
        failures = []
    if isinstance(failures, RandomFailures):
        if span_ns is None:
            raise ParameterError(
                "failures", "random_failures(...)", "a packets table or a prepared trace (its span)"
            )
        failures = failures.draw(span_ns)
    if isinstance(failures, Failure):
        failures = [failures]
    try:
        failures = list(failures)
    except TypeError:
        raise ParameterError(
            "failures", type(failures).__name__, "a list of snfkit.Failure or random_failures(...)"
        ) from None
    n_ols = -(-max_units // units_per_ol)
    rows = np.zeros((len(failures), len(FAIL_COLUMNS)), np.int64)
    for k, fail in enumerate(failures):
        if not isinstance(fail, Failure):
            raise ParameterError(f"failures[{k}]", fail, "an snfkit.Failure")
        kind = _kind(fail.kind, f"failures[{k}].kind")
        is_ol = kind in ("ol", "ol_controller")
        limit = n_ols if is_ol else max_units
        if kind != "controller" and fail.target >= limit:
            what = (
                f"an OL index below {n_ols}" if is_ol else f"a unit ID below max_units={max_units}"
            )
            raise ParameterError(f"failures[{k}].target", fail.target, what + " (or -1: drawn)")
        if span_ns is not None and fail.time_ns > span_ns:
            raise ParameterError(
                f"failures[{k}].time_ns",
                fail.time_ns,
                f"a time within the trace: 0 to {span_ns} ns after its first packet",
            )
        rows[k, F_TIME] = fail.time_ns
        rows[k, F_KIND] = code(FailureKind, kind)
        rows[k, F_TARGET] = -1 if kind == "controller" else fail.target
    order = np.argsort(rows[:, F_TIME], kind="stable")
    return rows[order]
