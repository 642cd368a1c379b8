"""Study charts in pairs, as in :mod:`snfkit.charts`: ``*_data()`` returns the tidy polars frame
(tested), ``*_chart()`` only draws it with altair.

- :func:`pareto_front_data` / :func:`pareto_front_chart`: two metrics of every complete trial, the
  non-dominated (feasible) ones marked and joined by a line.
- :func:`importance_data` / :func:`importance_chart`: parameter importance per metric
  (``optuna.importance`` with the PED-ANOVA evaluator, which needs no scikit-learn).
- :func:`slice_data` / :func:`slice_chart`: each parameter against a metric, one panel per parameter.

The data functions take the trials table of :func:`snfkit.sweeps.trials_table` (or the study, for
importance).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from snfkit.sweeps.table import trials_table

_PARETO_SCHEMA = {
    "number": pl.Int64,
    "x_metric": pl.String,
    "x": pl.Float64,
    "y_metric": pl.String,
    "y": pl.Float64,
    "feasible": pl.Boolean,
    "on_front": pl.Boolean,
}


def pareto_mask(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[bool]:
    """True for each point that no other point dominates (at least as good in every objective,
    better in one). ``directions``: 'minimize' or 'maximize' per coordinate."""
    sign = [1.0 if d == "minimize" else -1.0 for d in directions]
    pts = [[s * v for s, v in zip(sign, p, strict=True)] for p in points]
    out = []
    for i, p in enumerate(pts):
        dominated = any(
            all(a <= b for a, b in zip(q, p, strict=True))
            and any(a < b for a, b in zip(q, p, strict=True))
            for j, q in enumerate(pts)
            if j != i
        )
        out.append(not dominated)
    return out


_NOT_PARAMS = set("number state worker started duration_s replay_s feasible fail_reason".split())
"""Trials-table columns that are bookkeeping, not searched parameters."""


def param_columns(trials: pl.DataFrame) -> list[str]:
    """The searched parameters among the trials table's columns (neither bookkeeping nor a
    metric)."""
    from snfkit.metrics import METRICS

    return [c for c in trials.columns if c not in _NOT_PARAMS and c not in METRICS]


def pareto_front_data(
    trials: pl.DataFrame,
    x: str,
    y: str,
    directions: Sequence[str] = ("minimize", "minimize"),
    params: Sequence[str] | None = None,
) -> pl.DataFrame:
    """One row per COMPLETE trial: ``number``, ``x_metric``, ``x``, ``y_metric``, ``y``,
    ``feasible`` (constraints met, or True without constraints), ``on_front`` (non-dominated in
    (x, y) among the feasible trials), then the trial's parameters (``params``, default
    :func:`param_columns`), which the chart shows when the pointer is on a point."""
    for col in (x, y):
        if col not in trials.columns:
            raise KeyError(f"{col!r} is not a column of the trials table")
    done = trials.filter(
        (pl.col("state") == "COMPLETE") & pl.col(x).is_not_null() & pl.col(y).is_not_null()
    )
    params = [p for p in (param_columns(trials) if params is None else params) if p not in (x, y)]
    if done.height == 0:
        return pl.DataFrame(schema={**_PARETO_SCHEMA, **{p: trials.schema[p] for p in params}})
    feasible = done["feasible"].fill_null(True).to_list()
    xs, ys = done[x].cast(pl.Float64).to_list(), done[y].cast(pl.Float64).to_list()
    idx = [i for i, f in enumerate(feasible) if f]
    mask = pareto_mask([(xs[i], ys[i]) for i in idx], directions)
    front = {idx[k] for k, m in enumerate(mask) if m}
    return (
        pl.DataFrame(
            {
                "number": done["number"],
                "x_metric": [x] * done.height,
                "x": xs,
                "y_metric": [y] * done.height,
                "y": ys,
                "feasible": feasible,
                "on_front": [i in front for i in range(done.height)],
            },
            schema=_PARETO_SCHEMA,
        )
        .hstack(done.select(params))
        .sort("x", "y")
    )


def pareto_front_chart(
    data: pl.DataFrame, *, log_x: bool = False, log_y: bool = False, subtitle: str | None = None
):
    """Every trial as a point; the Pareto front highlighted and joined by a step line. The point
    under the pointer grows and its tooltip lists the trial's parameters."""
    import altair as alt

    from snfkit.charts.titles import title as make_title

    x_name = data["x_metric"][0] if data.height else "x"
    y_name = data["y_metric"][0] if data.height else "y"
    params = [c for c in data.columns if c not in _PARETO_SCHEMA]
    xs = alt.Scale(type="log" if log_x else "linear", zero=False)
    ys = alt.Scale(type="log" if log_y else "linear", zero=False)
    hover = alt.selection_point(on="pointerover", nearest=True, fields=["number"], empty=False)
    points = (
        alt.Chart(data)
        .mark_point(filled=True)
        .encode(
            x=alt.X("x:Q", title=x_name, scale=xs),
            y=alt.Y("y:Q", title=y_name, scale=ys),
            color=alt.Color(
                "on_front:N",
                title="Pareto front",
                scale=alt.Scale(domain=[True, False], range=["#d62728", "#9ca3af"]),
            ),
            shape=alt.Shape("feasible:N", title="feasible"),
            size=alt.condition(hover, alt.value(180), alt.value(45)),
            tooltip=[
                alt.Tooltip("number:Q", title="trial"),
                alt.Tooltip("x:Q", title=x_name, format=",.4g"),
                alt.Tooltip("y:Q", title=y_name, format=",.4g"),
                *[
                    alt.Tooltip(p, format=",.4g") if data.schema[p].is_numeric() else p
                    for p in params
                ],
                "feasible",
                "on_front",
            ],
        )
        .add_params(hover)
    )
    line = (
        alt.Chart(data)
        .transform_filter(alt.datum.on_front)
        .mark_line(interpolate="step-after", color="#d62728")
        .encode(x=alt.X("x:Q", scale=xs), y=alt.Y("y:Q", scale=ys))
    )
    return (line + points).properties(
        title=make_title(f"{y_name} vs {x_name}: trials and Pareto front", subtitle),
        width=420,
        height=300,
    )


