"""Many controllers and the resource manager (issue 18): the split, the merge, leases, the RM's
packing against its twin, and bad input."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replay_helpers import random_trace, table

import snfkit
from snfkit import ReplayParams
from snfkit.engine.mix_nb import buckets_nb
from snfkit.engine.pool_nb import pack_leases_nb
from snfkit.errors import ParameterError
from snfkit.pool import controller_of
from snfkit.reference.mix import buckets
from snfkit.reference.rm import pack_leases
from snfkit.runner.inputs import nf_inputs, nf_setup
from snfkit.runner.many import replay_many
from snfkit.workloads.presets import paper_like

LOADED = dict(
    unit_capacity_bps=2e8,
    max_units=16,
    unit_idle_ns=2_000_000,
    epoch_ns=500_000,
    flow_timeout_ns=1_000_000,
    smart_interval_ns=1_000_000,
    unit_startup_ns=20_000,
)


def _trace_every_controller_at_t0(seed: int, n: int, n_flows: int, controllers: int):
    """A random trace whose first packets (all at its first time) include one of each
    controller's flows, so that each controller's share starts when the trace does."""
    pk = random_trace(seed, n, n_flows, 3_000.0)
    ctl = controller_of(pk, controllers, 0)
    heads = []
    for k in range(controllers):
        rows = np.flatnonzero(ctl == k)
        assert rows.size, "every controller has flows"
        heads.append(int(pk["flow_id"][int(rows[0])]))
    t0 = int(pk["ts_ns"][0])
    head = table([t0] * controllers, heads, [64] * controllers)
    return pl.concat([head, pk])


def _drop(t: pl.DataFrame, *cols: str) -> pl.DataFrame:
    return t.drop([c for c in cols if c in t.columns])


@pytest.mark.parametrize("mode", ["flowlet", "flow", "smart_flow", "packet"])
def test_one_controller_through_the_many_path_equals_the_single_replay(mode):
    """The merge with one controller is the identity: every table and the summary's counts."""
    pk = random_trace(3, 1_500, 30, 3_000.0)
    params = ReplayParams.from_flat(mode=mode, **LOADED)
    one = snfkit.replay(pk, params)
    many = replay_many(pk, params)
    assert _drop(many.packets, "controller").equals(one.packets)
    assert _drop(many.flowlets, "controller").equals(one.flowlets)
    assert _drop(many.units, "controller").equals(one.units)
    assert _drop(many.epoch_units, "controller").equals(one.epoch_units)
    assert many.epochs.equals(one.epochs)
    for key, value in one.summary.items():
        assert many.summary[key] == value or (
            value != value and many.summary[key] != many.summary[key]
        ), key


@pytest.mark.parametrize("rm", [False, True])
def test_each_controller_is_the_single_replay_of_its_share(rm):
    """N controllers: controller k's packets, items and units are those of a one-controller
    replay of the packets of its flows (every table merged back right)."""
    n_ctl = 3
    pk = _trace_every_controller_at_t0(5, 2_000, 40, n_ctl)
    flat = dict(controllers=n_ctl, resource_manager=rm, rm_increment=0.5, **LOADED)
    got = snfkit.replay(pk, **flat)
    ctl = controller_of(pk, n_ctl, 0)
    assert got.packets["controller"].to_list() == ctl.tolist()
    item_base = 0
    for k in range(n_ctl):
        sub = pk.filter(pl.Series(ctl == k))
        ids, local = np.unique(sub["flow_id"].to_numpy(), return_inverse=True)
        sub = sub.with_columns(flow_id=pl.Series(local.astype(np.int64)))
        one = ReplayParams.from_flat(**{**flat, "controllers": 1})
        alone = replay_many(sub, one) if rm else snfkit.replay(sub, one)  # (an RM needs the pool)
        mine = got.packets.filter(pl.col("controller") == k)
        for col in ("unit", "start_ns", "finish_ns", "latency_ns", "state_wait_ns", "wait_cause"):
            assert mine[col].to_list() == alone.packets[col].to_list(), (k, col)
        assert (mine["item"] - item_base).to_list() == alone.packets["item"].to_list()
        units = got.units.filter(pl.col("controller") == k)
        for col in ("unit", "share", "start_ns", "ready_ns", "retire_ns", "packets", "busy_ns"):
            assert units[col].to_list() == alone.units[col].to_list(), (k, col)
        fl = got.flowlets.filter(pl.col("controller") == k)
        assert fl["flow_id"].to_list() == ids[alone.flowlets["flow_id"].to_numpy()].tolist()
        item_base += alone.flowlets.height


