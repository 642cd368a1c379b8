"""One row per flow: the table a flow-level analysis starts from (what NFStream's flow records give),
from a packets table and, optionally, the replay of it.

:func:`flows` columns (times in integer ns on the trace's clock; :func:`snfkit.display.readable`
shows them in seconds and µs):

| column | dtype | meaning |
|---|---|---|
| ``flow_id`` | Int64 | the packets table's dense flow id |
| ``src_ip``, ``dst_ip`` | String | addresses as text (:func:`snfkit.display.ip_text`) |
| ``src_port``, ``dst_port`` | UInt16 | ports (0 for ICMP and IP fragments) |
| ``proto`` | String | protocol name (``tcp``, ``udp``, ``icmp``, ...; else the number) |
| ``packets`` | Int64 | packets of the flow |
| ``bytes`` | Int64 | sum of ``wire_len`` (IP bytes) |
| ``first_ns``, ``last_ns`` | Int64 | arrival of the first and the last packet |
| ``duration_ns`` | Int64 | ``last_ns - first_ns`` (0 for a one-packet flow) |

With ``results`` (a replay of this very table), also:

| column | dtype | meaning |
|---|---|---|
| ``flowlets`` | Int64 | assignment items of the flow (flowlets in flowlet mode, flow assignments in the flow modes, packets in packet mode) |
| ``flowlets_new_flow``, ``flowlets_timeout``, ``flowlets_size``, ``flowlets_packet`` | Int64 | items by the reason they opened (the flowlets table's ``reason``) |
| ``moves`` | Int64 | items on another unit than the flow's previous item |
| ``units`` | List(Int64) | unit IDs the flow's items ran on, in the order first visited (IDs are slots, reused after a unit retires) |
| ``units_visited`` | Int64 | how many distinct unit IDs |
| ``latency_p50_us``, ``latency_p99_us``, ``latency_max_us`` | Float64 | the flow's packet latencies (linear-interpolated percentiles; only when the replay kept its packets table) |
"""

from __future__ import annotations

import polars as pl

from snfkit.display import ip_text, proto_name
from snfkit.errors import ParameterError
from snfkit.results import Results

FLOW_COLUMNS = ("flow_id", "ts_ns", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "wire_len")
"""The packets-table columns :func:`flows` reads."""

LATENCY_PERCENTILES = (50, 99)
"""Percentiles of each flow's packet latency in :func:`flows`."""


def flows(packets: pl.DataFrame, results: Results | None = None) -> pl.DataFrame:
    """One row per flow of ``packets`` (sorted by ``flow_id``), with its replay's flowlets, units
    and latencies when ``results`` is given; columns in the module docs. ``results`` must be a
    replay of ``packets`` itself (for a bidirectional NF, of ``connections(packets)``): a
    different table is a ParameterError naming ``results``."""
    if not isinstance(packets, pl.DataFrame):
        raise ParameterError("packets", type(packets).__name__, "a packets table (DataFrame)")
    missing = [c for c in FLOW_COLUMNS if c not in packets.columns]
    if missing:
        raise ParameterError("packets", f"without {', '.join(missing)}", "a packets table")
    table = (
        packets.group_by("flow_id")
        .agg(
            pl.col("src_ip", "dst_ip", "src_port", "dst_port", "proto").first(),
            pl.len().cast(pl.Int64).alias("packets"),
            pl.col("wire_len").cast(pl.Int64).sum().alias("bytes"),
            pl.col("ts_ns").min().alias("first_ns"),
            pl.col("ts_ns").max().alias("last_ns"),
        )
        .sort("flow_id")
        .with_columns(
            ip_text("src_ip").alias("src_ip"),
            ip_text("dst_ip").alias("dst_ip"),
            proto_name("proto").alias("proto"),
            (pl.col("last_ns") - pl.col("first_ns")).alias("duration_ns"),
        )
    )
    if results is None:
        return table
    _check_replay_of(packets, results)
    table = table.join(_items(results.flowlets), on="flow_id", how="left")
    if results.packets is not None:
        table = table.join(_latencies(results.packets), on="flow_id", how="left")
    return table


def _check_replay_of(packets: pl.DataFrame, results: Results) -> None:
    n = results.summary.get("packets_in")
    if n != packets.height:
        raise ParameterError(
            "results", f"a replay of {n} packets", f"a replay of these {packets.height} packets"
        )
    if results.packets is not None and not results.packets["flow_id"].equals(
        packets["flow_id"], check_names=False
    ):
        raise ParameterError(
            "results",
            "a replay with other flow ids",
            "a replay of this table (with a bidirectional NF: of connections(packets))",
        )


def _items(flowlets: pl.DataFrame) -> pl.DataFrame:
    reasons = flowlets.schema["reason"]
    names = list(reasons.categories) if isinstance(reasons, pl.Enum) else ["new_flow", "timeout"]
    by_reason = [
        (pl.col("reason").cast(pl.String) == r).sum().cast(pl.Int64).alias(f"flowlets_{r}")
        for r in names
    ]
    return (
        flowlets.sort("item")
        .group_by("flow_id")
        .agg(
            pl.len().cast(pl.Int64).alias("flowlets"),
            *by_reason,
            pl.col("moved").sum().cast(pl.Int64).alias("moves"),
            pl.col("unit").cast(pl.Int64).unique(maintain_order=True).alias("units"),
        )
        .with_columns(pl.col("units").list.len().cast(pl.Int64).alias("units_visited"))
    )


def _latencies(replayed: pl.DataFrame) -> pl.DataFrame:
    us = pl.col("latency_ns").cast(pl.Float64) / 1e3
    return replayed.group_by("flow_id").agg(
        *[us.quantile(q / 100, "linear").alias(f"latency_p{q}_us") for q in LATENCY_PERCENTILES],
        us.max().alias("latency_max_us"),
    )
