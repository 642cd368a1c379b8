"""snfkit.figures (the replays behind the paper's figures, the claims table) and `snfkit figures`."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import polars as pl
import pytest
from test_cli import assert_one_line_error, run
from test_summary import hand_table

from snfkit import figures as F
from snfkit.claims import CLAIMS
from snfkit.workloads import small_demo

MS, US = 1_000_000, 1_000


@pytest.mark.parametrize(
    ("duration", "epoch"),
    [(10 * 1_000_000_000, 100 * MS), (2_000 * MS, 100 * MS), (1_999 * MS, 50 * MS),
     (24 * MS, 1 * MS), (3 * MS, 100 * US), (0, 100 * US)],
)  # fmt: skip
def test_epoch_for(duration, epoch):
    assert F.epoch_for(duration) == epoch


@functools.cache
def _small_figures() -> F.FigureData:
    wl = F.Workload.from_packets(small_demo(0).head(3_000), "demo head")
    seen = []
    fd = F.compute_figures(wl, small=True, progress=lambda d, t: seen.append((d, t)))
    fd.extra_progress = seen  # type: ignore[attr-defined]
    return fd


def test_compute_figures_small():
    fd = _small_figures()
    assert set(fd.frames) == set(F.FIGURES)
    assert set(fd.runs["compute"]) == set(F.ALLOCATION_RUNS)
    assert fd.params["epoch_ns"] == F.epoch_for(small_demo(0).head(3_000)["ts_ns"].to_numpy()[-1]
                                                - small_demo(0)["ts_ns"][0])  # fmt: skip
    # one progress callback over every replay, total known from the start
    seen = fd.extra_progress
    assert [d for d, _ in seen] == list(range(1, len(seen) + 1))
    assert {t for _, t in seen} == {len(seen)}
    # runs carry the figure's parameters
    res = fd.runs["compute"]["smart_flow (50 ms)"]
    assert res.params["mode"] == "smart_flow" and res.params["smart_interval_ns"] == 50 * MS
    assert fd.runs["opportunities"]["flowlet T=100 us"].params["timeout_ns"] == 100 * US
    assert sorted(fd.runs["size"]) == list(F.SMALL["size_values"])
    assert all(r.packets is None for r in fd.runs["compute"].values())  # keep_packets=False
    ka = fd.runs["k_alpha"][(3, 0.0)].params
    assert (ka["replicas"], ka["alpha"], ka["unit_capacity_bps"]) == (3, 0.0, 500e6)
    assert set(fd.runs["state"]) == {(nf, sm) for nf in F.SMALL["nfs"] for sm in F.STATE_MODES}
    assert fd.runs["state"][("nat", "reactive")].summary["nf"]["name"] == "nat"
    adv = fd.runs["adversarial"]
    assert set(adv) == {(10, d) for d in F.DETECTIONS}
    assert adv[(10, "timeout")].params["size_bytes"] == 0
    assert adv[(10, "timeout + size")].params["size_bytes"] == 15_000
    n_in = fd.runs["compute"]["flowlet"].summary["packets_in"]
    assert adv[(10, "timeout")].summary["packets_in"] > n_in  # the bursts were added


def test_adversarial_data_and_claim():
    """Fig 5's frame has a row per (case, detection, percentile) with the runs' percentiles, and
    the claim row reads the p99 of both detections."""
    fd = _small_figures()
    d = fd.frames["fig5_adversarial"]
    assert d.height == 2 * 6
    assert set(d["workload"]) == {"1 in 10 flows"}
    adv = fd.runs["adversarial"]
    p99 = d.filter(percentile="p99", detection="timeout")["latency_us"].item()
    assert p99 == adv[(10, "timeout")].summary["latency_us"]["p99"]
    both = adv[(10, "timeout + size")].summary["latency_us"]["p99"]
    row = F.claims_table(fd).filter(key="adversarial_10")
    assert row["paper_value"].item() == 756.2
    assert row["measured_value"].item() == both
    assert row["agrees"].item() == (both < p99)
    row = F.claims_table(fd).filter(key="adversarial_10_timeout")
    assert row["measured_value"].item() == p99


def test_claims_table_matches_runs():
    fd = _small_figures()
    claims = F.claims_table(fd)
    keys = claims["key"].to_list()
    assert keys == [c.key for c in CLAIMS if c.key in keys]
    # the small grid has every claim but the adversarial ones at 1 in 100 and 50 flows
    assert set(keys) == {c.key for c in CLAIMS} - {"adversarial_100", "adversarial_50"}
    comp = fd.runs["compute"]
    want = comp["flowlet"].summary["opportunities"] / comp["flow"].summary["opportunities"]
    row = claims.filter(key="opportunities")
    assert row["measured"].item().startswith(f"{want:.2f}x")
    assert row["measured_value"].item() == want and row["ratio"].item() == want / 3.36
    assert row["agrees"].item() == (want > 1)
    nat = {sm: fd.runs["state"][("nat", sm)].summary["latency_us"]["p99"] for sm in F.STATE_MODES}
    row = claims.filter(key="nat_p99_proactive")
    assert row["measured_value"].item() == nat["proactive"]
    if nat["proactive"] == nat["reactive"]:  # no effect either way: the trace cannot show it
        assert row["agrees"].item() is None
    else:
        assert row["agrees"].item() == (nat["proactive"] < min(nat["reactive"], nat["external"]))
    assert claims.filter(key="flowlet_p50")["agrees"].item() is None  # no direction stated
    md = F.claims_markdown(claims, "x")
    assert md.count("\n|") == claims.height + 2  # header and rule rows
    assert "| allocation opportunities, flowlets / flows | 3.36x |" in md
    # seamless_reason, size, controllers_rm: directions only
    assert claims["paper_value"].null_count() == 3


def test_runs_table_picks_known_columns():
    flowlet = {
        "mode": "flowlet",
        "latency_us": {"p50": 1.0, "p99": 5.0},
        "latency_exact": True,
        "mean_active_units": 2.5,
        "allocations": 40,
        "waits": {"pull": {"packets": 3}},
    }
    runs = {
        "flowlet": SimpleNamespace(summary=flowlet),
        ("packet", 3): SimpleNamespace(summary={"latency_us": {"p50": 2.0}, "allocations": 100}),
    }
    keys = ("latency_exact", "allocations", "latency_us", "mode", "unit_seconds", "waits")
    t = F.runs_table(runs, keys)
    # bools, strings, missing keys and dicts of dicts are left out
    assert t.columns == ["run", "allocations", "p50_us", "p99_us"]
    assert t["run"].to_list() == ["flowlet", "packet / 3"]
    assert t["p99_us"].to_list() == [5.0, None]
    assert t["allocations"].to_list() == [40.0, 100.0]
    assert t.schema["allocations"] == pl.Float64


def test_write_figures(tmp_path):
    fd = _small_figures()
    files = F.write_figures(fd, tmp_path, formats=("html",))
    names = {p.name for p in files}
    for fig in fd.frames:
        assert {f"{fig}.csv", f"{fig}.html"} <= names
        back = pl.read_csv(tmp_path / f"{fig}.csv")
        assert back.height == fd.frames[fig].height
    assert (tmp_path / "claims.md").read_text().startswith("Trace: demo head")
    index = (tmp_path / "index.html").read_text()
    for fig in fd.frames:
        assert f"{fig}.html" in index


def test_workload_fallback_without_shared(monkeypatch, tmp_path):
    monkeypatch.setenv("SNFKIT_SHARED", str(tmp_path))  # no traces/ there
    wl = F.workload(max_packets=500)
    assert wl.name == "small_demo(seed=0) (first 500 packets)"
    assert wl.packets.height == 500 and wl.prepared.n_packets == 500
    assert "500 packets" in wl.describe()


def test_figures_command(tmp_path):
    path = tmp_path / "hand.parquet"
    hand_table().write_parquet(path)
    out = tmp_path / "figs"
    r = run("figures", "--trace", path, "--out", out, "--small", "-f", "html", "--claims")
    assert r.exit_code == 0, r.output
    assert (out / "index.html").is_file() and (out / "claims.md").is_file()
    assert (out / "fig2_latency.html").stat().st_size > 0
    assert "| claim | paper | measured |" in r.stdout


def test_figures_command_errors(tmp_path):
    missing = tmp_path / "nope.pcap"
    assert_one_line_error(run("figures", "--trace", missing, "--out", tmp_path / "o"), "nope.pcap")
    r = run("figures", "--out", tmp_path / "o", "--max-packets", 200, "-f", "gif")
    assert_one_line_error(r, "--format", "gif")
    r = run("figures", "--out", tmp_path / "o", "--max-packets", 200, "-p", "alpha=7")
    assert_one_line_error(r, "alpha")


def test_periodic_replication_reading():
    """§9.7 read as a push every 250 us by every flow active in the period: flow 0 is active in
    periods 0 and 2, flow 1 in period 0, so 3 pushes of K = 3 copies of 100 B over 600 us."""
    packets = pl.DataFrame(
        {"ts_ns": [0, 100_000, 520_000, 600_000], "flow_id": [0, 1, 0, 0]},
        schema={"ts_ns": pl.Int64, "flow_id": pl.Int64},
    )
    got = F.periodic_replication_mbps(packets, 3, 100, 250_000)
    assert got == pytest.approx(3 * 3 * 100 * 8 / 600e-6 / 1e6)
    assert F.periodic_replication_mbps(packets.head(1), 3, 100, 250_000) == 0.0
