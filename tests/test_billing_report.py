"""The notebook's billing questions (snfkit.billing.report) on small traces."""

from __future__ import annotations

import polars as pl
import pytest
from replay_helpers import random_trace

from snfkit.billing import compare
from snfkit.billing.report import (
    MODES,
    break_even_allocation_usd,
    cheapest,
    load_runs,
    mode_runs,
    rounding_table,
)


@pytest.fixture(scope="module")
def runs():
    return mode_runs(random_trace(5, 600, 20, 20_000.0))


def test_mode_runs_keep_packets_and_a_fitting_epoch(runs):
    assert list(runs) == list(MODES)
    for res in runs.values():
        assert res.packets is not None
        assert res.epochs.height >= 20  # epoch_for: at least 20 epochs over the trace


def test_cheapest_lists_ties_and_all():
    t = pl.DataFrame(
        {
            "run": ["a"] * 3 + ["b"] * 3,
            "model": ["x", "y", "z"] * 2,
            "user_usd": [3.0, 1.0, 2.0, 5.0, 5.0, 6.0],
            "provider_usd": [1.0, 1.0, 1.0, 2.0, 1.0, 3.0],
        }
    )
    c = cheapest(t)
    assert c.rows() == [("a", "y", 1.0, "all", 1.0), ("b", "x, y", 5.0, "y", 1.0)]


def test_break_even_fee_equalises_the_bills(runs):
    fee = break_even_allocation_usd(runs, "vm")
    t = compare({"flowlet": runs["flowlet"]}, ["snf", "vm"], snf_allocation_usd=max(fee, 0.0))
    snf, vm = t["user_usd"].to_list()
    if fee >= 0:
        assert snf == pytest.approx(vm, rel=1e-9)
    else:  # the compute charge alone is above the VMs' bill
        assert snf > vm


def test_rounding_table_ratio(runs):
    t = rounding_table(runs, ["per_packet", "snf"])
    assert set(t.columns) == {"run", "model", "usd_1ms", "usd_100ms", "ratio"}
    snf = t.filter(pl.col("model") == "snf")
    assert (snf["ratio"] == 1.0).all()  # SNF's busy time is not rounded
    per_packet = t.filter(pl.col("model") == "per_packet")
    assert (per_packet["ratio"] > 1.0).all()
    assert (t["ratio"] - t["usd_100ms"] / t["usd_1ms"]).abs().max() < 1e-12


def test_load_runs_reach_each_load():
    trace = random_trace(5, 600, 20, 20_000.0)
    by_load = load_runs(trace, [0.01, 0.1])
    assert list(by_load) == [0.01, 0.1]
    offered = [r["flowlet"].summary["offered_gbps"] for r in by_load.values()]
    assert offered == pytest.approx([0.01, 0.1], rel=1e-3)
