"""Small trace builders and a hypothesis strategy shared by the replay tests."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import strategies as st

from snfkit.params import LOAD_ESTIMATORS, MODES, PLACEMENTS, REPLICATION_POLICIES, STATE_MODES

LOADED = {"unit_capacity_bps": 3e8, "max_units": 6, "unit_idle_ns": 2_000_000,
          "flow_timeout_ns": 1_000_000, "smart_interval_ns": 500_000,
          "unit_startup_ns": 20_000}  # fmt: skip
"""Small units and short timeouts: a few hundred packets exercise every mechanism."""


def table(ts, flow, wire_len) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts_ns": np.asarray(ts, np.int64),
            "flow_id": np.asarray(flow, np.int64),
            "wire_len": np.asarray(wire_len, np.int64),
        }
    )


def random_trace(seed: int, n: int, n_flows: int, mean_gap_ns: float) -> pl.DataFrame:
    """Bursty trace: trains of back-to-back packets separated by exponential gaps."""
    rng = np.random.default_rng(seed)
    gaps = np.where(rng.random(n) < 0.7, rng.integers(0, 2_000, n), rng.exponential(mean_gap_ns, n))
    ts = np.cumsum(gaps).astype(np.int64)
    flow = rng.integers(0, n_flows, n)
    # dense flow ids in first-seen order, as the packets table has them
    _, first = np.unique(flow, return_index=True)
    rank = np.empty(n_flows, np.int64)
    rank[flow[np.sort(first)]] = np.arange(first.size)
    wl = rng.choice([64, 576, 1434, 1500], n)
    return table(ts, rank[flow], wl)


@st.composite
def replay_cases(draw):
    """(packets table, flat params) small enough for the plain-Python twin."""
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(1, 250))
    n_flows = draw(st.integers(1, 25))
    gap = draw(st.sampled_from([500.0, 5_000.0, 50_000.0, 400_000.0]))
    mode = draw(st.sampled_from(MODES))
    timeout = draw(st.sampled_from([1_000, 10_000, 100_000, 500_000]))
    idle = draw(st.sampled_from([1_000_000, 5_000_000, 100_000_000]))
    params = {
        "mode": mode,
        "timeout_ns": min(timeout, idle),
        "size_bytes": draw(st.sampled_from([0, 1_500, 3_000, 15_000])),
        "alpha": draw(st.floats(0.0, 1.0)),
        "unit_capacity_bps": draw(st.sampled_from([5e7, 2e8, 1e9, 1e10])),
        "load_bucket_ns": draw(st.sampled_from([10_000, 100_000, 500_000])),
        "load_buckets": draw(st.integers(1, 20)),
        "load_estimator": draw(st.sampled_from(LOAD_ESTIMATORS)),
        "ewma_weight": draw(st.floats(0.0, 1.0)),
        "initial_estimate_bps": draw(st.sampled_from([0.0, 1e6, 1e7, 5e8])),
        "per_packet_ns": draw(st.integers(1, 3_000)),
        "per_byte_ps": draw(st.sampled_from([0, 1_000, 5_000, 20_000])),
        "unit_startup_ns": draw(st.sampled_from([0, 10_000, 1_000_000])),
        "unit_idle_ns": idle,
        "prestart_utilization": draw(st.sampled_from([0.01, 0.5, 0.9])),
        "max_units": draw(st.integers(1, 6)),
        "flow_timeout_ns": min(draw(st.sampled_from([50_000, 1_000_000, 100_000_000])), idle),
        "smart_interval_ns": draw(st.sampled_from([20_000, 200_000, 2_000_000])),
        "consolidate_below": draw(st.floats(0.0, 1.0)),
        "state_mode": draw(st.sampled_from(STATE_MODES)),
        "replicas": draw(st.integers(0, 6)),
        "replication_policy": draw(st.sampled_from(REPLICATION_POLICIES)),
        "replicate_after": draw(st.sampled_from([0.1, 0.5, 1.0])),
        "seed": draw(st.integers(0, 2**40)),
        "clock_check": draw(st.booleans()),
        "state_transfer_ns": draw(st.sampled_from([0, 1_000, 160_000])),
        "store_rtt_ns": draw(st.sampled_from([0, 1_000, 160_000])),
    }
    return random_trace(seed, n, n_flows, gap), params


@st.composite
def paper_switches(draw):
    """The paper-faithful switches of issue 19, each off (its default) or on."""
    return {
        "placement": draw(st.sampled_from(PLACEMENTS)),
        "decision_ns": draw(st.sampled_from([0, 1_000, 20_000])),
        "pull_transfer_ns": draw(st.sampled_from([-1, 0, 5_000, 133_000])),
        "transfer_bps": draw(st.sampled_from([0.0, 1e6, 1e9])),
        "push_unit_ns": draw(st.sampled_from([0, 500, 10_000])),
        "nf_cost": draw(st.booleans()),
        "nf_packet_ns": draw(st.sampled_from([0, 200, 3_000])),
        "nf_byte_ps": draw(st.sampled_from([0, 500, 5_000])),
        "state_bytes": draw(st.sampled_from([0, 77, 4_000])),
        "unit_drain_bps": draw(st.sampled_from([0.0, 1e8, 1e9])),
        "unit_burst_bytes": draw(st.sampled_from([0, 1_500, 15_000])),
        "store_read_on_move": draw(st.booleans()),
    }


@st.composite
def lease_switches(draw):
    """Issue 18's switches: one controller's units as resource-manager leases, and a controller
    decision rate, each off (its default) or on, with short epochs so that epoch requests run."""
    return {
        "resource_manager": draw(st.booleans()),
        "rm_headroom": draw(st.sampled_from([0.0, 0.1, 1.0])),
        "rm_grain": draw(st.sampled_from([0.05, 0.1, 0.5, 1.0])),
        "rm_increment": draw(st.sampled_from([0.25, 0.5, 1.0])),
        "rm_rtt_ns": draw(st.sampled_from([0, 10_000, 100_000])),
        "controller_rate": draw(st.sampled_from([0.0, 1e4, 1e5, 1e6])),
        "decision_ns": draw(st.sampled_from([0, 1_000])),
        "epoch_ns": draw(st.sampled_from([100_000, 1_000_000, 100_000_000])),
    }