def _sweep_max(starts, ends, weights) -> int:
    times = np.concatenate([starts, ends])
    delta = np.concatenate([weights, -weights])
    order = np.lexsort((delta, times))
    return int(np.cumsum(delta[order]).max()) if times.size else 0


def test_rm_conformance_leases_never_overfill_a_unit_and_work_stays_on_leases():
    """Every packet accounted for once; no RM unit holds more than a whole unit of leases at any
    time; every lease lies within its RM unit's life; every packet is served within its lease's
    life on the unit its controller leased."""
    pk = _trace_every_controller_at_t0(9, 3_000, 60, 4)
    got = snfkit.replay(pk, controllers=4, resource_manager=True, rm_increment=0.3, **LOADED)
    s = got.summary
    assert s["packets_served"] == s["packets_in"] == pk.height
    leases, units = got.leases, got.rm_units
    assert leases.height == got.units.height and (leases["rm_unit"] >= 0).all()
    assert (leases["share"] > 0).all() and (leases["share"] <= 1000).all()
    assert leases["share"].n_unique() > 1  # fractional leases were granted
    for u in leases["rm_unit"].unique().to_list():
        mine = leases.filter(pl.col("rm_unit") == u)
        assert (
            _sweep_max(
                mine["start_ns"].to_numpy(), mine["retire_ns"].to_numpy(), mine["share"].to_numpy()
            )
            <= 1000
        )
        lives = units.filter(pl.col("rm_unit") == u)
        for row in mine.iter_rows(named=True):
            assert any(
                a <= row["start_ns"] and row["retire_ns"] <= b
                for a, b in zip(lives["start_ns"], lives["retire_ns"], strict=True)
            )
    # each packet's service lies within the lease that its unit held then
    fl = got.flowlets.select("item", "unit_life")
    pkt = got.packets.join(fl, on="item").join(
        leases.select("controller", "unit", "unit_life", "ready_ns", "retire_ns"),
        on=["controller", "unit", "unit_life"],
    )
    assert pkt.height == pk.height
    assert (pkt["start_ns"] >= pkt["ready_ns"]).all()
    assert (pkt["finish_ns"] <= pkt["retire_ns"]).all()


def test_nf_output_with_many_controllers_equals_the_sequential_run():
    from snfkit.nf import get_nf, run

    pk = paper_like(seed=2, scale=0.003)
    nat = get_nf("nat")
    sequential = run(nat, None, inputs=nf_inputs(nat, nf_setup(nat, pk)[1]))
    for rm in (False, True):
        got = snfkit.replay(pk, nf="nat", controllers=3, resource_manager=rm, epoch_ns=10_000_000)
        assert got.summary["stale_state_used"] == 0
        assert got.summary["nf"]["dropped"] == int((sequential.action == 1).sum())
        assert got.nf_output["out0"].to_list() == sequential.out0.tolist()
        assert got.nf_output["out1"].to_list() == sequential.out1.tolist()


def test_rm_trims_overprovisioning_below_independent_controllers():
    """The story of Fig 6 on a small workload: leasing fractional capacity leaves less idle
    capacity per controller and epoch than each controller owning whole units."""
    pk = paper_like(seed=4, scale=0.02)
    flat = dict(controllers=4, epoch_ns=20_000_000)
    ind = snfkit.replay(pk, resource_manager=False, keep_packets=False, **flat)
    rm = snfkit.replay(pk, resource_manager=True, keep_packets=False, **flat)
    over = "controller_overprovision_gbps"
    assert rm.summary[over]["mean"] < ind.summary[over]["mean"]
    assert ind.controller_epochs.height == rm.controller_epochs.height == 4 * ind.epochs.height


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2**31 - 1),
    st.integers(0, 40),
    st.sampled_from([0, 5, 50]),
    st.sampled_from([0, 20, 200]),
    st.sampled_from([1, 30, 300]),
    st.floats(0.0, 1.0),
)
def test_pack_leases_kernel_equals_twin(seed, n, rtt, startup, idle, prestart):
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 300, n).astype(np.int64)
    retire = start + rng.integers(0, 200, n)
    share = rng.choice([100, 250, 300, 500, 700, 1000], n).astype(np.int64)
    unit_of, rows, late = pack_leases_nb(start, retire, share, rtt, startup, idle, prestart)
    ref_unit, ref_rows, ref_late = pack_leases(start, retire, share, rtt, startup, idle, prestart)
    assert unit_of.tolist() == ref_unit
    assert rows.tolist() == ref_rows
    assert late == ref_late


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**40), max_size=50), st.integers(1, 20), st.integers(0, 2**40))
def test_flow_split_kernel_equals_twin(keys, n, seed):
    got = buckets_nb(np.asarray(keys, np.int64), np.int64(n), np.int64(seed))
    assert got.tolist() == buckets(keys, n, seed)