def importance_data(study, metrics: Sequence[str] | None = None, *, seed: int = 0) -> pl.DataFrame:
    """One row per (metric, parameter): ``metric``, ``param``, ``importance`` (each metric's
    importances sum to 1). ``metrics`` default to the study's objectives; any metric of the trials
    table works. Empty when fewer than 4 trials are complete or only one parameter varies."""
    import warnings

    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    schema = {"metric": pl.String, "param": pl.String, "importance": pl.Float64}
    names = list(metrics or study.user_attrs.get("objectives") or [])
    done = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state.name == "COMPLETE" and t.user_attrs.get("metrics")
    ]
    if len(done) < 4 or not names:
        return pl.DataFrame(schema=schema)
    rows = []
    for metric in names:

        def target(t, m=metric) -> float:
            return float(t.user_attrs["metrics"][m])

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optuna.logging.set_verbosity(optuna.logging.ERROR)
            try:
                imp = get_param_importances(
                    study, evaluator=PedAnovaImportanceEvaluator(), target=target, normalize=True
                )
            except (ValueError, RuntimeError):
                continue
        rows += [{"metric": metric, "param": p, "importance": float(v)} for p, v in imp.items()]
    return pl.DataFrame(rows, schema=schema)


def importance_chart(data: pl.DataFrame):
    """Horizontal bars of importance per parameter, one row of panels per metric."""
    import altair as alt

    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("importance:Q", title="importance (PED-ANOVA, normalized)"),
            y=alt.Y("param:N", sort="-x", title=None),
            color=alt.Color("param:N", legend=None),
            row=alt.Row("metric:N", title=None),
            tooltip=["metric", "param", "importance"],
        )
        .properties(width=320, height=90, title="Parameter importance")
    )


