"""The paper-faithful switches (issue 19): each one's effect, on a case built to show it, in the
kernel and in its plain-Python twin. Their defaults change nothing (the other replay suites)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from replay_helpers import LOADED, random_trace, table
from test_replay_twin import _compare

from snfkit import ReplayParams, replay
from snfkit.errors import ParameterError
from snfkit.nf import NF_COSTS, get_nf
from snfkit.workloads import paper_like, paper_trace

US = 1_000


def _placement_case():
    """Flows 0 and 1 fill unit 0 (estimates of 0.4 Gbps each), flow 2 overflows onto unit 1 and
    keeps sending; flows 0 and 1 end, so at 1 ms unit 0 is empty and unit 1 holds 0.4 Gbps when
    flow 3 arrives."""
    rows = [(0, 0), (1 * US, 1), (2 * US, 2)]
    rows += [(t, 2) for t in range(50 * US, 2_000 * US, 50 * US)]
    rows += [(1_000 * US + 1, 3)]
    rows.sort()
    ts, flow = zip(*rows, strict=True)
    packets = table(ts, flow, np.full(len(ts), 64))
    flat = dict(
        mode="flowlet",
        timeout_ns=100 * US,
        size_bytes=0,
        unit_capacity_bps=1e9,
        initial_estimate_bps=4e8,
        unit_startup_ns=0,
        prestart_utilization=1e9,
        state_mode="local",
        alpha=0.0,
    )
    return packets, flat


@pytest.mark.parametrize("placement, unit", [("score", 1), ("first_fit", 0)])
def test_placement_best_fit_against_first_fit(placement, unit):
    """Pseudocode 1's score puts flow 3 on the fuller unit 1 (best fit); §4.2's prose, the
    smallest ID with room, on unit 0."""
    packets, flat = _placement_case()
    res = replay(packets, **flat, placement=placement)
    F = res.flowlets.sort("item")
    assert F["unit"].to_list()[:3] == [0, 0, 1]
    assert F.filter(pl.col("flow_id") == 3)["unit"].item() == unit
    _compare(packets, {**flat, "placement": placement})


@pytest.mark.parametrize("alpha, unit", [(0.4, 0), (0.6, 1)])
def test_first_fit_alpha_threshold(alpha, unit):
    """Two units, both with room: unit 0 (rank score 1) and unit 1 (1 - 1/2), which ran flow 2's
    previous flowlet. Flow 2's next flowlet stays on unit 1 only when alpha exceeds 1/2."""
    rows = [(0, 0), (1 * US, 1), (2 * US, 2)]
    rows += [(t, 2) for t in range(50 * US, 1_000 * US, 50 * US)]
    rows += [(1_500 * US, 2)]
    ts, flow = zip(*sorted(rows), strict=True)
    packets = table(ts, flow, np.full(len(ts), 64))
    _, flat = _placement_case()
    flat = {**flat, "placement": "first_fit", "state_mode": "reactive", "alpha": alpha}
    res = replay(packets, **flat)
    F = res.flowlets.filter(pl.col("flow_id") == 2).sort("item")
    assert F["unit"].to_list() == [1, unit]
    _compare(packets, flat)


def test_first_fit_alpha_trades_id_order_for_state():
    """first_fit with affinity: a unit holding the flow's state wins over a lower ID once alpha
    exceeds the gap in ID rank (1/n per place), and not before."""
    packets = random_trace(4, 3_000, 100, 50_000.0)
    base = {
        **LOADED,
        "mode": "flowlet",
        "placement": "first_fit",
        "state_mode": "reactive",
        "timeout_ns": 20 * US,
        "initial_estimate_bps": 1e6,
        "max_units": 12,
    }
    shares = []
    for alpha in (0.0, 0.1, 0.3, 1.0):
        res = replay(packets, **base, alpha=alpha)
        F = res.flowlets.filter(pl.col("state_source") != "new_flow")
        shares.append((F["state_source"] == "same_unit").mean())
        _compare(packets, {**base, "alpha": alpha})
    assert shares[0] < shares[1] < shares[2] < shares[3]


