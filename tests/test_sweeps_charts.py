"""Study chart data: Pareto front, importance and slices are the tidy frames that are drawn."""

from __future__ import annotations

import polars as pl
import pytest
from test_sweeps_study import tiny

from snfkit.sweeps import run_study, trials_table
from snfkit.sweeps.charts import (
    importance_chart,
    importance_data,
    pareto_front_chart,
    pareto_front_data,
    pareto_mask,
    slice_chart,
    slice_data,
    study_charts,
)


def hand_trials() -> pl.DataFrame:
    """Five complete trials, one failed: (x, y) = (1, 5) (2, 3) (3, 4) (4, 1) (2.5, 2.5)."""
    return pl.DataFrame(
        {
            "number": [0, 1, 2, 3, 4, 5],
            "state": ["COMPLETE"] * 5 + ["FAIL"],
            "alpha": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "mode": ["flowlet", "flow", "flowlet", "flow", "flowlet", "flow"],
            "p99_latency_us": [1.0, 2.0, 3.0, 4.0, 2.5, None],
            "mean_active_units": [5.0, 3.0, 4.0, 1.0, 2.5, None],
            "feasible": [True, True, True, False, True, None],
        }
    )


def test_pareto_mask():
    pts = [(1, 5), (2, 3), (3, 4), (4, 1), (2, 3)]
    assert pareto_mask(pts, ["minimize", "minimize"]) == [True, True, False, True, True]
    assert pareto_mask(pts, ["maximize", "maximize"]) == [True, False, True, True, False]


def test_pareto_front_data_respects_feasibility():
    d = pareto_front_data(hand_trials(), "p99_latency_us", "mean_active_units")
    fixed = ["number", "x_metric", "x", "y_metric", "y", "feasible", "on_front"]
    assert d.columns == [*fixed, "alpha", "mode"]  # the parameters, for the tooltip
    # each trial keeps its own parameters after the sort by x
    assert d.select("number", "alpha", "mode").rows() == [
        (0, 0.1, "flowlet"),
        (1, 0.2, "flow"),
        (4, 0.5, "flowlet"),
        (2, 0.3, "flowlet"),
        (3, 0.4, "flow"),
    ]
    assert (
        pareto_front_data(hand_trials(), "p99_latency_us", "mean_active_units", params=[]).columns
        == fixed
    )
    assert d.height == 5  # the failed trial is left out
    front = sorted(d.filter("on_front")["number"].to_list())
    # trial 3 (4, 1) is infeasible; among the rest (3, 4) is dominated by (2.5, 2.5)
    assert front == [0, 1, 4]
    assert d["x"].to_list() == sorted(d["x"].to_list())
    no_constraints = hand_trials().with_columns(feasible=pl.lit(None, pl.Boolean))
    d2 = pareto_front_data(no_constraints, "p99_latency_us", "mean_active_units")
    assert sorted(d2.filter("on_front")["number"].to_list()) == [0, 1, 3, 4]
    with pytest.raises(KeyError):
        pareto_front_data(hand_trials(), "p99_latency_us", "nope")


def test_slice_data_is_long_and_keeps_categories():
    d = slice_data(hand_trials(), "p99_latency_us", ["alpha", "mode"])
    assert d.height == 10
    a = d.filter(param="alpha")
    assert a["value"].to_list() == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert a["metric_value"].to_list() == [1.0, 2.0, 3.0, 4.0, 2.5]
    m = d.filter(param="mode")
    assert m["value"].null_count() == 5
    assert m["label"].to_list() == ["flowlet", "flow", "flowlet", "flow", "flowlet"]
    # by default every column that is neither bookkeeping nor a metric is a parameter
    assert set(slice_data(hand_trials(), "p99_latency_us")["param"]) == {"alpha", "mode"}


def test_charts_render(tmp_path):
    pareto_front_chart(
        pareto_front_data(hand_trials(), "p99_latency_us", "mean_active_units"), log_x=True
    ).save(tmp_path / "p.html")
    slice_chart(slice_data(hand_trials(), "p99_latency_us"), ["alpha"]).save(tmp_path / "s.html")
    assert "Pareto" in (tmp_path / "p.html").read_text()
    assert (tmp_path / "s.html").stat().st_size > 1000


def test_importance_and_study_charts_on_a_real_study(tmp_path):
    c = tiny(
        tmp_path,
        study={"objectives": ["p99_latency_us", "mean_active_units"], "n_trials": 10},
        sampler={"name": "random", "seed": 0},
    )
    study = run_study(c, workers=1).study
    imp = importance_data(study)
    assert imp.columns == ["metric", "param", "importance"]
    assert set(imp["metric"]) <= {"p99_latency_us", "mean_active_units"}
    for _, part in imp.group_by("metric"):
        assert set(part["param"]) == {"timeout_ns", "size_bytes", "alpha"}
        assert part["importance"].sum() == pytest.approx(1.0, abs=1e-6) or (
            part["importance"].sum() == 0
        )
    # a metric that is not an objective works too
    assert set(importance_data(study, ["overprovision_gbps"])["metric"]) <= {"overprovision_gbps"}
    importance_chart(imp).save(tmp_path / "i.html")
    written = study_charts(study, tmp_path / "charts")
    assert {p.name for p in written} >= {"pareto.html", "slices.html"}
    table = trials_table(study)
    front = pareto_front_data(table, "p99_latency_us", "mean_active_units")
    assert front.height == 10 and front["on_front"].any()


def test_importance_needs_a_few_trials(tmp_path):
    study = run_study(tiny(tmp_path), n_trials=2, workers=1).study
    assert importance_data(study).height == 0


def test_pareto_hover_shows_the_parameters():
    d = pareto_front_data(hand_trials(), "p99_latency_us", "mean_active_units")
    spec = pareto_front_chart(d).to_dict()
    points = spec["layer"][1]
    (hover,) = spec.get("params", []) or points["params"]
    assert hover["select"]["on"] == "pointerover" and hover["select"]["nearest"] is True
    assert points["encoding"]["size"]["condition"]["param"] == hover["name"]
    shown = [t["field"] for t in points["encoding"]["tooltip"]]
    assert "alpha" in shown and "mode" in shown