def test_split_by_ingress_column():
    pk = random_trace(1, 200, 10, 1_000.0)
    ingress = (pk["flow_id"] % 3).map_elements(lambda v: ["b", "a", "c"][v], return_dtype=pl.Utf8)
    got = controller_of(pk.with_columns(ingress=ingress), 3, 0)
    assert got.tolist() == [{"a": 0, "b": 1, "c": 2}[v] for v in ingress.to_list()]
    with pytest.raises(ParameterError, match="controllers"):
        controller_of(pk.with_columns(ingress=ingress), 2, 0)
    moving = pk.with_columns(ingress=pl.int_range(pl.len()) % 2)
    with pytest.raises(ParameterError, match="one ingress per flow"):
        controller_of(moving, 2, 0)


@pytest.mark.parametrize(
    "flat, name",
    [
        (dict(controllers=0), "controllers"),
        (dict(controllers=2.5), "controllers"),
        (dict(rm_headroom=-0.1), "rm_headroom"),
        (dict(rm_rtt_ns=-1), "rm_rtt_ns"),
        (dict(rm_grain=0.0), "rm_grain"),
        (dict(rm_increment=1.5), "rm_increment"),
        (dict(controller_rate=-1.0), "controller_rate"),
        (dict(resource_manager=True, mode="packet"), "resource_manager"),
    ],
)
def test_bad_controller_parameters_name_themselves(flat, name):
    with pytest.raises(ParameterError) as err:
        ReplayParams.from_flat(**flat)
    assert err.value.args[0].startswith(name) or name in str(err.value)


def test_more_controllers_than_flows_and_failures_are_refused():
    pk = random_trace(2, 100, 5, 1_000.0)
    with pytest.raises(ParameterError, match="controllers"):
        snfkit.replay(pk, controllers=6)
    with pytest.raises(ParameterError, match="failures"):
        snfkit.replay(pk, controllers=2, failures=[snfkit.Failure(10, "unit", 0)])


def test_controller_rate_queues_items_and_reports_utilization():
    pk = random_trace(4, 2_000, 200, 5_000.0)
    free = snfkit.replay(pk, decision_ns=1_000, timeout_ns=2_000)
    slow = snfkit.replay(pk, decision_ns=1_000, timeout_ns=2_000, controller_rate=2e5)
    c = slow.summary["controller"]
    assert c["decisions"] == slow.summary["allocations"]
    expected = c["decisions"] * 5_000 / (slow.summary["duration_s"] * 1e9)
    assert c["utilization"] == pytest.approx(expected)
    assert c["waited"] > 0 and c["wait_mean_us"] > 0
    assert slow.summary["latency_mean_us"] > free.summary["latency_mean_us"]
    assert free.summary["controller"]["utilization"] == 0.0


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 300), st.integers(1, 40), st.integers(1, 8))
def test_split_kernel_equals_its_twin(seed, n, n_flows, n_ctl):
    """Rows grouped per controller, their flow ids within it, and its flows, against the twin
    (some flow ids absent from the trace)."""
    from snfkit.engine.split_nb import split_flows_nb
    from snfkit.reference.split import split_flows

    rng = np.random.default_rng(seed)
    flow = rng.integers(0, n_flows, n).astype(np.int64)
    owner = rng.integers(0, n_ctl, n_flows).astype(np.int64)
    owner[np.bincount(flow, minlength=n_flows) == 0] = -1
    rows, starts, local, ids, first = split_flows_nb(flow, owner, np.int64(n_ctl))
    got = [
        (
            rows[starts[k] : starts[k + 1]].tolist(),
            local[starts[k] : starts[k + 1]].tolist(),
            ids[first[k] : first[k + 1]].tolist(),
        )
        for k in range(n_ctl)
    ]
    assert got == split_flows(flow, owner, n_ctl)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=80), st.integers(1, 4), st.integers(0, 9))
