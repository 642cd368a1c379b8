"""Workloads: shipped CDFs (bytes, units), sampling, synthesis (load, shape), presets, injector."""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snfkit.engine.flowlets_nb import detect_flowlets_nb
from snfkit.errors import ParameterError
from snfkit.traces import validate_packets
from snfkit.traces.table import address_rows, reassign_flow_ids
from snfkit.traces.transforms import mean_gbps
from snfkit.workloads import (
    BurstModel,
    FlowSizeCDF,
    inject_adversarial_flowlets,
    list_distributions,
    load_distribution,
    paper_like,
    paper_trace,
    small_demo,
    synthesize,
)
from snfkit.workloads.cdf import DISTRIBUTIONS, read_cdf_file
from snfkit.workloads.presets import PAPER_FLOWS, PAPER_PACKETS, paper_trace_cdf
from snfkit.workloads.synth import packetize, packetized_bytes

UPSTREAM_BLOBS = {  # git blob ids of the upstream files (see data/CITATIONS.md)
    "AliStorage2019.txt": "64be263c166f3cc8ed51892efb24600d7aaf89c4",
    "Facebook_CacheFollowerDist_IntraCluster.txt": "2da6c438416c60c4f2e07821cb2c741824601e66",
    "FbHdp_distribution.txt": "fef5acab7824cca7c58cd099117c17f3dd0dc2eb",
    "GoogleRPC2008.txt": "6db8c2b2b098123fdef3dd82cd1b029b7531fefa",
    "VL2_CDF.txt": "eb5f921a67af7d5b47eb04936f2a5ec5dad95dd0",
    "WebSearch_distribution.txt": "00e0951da186d85d72fa73d73e53789da88a1b90",
}


def data_file(name: str):
    return resources.files("snfkit.workloads").joinpath("data").joinpath(name)


# --- shipped distributions ---------------------------------------------------------------------


@pytest.mark.parametrize("fname", sorted(UPSTREAM_BLOBS))
def test_data_files_are_byte_for_byte_upstream(fname):
    raw = data_file(fname).read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()
    assert blob == UPSTREAM_BLOBS[fname]


def test_citations_cover_every_file():
    text = data_file("CITATIONS.md").read_text()
    for d in DISTRIBUTIONS.values():
        assert d.file in text and f"`{d.name}`" in text
    assert list_distributions() == list(DISTRIBUTIONS)
    assert len(list_distributions()) == 6


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_load_distribution_units_and_shape(name):
    cdf = load_distribution(name)
    assert cdf.probs[0] == 0.0 and cdf.probs[-1] == 1.0
    assert np.all(np.diff(cdf.probs) >= 0) and np.all(np.diff(cdf.sizes) >= 0)
    wrong = "fraction" if DISTRIBUTIONS[name].units == "percent" else "percent"
    with pytest.raises(ParameterError, match="check the units"):
        load_distribution(name, units=wrong)


def test_published_facts():
    # DCTCP web search: 60% of flows are 200 KB or less (SOURCES.md); fractions, not percent
    assert load_distribution("websearch").cdf(200_000) == pytest.approx(0.60)
    # Alibaba storage: 46% of flows between 4 and 8 KB
    ali = load_distribution("ali_storage")
    assert ali.cdf(8000) - ali.cdf(4000) == pytest.approx(0.4628)
    # the Homa file's first line is the mean, not a point
    fb = load_distribution("fb_cache_follower")
    assert fb.stated_mean == pytest.approx(692975.6)
    assert fb.sizes[0] == 50
    # Google RPC: median about 260 B
    assert 200 < load_distribution("google_rpc").quantile(0.5) < 320


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_sampling_matches_cdf(name):
    cdf = load_distribution(name)
    x = np.sort(cdf.sample(200_000, np.random.default_rng(1)))
    emp = np.searchsorted(x, cdf.sizes, side="right") / x.size
    # DKW: P(sup |F_n - F| > 0.0045) < 0.002 at n = 200K; rounding to bytes adds < 0.1%
    assert np.max(np.abs(emp - cdf.probs)) < 0.006
    assert cdf.expect(lambda s: s) == pytest.approx(cdf.mean(), rel=2e-3)


def test_sampling_is_seeded_and_stratified_is_closer():
    cdf = load_distribution("websearch")
    a = cdf.sample(1000, np.random.default_rng(3))
    assert np.array_equal(a, cdf.sample(1000, np.random.default_rng(3)))
    assert not np.array_equal(a, cdf.sample(1000, np.random.default_rng(4)))
    s = np.sort(cdf.sample(1000, np.random.default_rng(3), stratified=True))
    emp = np.searchsorted(s, cdf.sizes, side="right") / s.size
    assert np.max(np.abs(emp - cdf.probs)) < 0.002


