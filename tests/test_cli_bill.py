"""``snfkit bill`` over saved results, and the demo's billing table."""

from __future__ import annotations

import json

import polars as pl
import pytest
from test_cli import assert_one_line_error, run
from test_summary import hand_table

import snfkit
from snfkit.billing import GROUPS, MODELS, compare


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    packets = hand_table()
    for mode in ("flowlet", "flow"):
        snfkit.replay(packets, mode=mode).save(root / mode)
    return root


def test_bill_json_is_the_comparison_of_the_saved_runs(saved):
    r = run("bill", saved / "flowlet", saved / "flow", "--json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    expected = compare({"flowlet": saved / "flowlet", "flow": saved / "flow"}).to_dicts()
    assert rows == expected
    assert len(rows) == 2 * len(MODELS)


def test_bill_models_prices_granularity_and_scale(saved, tmp_path):
    r = run("bill", saved / "flow", "-m", "per_flow", "-m", "managed", "--json")
    rows = json.loads(r.stdout)
    assert [x["model"] for x in rows] == ["per_flow", *GROUPS["managed"]]
    coarse = json.loads(
        run("bill", saved / "flow", "-m", "per_flow", "--granularity-ms", "100", "--json").stdout
    )
    assert coarse[0]["billed_s"] > rows[0]["billed_s"]
    month = json.loads(
        run("bill", saved / "flow", "-m", "vm", "--scale-to", "month", "--json").stdout
    )
    seconds = json.loads(
        run("bill", saved / "flow", "-m", "vm", "--scale-to", "2628000", "--json").stdout
    )
    assert month == seconds and month[0]["duration_s"] == pytest.approx(2_628_000)
    table = run("bill", saved / "flow", "-m", "snf")
    assert table.exit_code == 0 and "snf" in table.stdout and "user_usd" in table.stdout


def test_bill_errors_are_one_line(saved, tmp_path):
    assert_one_line_error(run("bill", tmp_path / "none"), "summary.json")
    assert_one_line_error(run("bill", saved / "flow", "-m", "cheapest"), "models", "cheapest")
    assert_one_line_error(run("bill", saved / "flow", "--scale-to", "fortnight"), "scale_to")
    bad = tmp_path / "prices.csv"
    bad.write_text("item,price,unit,source,date\nfn.request,-1,USD/request,s,2020\n")
    assert_one_line_error(
        run("bill", saved / "flow", "--prices", bad), "line 2 (fn.request).price", "-1"
    )


def test_demo_writes_and_prints_the_bills(tmp_path):
    path = tmp_path / "hand.parquet"
    hand_table().write_parquet(path)
    out = tmp_path / "demo"
    r = run("demo", "--trace", path, "--out", out)
    assert r.exit_code == 0, r.stderr
    bills = pl.read_csv(out / "billing.csv")
    assert bills["run"].unique().sort().to_list() == sorted(snfkit.params.MODES)
    assert bills.height == len(snfkit.params.MODES) * len(MODELS)
    assert "model x mode" in r.stdout
