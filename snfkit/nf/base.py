"""The NF descriptor, packet columns for NF kernels, and :func:`apply` (the sequential reference run).

See ``docs/nf.md`` for the programming model and a worked example of a user-written NF.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from snfkit import memory
from snfkit.engine.binary_views_nb import address_halves_nb, first_other_length_nb
from snfkit.engine.nf_nb import KEY_BYTES, NFOut, PacketColumns, run_nf_into_nb
from snfkit.errors import NoPayloadWarning, ParameterError
from snfkit.traces.table import address_rows, address_words


@dataclass(frozen=True)
class NF:
    """A network function: its kernel, its twin, its state layout and its configuration.

    name: short name (``'nat'``). process: the njit process function (signature in
        :mod:`snfkit.engine.nf_nb`). twin: its plain-Python twin ``twin(pkt, payload: bytes,
        row: list[int], cfg) -> NFResult`` that updates ``row`` (the flow's state words) in place.
    state_width: int64 words per flow state row. state_bytes: nominal bytes of one flow's state in
        a transfer or replication (the flow key plus the state words unless the NF says otherwise).
    needs_payload: the NF reads payload bytes (the IDS). bidirectional: both directions of a
        connection share one state row, so flows must be connections
        (:func:`snfkit.traces.transforms.connections`) and ``direction`` matters.
    config: the read-only configuration NamedTuple handed to ``process``.
    params: the user-facing configuration it was built from (validated values, for reports).
    outputs: what ``out0`` and ``out1`` mean for this NF.
    packet_ns, byte_ps: the NF's processing cost on a unit, per packet (ns) and per byte of
        ``wire_len`` (ps), added to the unit's service time when a replay sets ``nf_cost=True``
        (:class:`snfkit.params.UnitParams`). The paper does not publish per-NF costs (its Fig 4
        shows the NFs differ); the built-in NFs declare costs ordered by their work per packet
        (see :data:`snfkit.nf.NF_COSTS`). A user NF may declare its own; default 0.
    """

    name: str
    process: Callable[..., Any]
    twin: Callable[..., Any]
    state_width: int
    state_bytes: int
    needs_payload: bool
    bidirectional: bool
    config: Any
    params: Mapping[str, Any] = field(default_factory=dict)
    outputs: tuple[str, str] = ("out0", "out1")
    packet_ns: int = 0
    byte_ps: int = 0

    def __post_init__(self) -> None:
        check_int("state_width", self.state_width, 1, 1 << 16)
        check_int("state_bytes", self.state_bytes, 0)
        check_int("packet_ns", self.packet_ns, 0, 10**12 - 1)
        check_int("byte_ps", self.byte_ps, 0, 10**9)


def default_state_bytes(width: int) -> int:
    """Flow key (37 bytes) plus 8 bytes per state word: the nominal size of one flow's state."""
    return KEY_BYTES + 8 * width


def check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """``value`` as an int in [lo, hi]; ParameterError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ParameterError(name, value, f"an integer in [{lo}, {'inf' if hi is None else hi}]")
    if value < lo or (hi is not None and value > hi):
        raise ParameterError(name, value, f"an integer in [{lo}, {'inf' if hi is None else hi}]")
    return int(value)


def address_halves(col: pl.Series, *, checked: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A 16-byte address column -> ``(hi, lo)`` int64 arrays (big-endian halves, bits as int64).
    A column of Arrow views over one data buffer (what the readers and the workloads build) is
    read through its views in place (:func:`_view_halves`). Otherwise, addresses stored back to
    back (every value 16 bytes, no nulls) are read from the column converted to one buffer, each
    half byte-swapped once (about twice as fast as through fixed-size rows and uint64 words, which
    the other cases take). ``checked``: every value is known to be 16 bytes
    (:func:`check_nf_columns`), so that is not verified again on the second path."""
    col = col.cast(pl.Binary)
    halves = _view_halves(col)
    if halves is not None:
        return halves
    arr = col.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    if n and arr.type == pa.large_binary() and arr.null_count == 0:
        offsets = np.frombuffer(arr.buffers()[1], np.int64, count=n + 1, offset=arr.offset * 8)
        if offsets[-1] - offsets[0] == 16 * n and (checked or (np.diff(offsets) == 16).all()):
            data = arr.buffers()[2]
            words = np.frombuffer(data, ">i8", count=2 * n, offset=int(offsets[0]))
            words = words.reshape(n, 2)
            return words[:, 0].astype(np.int64), words[:, 1].astype(np.int64)
    halves = address_words(address_rows(col)).view(np.int64)
    return np.ascontiguousarray(halves[:, 0]), np.ascontiguousarray(halves[:, 1])


def _views_of(col: pl.Series, with_data: bool = False):
    """The Arrow views (uint32[n, 4]) of a non-empty Binary column in one chunk of views with no
    nulls and one data buffer (how the readers and the workloads build address columns), read in
    place; with ``with_data``, ``(views, the data buffer as uint64 words)``. None otherwise."""
    arr = col.to_arrow(compat_level=pl.CompatLevel.newest())  # the views themselves: no copy
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks != 1:
            return None
        arr = arr.chunk(0)
    buffers = arr.buffers()
    if arr.type != pa.binary_view() or arr.null_count or len(arr) == 0 or len(buffers) != 3:
        return None
    n, start = len(arr), arr.offset
    views = np.frombuffer(buffers[1], np.uint32, count=4 * (start + n)).reshape(-1, 4)[start:]
    if not with_data:
        return views
    return views, np.frombuffer(buffers[2], np.uint64, count=buffers[2].size // 8)


def _view_halves(col: pl.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`address_halves` of a Binary column in one chunk of views with one data buffer and
    no nulls (how the readers and the workloads build address columns): read in place through
    the views, in one pass (:func:`~snfkit.engine.binary_views_nb.address_halves_nb`); None
    otherwise."""
    found = _views_of(col, with_data=True)
    if found is None:
        return None
    views, data = found
    n = views.shape[0]
    if not data.flags.aligned:
        return None
    hi = memory.empty(n, np.uint64, tag="nf.addresses")
    lo = memory.empty(n, np.uint64, tag="nf.addresses")
    if address_halves_nb(views, data, hi, lo) >= 0:
        return None
    return hi.view(np.int64), lo.view(np.int64)


def _payload_buffer(col: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    arr = col.cast(pl.Binary).to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.fill_null(b"").cast(pa.large_binary())
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], np.int64, count=n + 1, offset=arr.offset * 8)
    start = int(offsets[0])
    data = arr.buffers()[2]
    buf = (
        np.frombuffer(data, np.uint8)[start : int(offsets[-1])]
        if data is not None
        else np.zeros(0, np.uint8)
    )
    return np.ascontiguousarray(offsets - start), np.ascontiguousarray(buf)


def packet_columns(
    packets: pl.DataFrame, *, payload: bool = True, checked: bool = False
) -> PacketColumns:
    """Extract the arrays an NF kernel reads from a packets table (:class:`PacketColumns`).

    Addresses become int64 halves (:func:`address_halves`); ``direction`` is the table's
    ``direction`` column (from :func:`snfkit.traces.transforms.connections`) or all 0; with
    ``payload`` and a ``payload`` column the payload bytes become one flat buffer with offsets,
    otherwise every packet has an empty payload. ``checked``: :func:`check_nf_columns` has
    passed on ``packets``.
    """
    n = packets.height
    src_hi, src_lo = address_halves(packets["src_ip"], checked=checked)
    dst_hi, dst_lo = address_halves(packets["dst_ip"], checked=checked)
    if "direction" in packets.columns:
        direction = packets["direction"].cast(pl.UInt8).to_numpy()
    else:
        direction = np.zeros(n, np.uint8)
    if payload and "payload" in packets.columns:
        pay_off, buf = _payload_buffer(packets["payload"])
    else:
        pay_off, buf = np.zeros(n + 1, np.int64), np.zeros(0, np.uint8)

    def col(name: str, dtype) -> np.ndarray:
        return read_only(packets[name].to_numpy(), dtype)

    return PacketColumns(
        col("ts_ns", np.int64),
        read_only(src_hi, np.int64),
        read_only(src_lo, np.int64),
        read_only(dst_hi, np.int64),
        read_only(dst_lo, np.int64),
        col("src_port", np.uint16),
        col("dst_port", np.uint16),
        col("proto", np.uint8),
        col("wire_len", np.uint32),
        read_only(direction, np.uint8),
        read_only(pay_off, np.int64),
        read_only(buf, np.uint8),
    )


def read_only(a: np.ndarray, dtype) -> np.ndarray:
    """``a`` as a read-only C array of ``dtype``, copied only when its dtype or layout differ:
    every NF input is read-only, so the NF kernel has one specialisation whatever polars hands
    out (its columns' arrays are read-only views, not copied)."""
    a = np.require(a, dtype, ["C"])
    if a.flags.writeable:
        a = a.view()
        a.setflags(write=False)
    return a


NF_COLUMNS = ("ts_ns", "flow_id", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "wire_len")
"""The packets-table columns every NF reads (``direction`` and ``payload`` are optional)."""


def check_nf_columns(packets: pl.DataFrame) -> None:
    """ParameterError naming the columns an NF needs that ``packets`` lacks, or has in another form
    than the packets-table schema (:mod:`snfkit.traces.schema`): addresses as 16-byte Binary
    (IPv4-mapped), ports and protocol as integers."""
    missing = [c for c in NF_COLUMNS if c not in packets.columns]
    if missing:
        raise ParameterError(
            "packets",
            f"a table without {', '.join(missing)}",
            "a packets table with the columns " + ", ".join(NF_COLUMNS) + " (an NF reads them)",
        )
    for name in ("src_port", "dst_port", "proto"):
        if not packets[name].dtype.is_integer():
            raise ParameterError(
                "packets", f"column {name} of type {packets[name].dtype}", f"{name} as integers"
            )
    for name in ("src_ip", "dst_ip"):
        col = packets[name]
        if col.dtype != pl.Binary:
            raise ParameterError(
                "packets",
                f"column {name} of type {col.dtype}",
                f"{name} as 16-byte Binary addresses (IPv4-mapped; snfkit.traces.schema)",
            )
        views = _views_of(col)
        if views is not None and first_other_length_nb(views, 16) < 0:
            continue  # (every value 16 bytes, no nulls: read off the views, in one pass)
        wrong = (col.bin.size() != 16).fill_null(True)
        if wrong.any():
            row = int(wrong.arg_max())
            raise ParameterError(
                "packets",
                f"{'a null' if col[row] is None else f'a {len(col[row])}-byte'} {name} at row {row}",
                f"{name} as 16-byte addresses (IPv4 stored IPv4-mapped, ::ffff:a.b.c.d)",
            )


def prepare(
    nf: NF, packets: pl.DataFrame, *, checked: bool = False
) -> tuple[PacketColumns, np.ndarray, int]:
    """What :func:`apply` hands the kernel: ``(cols, flow, n_flows)`` for ``nf`` over ``packets``
    (``checked``: :func:`check_nf_columns` has passed on ``packets`` already).

    A bidirectional NF over a table without a ``direction`` column first gets its flows keyed by
    connection (:func:`snfkit.traces.transforms.connections`). An NF that needs payload over a table
    without a ``payload`` column warns (:class:`~snfkit.errors.NoPayloadWarning`) and runs on empty
    payloads.
    """
    if not isinstance(nf, NF):
        raise ParameterError("nf", type(nf).__name__, "an snfkit.nf.NF (see snfkit.nf.get_nf)")
    if not isinstance(packets, pl.DataFrame):
        raise ParameterError("packets", type(packets).__name__, "a polars DataFrame")
    if not checked:
        check_nf_columns(packets)
    if nf.bidirectional and "direction" not in packets.columns:
        from snfkit.traces.transforms import connections

        packets = connections(packets)
    if nf.needs_payload and "payload" not in packets.columns:
        warnings.warn(
            f"NF {nf.name!r} reads payload but the packets table has no 'payload' column: it "
            "inspects nothing (read the trace with payload_bytes=N to keep payload)",
            NoPayloadWarning,
            stacklevel=3,
        )
    cols = packet_columns(packets, payload=nf.needs_payload, checked=True)  # (checked above)
    flow = read_only(packets["flow_id"].to_numpy(), np.int64)
    n_flows = int(flow.max()) + 1 if flow.shape[0] else 0
    return cols, flow, n_flows


def run(
    nf: NF,
    packets: pl.DataFrame | None,
    src: np.ndarray | None = None,
    snap: np.ndarray | None = None,
    inputs: tuple[PacketColumns, np.ndarray, int] | None = None,
) -> NFOut:
    """Run ``nf`` over ``packets`` with :func:`~snfkit.engine.nf_nb.run_nf_into_nb` (outputs
    allocated by numpy); returns NFOut.

    src, snap: the state source of each packet and the packets whose post-state is kept (see
    :mod:`snfkit.engine.nf_nb`); None: the sequential run (every packet continues its flow).
    inputs: :func:`prepare`'s result for this NF and table, when the caller keeps it (a
    :class:`~snfkit.prepared.PreparedTrace` does), to skip extracting the columns again; then
    ``packets`` is not read (None will do).
    """
    cols, flow, n_flows = prepare(nf, packets) if inputs is None else inputs
    n = flow.shape[0]
    if src is None:
        if snap is not None:
            raise ParameterError("snap", "an array", "None when src is None")
        src, snap = np.empty(0, np.int64), np.empty(0, np.bool_)  # (the sequential run)
    else:
        src = np.ascontiguousarray(src, np.int64)
        snap = np.zeros(n, np.bool_) if snap is None else np.ascontiguousarray(snap, np.bool_)
        if src.shape != (n,) or snap.shape != (n,):
            raise ParameterError(
                "src, snap", (src.shape, snap.shape), f"1-d arrays of {n} elements (one per packet)"
            )
    rows = (  # (from the memory pool: repeated runs reuse its blocks)
        memory.empty(n, np.int8, tag="nf.outputs"),
        memory.empty(n, np.int64, tag="nf.outputs"),
        memory.empty(n, np.int64, tag="nf.outputs"),
        memory.empty(n, np.int64, tag="nf.outputs"),
    )
    return run_nf_into_nb(
        nf.process, nf.config, cols, flow, src, snap, nf.state_width, n_flows, *rows
    )


def apply(
    nf: NF,
    packets: pl.DataFrame,
    src: np.ndarray | None = None,
    snap: np.ndarray | None = None,
    inputs: tuple[PacketColumns, np.ndarray, int] | None = None,
) -> pl.DataFrame:
    """Run ``nf`` over ``packets`` and return one row per packet, in the table's order.

    | column | dtype | meaning |
    |--------|-------|---------|
    | action | Int8  | 0 forward, 1 drop |
    | out0   | Int64 | NF output 0 (``nf.outputs[0]``) |
    | out1   | Int64 | NF output 1 (``nf.outputs[1]``) |
    | delta  | Int64 | bytes of state the packet changed (8 per changed state word) |

    With ``src=None`` this is the sequential run with all state in one place: the reference
    that every distributed replay must reproduce packet for packet. ``src``/``snap`` index packets
    of this table; for a bidirectional NF flows are connections (see :func:`prepare`).
    """
    return output_table(run(nf, packets, src, snap, inputs))


def output_table(out: NFOut) -> pl.DataFrame:
    """:func:`apply`'s table (action, out0, out1, delta) from a run's :class:`NFOut`."""
    return pl.DataFrame(
        [
            pl.Series("action", out.action, dtype=pl.Int8),
            pl.Series("out0", out.out0, dtype=pl.Int64),
            pl.Series("out1", out.out1, dtype=pl.Int64),
            pl.Series("delta", out.delta, dtype=pl.Int64),
        ]
    )


__all__ = [
    "NF",
    "NF_COLUMNS",
    "address_halves",
    "apply",
    "check_int",
    "check_nf_columns",
    "default_state_bytes",
    "output_table",
    "packet_columns",
    "prepare",
    "run",
]