def test_decision_cost_delays_each_item_first_packet():
    """Each flowlet's first packet reaches its unit decision_ns after it arrives; a later packet
    of the flowlet that arrives after the first is done is not delayed."""
    ts = [0, 1_000 * US, 1_050 * US, 2_000 * US]
    packets = table(ts, [0, 0, 0, 0], [1434] * 4)
    flat = dict(timeout_ns=100 * US, state_mode="local", unit_startup_ns=0)
    plain = replay(packets, **flat).packets["latency_ns"].to_numpy()
    slow = replay(packets, **flat, decision_ns=1_000).packets["latency_ns"].to_numpy()
    np.testing.assert_array_equal(slow - plain, [1_000, 1_000, 0, 1_000])
    _compare(packets, {**flat, "decision_ns": 1_000})


def test_pull_and_push_times_from_fixed_cost_and_bandwidth():
    """A pull takes pull_transfer_ns, a push copy state_transfer_ns, each plus state_bytes over
    transfer_bps; the transfers table shows both, and shorter pulls shorten the waits."""
    packets = random_trace(3, 3_000, 50, 3_000.0)
    flat = {**LOADED, "mode": "flowlet", "state_bytes": 1_000}
    res = replay(packets, **flat, pull_transfer_ns=50 * US, transfer_bps=1e8, keep_packets=True)
    T = res.transfers.with_columns(took=pl.col("arrive_ns") - pl.col("time_ns"))
    per_byte = 1_000 * 8 * 10**9 // 10**8  # 80 us
    pulls = T.filter(pl.col("kind") == "pull")["took"].unique().to_list()
    pushes = T.filter(pl.col("kind") == "push")["took"].unique().to_list()
    assert pulls == [50 * US + per_byte] and pushes == [160 * US + per_byte]
    _compare(packets, {**flat, "pull_transfer_ns": 50 * US, "transfer_bps": 1e8})
    reactive = {**flat, "state_mode": "reactive"}
    slow = replay(packets, **reactive).summary["waits"]["pull"]
    fast = replay(packets, **reactive, pull_transfer_ns=10 * US).summary["waits"]["pull"]
    assert fast["total_us"] / fast["packets"] < slow["total_us"] / slow["packets"]


def test_push_cost_books_the_sending_unit():
    """Each push copy costs its sender push_unit_ns: the units' busy time grows by exactly
    copies x push_unit_ns, copies leave after it, and packets queue behind it."""
    packets = random_trace(3, 3_000, 50, 3_000.0)
    flat = {**LOADED, "mode": "flowlet"}
    free = replay(packets, **flat)
    res = replay(packets, **flat, push_unit_ns=2 * US, keep_packets=True)
    copies = res.summary["replica_copies"]
    assert copies > 0
    busy = res.units["busy_ns"].sum() - res.packets["service_ns"].sum()
    assert busy == copies * 2 * US
    assert free.units["busy_ns"].sum() == free.packets["service_ns"].sum()
    T = res.transfers.filter(pl.col("kind") == "push")
    took = (T["arrive_ns"] - T["time_ns"]).to_numpy()
    per_push = T.group_by("time_ns", "flow_id").len()["len"].max()
    assert took.min() >= 160 * US + 2 * US and took.max() >= 160 * US + per_push * 2 * US
    assert res.packets["queue_ns"].sum() > free.packets["queue_ns"].sum()
    _compare(packets, {**flat, "push_unit_ns": 2 * US})


