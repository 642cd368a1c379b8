"""Tiny hand-computed scenarios, one or more per mode, with exact expected latencies.

Common settings: service is exactly 1,000 ns per packet (per_packet_ns=1000, per_byte_ps=0), units
start instantly unless stated, packets are 100 B.
"""

from __future__ import annotations

from replay_helpers import table

from snfkit import replay

BASE = {
    "per_packet_ns": 1_000,
    "per_byte_ps": 0,
    "unit_startup_ns": 0,
    "state_transfer_ns": 160_000,
}


def lat(res):
    return res.packets["latency_ns"].to_list()


def test_flowlet_timeout_same_unit():
    # t=0 opens a flowlet on a new unit 0 (no unit yet: overflow); t=100 queues behind it;
    # t=1 ms is more than T = 500 us after t=100: a new flowlet, which fits on unit 0
    res = replay(table([0, 100, 1_000_000], [0, 0, 0], [100] * 3), **BASE)
    assert lat(res) == [1_000, 1_900, 1_000]
    assert res.flowlets["reason"].cast(str).to_list() == ["new_flow", "timeout"]
    assert res.packets["unit"].to_list() == [0, 0, 0]
    assert res.summary["overflow"] == 1
    assert res.summary["state_pulls"] == 0


def test_flowlet_moves_and_pulls_state():
    # capacity 5 Mbps. The first flowlet measures 200 B over max(2 x 100 ns, T = 500 us): 3.2 Mbps;
    # the second's estimate is 0.5 * 3.2e6 + 0.5 * 1e7 = 6.6 Mbps; unit 0 measured 200 B over two
    # 500 us buckets = 1.6 Mbps. Unit 1 was prestarted at t=0 (unit 0's committed 10 Mbps put it
    # above 90 %) and is empty, but 6.6 Mbps alone exceeds 5 Mbps: no candidate, a new unit 2
    # starts, and the flowlet waits for a reactive pull: max(1 ms, 2,000) + 160 us
    res = replay(table([0, 100, 1_000_000], [0, 0, 0], [100] * 3), unit_capacity_bps=5e6, **BASE)
    assert res.packets["unit"].to_list() == [0, 0, 2]
    assert res.summary["prestarts"] == 1
    assert lat(res) == [1_000, 1_900, 161_000]
    assert res.packets["state_wait_ns"].to_list() == [0, 0, 160_000]
    assert res.packets["wait_cause"].cast(str).to_list() == ["none", "none", "pull"]
    assert res.flowlets["estimate_gbps"].to_list()[1] * 1e9 == 0.5 * 3.2e6 + 0.5 * 1e7
    assert res.summary["overflow"] == 2


def test_flowlet_size_split():
    # B = 150: the second 100 B packet would make the flowlet 200 B; it opens a flowlet ('size').
    # Estimate 0.5 * (100 B over T = 500 us = 1.6 Mbps) + 0.5 * 1e7 = 5.8 Mbps: unit 0 has room.
    res = replay(table([0, 10], [0, 0], [100, 100]), size_bytes=150, **BASE)
    assert res.flowlets["reason"].cast(str).to_list() == ["new_flow", "size"]
    assert res.packets["unit"].to_list() == [0, 0]
    assert lat(res) == [1_000, 1_990]


def test_flowlet_startup_delay():
    # a unit started at t=0 with 5 us start-up serves its first packet at 5,000
    res = replay(table([0, 1_000], [0, 1], [100, 100]), **{**BASE, "unit_startup_ns": 5_000})
    assert lat(res) == [6_000, 6_000]


def test_flow_mode_fifo():
    # flows 0 and 1 share unit 0; FIFO: 0 -> [0, 1000], 10 -> [1000, 2000], 20 -> [2000, 3000]
    res = replay(table([0, 10, 20], [0, 1, 0], [100] * 3), mode="flow", **BASE)
    assert lat(res) == [1_000, 1_990, 2_980]
    assert res.summary["allocations"] == 2
    assert res.packets["unit"].to_list() == [0, 0, 0]


def test_smart_flow_moves_overloaded_flows():
    # capacity 10 Mbps; both flows land on unit 0 (estimates 0). At the tick (t = 1 ms) each flow
    # sent 2,000 B in the interval: 16 Mbps each, 32 Mbps on unit 0. Flow 0 (first of equal rates)
    # moves to a new unit 1; unit 0 is still at 16 Mbps > 10: flow 1 moves to a new unit 2 (unit 1
    # would reach 32 Mbps). Flow 0's packet at 1.5 ms then waits for its state: 160 us.
    res = replay(
        table([0, 1, 10, 11, 1_500_000], [0, 1, 0, 1, 0], [1_000] * 5),
        mode="smart_flow", smart_interval_ns=1_000_000, unit_capacity_bps=1e7,
        initial_estimate_bps=0.0, **BASE,
    )  # fmt: skip
    assert res.packets["unit"].to_list() == [0, 0, 0, 0, 1]
    assert lat(res) == [1_000, 1_999, 2_990, 3_989, 161_000]
    assert res.summary["moves"] == 2
    assert res.summary["state_pulls"] == 1
    assert res.units.height == 3


def test_packet_mode_store_round_trips():
    # every packet reads its state from the store (RTT 100 ns) after the previous write of its
    # flow: t=0 -> ready 100, [100, 1100]; t=10: unit 0 busy, so unit 1 starts and takes it, but
    # the read waits for the first packet: ready = 1100 + 100, [1200, 2200]
    res = replay(table([0, 10], [0, 0], [100, 100]), mode="packet", store_rtt_ns=100, **BASE)
    assert res.packets["unit"].to_list() == [0, 1]
    assert lat(res) == [1_100, 2_190]
    assert res.packets["state_wait_ns"].to_list() == [100, 1_190]
    assert res.summary["allocations"] == 2
    assert res.summary["prestarts"] == 1


def test_unit_retires_and_id_is_reused():
    # idle 1 ms: unit 0 retires at 0 + 1 ms; the packet at 5 ms starts a new unit with ID 0 again
    res = replay(table([0, 5_000_000], [0, 1], [100, 100]), unit_idle_ns=1_000_000, **BASE)
    U = res.units
    assert U["unit"].to_list() == [0, 0]
    assert U["retire_ns"].to_list() == [1_000_000, 6_000_000]
    assert U["unit_life"].to_list() == [0, 1]
