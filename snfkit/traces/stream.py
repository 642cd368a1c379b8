"""Parquet traces read a slice at a time, for replays of traces larger than memory.

:func:`parquet_chunks` reads a parquet trace ``rows`` at a time (polars reads only the row groups
a slice spans) and yields, for each slice, the columns a replay reads (``ts_ns``, ``flow_id``,
``wire_len``) as a polars table. Flow ids are numbered from the 5-tuple across the slices
(:class:`FlowNumbering`), so they are the ids :func:`snfkit.traces.load_trace` gives the whole file
(dense, first-seen order; the file's own ``flow_id`` column is ignored, as there). What stays in
memory is the 5-tuples seen so far (about 100 bytes a flow), not the packets.

Only a file the stream can check the way :func:`~snfkit.traces.load_trace` does is streamed
(:func:`streamable`): uncompressed parquet with an integer ``ts_ns``, binary addresses and
integer ports, protocol and length. A bad value raises the :class:`~snfkit.errors.SchemaError`
``load_trace`` (strict) raises, naming the same row and column; it comes when its slice is read.
Other files (CSV, pcap, compressed, text or float columns) are read whole by ``load_trace``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from os import PathLike
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from snfkit.engine._jit import kernel_input
from snfkit.engine.flowkeys_nb import new_flow_index, number_flows_nb
from snfkit.errors import SchemaError
from snfkit.traces.sniff import PARQUET_MAGIC

READ_COLUMNS = ("ts_ns", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "wire_len")
"""The columns :func:`parquet_chunks` reads."""
_RANGES = {
    "ts_ns": (-(2**63), 2**63 - 1, "an integer timestamp in ns"),
    "src_port": (0, 65535, "an integer port 0-65535"),
    "dst_port": (0, 65535, "an integer port 0-65535"),
    "proto": (0, 255, "an integer IP protocol number 0-255"),
    "wire_len": (0, 2**32 - 1, "an integer length in bytes 0-4294967295"),
}  # (the ranges and wording of snfkit.traces.tabular)
_ADDRESS = "an IPv4 or IPv6 address (text, or 16 bytes)"


class FlowNumbering:
    """Dense flow ids, in order of first appearance, for the 5-tuples of a table given in slices:
    a 5-tuple keeps the id it got in an earlier slice (:func:`~snfkit.engine.flowkeys_nb.
    number_flows_nb`), so the slices get the ids :func:`snfkit.traces.flow_ids` gives the whole
    table."""

    def __init__(self) -> None:
        self._index = new_flow_index()
        self.rows = 0

    @property
    def n_flows(self) -> int:
        """Distinct 5-tuples seen so far."""
        return int(self._index.count[0])

    def ids(self, src, dst, src_port, dst_port, proto) -> np.ndarray:
        """The ids (int64[n]) of the next n rows: addresses uint8[n, 16], ports uint16[n], proto
        uint8[n]."""
        ids = np.empty(src.shape[0], np.int64)
        words = (kernel_input(a.view(np.uint64), np.uint64) for a in (src, dst))
        ports = (kernel_input(a, np.uint16) for a in (src_port, dst_port))
        args = (*words, *ports, kernel_input(proto, np.uint8), ids, self._index)
        self._index = number_flows_nb(*args, np.int64(self.rows))
        self.rows += src.shape[0]
        return ids


def _is_address(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def streamable(path: str | PathLike[str]) -> bool:
    """Whether :func:`parquet_chunks` reads this file: uncompressed parquet (no gzip/xz/zstd
    around it) whose ``ts_ns``, ports, ``proto`` and ``wire_len`` are integers and whose addresses
    are binary (the packets-table types, or wider integers)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            if fh.read(4) != PARQUET_MAGIC:
                return False
        schema = pq.read_schema(p)
    except (OSError, pa.ArrowException):
        return False  # load_trace says what is wrong
    names = set(schema.names)
    if not names.issuperset(READ_COLUMNS):
        return False
    for name in READ_COLUMNS:
        t = schema.field(name).type
        ok = _is_address(t) if name in ("src_ip", "dst_ip") else pa.types.is_integer(t)
        if not ok:
            return False
    return True


def parquet_rows(path: str | PathLike[str]) -> int:
    """The row count a parquet file's footer gives."""
    return pq.ParquetFile(path).metadata.num_rows