def slice_data(
    trials: pl.DataFrame, metric: str, params: Sequence[str] | None = None
) -> pl.DataFrame:
    """Long format, one row per (COMPLETE trial, parameter): ``number``, ``param``, ``value``
    (Float64; null for a non-numeric choice), ``label`` (the value as text), ``metric``
    (its name) and ``metric_value``."""
    schema = {
        "number": pl.Int64,
        "param": pl.String,
        "value": pl.Float64,
        "label": pl.String,
        "metric": pl.String,
        "metric_value": pl.Float64,
    }
    if metric not in trials.columns:
        raise KeyError(f"{metric!r} is not a column of the trials table")
    done = trials.filter((pl.col("state") == "COMPLETE") & pl.col(metric).is_not_null())
    if params is None:
        params = [c for c in param_columns(trials) if c != metric]
    parts = []
    for p in params:
        col = done[p]
        numeric = col.dtype.is_numeric() and col.dtype != pl.Boolean
        parts.append(
            pl.DataFrame(
                {
                    "number": done["number"],
                    "param": [p] * done.height,
                    "value": col.cast(pl.Float64) if numeric else [None] * done.height,
                    "label": col.cast(pl.String),
                    "metric": [metric] * done.height,
                    "metric_value": done[metric].cast(pl.Float64),
                },
                schema=schema,
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def slice_chart(data: pl.DataFrame, log_params: Sequence[str] = ()):
    """One scatter per parameter (log x for ``log_params``), the metric on y, side by side."""
    import altair as alt

    charts = []
    for p in dict.fromkeys(data["param"].to_list()):
        d = data.filter(param=p)
        numeric = d["value"].null_count() < d.height
        x = (
            alt.X("value:Q", title=p, scale=alt.Scale(type="log" if p in log_params else "linear"))
            if numeric
            else alt.X("label:N", title=p)
        )
        metric = d["metric"][0] if d.height else "metric"
        charts.append(
            alt.Chart(d)
            .mark_point(filled=True, opacity=0.7)
            .encode(
                x=x,
                y=alt.Y("metric_value:Q", title=metric, scale=alt.Scale(zero=False)),
                color=alt.Color("number:Q", title="trial"),
                tooltip=["number", "label", "metric_value"],
            )
            .properties(width=220, height=200)
        )
    return alt.hconcat(*charts).properties(title="Parameter vs objective (colour: trial number)")


def study_charts(study, directory) -> list:
    """Write pareto.html (multi-objective studies), importance.html and slices.html (first
    objective) for ``study`` into ``directory`` (self-contained HTML: the ``export`` extra); return
    the paths written."""
    from pathlib import Path

    from snfkit.charts.export import save_chart

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    table = trials_table(study)
    objectives = study.user_attrs.get("objectives") or []
    written = []
    if table.filter(pl.col("state") == "COMPLETE").height == 0 or not objectives:
        return written
    if len(objectives) >= 2:
        dirs = [d.name.lower() for d in study.directions[:2]]
        data = pareto_front_data(table, objectives[0], objectives[1], dirs)
        written += save_chart(pareto_front_chart(data), out / "pareto", ("html",))
    imp = importance_data(study)
    if imp.height:
        written += save_chart(importance_chart(imp), out / "importance", ("html",))
    sl = slice_data(table, objectives[0])
    log_params = _log_params(study)
    written += save_chart(slice_chart(sl, log_params), out / "slices", ("html",))
    return written


def _log_params(study) -> list[str]:
    out = []
    for t in study.get_trials(deepcopy=False):
        for name, dist in t.distributions.items():
            if getattr(dist, "log", False) and name not in out:
                out.append(name)
    return out