def test_mean_is_exact_for_piecewise_linear():
    cdf = FlowSizeCDF.from_points([0, 100, 300], [0, 0.5, 1.0])
    assert cdf.mean() == pytest.approx(0.5 * 50 + 0.5 * 200)
    atom = FlowSizeCDF.from_points([10, 20], [0.5, 1.0])  # atom of 0.5 at 10 B
    assert atom.mean() == pytest.approx(0.5 * 10 + 0.5 * 15)
    assert atom.cdf(5) == 0 and atom.cdf(10) == 0.5


def test_user_cdf_file(tmp_path):
    p = tmp_path / "mine.txt"
    p.write_text("# my cdf\n1234.5\n100 0\n1000 50\n2000 100\n")
    cdf = load_distribution(p)
    assert cdf.stated_mean == 1234.5
    assert cdf.probs.tolist() == [0.0, 0.5, 1.0]
    assert read_cdf_file(p, units="percent").probs.tolist() == [0.0, 0.5, 1.0]
    p.write_text("100 0\n50 1\n")
    with pytest.raises(ParameterError, match="sizes"):
        load_distribution(p)
    p.write_text("100 0\n200 x\n")
    with pytest.raises(ParameterError, match="line 2"):
        load_distribution(p)
    with pytest.raises(ParameterError, match="distribution"):
        load_distribution("no-such-distribution")


def test_lognormal_table():
    cdf = FlowSizeCDF.lognormal(10_000, 1.5)
    assert cdf.quantile(0.5) == pytest.approx(10_000, rel=1e-3)
    assert cdf.mean() == pytest.approx(10_000 * np.exp(1.5**2 / 2), rel=0.02)
    with pytest.raises(ParameterError):
        FlowSizeCDF.lognormal(0, 1.0)


# --- synthesis ---------------------------------------------------------------------------------


def test_packetize():
    k, fidx, wire = packetize(np.array([1, 64, 1500, 1501, 3000]), 1500, 64)
    assert k.tolist() == [1, 1, 1, 2, 2]
    assert fidx.tolist() == [0, 1, 2, 3, 3, 4, 4]
    assert wire.tolist() == [64, 64, 1500, 1500, 64, 1500, 1500]
    assert packetized_bytes(np.array([1, 1501]), 1500, 64).tolist() == [64, 1564]


def test_same_seed_same_table_different_seed_differs():
    kw = dict(n_flows=300, load_gbps=2.0, ipv6_fraction=0.2)
    a = synthesize("fb_hadoop", seed=5, **kw)
    assert a.equals(synthesize("fb_hadoop", seed=5, **kw))
    assert not a.equals(synthesize("fb_hadoop", seed=6, **kw))
    assert paper_like(1, 0.002).equals(paper_like(1, 0.002))


@pytest.mark.parametrize(
    ("name", "n_flows"), [("websearch", 100), ("fb_hadoop", 1000), ("google_rpc", 2000)]
)
def test_n_flows_mode_hits_load_exactly(name, n_flows):
    p = synthesize(name, n_flows=n_flows, load_gbps=7.5, seed=2)
    assert mean_gbps(p) == pytest.approx(7.5, rel=0.01)
    assert p["flow_id"].n_unique() == n_flows
    validate_packets(p)


def test_duration_mode_expected_load():
    p = synthesize("ali_storage", duration_s=0.5, load_gbps=10.0, seed=3)
    assert mean_gbps(p) == pytest.approx(10.0, rel=0.04)
    assert p["ts_ns"].min() >= 0 and p["ts_ns"].max() < 500_000_000
    # Google RPC: most messages are below one packet and many below the 64 B minimum, which the
    # arrival rate accounts for; the *expected* load is the target (mean of 8 seeds, std ~1.2%)
    loads = [
        mean_gbps(synthesize("google_rpc", duration_s=0.5, load_gbps=10.0, seed=s))
        for s in range(8)
    ]
    assert np.mean(loads) == pytest.approx(10.0, rel=0.03)


