"""One conformance suite that every allocation mode passes."""

from __future__ import annotations

import pickle
from functools import cache

import numpy as np
import polars as pl
import pytest
from conftest import SHARED_TRACE_FILES, shared_trace
from hypothesis import HealthCheck, given, settings
from replay_helpers import LOADED, paper_switches, random_trace, replay_cases

from snfkit import Results, load_trace, replay
from snfkit.errors import SchemaError
from snfkit.params import MODES, STATE_MODES


def check_invariants(packets_in: pl.DataFrame, res: Results) -> None:
    n = packets_in.height
    # every packet accounted for, exactly once, in input order: the kernel's own count of packets
    # served (and of those lost with a unit and its OL), the units' and the epochs' packet counts
    assert res.packets.height == n
    np.testing.assert_array_equal(res.packets["ts_ns"].to_numpy(), packets_in["ts_ns"].to_numpy())
    lost = res.packets["lost"] if "lost" in res.packets.columns else pl.repeat(False, n, eager=True)
    n_lost = int(lost.sum())
    assert res.summary["packets_in"] == n
    assert res.summary["packets_lost"] == n_lost
    assert res.summary["packets_served"] == n - n_lost
    served = res.summary["packets_served"]
    assert res.summary["packets_processed"] + res.summary["packets_dropped"] == served
    assert res.epoch_units["packets"].sum() == n  # by arrival, lost or not
    P = res.packets.filter(~lost)  # the timing of a lost packet is where it was when lost
    assert (P["unit"].to_numpy() >= 0).all()
    assert (P["finish_ns"].to_numpy() >= P["ts_ns"].to_numpy()).all()
    # latency decomposition; latency >= service > 0
    lat = P["latency_ns"].to_numpy()
    svc = P["service_ns"].to_numpy()
    ol = P["ol_ns"].to_numpy() if "ol_ns" in P.columns else np.zeros_like(lat)
    assert (svc > 0).all()
    assert (lat >= svc).all()
    assert (ol >= 0).all()
    assert (P["queue_ns"].to_numpy() >= 0).all()
    assert (P["state_wait_ns"].to_numpy() >= 0).all()
    np.testing.assert_array_equal(
        lat, P["queue_ns"].to_numpy() + P["state_wait_ns"].to_numpy() + svc + ol
    )
    np.testing.assert_array_equal(P["finish_ns"].to_numpy() + ol - P["ts_ns"].to_numpy(), lat)
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
    assert U["packets"].sum() == n - n_lost
    for row in U.iter_rows(named=True):
        assert row["start_ns"] <= row["ready_ns"] <= row["retire_ns"] or row["packets"] == 0
    for _, lives in U.group_by("unit"):
        lives = lives.sort("start_ns")
        assert (lives["start_ns"].to_numpy()[1:] >= lives["retire_ns"].to_numpy()[:-1]).all()
    # per packet: served after its unit lifetime was ready and before it retired
    life = with_unit_life(res).filter(~pl.col("lost") if "lost" in P.columns else True)
    assert life["ready_ns"].null_count() == 0, "a packet on a unit lifetime with no record"
    assert (life["start_ns"] >= life["ready_ns"]).all()
    assert (life["finish_ns"] <= life["retire_ns"]).all()
    check_state_causality(res)
    F = res.flowlets
    # flowlets cover the packets
    assert F["packets"].sum() == n
    assert F["bytes"].sum() == packets_in["wire_len"].cast(pl.Int64).sum()
    assert res.summary["allocations"] == F.height


