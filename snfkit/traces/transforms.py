"""Pure transforms of packets tables (schema: :mod:`snfkit.traces.schema`).

Every function returns a new table and leaves its input alone. Times are int64 nanoseconds, rates
Gbps (1 Gbps = 1 bit per ns), sizes bytes (``wire_len``, the IP-layer size). A transform that drops
or merges rows recomputes ``flow_id`` (dense, in order of each 5-tuple's first packet) with
:func:`snfkit.traces.table.reassign_flow_ids`. Bad arguments raise
:class:`~snfkit.errors.ParameterError`.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from snfkit.engine.flowkeys_nb import factorize_rows_nb, hash_rows_nb
from snfkit.errors import ParameterError
from snfkit.traces.table import (
    address_rows,
    address_words,
    flow_keys,
    reassign_flow_ids,
    table_flow_keys,
)


def _check_positive(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, value, "a finite number > 0") from None
    if not math.isfinite(v) or v <= 0:
        raise ParameterError(name, value, "a finite number > 0")
    return v


def duration_ns(packets: pl.DataFrame) -> int:
    """Last minus first ``ts_ns`` (0 for fewer than two packets)."""
    if packets.height < 2:
        return 0
    ts = packets["ts_ns"]
    return int(ts[-1]) - int(ts[0])


def mean_gbps(packets: pl.DataFrame) -> float:
    """Mean offered rate in Gbps: ``sum(wire_len) * 8`` bits over ``last ts - first ts`` ns.

    Raises :class:`ParameterError` if the trace spans 0 ns (fewer than two distinct timestamps).
    """
    span = duration_ns(packets)
    if span <= 0:
        raise ParameterError(
            "packets", f"{packets.height} packets spanning 0 ns", "a trace spanning more than 0 ns"
        )
    return float(packets["wire_len"].cast(pl.Float64).sum()) * 8.0 / span


def speedup(packets: pl.DataFrame, factor: float) -> pl.DataFrame:
    """Divide inter-arrival times by ``factor`` (the paper's way of raising load, §9).

    ``ts' = ts0 + round((ts - ts0) / factor)`` in ns, with ts0 the first packet's time; the mean
    rate is multiplied by ``factor`` (factor > 1 compresses time, < 1 stretches it). Rounding to
    whole ns is monotone, so packet order and the flow ids are unchanged.
    """
    f = _check_positive("factor", factor)
    if packets.height == 0:
        return packets.clone()
    ts = packets["ts_ns"].to_numpy()
    t0 = ts[0]
    scaled = np.round((ts - t0).astype(np.float64) / f).astype(np.int64) + t0
    return packets.with_columns(pl.Series("ts_ns", scaled, dtype=pl.Int64))


def speedup_to_gbps(packets: pl.DataFrame, target_gbps: float) -> tuple[pl.DataFrame, float]:
    """Speed the trace up (or slow it down) so that :func:`mean_gbps` equals ``target_gbps``.

    Returns ``(table, factor)`` with ``factor = target_gbps / mean_gbps(packets)`` (up to the ns
    rounding of :func:`speedup`).
    """
    target = _check_positive("target_gbps", target_gbps)
    factor = target / mean_gbps(packets)
    return speedup(packets, factor), factor


def time_window(
    packets: pl.DataFrame,
    start_ns: int | None = None,
    end_ns: int | None = None,
    *,
    relative: bool = True,
) -> pl.DataFrame:
    """Keep packets with ``start_ns <= ts_ns < end_ns`` (None: unbounded on that side).

    relative: when True (default), ``start_ns``/``end_ns`` are offsets from the first packet's
        time; when False they are absolute ``ts_ns`` values. Timestamps are not rebased: the slice
        keeps its original clock (subtract its first ``ts_ns`` to start it at 0).
    Flow ids are recomputed (flows with no packet left disappear).
    """
    for name, v in (("start_ns", start_ns), ("end_ns", end_ns)):
        if v is not None and not isinstance(v, int | np.integer):
            raise ParameterError(name, v, "an integer number of ns or None")
    if start_ns is not None and end_ns is not None and end_ns < start_ns:
        raise ParameterError("end_ns", end_ns, f"an integer >= start_ns ({start_ns}) or None")
    if packets.height == 0:
        return packets.clone()
    base = int(packets["ts_ns"][0]) if relative else 0
    cond = pl.lit(True)
    if start_ns is not None:
        cond = cond & (pl.col("ts_ns") >= base + int(start_ns))
    if end_ns is not None:
        cond = cond & (pl.col("ts_ns") < base + int(end_ns))
    return reassign_flow_ids(packets.filter(cond))


def flow_hash(packets: pl.DataFrame, seed: int) -> np.ndarray:
    """A seeded 64-bit hash of each row's 5-tuple (uint64[n]); equal 5-tuples hash equal.

    Depends only on the 5-tuple and the seed, never on row order or flow ids.
    """
    return hash_rows_nb(table_flow_keys(packets), np.uint64(seed % 2**64))


def sample_flows(packets: pl.DataFrame, fraction: float, seed: int) -> pl.DataFrame:
    """Keep whole flows, each with probability ``fraction``, chosen by a seeded 5-tuple hash.

    A flow is kept iff ``hash(5-tuple, seed) / 2**64 < fraction``: deterministic (same seed, same
    flows, whatever the table's order), and nested (a larger fraction keeps a superset). About
    ``fraction`` of the flows survive, not exactly. fraction in (0, 1]; seed an integer.
    Flow ids are recomputed.
    """
    try:
        frac = float(fraction)
    except (TypeError, ValueError):
        raise ParameterError("fraction", fraction, "a number in (0, 1]") from None
    if not 0.0 < frac <= 1.0:
        raise ParameterError("fraction", fraction, "a number in (0, 1]")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise ParameterError("seed", seed, "an integer")
    if packets.height == 0 or frac == 1.0:
        return packets.clone()
    u = (flow_hash(packets, int(seed)) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return reassign_flow_ids(packets.filter(pl.Series(u < frac)))


def merge(*tables: pl.DataFrame, align_start: bool = False) -> pl.DataFrame:
    """Merge traces into one, ordered by ``ts_ns`` (stable: ties keep argument order, then rows).

    align_start: shift every table in time so that all start at the earliest first timestamp among
        them (e.g. to overlay a synthetic workload on a capture); False keeps each table's clock.
    A 5-tuple present in several tables becomes one flow. ``payload`` is kept if any table has it;
    tables without one get empty payloads. Flow ids are recomputed.
    """
    if not tables:
        raise ParameterError("tables", (), "at least one packets table")
    for i, t in enumerate(tables):
        if not isinstance(t, pl.DataFrame):
            raise ParameterError(f"tables[{i}]", type(t).__name__, "a polars DataFrame")
    nonempty = [t for t in tables if t.height]
    if align_start and nonempty:
        start = min(int(t["ts_ns"][0]) for t in nonempty)
        tables = tuple(
            t.with_columns(pl.col("ts_ns") - (int(t["ts_ns"][0]) - start)) if t.height else t
            for t in tables
        )
    with_payload = any("payload" in t.columns for t in tables)
    parts = []
    for t in tables:
        if with_payload and "payload" not in t.columns:
            t = t.with_columns(pl.lit(b"", dtype=pl.Binary).alias("payload"))
        parts.append(t)
    cols = parts[0].columns
    merged = pl.concat([p.select(cols) for p in parts], how="vertical")
    order = np.argsort(merged["ts_ns"].to_numpy(), kind="stable")
    return reassign_flow_ids(merged[order])


def connections(packets: pl.DataFrame) -> pl.DataFrame:
    """Key flows by connection: both directions of a 5-tuple share one ``flow_id``.

    A connection is the unordered pair of endpoints ``{(src_ip, src_port), (dst_ip, dst_port)}``
    plus ``proto``. ``flow_id`` becomes a dense connection id (0, 1, ... in order of each
    connection's first packet), and a ``direction`` column (UInt8) is added (or replaced): 0 for
    packets sent by the endpoint that sent the connection's first packet (its initiator, as far as
    the trace shows), 1 for the reverse direction. A packet whose two endpoints are equal has
    direction 0. Apply it last: a transform that recomputes flow ids
    (:func:`snfkit.traces.table.reassign_flow_ids`) goes back to one-directional 5-tuple flows.
    """
    if not isinstance(packets, pl.DataFrame):
        raise ParameterError("packets", type(packets).__name__, "a polars DataFrame")
    src, dst = address_rows(packets["src_ip"]), address_rows(packets["dst_ip"])
    sport, dport = packets["src_port"].to_numpy(), packets["dst_port"].to_numpy()
    a, b = address_words(src), address_words(dst)
    # swap when (src address, sport) > (dst address, dport), so that the key lists the smaller
    # endpoint first
    swap = (a[:, 0] > b[:, 0]) | (
        (a[:, 0] == b[:, 0]) & ((a[:, 1] > b[:, 1]) | ((a[:, 1] == b[:, 1]) & (sport > dport)))
    )
    keys = flow_keys(
        np.where(swap[:, None], dst, src),
        np.where(swap[:, None], src, dst),
        np.where(swap, dport, sport),
        np.where(swap, sport, dport),
        packets["proto"].to_numpy(),
    )
    ids, first_row = factorize_rows_nb(keys)
    direction = (swap != swap[first_row[ids]]).astype(np.uint8)
    return packets.with_columns(
        pl.Series("flow_id", ids, dtype=pl.Int64), pl.Series("direction", direction)
    )


__all__ = [
    "connections",
    "duration_ns",
    "flow_hash",
    "mean_gbps",
    "merge",
    "sample_flows",
    "speedup",
    "speedup_to_gbps",
    "time_window",
]