def test_flow_owners_give_each_packet_its_flows_hashed_controller(flows, n_ctl, seed):
    """Per flow id, the controller the per-packet split gives its packets; -1 for absent ids."""
    from snfkit.pool import flow_owners

    pk = pl.DataFrame({"flow_id": np.asarray(flows, np.int64)})
    if n_ctl > len(set(flows)):
        with pytest.raises(ParameterError, match="controllers"):
            flow_owners(pk, n_ctl, seed)
        return
    owner = flow_owners(pk, n_ctl, seed)
    assert owner.shape[0] == max(flows) + 1
    for f in range(owner.shape[0]):
        want = buckets([f], n_ctl, seed)[0] if f in flows else -1
        assert owner[f] == want
    assert controller_of(pk, n_ctl, seed).tolist() == buckets(flows, n_ctl, seed)


def test_a_negative_flow_id_is_named():
    pk = pl.DataFrame({"flow_id": np.array([0, 4, -3, 1], np.int64)})
    with pytest.raises(ParameterError, match="flow_id -3 at row 2"):
        controller_of(pk, 2, 0)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 60), st.booleans())
def test_scatter_kernel_equals_twin(seed, n, with_ol):
    from snfkit.engine.replay_nb import ChunkOut
    from snfkit.engine.split_nb import scatter_rows_nb
    from snfkit.reference.split import scatter_rows

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(2 * n + 1, n, replace=False)).astype(np.int64)
    kinds = {"unit": np.int32, "wait_cause": np.uint8, "reordered": np.bool_, "lost": np.bool_}
    dtypes = [kinds.get(f, np.int64) for f in ChunkOut._fields]
    none = {"src_pkt"} | (set() if with_ol else {"ol", "lost"})
    sizes = [0 if f in none else n for f in ChunkOut._fields]
    part = ChunkOut(
        *(
            rng.integers(0, 2 if dt == np.bool_ else 100, s).astype(dt)
            for dt, s in zip(dtypes, sizes, strict=True)
        )
    )
    total = [0 if f in none else 2 * n + 1 for f in ChunkOut._fields]
    out = ChunkOut(*(np.zeros(s, dt) for dt, s in zip(dtypes, total, strict=True)))
    scatter_rows_nb(rows, part, out, np.int64(7), np.int64(100))
    ref = {f: [0] * len(getattr(out, f)) for f in ChunkOut._fields}
    scatter_rows(
        rows.tolist(), {f: getattr(part, f).tolist() for f in ChunkOut._fields}, ref, 7, 100
    )
    for f in ChunkOut._fields:
        got = getattr(out, f).tolist()
        assert got == [type(v)(x) for v, x in zip(got, ref[f], strict=True)], f


def test_empty_trace_and_chunked_input():
    """An empty table gives empty tables; an iterable of chunks gives what the whole table does."""
    empty = table([], [], [])
    res = snfkit.replay(empty, resource_manager=True)
    assert res.summary["packets_in"] == 0 and res.leases.height == 0
    pk = random_trace(8, 600, 20, 3_000.0)
    whole = snfkit.replay(pk, controllers=2, **LOADED)
    chunks = snfkit.replay(iter([pk.head(250), pk.tail(350)]), controllers=2, **LOADED)
    assert chunks.packets.equals(whole.packets)
    assert chunks.units.equals(whole.units)


def test_per_packet_rows_are_the_same_built_at_once_or_when_read():
    """Many controllers: ``keep_packets=True`` merges the rows into trace order at once, ``'auto'``
    when the table is first read; the same table and the same exact percentiles either way."""
    pk = _trace_every_controller_at_t0(6, 1_500, 30, 3)
    eager = snfkit.replay(pk, controllers=3, keep_packets=True, **LOADED)
    lazy = snfkit.replay(pk, controllers=3, **LOADED)
    assert eager.summary["latency_exact"] and lazy.summary["latency_exact"]
    for key in ("latency_us", "latency_mean_us", "latency_max_us"):
        assert eager.summary[key] == lazy.summary[key], key
    assert eager.packets.equals(lazy.packets)
    assert eager.packets["ts_ns"].to_list() == pk["ts_ns"].to_list()