def with_unit_life(res: Results) -> pl.DataFrame:
    """The packets table (with ``row``, its input order) and, per packet, the unit lifetime that
    served it: the one of its slot started last at or before its service started (a slot's
    lifetimes follow each other). A lost packet never started: its start is the one planned
    before its unit failed, which may lie in a later lifetime; its own is the one it was given
    to, at its arrival (a controller's hold, which dispatches later, is not looked at)."""
    lives = res.units.select(
        pl.col("unit").cast(pl.Int32), "unit_life", "start_ns", "ready_ns", "retire_ns", "failed"
    )
    P = res.packets.with_row_index("row")
    at = pl.col("start_ns")
    if "lost" in P.columns:
        at = pl.when(pl.col("lost")).then(pl.col("ts_ns")).otherwise(at)
    return (
        P.with_columns(_at=at)
        .sort("_at")
        .join_asof(
            lives.rename({"start_ns": "life_start_ns"}).sort("life_start_ns"),
            left_on="_at",
            right_on="life_start_ns",
            by="unit",
            strategy="backward",
            check_sortedness=False,  # both sorted by time; lifetimes of a slot follow each other
        )
        .drop("_at")
        .sort("row")
    )


def check_recovery_causality(res: Results, P: pl.DataFrame) -> pl.DataFrame:
    """A flow moved by a unit failure (its previous packet's unit lifetime failed) starts no
    earlier than its state can be on the recovery unit, derived from the parameters and the
    failures table: failure + detect_ns (+ start-up unless immediate) + the transfer of the
    affected flows' state (snf: recovery_fixed_ns, chc: store_rtt_ns, then bytes x 8 /
    bandwidth; ftmb also replays its log, not counted here: a lower bound). Returns the packets
    that the other rules check (the recovery moves left out)."""
    moved = (pl.col("prev_unit") != pl.col("unit")) | (pl.col("prev_life") != pl.col("unit_life"))
    recovered = pl.col("prev_failed") & moved
    if res.failures is None:
        assert not P["failed"].any()
        return P
    p = res.params
    launch = p["detect_ns"] + (0 if p["recovery_launch"] == "immediate" else p["unit_startup_ns"])
    fixed = p["store_rtt_ns"] if p["recovery"] == "chc" else p["recovery_fixed_ns"]
    lost = pl.col("kind").cast(pl.String) == "unit+ol"
    in_store = p["mode"] == "packet" or p["state_mode"] == "external"
    if in_store:  # state in a store: a read (a new item reads it itself, by the store rules)
        fixed, lost = p["store_rtt_ns"], pl.lit(False)
        recovered = recovered & ~(pl.col("first") & (pl.col("wait_cause") != "recovery"))
    fails = res.failures.filter(pl.col("kind").cast(pl.String).str.contains("unit")).select(
        pl.col("unit").alias("prev_unit").cast(pl.Int32),
        pl.col("recovery_unit").cast(pl.Int32),
        pl.col("time_ns").alias("failed_at"),
        (
            pl.col("time_ns")
            + launch
            + pl.when(lost)
            .then(0)
            .otherwise(fixed + pl.col("state_bytes_moved") * 8e9 / p["recovery_bandwidth_bps"])
            .cast(pl.Int64)
        ).alias("state_at"),
    )
    # a move is a recovery when the previous packet's lifetime failed after that packet and
    # before this one arrived (or this one is processed again by that failure's recovery unit:
    # a packet that had left for another unit is processed again by that unit's failure); the
    # state is there by state_at
    again = (pl.col("wait_cause") == "recovery") & (pl.col("recovery_unit") == pl.col("unit"))
    moves = (
        P.filter(recovered)
        .join(fails, on="prev_unit", how="inner")
        .filter(
            (pl.col("failed_at") >= pl.col("prev_arrival"))
            & ((pl.col("failed_at") <= pl.col("ts_ns")) | again)
        )
        .group_by("row")
        .agg(pl.col("start_ns").first(), pl.col("state_at").sort_by("failed_at").first())
    )
    bad = moves.filter(pl.col("start_ns") < pl.col("state_at") - 1)  # (ns rounding of bytes / bw)
    assert bad.height == 0, ("a flow restarted before its state was recovered", bad.head())
    return P.filter(~pl.col("row").is_in(moves["row"].implode()))


