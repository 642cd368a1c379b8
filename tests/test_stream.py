"""Traces beyond memory (issue 21 part 4): a parquet trace replayed a slice at a time gives what
the whole table replayed in one chunk gives, keeps no per-packet rows, and reports bad values as
load_trace does."""

from __future__ import annotations

import gc
import weakref
from itertools import pairwise

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snfkit
from snfkit.errors import SchemaError
from snfkit.reference.flowkeys import factorize_flows
from snfkit.runner import Driver
from snfkit.runner.drive import FIRST_PIECE, RAMP, ramp_cuts
from snfkit.traces import load_trace
from snfkit.traces.stream import FlowNumbering, parquet_chunks, slice_plan, streamable
from snfkit.traces.table import address_rows, flow_ids, ipv4_to_rows
from snfkit.workloads.presets import paper_like

TABLES = ("flowlets", "epochs", "epoch_units", "units")


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory):
    """About 200 K paper-like packets in row groups of 9,000 rows (a flow's packets span many)."""
    packets = paper_like(seed=5, scale=0.031)
    path = tmp_path_factory.mktemp("stream") / "trace.parquet"
    packets.write_parquet(path, row_group_size=9_000)
    return path


@pytest.mark.parametrize("keep, failing", [(False, False), ("auto", False), (False, True)])
def test_path_in_slices_equals_one_chunk_in_memory(trace_path, keep, failing):
    assert streamable(trace_path)
    table = load_trace(trace_path)
    assert table.height > 190_000
    span = int(table["ts_ns"][-1] - table["ts_ns"][0])
    kinds = ["unit", "ol", "controller"]
    failures = snfkit.random_failures(20.0, kinds, 3).draw(span) if failing else None
    one = snfkit.replay(table, keep_packets=keep, chunk_size=table.height, failures=failures)
    sliced = snfkit.replay(trace_path, keep_packets=keep, chunk_size=4_000, failures=failures)
    assert one.summary == sliced.summary
    for name in (*TABLES, "failures") if failing else TABLES:
        assert getattr(one, name).equals(getattr(sliced, name)), name
    if failing:
        assert sliced.summary["failures"] > 3
    if keep is False:
        assert one.packets is None and sliced.packets is None
    else:
        assert one.packets.equals(sliced.packets)
    assert sliced.summary["allocations"] > 10_000  # a real workload, not one flow


def test_slices_carry_the_flow_ids_load_trace_gives(trace_path):
    whole = load_trace(trace_path)
    got = pl.concat(list(parquet_chunks(trace_path, rows=5_000)))
    assert got.columns == ["ts_ns", "flow_id", "wire_len"]
    assert got.equals(whole.select(got.columns))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=200),
    st.lists(st.integers(1, 50), min_size=1, max_size=8),
)
def test_flow_numbering_over_slices_equals_one_pass(keys, cuts):
    """Ids continue across slices; a 5-tuple seen before keeps its id (any cut points)."""
    n = len(keys)
    k = np.asarray(keys, np.uint32)
    src = ipv4_to_rows(k % 7)
    dst = ipv4_to_rows(np.full(n, 9, np.uint32))
    sport, dport = (k % 5).astype(np.uint16), np.full(n, 443, np.uint16)
    proto = np.where(k % 2, 6, 17).astype(np.uint8)
    numbering, parts, a = FlowNumbering(), [], 0
    for c in [*np.cumsum(cuts).tolist(), n]:
        b = min(max(c, a), n)
        parts.append(numbering.ids(src[a:b], dst[a:b], sport[a:b], dport[a:b], proto[a:b]))
        a = b
    want = np.empty(n, np.int64)  # the twin, over the whole table
    words = (src.view(np.uint64), dst.view(np.uint64))
    first = factorize_flows(*words, sport, dport, proto, want)
    assert np.array_equal(np.concatenate(parts), want)
    assert np.array_equal(numbering._index.first_row[: numbering.n_flows], first)
    assert np.array_equal(want, flow_ids(src, dst, sport, dport, proto))


def _corrupt(tmp_path, packets: pl.DataFrame, **cols) -> object:
    path = tmp_path / "bad.parquet"
    packets.with_columns(**cols).write_parquet(path, row_group_size=700)
    return path


@pytest.mark.parametrize("what", ["null_port", "port_range", "short_address", "backwards"])
def test_bad_values_raise_what_load_trace_raises(tmp_path, what):
    packets = paper_like(seed=1, scale=0.001)  # ~6 K packets
    row = packets.height - 100  # in a late row group
    at = pl.int_range(pl.len()) == row
    if what == "null_port":
        cols = {"dst_port": pl.when(at).then(None).otherwise(pl.col("dst_port"))}
    elif what == "port_range":
        cols = {"src_port": pl.when(at).then(70_000).otherwise(pl.col("src_port").cast(pl.Int32))}
    elif what == "short_address":
        cols = {"dst_ip": pl.when(at).then(b"\x01\x02").otherwise(pl.col("dst_ip"))}
    else:
        cols = {"ts_ns": pl.when(at).then(0).otherwise(pl.col("ts_ns"))}
    path = _corrupt(tmp_path, packets, **cols)
    assert streamable(path)
    with pytest.raises(SchemaError) as want:
        load_trace(path)
    with pytest.raises(SchemaError) as got:
        list(parquet_chunks(path, rows=500))
    assert str(got.value) == str(want.value)
    assert f"row {row}" in str(got.value)
    with pytest.raises(SchemaError):
        snfkit.replay(path, keep_packets=False)


