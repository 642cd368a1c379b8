"""Chart data functions return the tidy frames that are drawn; the charts render to HTML."""

from __future__ import annotations

from replay_helpers import random_trace

from snfkit import replay
from snfkit.charts import (
    PERCENTILE_ORDER,
    latency_percentiles_chart,
    latency_percentiles_data,
    provisioning_chart,
    provisioning_data,
)


def _runs():
    packets = random_trace(1, 2_000, 20, 20_000.0)
    return {m: replay(packets, mode=m, epoch_ns=5_000_000) for m in ("flowlet", "flow")}


def test_latency_data_matches_summaries(tmp_path):
    runs = _runs()
    d = latency_percentiles_data(runs)
    assert d.height == 2 * len(PERCENTILE_ORDER)
    for label, res in runs.items():
        got = d.filter(run=label).sort("percentile")["latency_us"].to_list()
        want = [res.summary["latency_us"][q] for q in sorted(PERCENTILE_ORDER)]
        assert got == want
    latency_percentiles_chart(d).save(tmp_path / "lat.html")
    assert "latency" in (tmp_path / "lat.html").read_text()


def test_provisioning_data_is_the_epochs(tmp_path):
    runs = _runs()
    d = provisioning_data(runs)
    for label, res in runs.items():
        rows = d.filter(run=label)
        demand = rows.filter(series="demand")["gbps"].to_list()
        assert demand == res.epochs["offered_gbps"].to_list()
        prov = rows.filter(series="provisioned")["gbps"].to_list()
        assert prov == res.epochs["provisioned_gbps"].to_list()
    provisioning_chart(d).save(tmp_path / "prov.html")
    assert (tmp_path / "prov.html").stat().st_size > 1000
