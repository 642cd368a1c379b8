"""Hostile and careless inputs to ``snfkit.replay`` (issue 15): each reproduction that used to crash,
hang or give wrong numbers, and a hypothesis suite of adversarial tables and parameters whose every
case ends in a snfkit error naming what is wrong, or in a result whose invariants hold."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from conftest import shared_trace
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from replay_helpers import LOADED, random_trace
from test_replay_conformance import check_invariants

from snfkit import replay
from snfkit.errors import ParameterError, SnfkitError
from snfkit.params import MAX_TIME_PARAM_NS
from snfkit.reference.replay import replay_reference
from snfkit.runner.drive import MAX_EPOCHS


def packets(ts, flow=None, wire_len=None) -> pl.DataFrame:
    n = len(ts)
    return pl.DataFrame(
        {
            "ts_ns": pl.Series(ts, dtype=pl.Int64),
            "flow_id": pl.Series(flow if flow is not None else [0] * n, dtype=pl.Int64),
            "wire_len": pl.Series(wire_len if wire_len is not None else [100] * n, dtype=pl.UInt32),
        }
    )


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter: a crash is an exit status here, not the end of the suite."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )


def test_times_above_2_62_do_not_crash_the_interpreter():
    """Item 1: 2**62 was the kernel's "no event" mark; a packet beyond it crashed the process."""
    code = (
        "import polars as pl, snfkit\n"
        "for ts in ([2**62 + 1], [2**63 - 1000, 2**63 - 1]):\n"
        "    t = pl.DataFrame({'ts_ns': ts, 'flow_id': [0] * len(ts),\n"
        "                      'wire_len': pl.Series([100] * len(ts), dtype=pl.UInt32)})\n"
        "    for mode in ('flowlet', 'flow', 'smart_flow', 'packet'):\n"
        "        r = snfkit.replay(t, mode=mode)\n"
        "        assert r.summary['packets_served'] == len(ts), r.summary\n"
        "print('ok')\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize("origin", [-(2**63), -2_000_000_000, 1_521_118_773_289_502_000, 2**62])
def test_latencies_do_not_depend_on_where_the_clock_starts(origin):
    """Item 2: time counts from the trace's first packet, never from zero."""
    base = random_trace(4, 400, 12, 5_000.0)
    base = base.with_columns(pl.col("ts_ns") - pl.col("ts_ns").min())
    moved = base.with_columns(pl.col("ts_ns") + origin)
    for mode in ("flowlet", "smart_flow", "packet"):
        a = replay(base, mode=mode, **LOADED)
        b = replay(moved, mode=mode, **LOADED)
        assert b.packets["latency_ns"].equals(a.packets["latency_ns"])
        assert b.summary["latency_us"] == a.summary["latency_us"]
        assert (b.packets["start_ns"] - origin).equals(a.packets["start_ns"])
        assert (b.units["start_ns"] - origin).equals(a.units["start_ns"])
        assert (b.flowlets["open_ns"] - origin).equals(a.flowlets["open_ns"])
        assert b.epochs["start_ns"][0] == origin
        check_invariants(moved, b)


def test_two_negative_csv_times_give_the_shifted_latencies():
    a = replay(packets([-2_000_000_000, -1_999_999_000]))
    b = replay(packets([0, 1_000]))
    assert a.summary["latency_us"] == b.summary["latency_us"]
    assert a.summary["latency_us"]["p50"] < 2_000  # 1,001 us (unit start-up); was 2,000,001 us


def test_the_twin_counts_time_from_the_first_packet_too():
    base = random_trace(7, 150, 8, 20_000.0)
    for origin in (0, 10**18, -(10**18)):
        t = base.with_columns(pl.col("ts_ns") + origin)
        got = replay(
            t,
            mode="smart_flow",
            smart_interval_ns=7_000,
            **{k: v for k, v in LOADED.items() if k != "smart_interval_ns"},
        )
        arrays = [t[c].to_numpy() for c in ("ts_ns", "flow_id", "wire_len")]
        from snfkit.params import ReplayParams

        ref = replay_reference(
            *arrays,
            ReplayParams.from_flat(
                mode="smart_flow",
                smart_interval_ns=7_000,
                **{k: v for k, v in LOADED.items() if k != "smart_interval_ns"},
            ),
        )
        np.testing.assert_array_equal(got.packets["start_ns"].to_numpy(), ref["packets"]["start"])
        np.testing.assert_array_equal(got.packets["finish_ns"].to_numpy(), ref["packets"]["finish"])


def test_sparse_time_is_refused_before_anything_is_allocated():
    """Item 3: two packets ten days apart asked for 8.6 M epochs of 100 ms; now a clear error that
    names the span and the epoch count, and a longer epoch replays at the cost of two packets."""
    ten_days = 10 * 86_400 * 10**9
    with pytest.raises(ParameterError, match="epoch_ns") as err:
        replay(packets([0, ten_days]))
    assert "8,640,001 epochs" in str(err.value) and f"{MAX_EPOCHS:,}" in str(err.value)
    res = replay(packets([0, ten_days]), epoch_ns=86_400 * 10**9)
    assert res.epochs.height == 11
    assert res.summary["packets_served"] == 2
    with pytest.raises(ParameterError, match="epoch_ns"):
        replay(packets(list(range(0, 24_000_000, 10_000))), epoch_ns=1)


def test_a_span_beyond_the_kernel_clock_is_refused_naming_the_row():
    with pytest.raises(ParameterError, match="ts_ns 0 at row 1"):  # 2**62 after the first
        replay(packets([-(2**62), 0, 2**62]))


def test_sparse_time_in_smart_flow_with_a_tiny_interval_finishes():
    """Item 8: ticks cost nothing while nothing moves (a quiet tick skips to the next arrival,
    event or retirement); results equal the twin's, which ticks every interval."""
    t = packets(
        [0, 5_000, 9_000, 900_000, 901_000, 3_000_000],
        flow=[0, 1, 0, 2, 1, 0],
        wire_len=[1500, 800, 1500, 64, 1500, 1500],
    )
    flat = dict(LOADED, mode="smart_flow", smart_interval_ns=97, unit_capacity_bps=5e7)
    from snfkit.params import ReplayParams

    got = replay(t, **flat)
    arrays = [t[c].to_numpy().astype(np.int64) for c in ("ts_ns", "flow_id", "wire_len")]
    ref = replay_reference(*arrays, ReplayParams.from_flat(**flat))
    np.testing.assert_array_equal(got.packets["unit"].to_numpy(), ref["packets"]["unit"])
    np.testing.assert_array_equal(got.packets["finish_ns"].to_numpy(), ref["packets"]["finish"])
    assert got.summary["moves"] == ref["counters"]["moves"]


@pytest.mark.shared
def test_smart_flow_ticking_every_nanosecond_on_caida_finishes():
    path = shared_trace("caida-nyc-2018-10k.pcap")
    code = (
        "import snfkit\n"
        f"t = snfkit.load_trace({str(path)!r})\n"
        "r = snfkit.replay(t, mode='smart_flow', smart_interval_ns=1, keep_packets=False)\n"
        "assert r.summary['packets_served'] == t.height\n"
        "print('ok')\n"
    )
    done = run_python(code, timeout=240)  # a guard against the old linear-in-1/interval run
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("flow_id", [10**9, 2**62])
def test_huge_flow_ids_are_refused_naming_the_row(flow_id):
    """Item 6: ids index per-flow tables; 10**9 asked numpy for gigabytes."""
    t = packets([0, 1_000, 2_000], flow=[0, flow_id, 1])
    with pytest.raises(ParameterError, match="dense flow ids") as err:
        replay(t)
    assert str(flow_id) in str(err.value)
    with pytest.raises(ParameterError, match="row 1"):
        replay(iter([t]))


def test_renumbered_sparse_ids_replay():
    t = packets([0, 1_000, 2_000], flow=[0, 10**9, 0])
    dense = t.with_columns(pl.col("flow_id").rank("dense").cast(pl.Int64) - 1)
    assert replay(dense).summary["packets_served"] == 3


@pytest.mark.parametrize("bad", [[1, 2, 3], [pl.DataFrame({"x": [1]}).lazy(), 5], "no/such/file"])
def test_bad_inputs_raise_snfkit_errors(bad):
    """Item 7: replay([1, 2, 3]) raised AttributeError."""
    with pytest.raises((SnfkitError, FileNotFoundError)) as err:
        replay(bad)
    if bad == [1, 2, 3]:
        assert "chunk 0 of type int" in str(err.value)


def test_nf_with_four_byte_addresses_names_the_column():
    t = packets([0, 1_000]).with_columns(
        src_ip=pl.Series([b"\x0a\x00\x00\x01"] * 2, dtype=pl.Binary),
        dst_ip=pl.Series([b"\x0a\x00\x00\x02"] * 2, dtype=pl.Binary),
        src_port=pl.Series([1, 2], dtype=pl.UInt16),
        dst_port=pl.Series([80, 80], dtype=pl.UInt16),
        proto=pl.Series([6, 6], dtype=pl.UInt8),
    )
    with pytest.raises(ParameterError, match="4-byte src_ip at row 0"):
        replay(t, nf="nat")


def test_a_backlog_past_the_kernel_clock_is_refused():
    """Item 5's sibling: services so long that a unit's backlog would overflow the clock."""
    t = packets(list(range(0, 4_000_000, 1_000)), wire_len=[2**32 - 1] * 4_000)
    with pytest.raises(ParameterError, match="per_packet_ns / per_byte_ps"):
        replay(t, per_byte_ps=10**9, max_units=1, mode="flow")


def test_huge_transfer_times_give_positive_wait_totals():
    res = replay(
        random_trace(3, 2_000, 40, 3_000.0),
        state_mode="reactive",
        state_transfer_ns=MAX_TIME_PARAM_NS,
        unit_idle_ns=MAX_TIME_PARAM_NS,
        **{k: v for k, v in LOADED.items() if k != "unit_idle_ns"},
    )
    pull = res.summary["waits"]["pull"]
    assert pull["packets"] > 0 and pull["total_us"] > 0


# -- adversarial tables and parameters ---------------------------------------------------------

BOUNDS = {  # name -> (lowest, highest) allowed; the suite draws these, just outside, and defaults
    "timeout_ns": (1, MAX_TIME_PARAM_NS),
    "size_bytes": (0, 2**62),
    "alpha": (0.0, 1.0),
    "unit_capacity_bps": (1e-300, 1e300),
    "load_bucket_ns": (1, MAX_TIME_PARAM_NS),
    "load_buckets": (1, 100_000),
    "per_packet_ns": (1, 10**12),
    "per_byte_ps": (0, 10**9),
    "unit_startup_ns": (0, MAX_TIME_PARAM_NS),
    "unit_idle_ns": (1, MAX_TIME_PARAM_NS),
    "prestart_utilization": (1e-300, 1e300),
    "max_units": (1, 4096),
    "flow_timeout_ns": (1, MAX_TIME_PARAM_NS),
    "smart_interval_ns": (1, MAX_TIME_PARAM_NS),
    "replicas": (0, 4096),
    "state_transfer_ns": (0, MAX_TIME_PARAM_NS),
    "store_rtt_ns": (0, MAX_TIME_PARAM_NS),
    "state_bytes": (0, 2**32),
    "epoch_ns": (1, MAX_TIME_PARAM_NS),
}


@st.composite
def hostile_cases(draw):
    """Small tables at extreme clocks (from -2**63 to near 2**63), with dense, sparse or
    enormous gaps, sometimes a sparse flow id, wire lengths from 0 to 2**32 - 1, and up to four
    parameters each at a bound (mostly) or just outside it."""
    n = draw(st.integers(1, 40))
    origin = draw(st.sampled_from([-(2**63), -(10**12), 0, 2**62, 2**63 - 2**61]))
    regime = draw(st.sampled_from(["dense", "dense", "sparse", "enormous"]))
    gap = {
        "dense": st.integers(0, 5_000),
        "sparse": st.one_of(st.integers(0, 5_000), st.integers(0, 2**40)),
        "enormous": st.one_of(st.integers(0, 5_000), st.just(2**59)),
    }[regime]
    ts, t = [], origin
    for _ in range(n):
        t = min(t + draw(gap), 2**63 - 1)
        ts.append(t)
    flow = [draw(st.integers(0, 4)) for _ in range(n)]
    if draw(st.integers(0, 4)) == 0:  # a sparse id somewhere
        flow[draw(st.integers(0, n - 1))] = draw(st.sampled_from([10**9, 2**62]))
    wl = [draw(st.sampled_from([0, 1, 64, 1500, 2**32 - 1])) for _ in range(n)]
    params = {}
    for name in draw(st.lists(st.sampled_from(sorted(BOUNDS)), max_size=4, unique=True)):
        lo, hi = BOUNDS[name]
        choice = draw(st.sampled_from(["lo", "hi", "lo", "hi", "below", "above"]))
        params[name] = {"lo": lo, "hi": hi, "below": lo - 1, "above": hi * 2 + 1}[choice]
    params["mode"] = draw(st.sampled_from(["flowlet", "flow", "smart_flow", "packet"]))
    params["state_mode"] = draw(st.sampled_from(["proactive", "reactive", "external", "local"]))
    return packets(ts, flow, wl), params


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_cases())
def test_hostile_tables_and_parameters(case):
    """A snfkit error that names a parameter or a row, or a result whose invariants hold."""
    table, params = case
    try:
        res = replay(table, **params)
    except SnfkitError as err:
        msg = str(err)
        event(f"refused: {msg.split('=')[0]}")
        assert any(name in msg for name in [*params, "row", "packets", "max_units"]), msg
        return
    event("replayed")
    check_invariants(table, res)
    lat = res.packets["latency_ns"]
    assert (lat >= res.packets["service_ns"]).all()