@pytest.mark.filterwarnings("ignore::snfkit.errors.NoPayloadWarning")
def test_nf_cost_makes_nfs_differ():
    """With nf_cost each NF's declared cost adds to the unit's service; without it every NF has
    the same timing (today's results)."""
    packets = paper_like(0, 0.002, load_gbps=0.5)
    service = {}
    for name in ("whitelist", "nat", "ids"):  # the IDS reads no payload here: its cost still counts
        res = replay(packets, nf=name, nf_cost=True, keep_state_sources=False)
        service[name] = res.packets["service_ns"].to_numpy()
        per_packet, per_byte = NF_COSTS[name]
        assert (get_nf(name).packet_ns, get_nf(name).byte_ps) == (per_packet, per_byte)
        wl = res.packets["wire_len"].cast(pl.Int64).to_numpy()
        np.testing.assert_array_equal(
            service[name], 500 + per_packet + wl * (5_000 + per_byte) // 1000
        )
        off = replay(packets, nf=name).packets["service_ns"].to_numpy()
        np.testing.assert_array_equal(off, 500 + wl * 5_000 // 1000)
    assert service["whitelist"].sum() < service["nat"].sum() < service["ids"].sum()


def test_drain_shaper_serves_a_burst_then_the_drain_rate():
    """20 back-to-back 1500-B packets of one flow on one unit with fast service: the first
    unit_burst_bytes go at service speed, the rest one per 1500 B at 1 Gbps (12 us)."""
    n = 20
    packets = table(np.arange(n) * 100, np.zeros(n), np.full(n, 1500))
    flat = dict(per_packet_ns=50, per_byte_ps=0, unit_startup_ns=0, state_mode="local")
    fast = replay(packets, **flat).packets["start_ns"].to_numpy()
    np.testing.assert_array_equal(fast, np.arange(n) * 100)
    shaped = {**flat, "unit_drain_bps": 1e9, "unit_burst_bytes": 15_000}
    start = replay(packets, **shaped).packets["start_ns"].to_numpy()
    k = np.arange(n)
    due = np.maximum(k * 100, k * 12_000 - 15_000 * 8)  # GCRA: 12 us per packet, 120 us burst
    np.testing.assert_array_equal(start, due)
    _compare(packets, shaped)


def test_store_read_on_move_reads_only_for_moved_flowlets():
    """One flow, one unit: each flowlet after the first reads the store unless reads happen only
    when a flowlet moves."""
    ts = [0, 1_000 * US, 2_000 * US, 3_000 * US]
    packets = table(ts, [0] * 4, [1434] * 4)
    flat = dict(timeout_ns=100 * US, state_mode="external", unit_startup_ns=0)
    every = replay(packets, **flat)
    moved = replay(packets, **flat, store_read_on_move=True)
    assert every.summary["store_reads"] == 3 and moved.summary["store_reads"] == 0
    assert (moved.packets["state_wait_ns"] == 0).all()
    assert (every.packets["state_wait_ns"].to_numpy()[1:] > 0).all()
    _compare(packets, {**flat, "store_read_on_move": True})


def test_switches_refuse_bad_values_naming_the_parameter():
    for name, value in [
        ("placement", "worst_fit"),
        ("decision_ns", -1),
        ("pull_transfer_ns", -2),
        ("transfer_bps", -1.0),
        ("push_unit_ns", 2**51),
        ("nf_cost", 1),
        ("nf_packet_ns", 10**12),
        ("nf_byte_ps", -5),
        ("unit_drain_bps", 5.0),
        ("unit_burst_bytes", -1),
        ("store_read_on_move", "yes"),
    ]:
        with pytest.raises(ParameterError, match=name):
            ReplayParams.from_flat(**{name: value})
    with pytest.raises(ParameterError, match="transfer_bps"):
        ReplayParams.from_flat(transfer_bps=1e-9, state_bytes=2**32)


def test_seamless_share_by_open_reason_and_source():
    """The summary splits moved flowlets by why they opened and by where their state came from
    (counted here again from the flowlets table). Replication cannot help a flowlet split off by
    the size threshold, which arrives while its flow is still busy (§5.2): its share is far lower
    than that of flowlets after a gap."""
    packets = paper_trace(0, 0.01, load_gbps=2.0)
    res = replay(packets, per_packet_ns=100, per_byte_ps=100)
    s = res.summary
    F = res.flowlets.filter(pl.col("moved"))
    seamless = pl.col("state_source").is_in(["replica", "free"])
    for reason in ("timeout", "size"):
        sel = F.filter(pl.col("reason") == reason)
        want = {"moved": sel.height, "seamless": sel.filter(seamless).height}
        want["share"] = want["seamless"] / want["moved"]
        assert s["seamless_by_reason"][reason] == want
    by_source = F.group_by(pl.col("state_source").cast(pl.String)).len()
    assert s["moved_sources"] == dict(by_source.iter_rows())
    assert sum(s["moved_sources"].values()) == s["moved_flowlets"]
    share = s["seamless_by_reason"]
    assert share["timeout"]["share"] > 0.9 > 0.5 > share["size"]["share"]
