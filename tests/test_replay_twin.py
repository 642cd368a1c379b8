"""The numba replay kernel against its plain-Python twin: identical outputs on random cases."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replay_helpers import lease_switches, paper_switches, random_trace, replay_cases

from snfkit import ReplayParams, replay
from snfkit.engine.enums import WaitCause, names
from snfkit.reference.replay import replay_reference


def _compare(packets, flat):
    params = ReplayParams.from_flat(**flat)
    got = replay(packets, params.replace(keep_packets=True), keep_state_sources=True)
    ts = packets["ts_ns"].to_numpy()
    flow = packets["flow_id"].to_numpy()
    wl = packets["wire_len"].to_numpy()
    ref = replay_reference(ts, flow, wl, params)
    P, R = got.packets, ref["packets"]
    np.testing.assert_array_equal(P["unit"].to_numpy(), R["unit"])
    np.testing.assert_array_equal(P["item"].to_numpy(), R["item"])
    np.testing.assert_array_equal(P["start_ns"].to_numpy(), R["start"])
    np.testing.assert_array_equal(P["finish_ns"].to_numpy(), R["finish"])
    np.testing.assert_array_equal(P["state_wait_ns"].to_numpy(), R["state_wait"])
    causes = np.array(names(WaitCause))[R["wait_cause"]]
    np.testing.assert_array_equal(P["wait_cause"].cast(str).to_numpy(), causes)
    np.testing.assert_array_equal(P["reordered"].to_numpy(), R["reordered"])
    np.testing.assert_array_equal(got.extra["src_pkt"], R["src"])
    F, I = got.flowlets, ref["items"]  # noqa: E741
    np.testing.assert_array_equal(F["item"].to_numpy(), I["id"])
    np.testing.assert_array_equal(F["flow_id"].to_numpy(), I["flow"])
    np.testing.assert_array_equal(F["unit"].to_numpy(), I["unit"])
    np.testing.assert_array_equal(F["unit_life"].to_numpy(), I["life"])
    np.testing.assert_array_equal(F["open_ns"].to_numpy(), I["open_ts"])
    np.testing.assert_array_equal(F["estimate_gbps"].to_numpy(), I["est"] / 1e9)
    np.testing.assert_array_equal(F["overflow"].to_numpy(), I["overflow"])
    cols = [
        "unit",
        "unit_life",
        "start_ns",
        "ready_ns",
        "retire_ns",
        "packets",
        "bytes",
        "busy_ns",
        "cal_full",
        "failed",
        "share",
    ]
    rec = ref["records"][np.argsort(ref["records"][:, 1], kind="stable")]
    np.testing.assert_array_equal(got.units.select(cols).to_numpy(), rec)
    np.testing.assert_array_equal(F["state_source"].to_physical().to_numpy(), I["source"])
    np.testing.assert_array_equal(F["moved"].to_numpy(), I["moved"])
    T = got.transfers.drop("controller", strict=False)
    T = T.with_columns(pl.col("kind").to_physical().cast(pl.Int64))
    np.testing.assert_array_equal(T.to_numpy().reshape(-1, 9), ref["transfers"])
    # the default (keep_packets='auto'): the same table, built from the kernel's columns when
    # read, and no transfers table
    auto = replay(packets, params, keep_state_sources=True)
    assert auto.transfers is None and repr(auto.summary) == repr(got.summary)  # (nan == nan)
    assert auto.packets.equals(P)
    s, c = got.summary, ref["counters"]
    for key in ("pushes", "stale_copies", "store_reads", "store_writes"):
        assert s[key] == c[key], key
    assert s["stale_state_used"] == c["stale_used"]
    assert s["replica_copies"] == c["copies"]
    assert s["allocations"] == c["allocations"]
    assert s["moves"] == c["moves"]
    assert s["overflow"] == c["overflow_new"] + c["overflow_full"]
    assert s["prestarts"] == c["prestarts"]
    assert s["state_pulls"] == c["state_pulls"]
    assert s["reordered"] == c["reordered"]
    assert s["rm_epoch_leases"] == c["lease_asks"]
    assert s["rm_leases_returned"] == c["lease_returns"]
    assert s["controller"]["waited"] == c["decide_waited"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replay_cases())
def test_kernel_equals_twin(case):
    packets, flat = case
    _compare(packets, flat)


def test_kernel_equals_twin_busy_smart_flow():
    """A longer, loaded trace where smart_flow moves and consolidates many flows."""
    packets = random_trace(7, 3_000, 40, 3_000.0)
    flat = {"mode": "smart_flow", "smart_interval_ns": 1_000_000, "flow_timeout_ns": 2_000_000,
            "unit_idle_ns": 3_000_000, "unit_capacity_bps": 2e8, "max_units": 8}  # fmt: skip
    got = replay(packets, **flat)
    assert got.summary["moves"] > 10  # the case exercises reallocation
    _compare(packets, flat)


def test_kernel_equals_twin_every_mode_loaded():
    packets = random_trace(11, 2_000, 30, 4_000.0)
    for mode in ("flowlet", "flow", "packet"):
        flat = {"mode": mode, "unit_capacity_bps": 3e8, "max_units": 5, "unit_idle_ns": 2_000_000,
                "flow_timeout_ns": 1_000_000, "unit_startup_ns": 50_000}  # fmt: skip
        _compare(packets, flat)


def test_kernel_equals_twin_many_mask_words():
    """More than 64 unit slots, so replica masks span several words: a push while 65 units are
    active sets bit 64; that unit retires, a later push (hi <= 64) must still clear the bit, and
    when slot 64 restarts before that push's time its copy must not count (regression: the kernel
    once cleared only the words below ctl.hi and read the stale bit as a fresh replica)."""
    from replay_helpers import table

    us = 1000
    rows = [(0, 0)] + [(k, k) for k in range(1, 65)]  # flows 0..64 each start a unit (overflow)
    rows += [(r * 40 * us + k, k) for r in range(1, 16) for k in range(1, 64)]  # 64 goes silent
    rows += [(300 * us, 0), (420 * us, 0)]  # flow 0's later flowlets; slot 64 restarts at 420 us
    rows.sort()
    ts = np.array([r[0] for r in rows], np.int64)
    flow = np.array([r[1] for r in rows], np.int64)
    packets = table(ts, flow, np.full(ts.size, 1500, np.int64))
    flat = dict(mode="flowlet", timeout_ns=100 * us, size_bytes=0, unit_idle_ns=200 * us,
                unit_startup_ns=0, state_transfer_ns=160 * us, max_units=128,
                unit_capacity_bps=1e6, initial_estimate_bps=1e9, prestart_utilization=1e9,
                replication_policy="broadcast", state_mode="proactive")  # fmt: skip
    for alpha in (0.0, 0.5):
        _compare(packets, {**flat, "alpha": alpha})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replay_cases(), st.integers(65, 130), st.sampled_from([2e6, 2e7]))
def test_kernel_equals_twin_large_pool(case, max_units, capacity):
    """The random cases with a pool of 65-130 slots (replica masks of two or three words) and
    units small enough to use many of them, in proactive mode."""
    packets, flat = case
    _compare(packets, {**flat, "max_units": max_units, "unit_capacity_bps": capacity,
                       "state_mode": "proactive"})  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replay_cases(), paper_switches())
def test_kernel_equals_twin_paper_switches(case, switches):
    """The random cases with the paper-faithful switches (placement, decision cost, pull and push
    times, the sender's push cost, the NF's processing cost) drawn on or off."""
    packets, flat = case
    _compare(packets, {**flat, **switches})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replay_cases(), lease_switches())
def test_kernel_equals_twin_leases(case, switches):
    """The random cases as one controller under a resource manager (fractional leases, epoch
    requests and returns) and with a controller decision rate, drawn on or off."""
    packets, flat = case
    if switches["resource_manager"] and flat["mode"] == "packet":
        flat = {**flat, "mode": "flowlet"}
    _compare(packets, {**flat, **switches})
