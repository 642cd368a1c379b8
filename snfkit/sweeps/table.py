"""A study's trials as one polars table (and parquet), and its best trials.

Columns of :func:`trials_table`, one row per trial:

- ``number`` (trial number in the study), ``state`` (COMPLETE, FAIL, RUNNING, ...), ``worker``
  (``host:pid:index`` of the process that ran it), ``started`` (datetime), ``duration_s`` (wall
  time of the whole trial), ``replay_s`` (of the replay alone);
- one column per searched parameter, named as the parameter (``timeout_ns``, ``alpha``, ...);
- one column per metric of :data:`snfkit.metrics.METRICS` (``p99_latency_us``, ...);
  the objectives are among them (their names are in ``study.user_attrs['objectives']``);
- ``feasible`` (all constraints met; null for a study without constraints or a trial without
  metrics) and ``fail_reason`` (why a FAIL trial failed; a trial whose worker was killed says so).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import polars as pl

from snfkit.metrics import METRICS

STALE_REASON = "lost: its worker stopped without finishing it (heartbeat expired)"


def _constraints(t) -> list[float] | None:
    c = getattr(t, "constraints", None)  # Optuna >= 5: {label: value}
    if isinstance(c, dict) and c:
        return list(c.values())
    legacy = t.system_attrs.get("constraints") or t.user_attrs.get("constraints")
    return list(legacy) if legacy else None


def trials_table(study) -> pl.DataFrame:
    """Every trial of ``study`` (see the module docstring for the columns)."""
    trials = study.get_trials(deepcopy=False)
    param_names: list[str] = []
    for t in trials:
        for name in t.params:
            if name not in param_names:
                param_names.append(name)
    metric_names = [m for m, spec in METRICS.items() if spec.available]
    has_constraints = any(_constraints(t) is not None for t in trials)
    rows: list[dict[str, Any]] = []
    for t in trials:
        metrics = t.user_attrs.get("metrics") or {}
        cons = _constraints(t)
        reason = t.user_attrs.get("fail_reason")
        if t.state.name == "FAIL" and reason is None:
            reason = STALE_REASON
        duration = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete is not None and t.datetime_start is not None
            else None
        )
        rows.append({
            "number": t.number,
            "state": t.state.name,
            "worker": t.user_attrs.get("worker"),
            "started": t.datetime_start,
            "duration_s": duration,
            "replay_s": t.user_attrs.get("replay_s"),
            **{p: t.params.get(p) for p in param_names},
            **{m: metrics.get(m) for m in metric_names},
            "feasible": (all(v <= 0 for v in cons) if cons is not None else None)
            if has_constraints and metrics
            else None,
            "fail_reason": reason,
        })  # fmt: skip
    schema: dict[str, Any] = {
        "number": pl.Int64,
        "state": pl.String,
        "worker": pl.String,
        "started": pl.Datetime("us"),
        "duration_s": pl.Float64,
        "replay_s": pl.Float64,
        **{p: None for p in param_names},
        **{m: pl.Float64 for m in metric_names},
        "feasible": pl.Boolean,
        "fail_reason": pl.String,
    }
    if not rows:
        return pl.DataFrame(schema={k: v or pl.Float64 for k, v in schema.items()})
    columns = {k: [r[k] for r in rows] for k in schema}
    return pl.DataFrame(
        {k: pl.Series(k, v, dtype=schema[k], strict=False) for k, v in columns.items()}
    )


def write_trials(study, path: str | PathLike[str]) -> Path:
    """Write :func:`trials_table` as parquet."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    trials_table(study).write_parquet(out)
    return out


def best_table(study) -> pl.DataFrame:
    """The best trials: the single best feasible one, or the feasible Pareto front (Optuna's
    ``best_trials``), as rows of :func:`trials_table` sorted by the first objective."""
    table = trials_table(study)
    try:
        numbers = [t.number for t in study.best_trials]
    except (ValueError, RuntimeError):
        numbers = []
    objectives = study.user_attrs.get("objectives") or []
    best = table.filter(pl.col("number").is_in(numbers))
    return best.sort(objectives[0]) if objectives and objectives[0] in best.columns else best