@settings(max_examples=25, deadline=None)
@given(
    n_flows=st.integers(1, 60),
    seed=st.integers(0, 2**32),
    mtu=st.integers(64, 9000),
    udp=st.sampled_from([0.0, 0.5, 1.0]),
    v6=st.sampled_from([0.0, 0.5, 1.0]),
    wrap=st.booleans(),
    load=st.floats(0.01, 100.0),
)
def test_synthesize_invariants(n_flows, seed, mtu, udp, v6, wrap, load):
    p = synthesize(
        "websearch", n_flows=n_flows, load_gbps=load, seed=seed, mtu=mtu, min_packet=64,
        udp_fraction=udp, ipv6_fraction=v6, wrap=wrap,
    )  # fmt: skip
    validate_packets(p)
    assert p["flow_id"].n_unique() == n_flows
    wire = p["wire_len"].to_numpy()
    assert wire.max() <= mtu and wire.min() >= min(64, mtu)
    # per flow, at most one packet is not full-size
    small = p.filter(pl.col("wire_len") < mtu).group_by("flow_id").len()
    assert small["len"].max() is None or small["len"].max() <= 1
    proto = set(p["proto"].unique().to_list())
    assert proto <= {6, 17}
    if udp == 0.0:
        assert proto == {6}
    if udp == 1.0:
        assert proto == {17}
    v4 = (address_rows(p["src_ip"])[:, 10:12] == 0xFF).all(axis=1)
    if v6 == 0.0:
        assert v4.all()
    if v6 == 1.0:
        assert not v4.any()
    if wrap:
        total_bits = float(wire.sum()) * 8
        assert p["ts_ns"].max() < np.ceil(total_bits / load) + 1


def test_burst_model_shapes_flowlets():
    p = paper_like(seed=0, scale=0.01)
    ts, fl, wl = p["ts_ns"].to_numpy(), p["flow_id"].to_numpy(), p["wire_len"].to_numpy()
    n_flows = int(fl.max()) + 1
    at500 = detect_flowlets_nb(ts, fl, wl, 500_000, 0)[1].size
    at100 = detect_flowlets_nb(ts, fl, wl, 100_000, 0)[1].size
    assert 3.5 * n_flows < at500 < at100 < 7 * n_flows  # flowlets exist; paper: 4.66x, 5.18x
    # without trains (one train per flow, no gaps above 100 us) flowlets ~ flows
    calm = synthesize(
        "websearch", n_flows=500, load_gbps=1.0, seed=0, wrap=False,
        burst=BurstModel(train_packets_mean=1e12),
    )  # fmt: skip
    c = detect_flowlets_nb(
        calm["ts_ns"].to_numpy(),
        calm["flow_id"].to_numpy(),
        calm["wire_len"].to_numpy(),
        100_000,
        0,
    )[1].size
    assert c == 500


def test_paper_like_scale():
    p = paper_like(seed=0, scale=0.01)
    assert p.height == pytest.approx(64_000, rel=0.05)
    assert p["flow_id"].n_unique() == 1990
    assert p["wire_len"].median() == 1434
    assert mean_gbps(p) == pytest.approx(5.0, rel=0.01)
    q = small_demo()
    assert 50_000 <= q.height <= 110_000


