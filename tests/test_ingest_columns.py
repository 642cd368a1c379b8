"""The packets table's build from reader columns: flow ids by the 5-tuple hash table
(snfkit.engine.flowkeys_nb.factorize_flows_nb) and address columns as Arrow binary views over the
address rows (snfkit.engine.binary_views_nb), each against its plain-Python twin and against the
construction they replaced (packed key rows; a copied fixed-size binary array)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from snfkit.engine.binary_views_nb import binary16_views_nb
from snfkit.engine.flowkeys_nb import factorize_flows_nb, factorize_rows_nb
from snfkit.reference.binary_views import binary16_views
from snfkit.reference.flowkeys import factorize_flows
from snfkit.traces.table import (
    binary16_series,
    flow_ids,
    flow_keys,
    format_ip,
    ipv4_to_rows,
    packets_from_arrays,
)


@st.composite
def five_tuples(draw, max_rows: int = 300):
    """5-tuple columns drawn from a few values each, so that rows repeat; addresses mix IPv4-mapped
    rows and arbitrary 16-byte ones (which differ from each other in any byte)."""
    n = draw(st.integers(0, max_rows))
    pool = draw(st.lists(arrays(np.uint8, 16, elements=st.integers(0, 3)), min_size=1, max_size=4))
    pool.append(ipv4_to_rows(np.array([0x0A000001], np.uint32))[0])
    pick = st.integers(0, len(pool) - 1)
    src = np.array([pool[draw(pick)] for _ in range(n)], np.uint8).reshape(n, 16)
    dst = np.array([pool[draw(pick)] for _ in range(n)], np.uint8).reshape(n, 16)
    small = arrays(np.uint16, n, elements=st.sampled_from([0, 1, 80, 65535]))
    sport, dport = draw(small), draw(small)
    proto = draw(arrays(np.uint8, n, elements=st.sampled_from([0, 6, 17, 255])))
    return src, dst, sport, dport, proto


@settings(max_examples=150, deadline=None)
@given(five_tuples())
def test_factorize_flows_kernel_equals_twin(cols):
    src, dst, sport, dport, proto = cols
    words = (src.view(np.uint64), dst.view(np.uint64), sport, dport, proto)
    ids, want_ids = np.empty(len(sport), np.int64), np.empty(len(sport), np.int64)
    first = factorize_flows_nb(*words, ids)
    want_first = factorize_flows(*words, want_ids)
    assert np.array_equal(ids, want_ids) and np.array_equal(first, want_first)


@settings(max_examples=150, deadline=None)
@given(five_tuples())
def test_flow_ids_equal_those_of_packed_key_rows(cols):
    """The ids the tables had before: factorize_rows_nb over flow_keys rows."""
    want, _ = factorize_rows_nb(flow_keys(*cols))
    assert np.array_equal(flow_ids(*cols), want)


def test_flow_ids_many_flows_through_table_growth():
    """Enough distinct flows to double the slot table and the key arrays several times, each
    flow seen again later (in a shuffled order) so that lookups run after every growth."""
    rng = np.random.default_rng(3)
    n_flows = 50_000
    flows = np.concatenate([np.arange(n_flows), rng.permutation(n_flows), rng.permutation(n_flows)])
    src = ipv4_to_rows((flows * 2654435761 % 2**32).astype(np.uint32))
    dst = ipv4_to_rows(np.full(len(flows), 0x0A000001, np.uint32))
    sport = (flows % 65536).astype(np.uint16)
    dport = np.full(len(flows), 443, np.uint16)
    proto = np.where(flows % 3 == 0, 17, 6).astype(np.uint8)
    ids = flow_ids(src, dst, sport, dport, proto)
    assert np.array_equal(ids, np.concatenate([np.arange(n_flows), flows[n_flows:]]))


def test_flow_ids_checks_lengths():
    rows = ipv4_to_rows(np.arange(3, dtype=np.uint32))
    with pytest.raises(ValueError, match="different lengths"):
        flow_ids(rows, rows, np.zeros(3, np.uint16), np.zeros(2, np.uint16), np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="uint8\\[n, 16\\]"):
        flow_ids(rows[:, :4], rows, np.zeros(3), np.zeros(3), np.zeros(3))


def test_a_changed_kernel_id_is_caught():
    """Negative control: the comparison with the twin sees a single wrong id."""
    src = ipv4_to_rows(np.array([1, 2, 1], np.uint32))
    words = (src.view(np.uint64), src.view(np.uint64), np.zeros(3, np.uint16))
    words += (np.zeros(3, np.uint16), np.zeros(3, np.uint8))
    ids, want = np.empty(3, np.int64), np.empty(3, np.int64)
    factorize_flows_nb(*words, ids)
    factorize_flows(*words, want)
    ids[2] = 1
    assert not np.array_equal(ids, want)


@settings(max_examples=100, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(0, 40), st.just(16))), st.integers(1, 9))
def test_binary16_views_kernel_equals_twin(rows, per_buffer):
    views, want = np.empty((len(rows), 4), np.uint32), np.empty((len(rows), 4), np.uint32)
    binary16_views_nb(rows.view(np.uint32), per_buffer, views)
    binary16_views(rows.view(np.uint32), per_buffer, want)
    assert np.array_equal(views, want)


@st.composite
def views_and_data(draw):
    """A data buffer and views into it, most of them 16-byte values at multiples of 8 inside
    buffer 0, some of another length, buffer, alignment or past the end."""
    n_words = draw(st.integers(0, 12))
    data = draw(arrays(np.uint64, n_words))
    n = draw(st.integers(0, 20))
    views = np.zeros((n, 4), np.uint32)
    for i in range(n):
        ok = draw(st.integers(0, 9)) > 0
        views[i, 0] = 16 if ok else draw(st.sampled_from([0, 13, 16, 17]))
        views[i, 2] = 0 if ok else draw(st.integers(0, 1))
        views[i, 3] = 8 * draw(st.integers(0, 13)) + (0 if ok else draw(st.integers(0, 7)))
    return views, data


@settings(max_examples=200, deadline=None)
@given(views_and_data())
def test_address_halves_kernel_equals_twin(case):
    from snfkit.engine.binary_views_nb import address_halves_nb
    from snfkit.reference.binary_views import address_halves

    views, data = case
    hi, lo = np.zeros(len(views), np.uint64), np.zeros(len(views), np.uint64)
    bad = address_halves_nb(views, data, hi, lo)
    want = address_halves(views, data.tobytes())
    if isinstance(want, int):
        assert bad == want
    else:
        assert bad == -1 and hi.tolist() == want[0] and lo.tolist() == want[1]


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.just(16))), st.integers(1, 50))
def test_address_halves_read_through_views_as_through_rows(rows, per_buffer):
    """The NFs' address halves, through the views in place (one data buffer) or the general path
    (several buffers, a slice, a copied column): the same numbers."""
    from snfkit.nf.base import _view_halves, address_halves

    want = rows.view(">u8").astype(np.uint64).view(np.int64)  # (n, 2) big-endian halves
    s = binary16_series("src_ip", rows, per_buffer)
    assert (_view_halves(s) is None) == (per_buffer < len(rows))
    for col in (s, s.slice(1), _copied_binary16("src_ip", rows)):
        got = address_halves(col, checked=True)
        skip = len(rows) - len(col)
        assert got[0].tolist() == want[skip:, 0].tolist()
        assert got[1].tolist() == want[skip:, 1].tolist()


def _copied_binary16(name: str, rows: np.ndarray) -> pl.Series:
    """How address columns were built before the views: a copied fixed-size binary array."""
    arr = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), rows.shape[0], [None, pa.py_buffer(rows.tobytes())]
    )
    return pl.Series(name, pl.from_arrow(arr)).cast(pl.Binary)


@settings(max_examples=100, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(0, 40), st.just(16))), st.integers(1, 9))
def test_binary16_series_equals_copied_column(rows, per_buffer):
    """Views over several data buffers (a small rows_per_buffer) read back as the same values."""
    s = binary16_series("src_ip", rows, per_buffer)
    want = _copied_binary16("src_ip", rows)
    assert s.dtype == pl.Binary and s.equals(want)
    assert s.to_list() == [bytes(r) for r in rows]
    assert s.bin.size().to_list() == [16] * len(rows)
    assert s.sort().equals(want.sort())  # numeric (byte) order survives


def test_binary16_series_of_ipv4_rows_formats():
    rows = ipv4_to_rows(np.array([0x0A000001, 0xC0A80102], np.uint32))
    assert [format_ip(b) for b in binary16_series("a", rows)] == ["10.0.0.1", "192.168.1.2"]


def test_packets_from_arrays_table_is_the_one_built_before():
    """Same content as the old construction (packed key rows, copied address column)."""
    rng = np.random.default_rng(0)
    n = 2000
    src = ipv4_to_rows(rng.integers(0, 50, n).astype(np.uint32))
    dst = rng.integers(0, 2, (n, 16)).astype(np.uint8)
    sport = rng.integers(0, 3, n).astype(np.uint16)
    dport = rng.integers(0, 3, n).astype(np.uint16)
    proto = rng.choice([6, 17], n).astype(np.uint8)
    ts = np.sort(rng.integers(0, 10**9, n))
    wire = rng.integers(40, 1500, n).astype(np.uint32)
    table = packets_from_arrays(ts, src, dst, sport, dport, proto, wire)
    ids, _ = factorize_rows_nb(flow_keys(src, dst, sport, dport, proto))
    want = pl.DataFrame(
        [
            pl.Series("ts_ns", ts),
            _copied_binary16("src_ip", src),
            _copied_binary16("dst_ip", dst),
            pl.Series("src_port", sport),
            pl.Series("dst_port", dport),
            pl.Series("proto", proto),
            pl.Series("wire_len", wire),
            pl.Series("flow_id", ids),
        ]
    )
    assert table.equals(want) and table.schema == want.schema
    with pytest.raises(ValueError, match="different lengths"):
        packets_from_arrays(ts[:-1], src, dst, sport, dport, proto, wire)


@settings(max_examples=100, deadline=None)
@given(views_and_data())
def test_first_other_length_kernel_equals_twin(case):
    from snfkit.engine.binary_views_nb import first_other_length_nb
    from snfkit.reference.binary_views import first_other_length

    views, _ = case
    assert first_other_length_nb(views, 16) == first_other_length(views, 16)


@pytest.mark.parametrize("bad_row", [0, 5, 9])
def test_an_address_of_another_length_is_named_whichever_way_the_column_is_read(bad_row):
    """check_nf_columns reads a column of views in place (one pass over them) and any other
    column through polars: the same error, naming the row, either way."""
    from snfkit.errors import ParameterError
    from snfkit.nf.base import _views_of, check_nf_columns

    rows = np.arange(10 * 16, dtype=np.uint8).reshape(10, 16)
    values = [bytes(r) for r in rows]
    values[bad_row] = values[bad_row][:4]
    good = binary16_series("dst_ip", rows, 16)
    n = len(values)
    one = pl.Series("src_ip", values, pl.Binary)
    for src in (one, pl.concat([one[:3], one[3:]], rechunk=False)):  # (views in place, or not)
        ints = {name: list(range(n)) for name in ("ts_ns", "flow_id", "wire_len")}
        ports = {"src_port": [1] * n, "dst_port": [2] * n, "proto": [6] * n}
        table = pl.DataFrame({"src_ip": src, "dst_ip": good, **ports, **ints})
        with pytest.raises(ParameterError, match=f"a 4-byte src_ip at row {bad_row}"):
            check_nf_columns(table)
    assert _views_of(good) is not None  # (the in-place path is the one taken for dst_ip)
    check_nf_columns(table.with_columns(src_ip=good))
