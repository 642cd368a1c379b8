"""Parameters: defaults are the paper's, invalid values are rejected with name, value and range."""

from __future__ import annotations

import pytest

from snfkit import ReplayParams, replay
from snfkit.errors import ParameterError


def test_paper_defaults():
    p = ReplayParams()
    assert p.flowlets.timeout_ns == 500_000
    assert p.flowlets.size_bytes == 15_000
    assert p.assignment.alpha == 0.25
    assert p.assignment.unit_capacity_bps == 1e9
    assert (p.assignment.load_bucket_ns, p.assignment.load_buckets) == (500_000, 200)
    assert p.units.prestart_utilization == 0.9
    assert p.report.epoch_ns == 100_000_000
    assert p.state.state_transfer_ns == 160_000
    assert (p.state.state_mode, p.state.replicas, p.state.replication_policy) == (
        "proactive",
        3,
        "weighted",
    )
    assert p.state.replicate_after == 0.5


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("alpha", 1.5, "[0.0, 1.0]"),
        ("alpha", float("nan"), "finite"),
        ("timeout_ns", 0, f"[1, {2**50}]"),
        ("timeout_ns", 2.5, "integer"),
        ("size_bytes", -1, f"[0, {2**62}]"),
        ("mode", "flowlets", "'flowlet'"),
        ("load_estimator", "paper", "'committed'"),
        ("unit_capacity_bps", 0, "(0.0, inf]"),
        ("max_units", 0, "[1, 1000000]"),
        ("keep_packets", "yes", "True, False or 'auto'"),
        ("no_such_knob", 1, "a known parameter"),
        ("state_mode", "eager", "'proactive'"),
        ("replicas", -1, "[0, 4096]"),
        ("replication_policy", "random", "'weighted'"),
        ("replicate_after", 0.0, "(0.0, 1.0]"),
        ("state_bytes", -5, f"[0, {2**32}]"),
        ("state_bytes", 2**40, f"[0, {2**32}]"),  # transfer byte counts stay in int64
        ("clock_check", 1, "True or False"),
        ("per_byte_ps", 10**9 + 1, "[0, 1000000000]"),  # a service time stays in int64
        ("per_packet_ns", 10**12 + 1, "[1, 1000000000000]"),
        # every time parameter is bounded so that the kernel's sums stay in int64 (issue 15.5)
        ("unit_startup_ns", 2**63 - 1, f"[0, {2**50}]"),
        ("state_transfer_ns", 10**18, f"[0, {2**50}]"),
        ("store_rtt_ns", 2**63 - 1, f"[0, {2**50}]"),
        ("unit_idle_ns", 2**51, f"[1, {2**50}]"),
        ("flow_timeout_ns", 2**51, f"[1, {2**50}]"),
        ("smart_interval_ns", 2**51, f"[1, {2**50}]"),
        ("load_bucket_ns", 2**51, f"[1, {2**50}]"),
        ("epoch_ns", 2**51, f"[1, {2**50}]"),
    ],
)
def test_invalid_values_are_named(name, value, fragment):
    with pytest.raises(ParameterError) as err:
        ReplayParams.from_flat(**{name: value})
    msg = str(err.value)
    assert name in msg
    assert fragment in msg


def test_close_timeout_must_not_exceed_idle():
    with pytest.raises(ParameterError, match="flow_timeout_ns"):
        ReplayParams.from_flat(mode="flow", flow_timeout_ns=10, unit_idle_ns=5)


def test_proactive_pool_is_bounded():
    with pytest.raises(ParameterError, match="max_units"):
        ReplayParams.from_flat(max_units=5000)
    assert ReplayParams.from_flat(max_units=5000, state_mode="reactive").units.max_units == 5000


def test_flat_roundtrip_and_replace():
    p = ReplayParams.from_flat(alpha=0.5, mode="packet")
    assert ReplayParams.from_flat(**p.flat()) == p
    assert p.replace(alpha=0.1).assignment.alpha == 0.1
    assert p.replace(alpha=0.1).modes.mode == "packet"


def test_replay_rejects_bad_input():
    import polars as pl

    with pytest.raises(ParameterError, match="packets"):
        replay(pl.DataFrame({"ts_ns": [1]}))
    with pytest.raises(ParameterError, match="sorted"):
        replay(pl.DataFrame({"ts_ns": [5, 1], "flow_id": [0, 0], "wire_len": [100, 100]}))
    with pytest.raises(ParameterError, match="chunk_size"):
        replay(pl.DataFrame({"ts_ns": [1], "flow_id": [0], "wire_len": [100]}), chunk_size=0)