def test_paper_trace_statistics():
    """Each statistic §9 states, at 2 % scale (benchmarks/bench_paper_trace.py: full scale)."""
    p = paper_trace(seed=0, scale=0.02)
    assert p.height == pytest.approx(0.02 * PAPER_PACKETS, rel=0.05)  # 6.4M packets
    assert p["flow_id"].n_unique() == round(0.02 * PAPER_FLOWS)  # 199K connections
    assert p["wire_len"].median() == 1434  # median packet 1434 B
    big = p.group_by("flow_id").agg(pl.col("wire_len").sum())["wire_len"] > 10_000
    assert big.mean() == pytest.approx(0.05, abs=0.005)  # 5 % of flows above 10 KB
    assert mean_gbps(p) == pytest.approx(5.0, rel=0.01)
    cdf = paper_trace_cdf()  # the law itself: 5 % above 10 KB, 32.2 packets per flow
    assert 1 - cdf.cdf(10_000) == pytest.approx(0.05, abs=1e-9)
    per_flow = cdf.expect(lambda s: np.maximum(1, -(-s // 1434)).astype(float))
    assert per_flow == pytest.approx(PAPER_PACKETS / PAPER_FLOWS, rel=1e-3)


def test_paper_trace_load_divides_inter_arrival_times():
    """The paper raises load by reducing inter-arrival times: at 4x the load every gap (inside
    flows too) is a quarter, and the packets, sizes and flows are the same."""
    slow = paper_trace(seed=1, scale=0.005, load_gbps=1.0)
    fast = paper_trace(seed=1, scale=0.005, load_gbps=4.0)
    assert slow.drop("ts_ns").equals(fast.drop("ts_ns"))
    rel_slow = slow["ts_ns"].to_numpy() - slow["ts_ns"][0]
    rel_fast = fast["ts_ns"].to_numpy() - fast["ts_ns"][0]
    assert np.abs(rel_fast - rel_slow / 4).max() <= 1.0
    assert mean_gbps(fast) == pytest.approx(4 * mean_gbps(slow), rel=1e-6)
    for name in ("scale", "load_gbps", "native_gbps"):
        with pytest.raises(ParameterError, match=name):
            paper_trace(0, **{"scale": 0.001, name: 0.0})


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(n_flows=10, duration_s=1.0, load_gbps=1.0), "duration_s/n_flows"),
        (dict(load_gbps=1.0), "duration_s/n_flows"),
        (dict(n_flows=0, load_gbps=1.0), "n_flows"),
        (dict(duration_s=-1.0, load_gbps=1.0), "duration_s"),
        (dict(n_flows=10, load_gbps=0.0), "load_gbps"),
        (dict(n_flows=10, load_gbps=1.0, mtu=20), "mtu"),
        (dict(n_flows=10, load_gbps=1.0, min_packet=2000), "min_packet"),
        (dict(n_flows=10, load_gbps=1.0, udp_fraction=1.5), "udp_fraction"),
    ],
)
def test_synthesize_errors(kwargs, name):
    with pytest.raises(ParameterError, match=f"parameter {name}="):
        synthesize("websearch", seed=0, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(train_packets_mean=0.5), "train_packets_mean"),
        (dict(train_gap_median_us=0), "train_gap_median_us"),
        (dict(train_gap_sigma=-1), "train_gap_sigma"),
        (dict(flow_rate_gbps=(2.0, 1.0)), "flow_rate_gbps"),
        (dict(gap_jitter=1.0), "gap_jitter"),
    ],
)
def test_burst_model_errors(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        BurstModel(**kwargs)


# --- adversarial flowlets ----------------------------------------------------------------------


@pytest.mark.parametrize("every", [1, 10, 50])
def test_injector_adds_exactly_to_every_nth_flow(every):
    p = paper_like(seed=3, scale=0.005)
    q, added = inject_adversarial_flowlets(p, every, 20, 1400, seed=1, count_jitter=0)
    n_flows = p["flow_id"].n_unique()
    targets = np.arange(every - 1, n_flows, every)
    assert added == 20 * targets.size
    assert q.height == p.height + added
    before = np.bincount(p["flow_id"].to_numpy(), minlength=n_flows)
    after = np.bincount(q["flow_id"].to_numpy(), minlength=n_flows)
    expect = np.zeros(n_flows, np.int64)
    expect[targets] = 20
    assert np.array_equal(after - before, expect)
    validate_packets(q)
    assert reassign_flow_ids(q).equals(q)  # existing flow ids (first-seen order) unchanged
    # originals are all still there, in order
    orig = q.join(p.with_row_index("r"), on=q.columns, how="left")
    assert orig["r"].drop_nulls().to_list() == list(range(p.height))


def test_injected_burst_is_one_flowlet_inside_the_flow():
    p = paper_like(seed=4, scale=0.002)
    q, added = inject_adversarial_flowlets(p, 7, seed=9)
    new = q.join(p, on=p.columns, how="anti")
    assert new.height == added
    sizes = new["wire_len"].to_numpy()
    assert sizes.min() >= 1330 and sizes.max() <= 1470
    per_flow = new.group_by("flow_id").agg(
        pl.len(), pl.col("ts_ns").min().alias("t0"), pl.col("ts_ns").max().alias("t1")
    )
    assert per_flow["len"].min() >= 15 and per_flow["len"].max() <= 25
    assert (per_flow["flow_id"] % 7 == 6).all()
    span = p.group_by("flow_id").agg(
        pl.col("ts_ns").min().alias("f0"), pl.col("ts_ns").max().alias("f1")
    )
    j = per_flow.join(span, on="flow_id")
    assert (j["t0"] >= j["f0"]).all() and (j["t0"] <= j["f1"]).all()
    # back to back at 10 Gbps: 25 packets of <= 1470 B take < 30 us
    assert ((j["t1"] - j["t0"]) < 30_000).all()
    a, n1 = inject_adversarial_flowlets(p, 7, seed=9)
    b, _ = inject_adversarial_flowlets(p, 7, seed=10)
    assert a.equals(q) and n1 == added and not b.equals(a)


def test_injector_errors_and_payload():
    p = paper_like(seed=0, scale=0.0005)
    for kwargs, name in [
        (dict(every_nth_flow=0), "every_nth_flow"),
        (dict(every_nth_flow=2, burst_packets=0), "burst_packets"),
        (dict(every_nth_flow=2, count_jitter=20), "count_jitter"),
        (dict(every_nth_flow=2, packet_bytes=9000), "packet_bytes"),
        (dict(every_nth_flow=2, line_rate_gbps=0.0), "line_rate_gbps"),
    ]:
        with pytest.raises(ParameterError, match=name):
            inject_adversarial_flowlets(p, seed=0, **kwargs)
    with_payload = p.with_columns(pl.lit(b"x", dtype=pl.Binary).alias("payload"))
    q, added = inject_adversarial_flowlets(with_payload, 2, seed=0)
    assert (q["payload"].bin.size() == 0).sum() == added
    big, zero = inject_adversarial_flowlets(p, 10**9, seed=0)
    assert zero == 0 and big.equals(p)
