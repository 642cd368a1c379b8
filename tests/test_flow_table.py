"""snfkit.flows: one row per flow, every value computed here from the hand-built trace of
test_summary (three flows: A TCP 5 packets, B UDP 2, C ICMP 1) and from the replay's own rows."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from test_summary import hand_table

import snfkit
from snfkit.errors import ParameterError


def test_trace_columns_by_hand():
    t = snfkit.flows(hand_table())
    assert t.columns == [
        "flow_id",
        "src_ip",
        "dst_ip",
        "src_port",
        "dst_port",
        "proto",
        "packets",
        "bytes",
        "first_ns",
        "last_ns",
        "duration_ns",
    ]
    assert t.to_dicts() == [
        {
            "flow_id": 0,
            "src_ip": "10.0.0.1",
            "dst_ip": "10.0.0.2",
            "src_port": 1000,
            "dst_port": 80,
            "proto": "tcp",
            "packets": 5,
            "bytes": 1000 + 1500 + 1000 + 500 + 100,
            "first_ns": 0,
            "last_ns": 800_000,
            "duration_ns": 800_000,
        },
        {
            "flow_id": 1,
            "src_ip": "10.0.0.3",
            "dst_ip": "10.0.0.2",
            "src_port": 53,
            "dst_port": 5353,
            "proto": "udp",
            "packets": 2,
            "bytes": 400,
            "first_ns": 5_000,
            "last_ns": 400_000,
            "duration_ns": 395_000,
        },
        {
            "flow_id": 2,
            "src_ip": "10.0.0.4",
            "dst_ip": "10.0.0.2",
            "src_port": 0,
            "dst_port": 0,
            "proto": "icmp",
            "packets": 1,
            "bytes": 64,
            "first_ns": 600_000,
            "last_ns": 600_000,
            "duration_ns": 0,
        },
    ]


def _replay():
    # small units, so that flow A's three flowlets land on three units
    return snfkit.replay(hand_table(), size_bytes=3000, unit_capacity_bps=2e7)


def test_replay_columns_by_hand():
    res = _replay()
    t = snfkit.flows(hand_table(), res)
    # A: new flow; size split at 20 us (1000 + 1500 + 1000 > 3000); a 770 us gap > T = 500 us
    by_reason = t.select("flowlets", "flowlets_new_flow", "flowlets_timeout", "flowlets_size")
    assert by_reason.rows() == [
        (3, 1, 1, 1),
        (1, 1, 0, 0),  # B's 395 us gap stays under T
        (1, 1, 0, 0),
    ]
    assert t["flowlets_packet"].to_list() == [0, 0, 0]
    # units in the order first visited, and moves, read from the flowlets table row by row
    f = res.flowlets.sort("item").to_dicts()
    for flow in range(3):
        units = []
        for row in f:
            if row["flow_id"] == flow and row["unit"] not in units:
                units.append(row["unit"])
        moves = sum(row["moved"] for row in f if row["flow_id"] == flow)
        got = t.filter(flow_id=flow).row(0, named=True)
        assert got["units"] == units and got["units_visited"] == len(units)
        assert got["moves"] == moves
    assert t["units_visited"][0] > 1  # the test sees a flow that moved
    # latency percentiles: numpy's linear percentiles over each flow's packets
    lat = res.packets
    for flow in range(3):
        ns = lat.filter(flow_id=flow)["latency_ns"].to_numpy().astype(float)
        got = t.filter(flow_id=flow).row(0, named=True)
        assert got["latency_p50_us"] == pytest.approx(np.percentile(ns, 50) / 1e3)
        assert got["latency_p99_us"] == pytest.approx(np.percentile(ns, 99) / 1e3)
        assert got["latency_max_us"] == pytest.approx(ns.max() / 1e3)


def test_without_the_packets_table_there_are_no_latencies():
    res = snfkit.replay(hand_table(), size_bytes=3000, keep_packets=False)
    t = snfkit.flows(hand_table(), res)
    assert "flowlets" in t.columns and "latency_p50_us" not in t.columns


def test_readable_flows():
    t = snfkit.readable(snfkit.flows(hand_table()))
    assert t["first_s"].to_list() == pytest.approx([0.0, 5e-6, 600e-6], abs=1e-15)
    assert t["duration_us"].to_list() == [800.0, 395.0, 0.0]


def test_bad_input_names_the_parameter():
    p = hand_table()
    with pytest.raises(ParameterError, match="packets"):
        snfkit.flows(p.drop("wire_len"))
    with pytest.raises(ParameterError, match="packets"):
        snfkit.flows(p.to_dicts())
    with pytest.raises(ParameterError, match="results"):
        snfkit.flows(p.head(7), _replay())
    # same size, other flow ids: the replay of another table
    other = p.with_columns(flow_id=pl.Series([2, 1, 2, 2, 2, 1, 0, 2]))
    with pytest.raises(ParameterError, match="results"):
        snfkit.flows(other, _replay())
