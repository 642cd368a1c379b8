"""Billing chart data: components add up to the bill, loads are labelled, crossings are found."""

from __future__ import annotations

import polars as pl
import pytest
from replay_helpers import random_trace

import snfkit
from snfkit.billing import compare
from snfkit.charts import (
    cost_components_chart,
    cost_components_data,
    cost_vs_load_chart,
    cost_vs_load_data,
    crossovers,
)


@pytest.fixture(scope="module")
def runs():
    trace = random_trace(3, 400, 12, 20_000.0)
    return {m: snfkit.replay(trace, mode=m) for m in ("flowlet", "flow")}


def test_components_add_up_to_the_bill(runs):
    table = compare(runs)
    data = cost_components_data(table)
    assert (data["usd"] > 0).all()
    sums = data.group_by("run", "model").agg(pl.col("usd").sum())
    joined = table.join(sums, on=["run", "model"], how="left").with_columns(
        pl.col("usd").fill_null(0.0)
    )
    assert (joined["usd"] - joined["user_usd"]).abs().max() < 1e-15
    snf = data.filter((pl.col("run") == "flowlet") & (pl.col("model") == "snf"))
    assert set(snf["component"]) == {"duration (GB-s)", "per flowlet"}
    spec = cost_components_chart(data).to_dict()
    assert spec["facet"]["column"]["field"] == "run"


def test_cost_vs_load_labels_each_replay_with_its_load(runs):
    faster = random_trace(3, 400, 12, 10_000.0)
    by_load = {1.0: {"flowlet": runs["flowlet"]}, 2.0: {"flowlet": snfkit.replay(faster)}}
    data = cost_vs_load_data(by_load, ["snf", "vm"])
    assert data["load_gbps"].to_list() == [1.0, 1.0, 2.0, 2.0]
    assert data.columns[0] == "load_gbps"
    assert data.filter(pl.col("load_gbps") == 2.0)["gb"].to_list() == pytest.approx(
        [runs["flowlet"].flowlets["bytes"].sum() / 1e9] * 2
    )
    assert cost_vs_load_chart(data).to_dict()["mark"]["type"] == "line"


def test_crossovers_interpolate_the_sign_changes():
    # a: 1, 2, 3, 4 ; b: 2.5 flat -> a - b: -1.5, -0.5, 0.5, 1.5: crossing between x=2 and x=3 at
    # 2 + 1 * 0.5 / 1 = 2.5 ; c equals a at x = 1 exactly and is below it afterwards.
    xs = [1.0, 2.0, 3.0, 4.0]
    rows = [("r", "a", x, x) for x in xs] + [("r", "b", x, 2.5) for x in xs]
    rows += [("r", "c", x, 1.0) for x in xs]
    data = pl.DataFrame(rows, schema=["run", "model", "load_gbps", "user_usd"], orient="row")
    assert crossovers(data, ("r", "a"), ("r", "b")) == pytest.approx([2.5])
    assert crossovers(data, ("r", "a"), ("r", "c")) == [1.0]
    assert crossovers(data, ("r", "b"), ("r", "c")) == []