def parquet_chunks(path: str | PathLike[str], rows: int = 1 << 20) -> Iterator[pl.DataFrame]:
    """The packets of a :func:`streamable` parquet trace, at most ``rows`` at a time
    (:func:`slice_plan`), as tables of ``ts_ns`` (Int64), ``flow_id`` (Int64, numbered from the
    5-tuple across the slices) and ``wire_len`` (UInt32). Checked as
    :func:`snfkit.traces.load_trace` (strict) checks the file: a null, an out-of-range value, an
    address that is not 16 bytes, or a time before its predecessor's raises its SchemaError."""
    p = Path(path)
    f = pq.ParquetFile(p)
    numbering = FlowNumbering()
    last: int | None = None
    for batch in _batches(p, f, rows):
        row0 = numbering.rows
        values, problems = {}, []
        for order, name in enumerate(READ_COLUMNS):
            read = _address_rows if name in ("src_ip", "dst_ip") else _int_values
            values[name], problem = read(name, batch[name])
            if problem is not None:
                problems.append((problem[0], order, name, problem[1]))
        if problems:  # the first bad row, and its first bad column (as load_trace reports it)
            row, _, name, found = min(problems)
            expected = _ADDRESS if name in ("src_ip", "dst_ip") else _RANGES[name][2]
            raise SchemaError(p, None, expected, found, where=f"row {row0 + row}, column {name!r}")
        ts = values["ts_ns"]
        _check_order(p, row0, ts, last)
        last = int(ts[-1])
        ids = numbering.ids(*(values[c] for c in READ_COLUMNS[1:6]))
        yield pl.DataFrame(
            [
                pl.Series("ts_ns", ts),
                pl.Series("flow_id", ids),
                pl.Series("wire_len", values["wire_len"]),
            ]
        )


def _batches(path: Path, f: pq.ParquetFile, rows: int) -> Iterator[pl.DataFrame]:
    """The file's rows as tables of at most ``rows`` rows (:func:`slice_plan`). Polars reads
    them (``scan_parquet`` sliced: a slice reads only the row groups it spans), about 2.5x faster
    than pyarrow's reader on packets tables, whose addresses are binary."""
    scan = pl.scan_parquet(path).select(READ_COLUMNS)
    groups = [f.metadata.row_group(g).num_rows for g in range(f.metadata.num_row_groups)]
    for a, b in slice_plan(groups, rows):
        yield scan.slice(a, b - a).collect()


