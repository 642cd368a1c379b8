"""Build and check packets tables (see :mod:`snfkit.traces.schema`)."""

from __future__ import annotations

import ipaddress

import numpy as np
import polars as pl
import pyarrow as pa

from snfkit.engine._jit import kernel_input
from snfkit.engine.binary_views_nb import ROWS_PER_BUFFER, binary16_views_nb
from snfkit.engine.flowkeys_nb import factorize_flows_nb
from snfkit.errors import ParameterError, SchemaError
from snfkit.traces.schema import FIVE_TUPLE, OPTIONAL_COLUMNS, PACKETS_SCHEMA

_V4_PREFIX = bytes(10) + b"\xff\xff"


def ip_to_bytes(text: str) -> bytes:
    """``'10.0.0.1'`` or ``'2001:db8::1'`` -> 16 bytes (IPv4 mapped into ``::ffff:0:0/96``).
    Raises ParameterError naming ``text`` for anything else."""
    if not isinstance(text, str):
        raise ParameterError("text", text, "an IPv4 or IPv6 address as a string ('10.0.0.1')")
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        raise ParameterError(
            "text", text, "an IPv4 or IPv6 address ('10.0.0.1', '2001:db8::1')"
        ) from None
    if addr.version == 4:
        return _V4_PREFIX + addr.packed
    return addr.packed


def format_ip(raw: bytes) -> str:
    """16 stored bytes -> ``'10.0.0.1'`` (IPv4-mapped) or IPv6 text."""
    if len(raw) != 16:
        raise ValueError(f"an address is 16 bytes, got {len(raw)}")
    if raw[:12] == _V4_PREFIX:
        return str(ipaddress.IPv4Address(raw[12:]))
    return str(ipaddress.IPv6Address(raw))


def ipv4_to_rows(addrs_be: np.ndarray) -> np.ndarray:
    """uint32 IPv4 addresses (host integers) -> uint8[n, 16] IPv4-mapped rows."""
    out = np.zeros((addrs_be.shape[0], 16), np.uint8)
    out[:, 10] = 0xFF
    out[:, 11] = 0xFF
    out[:, 12:16] = addrs_be.astype(">u4").view(np.uint8).reshape(-1, 4)
    return out


