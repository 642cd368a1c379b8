"""The metric registry (snfkit.metrics): one list outside the sweeps, without optuna."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
from conftest import REPO

import snfkit
from snfkit import metrics
from snfkit.workloads import presets


def test_importing_metrics_does_not_import_optuna():
    code = (
        "import sys, snfkit.metrics\n"
        "assert 'optuna' not in sys.modules, 'optuna imported'\n"
        "assert 'altair' not in sys.modules, 'altair imported'\n"
        "print(len(snfkit.metrics.METRICS))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(metrics.METRICS)


def test_sweeps_read_the_one_registry():
    from snfkit import sweeps
    from snfkit.sweeps import config, objectives, table

    assert sweeps.METRICS is metrics.METRICS
    assert objectives.METRICS is metrics.METRICS
    assert config.METRICS is metrics.METRICS and table.METRICS is metrics.METRICS
    metrics.register_metric("test_only_metric", lambda r: 1.0, doc="registered by a test")
    try:
        assert "test_only_metric" in sweeps.METRICS
    finally:
        del metrics.METRICS["test_only_metric"]


def test_register_metric_checks_its_arguments():
    with pytest.raises(ValueError, match="identifier"):
        metrics.register_metric("not a name", lambda r: 0.0)
    with pytest.raises(ValueError, match="direction"):
        metrics.register_metric("fine_name", lambda r: 0.0, direction="up")
    assert "fine_name" not in metrics.METRICS


@pytest.fixture(scope="module")
def run():
    return snfkit.replay(presets.small_demo(0).head(3000), mode="flowlet")


def test_compute_metrics_reads_the_summary(run):
    values = metrics.compute_metrics(run)
    assert values["p99_latency_us"] == run.summary["latency_us"]["p99"]
    assert values["unit_seconds"] == run.summary["unit_seconds"]
    assert values["opportunities"] == run.summary["opportunities"]
    assert values["moved_flowlets"] == run.summary["moved_flowlets"]
    only = metrics.compute_metrics(run, ["mean_active_units"])
    assert list(only) == ["mean_active_units"]


def test_a_summary_entry_the_run_lacks_is_nan(run):
    lacking = snfkit.Results(
        summary={k: v for k, v in run.summary.items() if k != "replication_mbps"}
        | {"seamless_share": None},
        params=run.params,
        packets=None,
        flowlets=run.flowlets,
        epochs=run.epochs,
        epoch_units=run.epoch_units,
        units=run.units,
    )
    values = metrics.compute_metrics(lacking, ["replication_mbps", "seamless_share"])
    assert math.isnan(values["replication_mbps"]) and math.isnan(values["seamless_share"])


def test_billing_metrics_bill_the_mode_by_its_own_model(run):
    from snfkit.billing import compare

    values = metrics.compute_metrics(run, ["billed_cost", "provider_cost", "usd_per_gb"])
    row = compare({"r": run}, "snf").row(0, named=True)
    assert values["billed_cost"] == row["user_usd"] > 0
    assert values["provider_cost"] == row["provider_usd"] > 0
    assert values["usd_per_gb"] == row["usd_per_gb"]


def test_billing_metrics_are_nan_when_the_bill_needs_rows_the_replay_dropped():
    trace = presets.small_demo(0).head(2000)
    res = snfkit.replay(trace, mode="packet", keep_packets=False)
    assert res.summary["latency_max_us"] > 1_000  # more than Lambda's 1 ms granule
    values = metrics.compute_metrics(res, ["billed_cost", "usd_per_gb", "p99_latency_us"])
    assert math.isnan(values["billed_cost"]) and math.isnan(values["usd_per_gb"])
    assert values["p99_latency_us"] > 0
