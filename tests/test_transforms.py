"""Trace transforms: invariants (counts, order, dense flow ids) and error cases."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snfkit.errors import ParameterError
from snfkit.traces import packets_from_arrays, validate_packets
from snfkit.traces.table import ipv4_to_rows
from snfkit.traces.transforms import (
    flow_hash,
    mean_gbps,
    merge,
    sample_flows,
    speedup,
    speedup_to_gbps,
    time_window,
)


def table(n: int, seed: int, n_flows: int = 20, t0: int = 1_000, payload: bool = False):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, max(n_flows, 1), n)
    src = ipv4_to_rows((f * 7 + 1).astype(np.uint32))
    dst = ipv4_to_rows(np.full(n, 0x0A000001, np.uint32))
    ts = t0 + np.sort(rng.integers(0, 10_000_000, n))
    pay = [bytes([i % 256]) for i in range(n)] if payload else None
    return packets_from_arrays(
        ts, src, dst, (f % 5).astype(np.uint16), np.full(n, 80), np.full(n, 6), 64 + f, pay
    )


def assert_valid(packets: pl.DataFrame) -> None:
    validate_packets(packets)
    ids = packets["flow_id"].to_numpy()
    if ids.size:
        first = np.unique(ids, return_index=True)[1]
        assert np.array_equal(ids[np.sort(first)], np.arange(ids.max() + 1))  # dense, first-seen


sizes = st.integers(0, 300)
seeds = st.integers(0, 2**20)


@settings(max_examples=40, deadline=None)
@given(n=sizes, seed=seeds, factor=st.floats(0.01, 100.0))
def test_speedup_invariants(n, seed, factor):
    p = table(n, seed)
    q = speedup(p, factor)
    assert q.height == p.height
    assert q.drop("ts_ns").equals(p.drop("ts_ns"))
    assert_valid(q)
    if n:
        ts = p["ts_ns"].to_numpy()
        expect = ts[0] + np.round((ts - ts[0]) / factor).astype(np.int64)
        assert np.array_equal(q["ts_ns"].to_numpy(), expect)


def test_speedup_to_gbps_hits_target():
    p = table(5000, 1)
    q, factor = speedup_to_gbps(p, 3.0)
    assert mean_gbps(q) == pytest.approx(3.0, rel=1e-6)
    assert factor == pytest.approx(3.0 / mean_gbps(p))


def test_mean_gbps_units():
    # 2 packets of 1250 B = 20,000 bits over 10,000 ns = 2 bits/ns = 2 Gbps
    one = table(2, 0)
    p = one.with_columns(pl.Series("ts_ns", [0, 10_000]), pl.lit(1250, pl.UInt32).alias("wire_len"))
    assert mean_gbps(p) == pytest.approx(2.0)
    with pytest.raises(ParameterError, match="packets"):
        mean_gbps(p.head(1))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "x"])
def test_speedup_errors(bad):
    with pytest.raises(ParameterError, match="factor"):
        speedup(table(10, 0), bad)
    with pytest.raises(ParameterError, match="target_gbps"):
        speedup_to_gbps(table(10, 0), bad)


@settings(max_examples=40, deadline=None)
@given(n=sizes, seed=seeds, a=st.integers(-100, 11_000_000), w=st.integers(0, 11_000_000))
def test_time_window(n, seed, a, w):
    p = table(n, seed)
    q = time_window(p, a, a + w)
    assert_valid(q)
    if n:
        t0 = p["ts_ns"][0]
        ts = p["ts_ns"].to_numpy()
        expect = ts[(ts >= t0 + a) & (ts < t0 + a + w)]
        assert np.array_equal(q["ts_ns"].to_numpy(), expect)
        absolute = time_window(p, t0 + a, t0 + a + w, relative=False)
        assert absolute.equals(q)
        # the 5-tuples kept are exactly those of the rows in the window
        assert q.drop("flow_id").equals(p.filter(pl.col("ts_ns").is_in(expect)).drop("flow_id"))


def test_time_window_open_ends_and_errors():
    p = table(100, 3)
    assert time_window(p).equals(p)
    assert time_window(p, None, 0).height == 0
    assert time_window(p, 0, None).height == 100
    with pytest.raises(ParameterError, match="end_ns"):
        time_window(p, 10, 5)
    with pytest.raises(ParameterError, match="start_ns"):
        time_window(p, 1.5, None)


@settings(max_examples=30, deadline=None)
@given(n=sizes, seed=seeds, fraction=st.floats(0.05, 1.0), hseed=seeds)
def test_sample_flows_keeps_whole_flows_deterministically(n, seed, fraction, hseed):
    p = table(n, seed)
    q = sample_flows(p, fraction, hseed)
    assert_valid(q)
    assert q.equals(sample_flows(p, fraction, hseed))
    key = ["src_ip", "dst_ip", "src_port", "dst_port", "proto"]
    kept = q.select(key).unique()
    # every packet of a kept flow is kept; no packet of a dropped flow is
    assert p.join(kept, on=key, how="semi").height == q.height
    # order-independent: reversing the input keeps the same flows
    rev = sample_flows(p.reverse(), fraction, hseed).select(key).unique()
    assert rev.sort(key).equals(kept.sort(key))
    # nested in the fraction
    bigger = sample_flows(p, min(1.0, fraction * 2), hseed).select(key).unique()
    assert kept.join(bigger, on=key, how="anti").height == 0


def test_sample_flows_fraction_and_seed():
    p = table(20_000, 5, n_flows=4000)
    n_flows = p["flow_id"].max() + 1
    q = sample_flows(p, 0.3, 7)
    assert (q["flow_id"].max() + 1) / n_flows == pytest.approx(0.3, abs=0.03)
    assert not q.equals(sample_flows(p, 0.3, 8))
    assert np.array_equal(flow_hash(p, 1), flow_hash(p, 1))
    for bad in (0, -0.1, 1.5, float("nan")):
        with pytest.raises(ParameterError, match="fraction"):
            sample_flows(p, bad, 0)
    with pytest.raises(ParameterError, match="seed"):
        sample_flows(p, 0.5, 1.5)


@settings(max_examples=30, deadline=None)
@given(n1=sizes, n2=sizes, s1=seeds, s2=seeds, align=st.booleans())
def test_merge(n1, n2, s1, s2, align):
    a = table(n1, s1, t0=0)
    b = table(n2, s2, n_flows=50, t0=5_000_000)
    m = merge(a, b, align_start=align)
    assert m.height == n1 + n2
    assert_valid(m)
    if align and n1 and n2:
        start = min(a["ts_ns"][0], b["ts_ns"][0])
        a = a.with_columns(pl.col("ts_ns") - (a["ts_ns"][0] - start))
        b = b.with_columns(pl.col("ts_ns") - (b["ts_ns"][0] - start))
    expected = pl.concat([a, b]).sort("ts_ns", maintain_order=True).drop("flow_id")
    assert m.drop("flow_id").equals(expected)


def test_merge_payload_and_errors():
    a = table(10, 1, payload=True)
    b = table(5, 2)
    m = merge(a, b)
    assert m["payload"].bin.size().sum() == 10
    assert m.height == 15
    with pytest.raises(ParameterError, match="tables"):
        merge()
    with pytest.raises(ParameterError, match=r"tables\[1\]"):
        merge(a, "x")  # type: ignore[arg-type]


def test_merge_same_flow_in_two_tables_is_one_flow():
    a = table(50, 1, n_flows=3)
    m = merge(a, a)
    assert m["flow_id"].n_unique() == a["flow_id"].n_unique()