def check_state_causality(res: Results) -> None:
    """A packet that needs its flow's state elsewhere starts no earlier than the state is there.

    Derived from the packets table and the parameters, not from the kernel's own ready times:
    ``prev_finish`` is the latest finish of the flow's earlier packets, ``prev_done`` the finish of
    the flow's previous packet (its store write is sent then).
    - packet mode: every packet reads the store, after its flow's previous packet: start >=
      max(arrival, prev_finish) + store_rtt_ns;
    - an item that opens elsewhere than its flow's previous one with its state pulled (or a
      smart_flow move): start >= max(arrival, prev_finish) + the pull time;
    - its state read from the store (external): start >= max(arrival, prev_done + rtt / 2) + rtt;
    - from a replica (with the clock check on): a push of this flow to this unit lifetime, carrying
      the flow's clock (its packets so far), sent after its last packet finished and after the
      unit started, arrived by the packet's start.
    """
    p = res.params
    rtt = p["store_rtt_ns"]
    # a pull takes pull_transfer_ns (-1: state_transfer_ns) plus the state over transfer_bps
    transfer = p["state_transfer_ns"] if p["pull_transfer_ns"] == -1 else p["pull_transfer_ns"]
    if p["transfer_bps"] > 0:
        transfer += int(p["state_bytes"] * 8e9 // p["transfer_bps"])
    P = with_unit_life(res).join(res.flowlets.select("item", "state_source"), on="item").sort("row")
    if "lost" not in P.columns:
        P = P.with_columns(lost=pl.lit(False))
    # a packet processed again after a failure may finish after later packets of its flow (on
    # other units), and a lost one never finished: the finish rules look at the packets processed
    # once; the moves look at every packet, lost or not
    once = pl.when((pl.col("wait_cause") != "recovery") & ~pl.col("lost")).then(pl.col("finish_ns"))
    P = P.with_columns(
        clock=pl.int_range(pl.len()).over("flow_id"),
        prev_finish=once.cum_max().forward_fill().shift(1).over("flow_id"),
        prev_done=once.forward_fill().shift(1).over("flow_id"),
        prev_unit=pl.col("unit").shift(1).over("flow_id"),
        prev_life=pl.col("unit_life").shift(1).over("flow_id"),
        prev_failed=pl.col("failed").shift(1).over("flow_id").fill_null(False),
        prev_arrival=pl.col("ts_ns").shift(1).over("flow_id"),
        first=pl.col("row") == pl.col("row").min().over("item"),
    ).filter(~pl.col("lost"))
    P = check_recovery_causality(res, P)
    after_prev = pl.max_horizontal("ts_ns", pl.col("prev_finish").fill_null(pl.col("ts_ns")))
    if p["mode"] == "packet":
        bad = P.filter(pl.col("start_ns") < after_prev + rtt)
        assert bad.height == 0, bad.head()
        return
    moved = (pl.col("prev_unit") != pl.col("unit")) | (pl.col("prev_life") != pl.col("unit_life"))
    if p["state_mode"] == "local":  # state is free everywhere
        moved = pl.lit(False)
    src = pl.col("state_source").cast(pl.String)
    pulled = pl.col("first") & (src == "pull") | ~pl.col("first") & moved
    if p["state_mode"] == "external":  # a smart_flow move reads the store too
        stored = pl.col("first") & (src == "store") | ~pl.col("first") & moved
        landed = pl.max_horizontal("ts_ns", pl.col("prev_done") + rtt // 2) + rtt
        bad = P.filter(stored & (pl.col("start_ns") < landed))
        assert bad.height == 0, bad.head()
        pulled = pl.col("first") & (src == "pull")
    bad = P.filter(pulled & (pl.col("start_ns") < after_prev + transfer))
    assert bad.height == 0, bad.head()
    if not p["clock_check"] or res.transfers is None:
        return
    replicated = P.filter(pl.col("first") & src.is_in(["replica", "replica_wait"]))
    pushes = res.transfers.filter(pl.col("kind") == "push")
    ok = (
        replicated.join(
            pushes, left_on=["flow_id", "unit", "clock"], right_on=["flow_id", "to_unit", "clock"]
        )
        .filter(
            (pl.col("arrive_ns") <= pl.col("start_ns"))
            & (pl.col("time_ns") >= pl.col("prev_finish"))
            & (pl.col("time_ns") >= pl.col("life_start_ns"))
        )
        .select("row")
        .unique()
    )
    assert ok.height == replicated.height, "a replica used before it arrived, or never sent"


@pytest.mark.parametrize("mode", MODES)
def test_conformance_loaded_trace(mode):
    packets = random_trace(3, 3_000, 50, 3_000.0)
    res = replay(packets, mode=mode, keep_packets=True, **LOADED)  # (the transfers table too)
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
    whole = replay(packets, mode=mode, keep_packets=True, **LOADED)
    chunked = replay(packets.iter_slices(chunk), mode=mode, keep_packets=True, **LOADED)
    small = replay(packets, mode=mode, chunk_size=chunk, **LOADED)  # the default: 'auto'
    assert small.transfers is None
    small.transfers = whole.transfers  # (none kept by default; compared above with keep_packets)
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
    from snfkit.runner import drive

    packets = random_trace(9, 6_000, 80, 4_000.0)
    normal = replay(packets, **LOADED, keep_packets=True)
    monkeypatch.setattr(drive, "TRANSFER_ROWS", 8)
    small = replay(packets, **LOADED, keep_packets=True)
    assert normal.transfers.height > 1_000  # drained dozens of times from an 88-row buffer
    for name in ("packets", "flowlets", "transfers"):
        assert getattr(normal, name).equals(getattr(small, name)), name
    assert normal.summary == small.summary


def test_a_path_replays_as_its_loaded_table(tmp_path):
    """One rule for every way in: a trace path is read by load_trace, which recomputes flow_id
    from the 5-tuple, so a file whose flow_id column is wrong replays as the loaded table does."""
    from snfkit.workloads.presets import paper_like

    packets = paper_like(seed=3, scale=0.001)
    path = tmp_path / "t.parquet"
    packets.with_columns(flow_id=pl.lit(0, pl.Int64)).write_parquet(path, row_group_size=300)
    a = replay(packets, **LOADED)
    b = replay(path, chunk_size=256, **LOADED)
    assert a.packets.equals(b.packets)
    assert a.summary == b.summary
    assert b.summary["allocations"] > 1_000  # not one flow


def test_a_replay_only_parquet_path_is_refused_naming_the_column(tmp_path):
    path = tmp_path / "t.parquet"
    random_trace(2, 200, 30, 4_000.0).write_parquet(path)
    with pytest.raises(SchemaError, match="src_ip"):
        replay(path)


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


def test_auto_builds_the_tables_when_read():
    """keep_packets='auto' (the default): the packets and flowlets tables are built from the
    kernel's columns when first read (the same tables as keep_packets=True's), an NF's columns
    join the packets table then, and there is no transfers table."""
    from snfkit.results import LazyTable
    from snfkit.workloads.presets import small_demo

    packets = small_demo(seed=0).head(5_000)
    eager = replay(packets, nf="nat", keep_packets=True, unit_capacity_bps=2e8)
    lazy = replay(packets, nf="nat", unit_capacity_bps=2e8)
    assert lazy.params["keep_packets"] == "auto"
    assert isinstance(lazy.__dict__["_packets"], LazyTable)
    assert isinstance(lazy.__dict__["_flowlets"], LazyTable)
    assert repr(lazy.summary) == repr(eager.summary) and lazy.summary["latency_exact"]
    assert lazy.packets.equals(eager.packets) and "nf_action" in lazy.packets.columns
    assert lazy.flowlets.equals(eager.flowlets)
    assert lazy.__dict__["_packets"] is lazy.packets  # built once, then kept
    assert lazy.transfers is None and eager.transfers.height > 0
    again = replay(packets, nf="nat", unit_capacity_bps=2e8)
    copied = pickle.loads(pickle.dumps(again))  # (tables not built yet are built to pickle)
    assert copied.packets.equals(eager.packets) and copied.flowlets.equals(eager.flowlets)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replay_cases())
def test_conformance_random(case):
    packets, flat = case
    check_invariants(packets, replay(packets, **flat, keep_packets=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replay_cases(), paper_switches())
def test_conformance_random_paper_switches(case, switches):
    packets, flat = case
    check_invariants(packets, replay(packets, **flat, **switches, keep_packets=True))


@pytest.mark.parametrize("mode", MODES)
def test_conformance_loaded_trace_paper_switches(mode):
    """Every switch on: first-fit placement, a decision cost, distinct pull and push times with a
    bandwidth term, a push cost on the sender and an NF cost."""
    packets = random_trace(3, 3_000, 50, 3_000.0)
    switches = {"placement": "first_fit", "decision_ns": 1_000, "pull_transfer_ns": 50_000,
                "transfer_bps": 1e9, "state_bytes": 2_000, "push_unit_ns": 2_000,
                "nf_cost": True, "nf_packet_ns": 300, "nf_byte_ps": 100}  # fmt: skip
    res = replay(packets, mode=mode, **LOADED, **switches, keep_packets=True)
    check_invariants(packets, res)


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


@cache
def _shared_packets(name: str) -> pl.DataFrame:
    return load_trace(shared_trace(name))


@pytest.mark.shared
@pytest.mark.parametrize("name", SHARED_TRACE_FILES)
@pytest.mark.parametrize("state_mode", STATE_MODES)
@pytest.mark.parametrize("mode", MODES)
def test_invariants_on_shared_traces(name, mode, state_mode):
    """Accounting, per-packet lifetimes and state causality on the real traces, with units small
    enough that flowlets move and state travels."""
    packets = _shared_packets(name)
    capacity = {"caida-nyc-2018-10k.pcap": 2e8, "auckland-2000-31k.pcap": 1e7}[name]  # ~1/15 load
    res = replay(
        packets,
        mode=mode,
        state_mode=state_mode,
        unit_capacity_bps=capacity,
        unit_startup_ns=50_000,
        flow_timeout_ns=2_000_000,
        smart_interval_ns=1_000_000,
        keep_packets=True,
    )
    check_invariants(packets, res)
    if mode != "packet" and state_mode in ("reactive", "proactive"):
        assert res.summary["moved_flowlets"] > 0  # the causality check had moves to look at


def test_causality_check_catches_an_early_start():
    """Negative control: a pulled flowlet's first packet moved to start before its state could
    be there fails the check."""
    packets = random_trace(3, 3_000, 50, 3_000.0)
    res = replay(packets, state_mode="reactive", **LOADED)
    check_state_causality(res)
    pulled = res.flowlets.filter(pl.col("state_source") == "pull")["item"]
    assert pulled.len() > 0
    row = res.packets.with_row_index("row").filter(pl.col("item") == pulled[0])["row"][0]
    early = res.packets["start_ns"].scatter(row, res.packets["ts_ns"][row])
    res.packets = res.packets.with_columns(start_ns=early)
    with pytest.raises(AssertionError):
        check_state_causality(res)


def test_causality_check_catches_a_stale_replica():
    """Negative control: with the clock check off, the replay starts flowlets from copies pushed
    before the flow's lingering packets (fault injection); read as if the check had been on, the
    causality check finds the replica with the wrong clock."""
    from test_nf_oracle import lingering_trace

    res = replay(
        lingering_trace(1),
        state_mode="proactive",
        replicas=2,
        alpha=0.0,
        unit_capacity_bps=2e7,
        max_units=12,
        unit_idle_ns=5_000_000,
        clock_check=False,
        keep_packets=True,
    )
    assert res.summary["stale_state_used"] > 0
    check_state_causality(res)  # the check is off for fault injection
    res.params = {**res.params, "clock_check": True}
    with pytest.raises(AssertionError, match="replica"):
        check_state_causality(res)


def test_lifetime_check_catches_a_packet_after_retirement():
    packets = random_trace(3, 2_000, 30, 3_000.0)
    res = replay(packets, **LOADED)
    check_invariants(packets, res)
    late = res.units["retire_ns"].max() + 1
    res.packets = res.packets.with_columns(finish_ns=res.packets["finish_ns"].scatter(0, late))
    with pytest.raises(AssertionError):
        check_invariants(packets, res)
