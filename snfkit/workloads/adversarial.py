"""Adversarial flowlets (paper §9.3): bursts added inside flows.

The paper creates "adversarial" flowlets "every 100th, 50th and 10th flow by adding bursts of 20
packets (~1400 bytes) on average". A burst sent back to back forms one large flowlet whose rate the
controller's estimate (from the flow's earlier, calmer flowlets) far undershoots; SNF's size
threshold ``B`` is what bounds the damage.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from snfkit.arguments import check_int, check_number, check_seed
from snfkit.errors import ParameterError
from snfkit.traces.schema import FIVE_TUPLE
from snfkit.workloads.synth import MAX_PACKETS

_COLUMNS = ("ts_ns", *FIVE_TUPLE, "wire_len", "flow_id")


def inject_adversarial_flowlets(
    packets: pl.DataFrame,
    every_nth_flow: int,
    burst_packets: int = 20,
    packet_bytes: int = 1400,
    *,
    seed: int,
    count_jitter: int = 5,
    size_jitter: float = 0.05,
    line_rate_gbps: float = 10.0,
    mtu: int = 1500,
) -> tuple[pl.DataFrame, int]:
    """Add one back-to-back burst to every ``every_nth_flow``-th flow; return ``(table, added)``.

    Targets: the flows with ``flow_id % every_nth_flow == every_nth_flow - 1``, i.e. the N-th,
    2N-th, ... flows in order of first packet (N = 1: every flow). Each target gets
    ``burst_packets + j`` packets, j uniform in [-count_jitter, +count_jitter] (so 20 on average,
    at least 1), each of ``packet_bytes * U[1 - size_jitter, 1 + size_jitter]`` bytes (rounded,
    clipped to 64..mtu), with the flow's 5-tuple. The burst starts at a time uniform in
    [first, last] packet time of the flow (int ns) and its packets follow each other at their
    serialization time at ``line_rate_gbps`` (``wire_len * 8 / rate`` ns, rounded), so at any
    timeout T above about 1.2 us they form one flowlet (possibly merged with the flow's packets
    around it). Draws come from ``numpy.random.default_rng(seed)``.

    The result is sorted by ``ts_ns`` (stable; an injected packet at the same ns as an original
    one comes after it), so a flow's first packet is unchanged and existing flow ids stay valid.
    Injected packets get an empty ``payload`` if the table has that column. ``added`` is the
    number of packets injected.

    Arguments of the wrong type or range raise :class:`~snfkit.errors.ParameterError` naming them,
    as does a burst that would add more than
    :data:`~snfkit.workloads.synth.MAX_PACKETS` packets.
    """
    if not isinstance(packets, pl.DataFrame) or not set(_COLUMNS) <= set(packets.columns):
        what = type(packets).__name__ if not isinstance(packets, pl.DataFrame) else packets.columns
        raise ParameterError("packets", what, f"a packets table with columns {', '.join(_COLUMNS)}")
    n_every = check_int("every_nth_flow", every_nth_flow, 1)
    burst_packets = check_int("burst_packets", burst_packets, 1, MAX_PACKETS)
    count_jitter = check_int("count_jitter", count_jitter, 0, burst_packets - 1)
    mtu = check_int("mtu", mtu, 64, 65535)
    packet_bytes = check_int("packet_bytes", packet_bytes, 64, mtu)
    size_jitter = check_number("size_jitter", size_jitter, 0, 1, hi_open=True)
    line_rate_gbps = check_number("line_rate_gbps", line_rate_gbps, 0, lo_open=True)
    seed = check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    if packets.height == 0:
        return packets.clone(), 0

    flow = packets["flow_id"].to_numpy()
    ts = packets["ts_ns"].to_numpy()
    n_flows = int(flow.max()) + 1
    targets = np.arange(n_every - 1, n_flows, n_every, dtype=np.int64)
    if targets.size == 0:
        return packets.clone(), 0
    most = targets.size * (burst_packets + count_jitter)
    if most > MAX_PACKETS:
        raise ParameterError(
            "burst_packets",
            burst_packets,
            f"at most {MAX_PACKETS:,} packets added in all ({targets.size:,} flows x up to "
            f"{burst_packets + count_jitter:,})",
        )
    first_row = np.full(n_flows, -1, np.int64)
    first_row[flow[::-1]] = np.arange(flow.size - 1, -1, -1)  # last write wins = first occurrence
    t_first = np.full(n_flows, np.iinfo(np.int64).max, np.int64)
    t_last = np.full(n_flows, np.iinfo(np.int64).min, np.int64)
    np.minimum.at(t_first, flow, ts)
    np.maximum.at(t_last, flow, ts)

    counts = burst_packets + rng.integers(-count_jitter, count_jitter + 1, targets.size)
    counts = np.maximum(counts, 1)
    start = t_first[targets] + np.floor(
        rng.random(targets.size) * (t_last[targets] - t_first[targets] + 1)
    ).astype(np.int64)
    start = np.minimum(start, t_last[targets])
    total = int(counts.sum())
    owner = np.repeat(np.arange(targets.size), counts)
    sizes = np.rint(packet_bytes * rng.uniform(1 - size_jitter, 1 + size_jitter, total))
    sizes = np.clip(sizes, 64, mtu).astype(np.int64)
    step = np.rint(sizes * 8.0 / line_rate_gbps).astype(np.int64)
    csum = np.cumsum(step)
    burst_first = np.cumsum(counts) - counts
    within = csum - step - (csum - step)[burst_first][owner]  # time since the burst's start
    new_ts = start[owner] + within

    rows = first_row[targets][owner]
    extra = packets[rows].with_columns(
        pl.Series("ts_ns", new_ts, dtype=pl.Int64),
        pl.Series("wire_len", sizes, dtype=pl.UInt32),
    )
    if "payload" in extra.columns:
        extra = extra.with_columns(pl.lit(b"", dtype=pl.Binary).alias("payload"))
    merged = pl.concat([packets, extra.select(packets.columns)], how="vertical")
    order = np.argsort(merged["ts_ns"].to_numpy(), kind="stable")
    return merged[order], total


__all__ = ["inject_adversarial_flowlets"]