def _address_rows_checked(name: str, rows: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    if rows.ndim != 2 or rows.shape[1] != 16:
        raise ValueError(f"{name}: expected uint8[n, 16] address rows, got shape {rows.shape}")
    return rows


def binary16_series(
    name: str, rows: np.ndarray, rows_per_buffer: int = ROWS_PER_BUFFER
) -> pl.Series:
    """A Binary column of the 16-byte ``rows`` (uint8[n, 16]) that *shares* their memory: the rows
    are the column's Arrow data buffers (``rows_per_buffer`` rows each) and only the 16-byte view
    of each value is built (:func:`snfkit.engine.binary_views_nb.binary16_views_nb`). Do not
    modify ``rows`` afterwards (polars shares numeric numpy arrays the same way)."""
    rows = _address_rows_checked(name, rows)
    n = rows.shape[0]
    views = np.empty((n, 4), np.uint32)
    binary16_views_nb(rows.view(np.uint32), rows_per_buffer, views)
    data = [pa.py_buffer(rows[i : i + rows_per_buffer]) for i in range(0, n, rows_per_buffer)]
    arr = pa.Array.from_buffers(pa.binary_view(), n, [None, pa.py_buffer(views), *data])
    return pl.Series(name, pl.from_arrow(arr), dtype=pl.Binary)


def address_words(rows: np.ndarray) -> np.ndarray:
    """uint8[n, 16] address rows -> uint64[n, 2]: each address's big-endian high and low halves."""
    rows = np.ascontiguousarray(rows, np.uint8)
    return rows.view(">u8").reshape(rows.shape[0], 2).astype(np.uint64)


def flow_keys(
    src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray, proto: np.ndarray
) -> np.ndarray:
    """Pack 5-tuples into uint64[n, 5] rows for :func:`factorize_rows_nb`: the source address's
    two words, the destination's, then ``sport << 24 | dport << 8 | proto``."""
    keys = np.empty((src.shape[0], 5), np.uint64)
    keys[:, 0:2] = address_words(src)
    keys[:, 2:4] = address_words(dst)
    keys[:, 4] = (
        (sport.astype(np.uint64) << np.uint64(24))
        | (dport.astype(np.uint64) << np.uint64(8))
        | proto.astype(np.uint64)
    )
    return keys


def flow_ids(
    src_ip: np.ndarray,
    dst_ip: np.ndarray,
    src_port: np.ndarray,
    dst_port: np.ndarray,
    proto: np.ndarray,
) -> np.ndarray:
    """Dense flow ids (int64[n], 0, 1, ... in order of each 5-tuple's first row) of 5-tuple
    columns: addresses uint8[n, 16], ports uint16[n], proto uint8[n], all of length n."""
    src_ip = _address_rows_checked("src_ip", src_ip)
    dst_ip = _address_rows_checked("dst_ip", dst_ip)
    src_port = np.ascontiguousarray(src_port, np.uint16)
    dst_port = np.ascontiguousarray(dst_port, np.uint16)
    proto = np.ascontiguousarray(proto, np.uint8)
    n = src_ip.shape[0]
    if not dst_ip.shape[0] == src_port.shape[0] == dst_port.shape[0] == proto.shape[0] == n:
        raise ValueError(
            f"5-tuple columns of different lengths: {n}, {dst_ip.shape[0]}, "
            f"{src_port.shape[0]}, {dst_port.shape[0]}, {proto.shape[0]}"
        )
    ids = np.empty(n, np.int64)
    # read-only inputs, as snfkit.traces.stream's slices give them: one compiled version
    words = (kernel_input(a.view(np.uint64), np.uint64) for a in (src_ip, dst_ip))
    ports = (kernel_input(a, np.uint16) for a in (src_port, dst_port))
    factorize_flows_nb(*words, *ports, kernel_input(proto, np.uint8), ids)
    return ids


def packets_from_arrays(
    ts_ns: np.ndarray,
    src_ip: np.ndarray,
    dst_ip: np.ndarray,
    src_port: np.ndarray,
    dst_port: np.ndarray,
    proto: np.ndarray,
    wire_len: np.ndarray,
    payload: list[bytes] | pl.Series | None = None,
) -> pl.DataFrame:
    """Assemble a packets table from column arrays; addresses are uint8[n, 16]; assigns flow_id.

    The table shares the memory of arrays that already have the column's dtype and layout (the
    address rows always, as :func:`binary16_series`): do not modify them afterwards.
    """
    src_ip = _address_rows_checked("src_ip", src_ip)
    dst_ip = _address_rows_checked("dst_ip", dst_ip)
    src_port = np.ascontiguousarray(src_port, np.uint16)
    dst_port = np.ascontiguousarray(dst_port, np.uint16)
    proto = np.ascontiguousarray(proto, np.uint8)
    given = {"ts_ns": ts_ns, "src_ip": src_ip, "dst_ip": dst_ip, "src_port": src_port}
    given |= {"dst_port": dst_port, "proto": proto, "wire_len": wire_len}
    lengths = {name: len(a) for name, a in given.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns of different lengths: {lengths}")
    ids = flow_ids(src_ip, dst_ip, src_port, dst_port, proto)
    cols = [
        pl.Series("ts_ns", np.asarray(ts_ns, np.int64)),
        binary16_series("src_ip", src_ip),
        binary16_series("dst_ip", dst_ip),
        pl.Series("src_port", src_port),
        pl.Series("dst_port", dst_port),
        pl.Series("proto", proto),
        pl.Series("wire_len", np.asarray(wire_len, np.uint32)),
        pl.Series("flow_id", ids),
    ]
    if payload is not None:
        cols.append(pl.Series("payload", payload, dtype=pl.Binary))
    return pl.DataFrame(cols)


def address_rows(col: pl.Series) -> np.ndarray:
    """A 16-byte Binary column -> uint8[n, 16]."""
    arr = col.cast(pl.Binary).to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.binary(16))
    n = len(arr)
    return np.frombuffer(arr.buffers()[1], np.uint8, count=n * 16, offset=arr.offset * 16).reshape(
        n, 16
    )


def table_flow_keys(packets: pl.DataFrame) -> np.ndarray:
    """:func:`flow_keys` of a packets table's 5-tuple columns."""
    return flow_keys(
        address_rows(packets["src_ip"]),
        address_rows(packets["dst_ip"]),
        packets["src_port"].to_numpy(),
        packets["dst_port"].to_numpy(),
        packets["proto"].to_numpy(),
    )


def reassign_flow_ids(packets: pl.DataFrame) -> pl.DataFrame:
    """Recompute ``flow_id`` (dense, first-seen order) after a transform reordered or merged rows."""
    ids = flow_ids(
        address_rows(packets["src_ip"]),
        address_rows(packets["dst_ip"]),
        packets["src_port"].to_numpy(),
        packets["dst_port"].to_numpy(),
        packets["proto"].to_numpy(),
    )
    return packets.with_columns(pl.Series("flow_id", ids))


def validate_packets(packets: pl.DataFrame, source: str = "<table>") -> pl.DataFrame:
    """Check a packets table: required columns, dtypes, 16-byte addresses, sorted timestamps.

    Raises :class:`SchemaError` naming the column (and the first bad row), ParameterError for
    something other than a polars DataFrame. Returns the table with only the schema's columns, in
    schema order.
    """
    if not isinstance(packets, pl.DataFrame):
        raise ParameterError("packets", type(packets).__name__, "a polars DataFrame")
    for name, dtype in PACKETS_SCHEMA.items():
        if name not in packets.columns:
            raise SchemaError(
                source, None, f"a column {name!r} of type {dtype}", "none", where=f"column {name!r}"
            )
        if packets.schema[name] != dtype:
            raise SchemaError(
                source, None, f"type {dtype}", str(packets.schema[name]), where=f"column {name!r}"
            )
    for name in ("src_ip", "dst_ip"):
        bad = packets.select(pl.col(name).bin.size().ne(16).arg_true().first()).item()
        if bad is not None:
            raise SchemaError(
                source,
                None,
                "a 16-byte address",
                f"{len(packets[name][bad])} bytes",
                where=f"row {bad}, column {name!r}",
            )
    if packets.height > 1:
        back = packets.select(pl.col("ts_ns").diff().lt(0).arg_true().first()).item()
        if back is not None:
            raise SchemaError(
                source,
                None,
                "non-decreasing ts_ns",
                f"{packets['ts_ns'][back]} after {packets['ts_ns'][back - 1]}",
                where=f"row {back}, column 'ts_ns'",
            )
    keep = [*PACKETS_SCHEMA, *(c for c in OPTIONAL_COLUMNS if c in packets.columns)]
    return packets.select(keep)


__all__ = [
    "FIVE_TUPLE",
    "address_rows",
    "address_words",
    "binary16_series",
    "flow_ids",
    "flow_keys",
    "format_ip",
    "ip_to_bytes",
    "ipv4_to_rows",
    "packets_from_arrays",
    "reassign_flow_ids",
    "table_flow_keys",
    "validate_packets",
]