def slice_plan(groups: list[int], rows: int) -> list[tuple[int, int]]:
    """Row ranges of at most ``rows`` rows covering row groups of these sizes: a group larger
    than ``rows`` is cut into equal parts, and smaller groups are read together up to ``rows``.
    Equal parts, not ``rows`` and a remainder: a short slice would be a kernel call with too
    little to overlap the next slice's reading with (:meth:`snfkit.runner.Driver.feed_chunks`);
    and a slice within one row group holds each column's values in one buffer."""
    plan: list[tuple[int, int]] = []
    start = end = 0
    for size in groups:
        if end - start + size > rows and end > start:  # the groups gathered so far
            plan.append((start, end))
            start = end
        if size > rows:
            parts = -(-size // rows)
            cuts = [end + size * k // parts for k in range(parts + 1)]
            plan.extend(pairwise(cuts))
            start = end = end + size
        else:
            end += size
    if end > start:
        plan.append((start, end))
    return [(a, b) for a, b in plan if b > a]


_TARGET = {"ts_ns": np.int64, "src_port": np.uint16, "dst_port": np.uint16}
_TARGET |= {"proto": np.uint8, "wire_len": np.uint32}


def _int_values(name: str, s: pl.Series) -> tuple[np.ndarray | None, tuple | None]:
    """An integer column as the packets table's dtype, and its first bad row (null or out of
    range) with what was found there, or None."""
    lo, hi, _ = _RANGES[name]
    if s.null_count():
        return None, (int(s.is_null().arg_max()), "None (missing value)")
    values = s.to_numpy()
    want = np.dtype(_TARGET[name])
    if values.dtype != want:
        info = np.iinfo(values.dtype)
        if info.min < lo or info.max > hi:  # may hold values out of range
            if s.min() < lo or s.max() > hi:
                row = int(np.flatnonzero((values < lo) | (values > hi))[0])
                return None, (row, f"{int(values[row])!r} (out of range)")
        values = values.astype(want)
    return values, None


def _address_rows(name: str, s: pl.Series) -> tuple[np.ndarray | None, tuple | None]:
    """A binary address column as uint8[n, 16], and its first bad row (null, or not 16 bytes)
    with what was found there, or None."""
    if s.null_count():
        return None, (int(s.is_null().arg_max()), "None (missing value)")
    if s.dtype == pl.Binary:  # polars holds binary as views (arrow's binary_view)
        arr = s.rechunk().to_arrow(compat_level=pl.CompatLevel.newest())
        if pa.types.is_binary_view(arr.type):
            got = _view_rows(arr)
            if got is not None:
                return got
    return _arrow_rows(s.to_arrow())


def _view_rows(arr: pa.Array) -> tuple[np.ndarray | None, tuple | None] | None:
    """:func:`_address_rows` of a binary_view array whose values lie 16 bytes apart in its data
    buffers (what polars makes of a parquet column of 16-byte values: views into the column
    chunks' dictionaries), gathered without arrow's conversion to offsets; None for other
    layouts."""
    n = len(arr)
    bufs = arr.buffers()
    # each view: length, 4-byte prefix, then (values above 12 bytes) data buffer and offset
    views = np.frombuffer(bufs[1], np.int32, count=4 * (arr.offset + n)).reshape(-1, 4)
    views = views[arr.offset :]
    lengths = views[:, 0]
    if not (lengths == 16).all():
        return None, _bad_length(arr, int(np.argmax(lengths != 16)))
    data = bufs[2:]
    offsets = views[:, 3]
    if not data or any(b.size % 16 for b in data) or (offsets & 15).any():
        return None
    # (16-byte items: numpy's fastest gather; the buffers are small, a dictionary each)
    if len(data) == 1 and data[0].address % 8 == 0:
        values = np.frombuffer(data[0], np.complex128)
        return values[offsets >> 4].view(np.uint8).reshape(n, 16), None
    values = np.concatenate([np.frombuffer(b, np.uint8) for b in data]).view(np.complex128)
    starts = np.cumsum([0] + [b.size // 16 for b in data[:-1]])
    index = starts[views[:, 2]] + (offsets >> 4)
    return values[index].view(np.uint8).reshape(n, 16), None


def _arrow_rows(arr: pa.Array) -> tuple[np.ndarray | None, tuple | None]:
    """:func:`_address_rows` of an arrow binary, large_binary or fixed_size_binary array."""
    n = len(arr)
    if not (pa.types.is_fixed_size_binary(arr.type) and arr.type.byte_width == 16):
        sizes = pc.binary_length(arr)
        mm = pc.min_max(sizes)
        if not mm["min"].as_py() == mm["max"].as_py() == 16:
            return None, _bad_length(arr, _first(pc.not_equal(sizes, 16)))
        # every value is 16 bytes, so the values are the data buffer from the first offset on
        width = np.dtype(np.int64 if pa.types.is_large_binary(arr.type) else np.int32)
        offsets = np.frombuffer(
            arr.buffers()[1], width, count=1, offset=arr.offset * width.itemsize
        )
        first = int(offsets[0])
        data = arr.buffers()[2]
        if (data.address + first) % 8:  # (the kernels read them as uint64 words)
            arr = arr.cast(pa.binary(16))
        else:
            return np.frombuffer(data, np.uint8, count=n * 16, offset=first).reshape(n, 16), None
    data = arr.buffers()[1]
    rows = np.frombuffer(data, np.uint8, count=n * 16, offset=arr.offset * 16).reshape(n, 16)
    return rows, None


def _bad_length(arr: pa.Array, row: int) -> tuple[int, str]:
    raw = arr[row].as_py()
    text = raw.hex() if len(raw) <= 32 else raw[:32].hex() + "..."
    return row, f"{text!r} (unparsable)"


def _first(mask: pa.Array) -> int:
    """The first row where a boolean array is true."""
    return int(np.flatnonzero(mask.to_numpy(zero_copy_only=False))[0])


def _check_order(path: Path, row0: int, ts: np.ndarray, last: int | None) -> None:
    if last is not None and ts[0] < last:
        raise SchemaError(
            path,
            None,
            "non-decreasing timestamps",
            f"{ts[0]} ns after {last} ns",
            where=f"row {row0}, column 'ts_ns'",
        )
    back = np.flatnonzero(ts[1:] < ts[:-1])
    if back.size:
        r = int(back[0])
        raise SchemaError(
            path,
            None,
            "non-decreasing timestamps",
            f"{ts[r + 1]} ns after {ts[r]} ns",
            where=f"row {row0 + r + 1}, column 'ts_ns'",
        )


__all__ = ["READ_COLUMNS", "FlowNumbering", "parquet_chunks", "parquet_rows", "streamable"]
