"""A trace prepared once for many replays (sweeps, parameter grids, notebooks).

:func:`prepare_trace` validates a packets table once and keeps its replay columns as contiguous
arrays. :meth:`PreparedTrace.events` computes the item-close and push events of a
(T, replicate_after) pair once and caches them, so replays that differ only in other parameters
(alpha, K, capacity, ...) skip the conversion, the checks and the event lists (the replay kernel
detects flowlets itself as it goes). :meth:`PreparedTrace.open_reasons` gives the per-packet
flowlet detection for a (T, B) pair, cached the same way, for analysis.
``snfkit.replay(prepared, ...)`` accepts it wherever it accepts a packets table, with identical
results.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from os import PathLike
from typing import Any

import numpy as np
import polars as pl

from snfkit import memory
from snfkit.engine.checks_nb import WIRE_LEN_MAX, scan_columns_nb
from snfkit.engine.events_nb import trace_events
from snfkit.engine.flowlets_nb import detect_flowlets_nb
from snfkit.errors import ParameterError

REQUIRED = ("ts_ns", "flow_id", "wire_len")
"""Columns a replay reads from a packets table."""


def _as_int64(a: np.ndarray) -> np.ndarray:
    """``a`` as int64: itself if it is, else a copy (from the memory pool: replays reuse it)."""
    if a.dtype == np.int64:
        return a
    out = memory.empty(a.shape, np.int64, tag="columns")
    np.copyto(out, a, casting="unsafe")  # (integers checked to fit by the caller)
    return out


def replay_arrays(chunk: pl.DataFrame, offset: int = 0, last_ts: int | None = None):
    """``(ts_ns, flow_id, wire_len)`` of a packets table as int64 arrays, checked (see
    :func:`checked_columns`)."""
    return checked_columns(chunk, offset, last_ts)[:3]


def checked_columns(chunk: pl.DataFrame, offset: int = 0, last_ts: int | None = None):
    """``(ts_ns, flow_id, wire_len)`` of a packets table as int64 arrays, checked: the columns
    exist as integers without nulls, time never goes backwards (also across chunks: ``last_ts`` is
    the previous chunk's last time, ``offset`` its row count so far), flow ids are >= 0 and
    wire_len fits the table's UInt32. Errors name the row. Returns the three arrays and the
    largest flow id (-1 for an empty table)."""
    missing = [c for c in REQUIRED if c not in chunk.columns]
    if missing:
        raise ParameterError(
            "packets", f"columns {chunk.columns}", f"a packets table with columns {list(REQUIRED)}"
        )
    for name in REQUIRED:
        col = chunk[name]
        if not col.dtype.is_integer():
            raise ParameterError("packets", f"column {name} of type {col.dtype}",
                                 f"{name} as integers")  # fmt: skip
        if col.dtype == pl.UInt64 and col.len() and col.max() > np.iinfo(np.int64).max:
            row = offset + int((col > np.iinfo(np.int64).max).arg_max())
            raise ParameterError("packets", f"{name} {col[row - offset]} at row {row}",
                                 f"{name} below 2**63")  # fmt: skip
        if col.null_count():
            row = offset + int(col.is_null().arg_max())
            raise ParameterError("packets", f"a null {name} at row {row}", f"{name} at every row")
    ts, flow, wl = (_as_int64(chunk[name].to_numpy()) for name in REQUIRED)
    if ts.shape[0] == 0:
        return _read_only(ts), _read_only(flow), _read_only(wl), -1
    back, lo, hi, bad_len = scan_columns_nb(ts, flow, wl)
    if back >= 0 or (last_ts is not None and ts[0] < last_ts):
        bad = 0 if (last_ts is not None and ts[0] < last_ts) else int(back)
        raise ParameterError(
            "packets", f"ts_ns going backwards at row {offset + bad}", "packets sorted by ts_ns"
        )
    if lo < 0:
        row = offset + int(np.argmax(flow < 0))
        raise ParameterError("packets", f"negative flow_id at row {row}", "flow ids >= 0")
    if bad_len >= 0:
        raise ParameterError(
            "packets", f"wire_len {int(wl[bad_len])} at row {offset + int(bad_len)}",
            f"wire_len from 0 to {WIRE_LEN_MAX} (bytes on the wire)",
        )  # fmt: skip
    return _read_only(ts), _read_only(flow), _read_only(wl), int(hi)


def _read_only(a: np.ndarray) -> np.ndarray:
    """The array, marked read-only. polars hands out read-only views or writable copies depending on
    the column's memory; numba compiles (or loads from its cache) one version of a kernel per
    kind, so the replay's inputs are always of one kind."""
    a.setflags(write=False)
    return a


@dataclass
class PreparedTrace:
    """Replay columns of one trace, validated, plus cached flowlet detections and events.

    ``packets`` is the table it came from (kept for the columns NFs read). ``max_cached`` bounds
    how many (T, B) detections (one int8 per packet each) and how many event lists (16 bytes per
    event) are kept; the least recently used goes.
    """

    ts: np.ndarray
    flow: np.ndarray
    wire_len: np.ndarray
    packets: pl.DataFrame
    max_cached: int = 8
    _reasons: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _events: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _nf_inputs: dict = field(default_factory=dict, repr=False)

    @property
    def n_packets(self) -> int:
        return int(self.ts.shape[0])

    @cached_property
    def n_flows(self) -> int:  # the columns are read-only, so this holds
        return int(self.flow.max()) + 1 if self.n_packets else 0

    def open_reasons(self, timeout_ns: int, size_bytes: int) -> np.ndarray:
        """Per packet: why it opens a flowlet (0 new flow, 1 timeout, 2 size) or -1, for (T, B)."""
        key = (int(timeout_ns), int(size_bytes))
        return self._cached(self._reasons, key, lambda: self._detect(*key))

    @cached_property
    def relative_ts(self) -> np.ndarray:
        """Arrival times counted from the first packet (what the replay kernel takes; ``ts``
        itself when the trace starts at 0). The span is checked by the replay."""
        if not self.n_packets or self.ts[0] == 0:
            return self.ts
        return _read_only(self.ts - self.ts[0])

    def events(self, close_after_ns: int, push_after_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """The trace's item-close and state-push events for these idle times (-1: none), as
        ``(time, code)`` (:mod:`snfkit.engine.events_nb`), times counted from the first packet
        (:attr:`relative_ts`)."""
        key = (int(close_after_ns), int(push_after_ns))
        return self._cached(
            self._events, key, lambda: trace_events(self.relative_ts, self.flow, *key)
        )

    def _detect(self, timeout_ns: int, size_bytes: int) -> np.ndarray:
        if not self.n_packets:
            return np.full(0, -1, np.int8)
        return detect_flowlets_nb(self.ts, self.flow, self.wire_len, timeout_ns, size_bytes)[0]

    def _cached(self, cache: OrderedDict, key: tuple, compute: Any) -> Any:
        """``cache[key]``, computed on a miss; the least recently used entry beyond
        ``max_cached`` goes."""
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        value = cache[key] = compute()
        while len(cache) > self.max_cached:
            cache.popitem(last=False)
        return value

    def nf_inputs(self, nf: Any) -> tuple:
        """The arrays an NF reads from this table (:func:`snfkit.nf.prepare`), extracted once per
        kind of NF (with or without payload)."""
        from snfkit.nf import prepare

        key = bool(nf.needs_payload)
        if key not in self._nf_inputs:
            self._nf_inputs[key] = prepare(nf, self.packets)
        return self._nf_inputs[key]


def prepare_trace(
    packets: pl.DataFrame | str | PathLike[str], **load_options: Any
) -> PreparedTrace:
    """Validate a packets table (or load a trace file with :func:`snfkit.load_trace`) once for
    many replays. Raises :class:`~snfkit.errors.ParameterError` naming the first bad row."""
    if isinstance(packets, str | PathLike):
        from snfkit.traces import load_trace

        packets = load_trace(packets, **load_options)
    if isinstance(packets, pl.LazyFrame):
        packets = packets.collect()
    if not isinstance(packets, pl.DataFrame):
        raise ParameterError(
            "packets", type(packets).__name__, "a polars DataFrame or a trace path"
        )
    ts, flow, wl = replay_arrays(packets)
    return PreparedTrace(*(_read_only(np.ascontiguousarray(a)) for a in (ts, flow, wl)), packets)
