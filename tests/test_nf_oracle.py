"""The oracle: in every allocation mode and state mode, each packet's NF output equals a sequential
single-unit run of the same NF -- and it can fail: with the clock check off, stale replicas show.

Traces: synthetic ones built to stress the state protocol (flowlet gaps just above T, packets
lingering around T/2 after a flowlet's last packet, both directions of connections, adversarial
bursts) and slices of the real traces in ../shared/traces.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numba as nb
import numpy as np
import polars as pl
import pytest
from conftest import SHARED_TRACE_FILES, shared_trace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snfkit import load_trace, replay
from snfkit.engine.nf_nb import FORWARD, NFResult, sequential_sources
from snfkit.nf import NF, NFS, apply, get_nf
from snfkit.params import MODES, REPLICATION_POLICIES, STATE_MODES
from snfkit.traces.table import packets_from_arrays
from snfkit.traces.transforms import connections
from snfkit.workloads import inject_adversarial_flowlets

T_NS = 500_000


def lingering_trace(seed: int, n_conns: int = 40, per_conn: int = 60) -> pl.DataFrame:
    """Connections whose gaps sit around T/2 and just above T, both directions, TCP and UDP."""
    rng = np.random.default_rng(seed)
    gap_kinds = np.array([2_000, T_NS // 2 - 20_000, T_NS // 2 + 20_000, T_NS + 30_000, 3 * T_NS])
    words = [b"UNION SELECT", b"/bin/sh", b"<script>", b"uid=0(root)", b"wget http://"]
    rows = []
    for c in range(n_conns):
        t = int(rng.integers(0, 5 * T_NS))
        client = np.array([0] * 10 + [255, 255, 10, 0, c // 250, c % 250 + 1], np.uint8)
        server = np.array([0] * 10 + [255, 255, 192, 168, 0, rng.integers(1, 4)], np.uint8)
        cport = int(rng.integers(1024, 65535))
        udp = rng.random() < 0.4
        sport = int(rng.choice([53, 123, 443, 80])) if udp else int(rng.choice([80, 443]))
        proto = 17 if udp else 6
        for _ in range(per_conn):
            t += int(rng.choice(gap_kinds, p=[0.55, 0.12, 0.12, 0.15, 0.06]) + rng.integers(0, 500))
            reverse = rng.random() < 0.35
            src, dst = (server, client) if reverse else (client, server)
            sp, dp = (sport, cport) if reverse else (cport, sport)
            # payload: filler, sometimes an IDS pattern, sometimes cut across two packets
            pay = bytes(rng.integers(97, 123, int(rng.integers(4, 40))).astype(np.uint8))
            if rng.random() < 0.2:
                word = words[int(rng.integers(len(words)))]
                cut = int(rng.integers(0, len(word) + 1))
                pay = pay + word[:cut] if rng.random() < 0.5 else word[cut:] + pay
            size = int(rng.choice([64, 576, 1434, 1500]))
            rows.append((t, src, dst, sp, dp, proto, size, pay))
    rows.sort(key=lambda r: r[0])
    return packets_from_arrays(
        np.array([r[0] for r in rows], np.int64), np.stack([r[1] for r in rows]),
        np.stack([r[2] for r in rows]), np.array([r[3] for r in rows]),
        np.array([r[4] for r in rows]), np.array([r[5] for r in rows]),
        np.array([r[6] for r in rows]), payload=[r[7] for r in rows],
    )  # fmt: skip


@cache
def trace(kind: str, seed: int) -> pl.DataFrame:
    if kind == "lingering":
        return lingering_trace(seed)
    if kind == "adversarial":
        table, _ = inject_adversarial_flowlets(
            lingering_trace(seed), 3, burst_packets=12, seed=seed
        )
        return table
    return load_trace(shared_trace(kind), payload_bytes=64).head(4_000)


@cache
def nf_of(name: str):
    return get_nf(name)


@cache
def sequential(kind: str, seed: int, name: str) -> pl.DataFrame:
    return apply(nf_of(name), trace(kind, seed))


TRACE_KINDS = ["lingering", "adversarial", *SHARED_TRACE_FILES]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(TRACE_KINDS),
    seed=st.integers(0, 3),
    name=st.sampled_from(sorted(NFS)),
    mode=st.sampled_from(MODES),
    state_mode=st.sampled_from(STATE_MODES),
    policy=st.sampled_from(REPLICATION_POLICIES),
    replicas=st.integers(0, 5),
    alpha=st.sampled_from([0.0, 0.25, 0.75, 1.0]),
    replicate_after=st.sampled_from([0.3, 0.5, 0.9]),
    capacity=st.sampled_from([2e7, 1e8, 1e9]),
    timeout=st.sampled_from([T_NS, 100_000]),
    rseed=st.integers(0, 1_000),
)
def test_nf_output_equals_sequential_run(
    kind, seed, name, mode, state_mode, policy, replicas, alpha, replicate_after, capacity,
    timeout, rseed,
):  # fmt: skip
    seed = seed if kind in ("lingering", "adversarial") else 0
    packets = trace(kind, seed)
    res = replay(
        packets, nf=nf_of(name), mode=mode, state_mode=state_mode, replication_policy=policy,
        replicas=replicas, alpha=alpha, replicate_after=replicate_after,
        unit_capacity_bps=capacity, timeout_ns=timeout, seed=rseed, max_units=12,
        unit_idle_ns=5_000_000, flow_timeout_ns=2_000_000, smart_interval_ns=1_000_000,
        keep_packets=False, keep_state_sources=True,  # the pass over the units' versions
    )  # fmt: skip
    expected = sequential(kind, seed, name)
    assert res.nf_output.equals(expected)
    s = res.summary
    assert s["packets_in"] == packets.height == s["packets_processed"] + s["packets_dropped"]
    assert s["stale_state_used"] == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["lingering", "adversarial"]),
    seed=st.integers(0, 3),
    mode=st.sampled_from(MODES),
    state_mode=st.sampled_from(STATE_MODES),
    replicas=st.integers(0, 4),
    replicate_after=st.sampled_from([0.3, 0.5, 0.9]),
    clock_check=st.booleans(),
    rseed=st.integers(0, 1_000),
)
def test_stale_state_used_counts_the_items_off_the_latest_version(
    kind, seed, mode, state_mode, replicas, replicate_after, clock_check, rseed
):
    """The count the default NF pass relies on: items whose source is not the flow's previous
    packet (the sequential run's source) -- and with it the pass equals the versions pass."""
    packets = connections(trace(kind, seed))  # flows as the (bidirectional) LB keys them
    kw = dict(
        mode=mode, state_mode=state_mode, replicas=replicas, replicate_after=replicate_after,
        clock_check=clock_check, seed=rseed, unit_capacity_bps=2e7, max_units=12,
        unit_idle_ns=5_000_000, flow_timeout_ns=2_000_000, smart_interval_ns=1_000_000,
        keep_packets=False,
    )  # fmt: skip
    full = replay(packets, nf=nf_of("lb"), keep_state_sources=True, **kw)
    seq_src, _ = sequential_sources(packets["flow_id"].to_numpy())
    assert full.summary["stale_state_used"] == int((full.extra["src_pkt"] != seq_src).sum())
    fast = replay(packets, nf=nf_of("lb"), **kw)
    assert fast.nf_output.equals(full.nf_output)
    assert fast.summary == full.summary


def test_a_stale_count_after_the_sequential_pass_replays_with_versions(monkeypatch):
    """If the pass ran sequentially but some item used an older copy, the replay runs again with
    the versions kept: forced here by starting the sequential pass with the clock check off."""
    from snfkit import runner
    from snfkit.runner import nfpass

    want = _stale_case(clock_check=False)  # the versions pass
    calls = []
    real = runner.replay

    def counting(*a, **k):
        calls.append(k.get("keep_state_sources", False))
        return real(*a, **k)

    monkeypatch.setattr(nfpass, "sequential_pass", lambda params, fails=None: True)
    monkeypatch.setattr(runner, "replay", counting)
    got = real(
        trace("lingering", 1), nf=nf_of("lb"), state_mode="proactive", replicas=2, alpha=0.0,
        unit_capacity_bps=2e7, max_units=12, unit_idle_ns=5_000_000, clock_check=False,
        keep_packets=False,
    )  # fmt: skip
    assert calls == [True]  # the second replay, keeping the versions
    assert got.summary["stale_state_used"] > 0
    assert got.nf_output.equals(want.nf_output) and got.summary == want.summary
    assert not got.nf_output.equals(sequential("lingering", 1, "lb"))


def _stale_case(clock_check: bool):
    return replay(
        trace("lingering", 1), nf=nf_of("lb"), state_mode="proactive", replicas=2, alpha=0.0,
        unit_capacity_bps=2e7, max_units=12, unit_idle_ns=5_000_000, clock_check=clock_check,
        keep_packets=False,
    )  # fmt: skip


def test_the_oracle_catches_stale_state_when_the_clock_check_is_off():
    good = _stale_case(clock_check=True)
    assert good.summary["stale_copies"] > 0  # stale copies exist, and the check refused them
    assert good.nf_output.equals(sequential("lingering", 1, "lb"))
    bad = _stale_case(clock_check=False)
    differ = (bad.nf_output["out1"] != good.nf_output["out1"]).sum()
    assert differ > 0, "a stale replica used as fresh must change LB's per-connection count"
    # the timing model is the same; only which version a unit uses differs
    assert bad.summary["allocations"] == good.summary["allocations"]


def test_ids_sees_payload_in_the_oracle_traces():
    out = sequential("lingering", 0, "ids")
    assert (out["out1"] > 0).sum() > 10  # matches exist, some across packets, so state matters


@pytest.mark.parametrize("state_mode", STATE_MODES)
def test_state_sources_follow_the_state_mode(state_mode):
    res = replay(trace("lingering", 2), state_mode=state_mode, unit_capacity_bps=2e7,
                 max_units=12, unit_idle_ns=5_000_000, keep_packets=False)  # fmt: skip
    src = res.summary["state_sources"]
    allowed = {
        "proactive": {"new_flow", "same_unit", "replica", "replica_wait", "pull"},
        "reactive": {"new_flow", "same_unit", "pull"},
        "external": {"new_flow", "store"},
        "local": {"new_flow", "same_unit", "free"},
    }[state_mode]
    assert {k for k, v in src.items() if v} <= allowed
    assert sum(src.values()) == res.summary["allocations"]
    if state_mode == "proactive":
        assert src["replica"] > 0 and res.summary["replication_mbps"] > 0


def test_results_with_state_and_nf_save_and_load(tmp_path):
    res = replay(trace("lingering", 0), nf=nf_of("qos"), unit_capacity_bps=2e7, max_units=12,
                 unit_idle_ns=5_000_000, keep_packets=True)  # fmt: skip
    assert res.transfers.height > 0 and res.nf_output.height == res.packets.height
    res.save(tmp_path / "run")
    back = type(res).load(tmp_path / "run")
    for name in ("packets", "flowlets", "transfers", "nf_output"):
        assert getattr(back, name).equals(getattr(res, name)), name
    assert back.summary == res.summary


def test_prepared_trace_with_an_nf_equals_the_table():
    from snfkit import prepare_trace
    from snfkit.traces.transforms import connections

    packets = connections(trace("lingering", 3))
    prepared = prepare_trace(packets)
    for name in ("nat", "ids"):
        a = replay(packets, nf=nf_of(name), unit_capacity_bps=2e7, max_units=12,
                   unit_idle_ns=5_000_000, keep_packets=False)  # fmt: skip
        b = replay(prepared, nf=nf_of(name), unit_capacity_bps=2e7, max_units=12,
                   unit_idle_ns=5_000_000, keep_packets=False)  # fmt: skip
        assert a.nf_output.equals(b.nf_output) and a.summary == b.summary
    assert prepared.nf_inputs(nf_of("nat")) is prepared.nf_inputs(nf_of("lb"))  # extracted once
    assert prepared.nf_inputs(nf_of("ids")) is not prepared.nf_inputs(nf_of("nat"))  # payload


class _LimitConfig(NamedTuple):
    max_bytes: int


@nb.njit
def _failing(pkt, payload, state, row, cfg):
    state[row, 0] += pkt.wire_len
    if state[row, 0] > cfg.max_bytes:
        raise ValueError("flow over its byte limit")
    return NFResult(FORWARD, state[row, 0], 0, 8)


def test_an_error_in_the_overlapped_nf_pass_reaches_the_caller():
    """The default pass runs on a second thread; what the NF raises there is raised by replay."""
    nf = NF(name="failing", process=_failing, twin=None, state_width=1, state_bytes=45,
            needs_payload=False, bidirectional=False, config=_LimitConfig(max_bytes=3_000))  # fmt: skip
    packets = trace("lingering", 0)
    with pytest.raises(ValueError, match="byte limit"):
        replay(packets, nf=nf, unit_capacity_bps=2e7, max_units=12, keep_packets=False)
    fine = NF(name="failing", process=_failing, twin=None, state_width=1, state_bytes=45,
              needs_payload=False, bidirectional=False, config=_LimitConfig(max_bytes=1 << 60))  # fmt: skip
    res = replay(packets, nf=fine, unit_capacity_bps=2e7, max_units=12, keep_packets=False)
    assert res.nf_output.height == packets.height
