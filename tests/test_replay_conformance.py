"""One conformance suite that every allocation mode passes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from replay_helpers import LOADED, random_trace, replay_cases

from snfkit import Results, replay
from snfkit.params import MODES


def check_invariants(packets_in: pl.DataFrame, res: Results) -> None:
    P = res.packets
    n = packets_in.height
    # every packet accounted for, exactly once, in input order
    assert P.height == n
    assert res.summary["packets_in"] == n
    assert res.summary["packets_processed"] + res.summary["packets_dropped"] == n
    np.testing.assert_array_equal(P["ts_ns"].to_numpy(), packets_in["ts_ns"].to_numpy())
    assert (P["unit"].to_numpy() >= 0).all()
    # latency decomposition; latency >= service > 0
    lat = P["latency_ns"].to_numpy()
    svc = P["service_ns"].to_numpy()
    assert (svc > 0).all()
    assert (lat >= svc).all()
    assert (P["queue_ns"].to_numpy() >= 0).all()
    assert (P["state_wait_ns"].to_numpy() >= 0).all()
    np.testing.assert_array_equal(
        lat, P["queue_ns"].to_numpy() + P["state_wait_ns"].to_numpy() + svc
    )
    # a unit never serves two packets at once: within a unit ID, by start time, each service
    # starts no earlier than the previous one's finish
    for _, grp in P.with_row_index("row").group_by("unit"):
        g = grp.sort("start_ns", "row")
        start, finish = g["start_ns"].to_numpy(), g["finish_ns"].to_numpy()
        assert (start[1:] >= finish[:-1]).all()
    # FIFO per flow on a unit: packets of one flow on one unit start in arrival order (packets of
    # other flows may fill the gap while a flow waits for its state)
    for _, grp in P.with_row_index("row").group_by("unit", "flow_id"):
        g = grp.sort("row")
        start, finish = g["start_ns"].to_numpy(), g["finish_ns"].to_numpy()
        assert (start[1:] >= finish[:-1]).all()
    # each packet is served inside its unit's lifetime, after the unit is ready
    U = res.units
    assert U["packets"].sum() == n
    for row in U.iter_rows(named=True):
        assert row["start_ns"] <= row["ready_ns"] <= row["retire_ns"] or row["packets"] == 0
    for _, lives in U.group_by("unit"):
        lives = lives.sort("start_ns")
        assert (lives["start_ns"].to_numpy()[1:] >= lives["retire_ns"].to_numpy()[:-1]).all()
    # flowlets cover the packets
    F = res.flowlets
    assert F["packets"].sum() == n
    assert F["bytes"].sum() == packets_in["wire_len"].sum()
    assert res.summary["allocations"] == F.height


@pytest.mark.parametrize("mode", MODES)
def test_conformance_loaded_trace(mode):
    packets = random_trace(3, 3_000, 50, 3_000.0)
    res = replay(packets, mode=mode, **LOADED)
    check_invariants(packets, res)


@pytest.mark.parametrize("mode", MODES)
def test_same_input_same_output(mode):
    packets = random_trace(5, 1_500, 20, 5_000.0)
    a = replay(packets, mode=mode, **LOADED)
    b = replay(packets, mode=mode, **LOADED)
    assert a.packets.equals(b.packets)
    assert a.units.equals(b.units)
    assert a.summary == b.summary


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("chunk", [1, 7, 333])
def test_chunked_equals_one_shot(mode, chunk):
    packets = random_trace(9, 1_200, 30, 4_000.0)
    whole = replay(packets, mode=mode, **LOADED)
    chunked = replay(packets.iter_slices(chunk), mode=mode, **LOADED)
    small = replay(packets, mode=mode, chunk_size=chunk, **LOADED)
    for other in (chunked, small):
        for name in ("packets", "flowlets", "epochs", "epoch_units", "units", "transfers"):
            assert getattr(whole, name).equals(getattr(other, name)), name
        assert whole.summary == other.summary


@pytest.mark.parametrize("mode", MODES)
def test_chunked_without_packet_rows(mode):
    """keep_packets=False reuses one set of kernel output buffers, sliced for a shorter chunk."""
    packets = random_trace(9, 1_200, 30, 4_000.0)
    whole = replay(packets, mode=mode, keep_packets=False, **LOADED)
    for chunk in (7, 333, 1_000):
        other = replay(packets, mode=mode, keep_packets=False, chunk_size=chunk, **LOADED)
        for name in ("flowlets", "epochs", "epoch_units", "units"):
            assert getattr(whole, name).equals(getattr(other, name)), (name, chunk)
        assert whole.summary == other.summary


def test_small_transfer_buffer_changes_nothing(monkeypatch):
    """The kernel hands over full transfer buffers as they are; with a tiny buffer every drain
    takes that path, and the transfers table must not change."""
    from snfkit import runner

    packets = random_trace(9, 6_000, 80, 4_000.0)
    normal = replay(packets, **LOADED)
    monkeypatch.setattr(runner, "TRANSFER_ROWS", 8)
    small = replay(packets, **LOADED)
    assert normal.transfers.height > 1_000  # drained dozens of times from an 88-row buffer
    for name in ("packets", "flowlets", "transfers"):
        assert getattr(normal, name).equals(getattr(small, name)), name
    assert normal.summary == small.summary


def test_parquet_path_by_row_groups(tmp_path):
    packets = random_trace(2, 2_000, 30, 4_000.0)
    path = tmp_path / "t.parquet"
    packets.write_parquet(path, row_group_size=300)
    a = replay(packets, **LOADED)
    b = replay(path, chunk_size=256, **LOADED)
    assert a.packets.equals(b.packets)
    assert a.summary == b.summary


def test_aggregates_only_keeps_no_packet_rows():
    packets = random_trace(4, 5_000, 40, 4_000.0)
    full = replay(packets, **LOADED)
    agg = replay(packets, keep_packets=False, **LOADED)
    assert agg.packets is None
    assert agg.flowlets.equals(full.flowlets)
    assert agg.epochs.equals(full.epochs)
    assert agg.summary["latency_exact"] is False
    for k, v in full.summary["latency_us"].items():
        assert agg.summary["latency_us"][k] == pytest.approx(v, rel=0.01, abs=0.001)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replay_cases())
def test_conformance_random(case):
    packets, flat = case
    check_invariants(packets, replay(packets, **flat))


def test_epochs_account_for_offered_load():
    packets = random_trace(6, 4_000, 30, 20_000.0)
    res = replay(packets, epoch_ns=10_000_000, **{k: v for k, v in LOADED.items()})
    E = res.epochs
    total_bits = packets["wire_len"].sum() * 8
    assert E["offered_gbps"].sum() * 10_000_000 == pytest.approx(total_bits)
    assert (E["max_active_units"] >= np.floor(E["mean_active_units"])).all()
    eu = res.epoch_units
    assert eu["packets"].sum() == packets.height


def test_save_and_load_roundtrip(tmp_path):
    packets = random_trace(8, 800, 10, 5_000.0)
    res = replay(packets, mode="smart_flow", **LOADED)
    res.save(tmp_path / "out")
    back = Results.load(tmp_path / "out")
    for name in ("packets", "flowlets", "epochs", "epoch_units", "units"):
        assert getattr(back, name).equals(getattr(res, name))
    assert back.summary == res.summary
    assert back.params == res.params