def test_other_files_are_read_whole(tmp_path):
    """Text addresses (or compression, CSV, pcap) are not streamed: load_trace reads them."""
    packets = paper_like(seed=2, scale=0.001)
    text = packets.with_columns(src_ip=pl.lit("10.0.0.1"))
    path = tmp_path / "text.parquet"
    text.write_parquet(path)
    assert not streamable(path)
    a = snfkit.replay(load_trace(path), keep_packets=False)
    b = snfkit.replay(path, keep_packets=False)
    assert a.summary == b.summary


def test_no_packet_rows_are_kept_without_keep_packets(trace_path):
    """keep_packets=False: the drained record holds no per-packet arrays, and the chunks fed
    are freed as the replay goes (nothing refers to them afterwards)."""
    params = snfkit.ReplayParams.from_flat(keep_packets=False)
    driver = Driver(params)
    chunks = list(parquet_chunks(trace_path, rows=20_000))
    n = sum(c.height for c in chunks)
    refs = [weakref.ref(c) for c in chunks]

    class Bar:
        def advance(self, k):
            pass

    feed = iter(chunks)
    del chunks
    driver.feed_chunks(feed, Bar())
    del feed
    drained = driver.finish()
    gc.collect()
    assert drained.n_in == n > FIRST_PIECE
    assert not drained.keep
    assert drained.packet_parts == [] and drained.src_parts == [] and drained.transfers == []
    assert all(ref() is None for ref in refs)
    flowlets = int(drained.state.ctl["items"][0])
    per_row = sum(p.shape[0] for p in drained.eu_parts) + sum(r.shape[0] for r in drained.records)
    assert per_row < flowlets < n  # epoch rows and unit records: fewer than the items
    # negative control: with per-packet rows the same record holds them
    kept = Driver(snfkit.ReplayParams.from_flat(keep_packets="auto"))
    kept.feed_chunks(parquet_chunks(trace_path, rows=20_000), Bar())
    assert sum(part.ts.shape[0] for part in kept.finish().packet_parts) == n


def test_addresses_of_the_stream_are_the_tables(trace_path):
    """The address rows the stream numbers are the table's (a zero-copy view of the values)."""
    from snfkit.traces.stream import _address_rows, _arrow_rows, _view_rows

    table = pl.read_parquet(trace_path).head(1_000)
    want = address_rows(table["src_ip"])
    col = table["src_ip"]
    views = col.to_arrow(compat_level=pl.CompatLevel.newest())
    assert _view_rows(views) is not None  # (the layout polars reads: no conversion)
    for part, first in ((col, 0), (col.slice(3), 3), (col.slice(5, 500), 5)):
        rows, problem = _address_rows("src_ip", part)
        assert problem is None
        assert np.array_equal(rows, want[first : first + part.len()])
    for kind in (pa.binary(), pa.large_binary(), pa.binary(16)):  # other layouts
        arr = col.to_arrow().cast(kind)
        for part, first in ((arr, 0), (arr.slice(3), 3), (arr.slice(5, 500), 5)):
            rows, problem = _arrow_rows(part)
            assert problem is None
            assert np.array_equal(rows, want[first : first + len(part)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3_000), max_size=12), st.integers(1, 1_000))
def test_slices_cover_the_row_groups(groups, rows):
    """Slices cover every row once, in order, at most ``rows`` each; a group no larger than
    ``rows`` is never cut, and a larger one is cut into parts of equal size (+-1)."""
    plan = slice_plan(groups, rows)
    total = sum(groups)
    ends = [0, *(b for _, b in plan)]
    assert [a for a, _ in plan] == ends[:-1] and ends[-1] == total
    assert all(0 < b - a <= rows for a, b in plan)
    cuts = {a for a, _ in plan}
    start = 0
    for size in groups:
        inside = {c for c in cuts if start < c < start + size}
        if size <= rows:
            assert not inside
        else:
            sizes = np.diff(sorted({start, *inside, start + size}))
            assert sizes.max() - sizes.min() <= 1
        start += size


def test_the_first_chunk_is_cut_in_growing_pieces():
    """A first chunk longer than two first pieces: a piece of FIRST_PIECE rows, each next one RAMP
    times the one before, and the rest (longer than the piece before it, at most twice the next)."""
    for n in (0, 1, 2 * FIRST_PIECE):
        assert ramp_cuts(n) == []
    for n in (2 * FIRST_PIECE + 1, 10**6, 10**7):
        sizes = np.diff([0, *ramp_cuts(n), n])
        assert sizes.sum() == n and (sizes > 0).all()
        assert sizes[0] == FIRST_PIECE
        assert all(b == RAMP * a for a, b in pairwise(sizes[:-1]))
        assert sizes[-2] < sizes[-1] <= 2 * RAMP * sizes[-2]
