"""The NF runner (run_nf_nb vs its twin) over random state-source patterns, its errors, and stale
state visibly changing NF output (so that the replay oracle can fail)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nf_helpers import assert_same, both, packets, sources, traffic

from snfkit.engine.nf_nb import run_nf_into_nb, run_nf_nb, sequential_sources
from snfkit.errors import NoPayloadWarning, ParameterError
from snfkit.nf import NFS, apply, get_nf, prepare, run
from snfkit.reference.nf import run_nf
from snfkit.reference.nf import sequential_sources as sequential_twin

NAMES = sorted(NFS)
BUILT = {name: get_nf(name) for name in NAMES}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(table=traffic(), name=st.sampled_from(NAMES), data=st.data())
def test_kernel_equals_twin_with_stale_sources(table, name, data):
    nf = BUILT[name]
    _, flow, _ = prepare(nf, table)
    src, snap = data.draw(sources(flow))
    k, t = both(nf, table, src, snap)
    assert_same(k, t)
    assert k.n_snapshots == int(snap.sum())


@settings(max_examples=30, deadline=None)
@given(flow=st.lists(st.integers(0, 6), max_size=80))
def test_sequential_sources_twin(flow):
    f = np.asarray(flow, np.int64)
    a, b = sequential_sources(f), sequential_twin(f)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    for i, j in enumerate(a[0]):
        assert j == -1 or (j < i and f[j] == f[i] and not (f[j + 1 : i] == f[i]).any())


@SETTINGS
@given(table=traffic(), name=st.sampled_from(NAMES))
def test_sequential_run_without_sources_equals_it_with_them(table, name):
    """Empty ``src`` and ``snap`` (what ``snfkit.nf.run`` passes for the sequential run) give the
    outputs and state of the sequential sources spelled out."""
    nf = BUILT[name]
    cols, flow, n_flows = prepare(nf, table)
    src, snap = sequential_sources(flow)
    none = np.empty(0, np.int64), np.empty(0, np.bool_)
    got = run_nf_nb(nf.process, nf.config, cols, flow, *none, nf.state_width, n_flows)
    want = run_nf_nb(nf.process, nf.config, cols, flow, src, snap, nf.state_width, n_flows)
    assert_same(got, want)
    assert_same(run(nf, None, inputs=(cols, flow, n_flows)), want)  # (outputs numpy's)
    assert all(not a.flags.writeable for a in (*cols, flow))  # (one kernel specialisation)


def test_output_arrays_of_another_length_are_refused():
    nf = BUILT["lb"]
    cols, flow, n_flows = prepare(nf, _table())
    none = np.empty(0, np.int64), np.empty(0, np.bool_)
    rows = np.empty(4, np.int8), np.empty(4, np.int64), np.empty(3, np.int64), np.empty(4, np.int64)
    with pytest.raises(ParameterError, match="action, out0, out1, delta"):
        run_nf_into_nb(nf.process, nf.config, cols, flow, *none, nf.state_width, n_flows, *rows)


def _table():
    # one connection, 4 packets, both directions
    return packets(
        [
            (1_000, 1, 40000, 100, 80, 6, 100),
            (2_000, 100, 80, 1, 40000, 6, 100),
            (3_000, 1, 40000, 100, 80, 6, 100),
            (4_000, 1, 40000, 100, 80, 6, 100),
        ]
    )


@pytest.mark.parametrize(
    ("src", "snap", "match"),
    [
        ([-1, 0, 2, 2], [0, 0, 0, 0], r"src\[i\]"),  # src[2] = 2 is not earlier
        ([-1, 0, 1, 0], [0, 0, 0, 0], "marked in snap"),  # stale 0 without a snapshot
        ([-1, -2, 1, 2], [0, 0, 0, 0], r"src\[i\]"),
    ],
)
def test_bad_sources_raise(src, snap, match):
    nf = BUILT["lb"]
    cols, flow, n_flows = prepare(nf, _table())
    args = (np.asarray(src, np.int64), np.asarray(snap, np.bool_), nf.state_width, n_flows)
    with pytest.raises(ParameterError, match=match):
        run_nf_nb(nf.process, nf.config, cols, flow, *args)
    with pytest.raises(ParameterError, match=match):
        run_nf(nf.twin, nf.config, cols, flow, *args)


def test_source_in_another_flow_raises():
    nf = BUILT["qos"]  # one-directional: the reply is its own flow
    cols, flow, n_flows = prepare(nf, _table())
    assert flow.tolist() == [0, 1, 0, 0]
    src = np.array([-1, 0, 0, 2])
    with pytest.raises(ParameterError, match="same flow"):
        run_nf_nb(nf.process, nf.config, cols, flow, src, np.ones(4, bool), 3, n_flows)
    with pytest.raises(ParameterError, match="same flow"):
        run_nf(nf.twin, nf.config, cols, flow, src, np.ones(4, bool), 3, n_flows)


def test_stale_source_changes_lb_and_qos_output():
    """A packet started from an older snapshot gives another output: what the oracle detects."""
    ts = [1_000, 2_000, 3_000, 600_000]
    table = packets([(t, 1, 40000, 100, 80, 6, 1000) for t in ts])
    stale = np.array([-1, 0, 1, 0])  # packet 3 starts from the state right after packet 0
    snap = np.array([True, False, False, False])
    lb_ok = apply(BUILT["lb"], table)
    lb_stale = apply(BUILT["lb"], table, stale, snap)
    assert lb_ok["out1"].to_list() == [1, 2, 3, 4]
    assert lb_stale["out1"].to_list() == [1, 2, 3, 2]
    # 8 Mbit/s = 1 byte per us, bucket 2,500 B, packets of 1,000 B
    qos = get_nf("qos", rate_bps=8_000_000, bucket_bytes=2_500)
    q_ok = apply(qos, table)
    assert q_ok["action"].to_list() == [0, 0, 1, 0]
    assert q_ok["out0"].to_list() == [1500, 501, 502, 99]  # p3: 502 + 597 us - 1,000
    q_stale = apply(qos, table, stale, snap)
    assert q_stale["action"].to_list() == [0, 0, 1, 0]
    assert q_stale["out0"].to_list() == [1500, 501, 502, 1099]  # 1,500 + 599 us - 1,000
    assert q_stale["out1"].to_list() == [0, 0, 1, 0]  # the drop of packet 2 is forgotten


def test_apply_table_and_errors():
    out = apply(BUILT["nat"], _table())
    assert out.columns == ["action", "out0", "out1", "delta"]
    assert [str(t) for t in out.dtypes] == ["Int8", "Int64", "Int64", "Int64"]
    with pytest.raises(ParameterError, match="nf"):
        apply("nat", _table())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="snap"):
        apply(BUILT["nat"], _table(), None, np.zeros(4, bool))
    with pytest.raises(ParameterError, match="src, snap"):
        apply(BUILT["nat"], _table(), np.array([-1, 0]))
    with pytest.raises(ParameterError, match="name"):
        get_nf("firewall")
    with pytest.raises(ParameterError, match="config"):
        get_nf("lb", colour="red")


def test_a_table_without_the_nf_columns_is_named():
    from snfkit import replay

    bare = _table().select("ts_ns", "flow_id", "wire_len")
    for call in (lambda: apply(BUILT["qos"], bare), lambda: replay(bare, nf="lb")):
        with pytest.raises(
            ParameterError, match="without src_ip, dst_ip, src_port, dst_port, proto"
        ):
            call()


def test_ids_without_payload_warns_and_inspects_nothing():
    with pytest.warns(NoPayloadWarning, match="payload"):
        out = apply(BUILT["ids"], _table())
    assert out["out0"].to_list() == [-1] * 4
    assert out["action"].to_list() == [0] * 4
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoPayloadWarning)
        apply(BUILT["nat"], _table())  # other NFs do not warn


def test_empty_table():
    for name in NAMES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoPayloadWarning)
            assert apply(BUILT[name], _table().head(0)).height == 0


def test_address_halves_read_the_buffer_as_the_rows_do():
    """The fast path (addresses back to back in the column's buffer) and the general one (via
    fixed-size rows: a null, or an offset slice of chunks) give the same halves."""
    import polars as pl

    from snfkit.nf.base import address_halves
    from snfkit.traces.table import address_rows, address_words

    rng = np.random.default_rng(0)
    raw = [bytes(rng.integers(0, 256, 16, dtype=np.uint8)) for _ in range(300)]
    col = pl.Series(raw, dtype=pl.Binary)
    cases = [col, col.slice(17, 200), pl.concat([col.slice(0, 100), col.slice(150, 100)])]
    for case in cases:
        want = address_words(address_rows(case)).view(np.int64)
        for checked in (False, True):
            hi, lo = address_halves(case, checked=checked)
            np.testing.assert_array_equal(hi, want[:, 0])
            np.testing.assert_array_equal(lo, want[:, 1])
            assert hi.flags.c_contiguous and hi.flags.writeable and hi.dtype == np.int64
