"""Per-chunk aggregation of the replay kernel's outputs, so aggregates cost one pass in numba.

For one chunk of replayed packets this adds each latency (finish - arrival) to the log histogram of
:mod:`snfkit.latency_hist`, counts packets and state-wait time by wait cause, updates per-item
packet and byte counts, last arrival and last finish (indexed by item id), and sums traffic per
epoch:

- offered bytes per arrival epoch;
- per (epoch, unit slot): packets and bytes by arrival epoch, busy time and processed bytes by the
  epoch the packet's service started in.

Epochs count from ``t0`` in steps of ``epoch_ns``. The plain-Python twin is
:func:`snfkit.reference.collect.collect_chunk_reference`.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from snfkit.latency_hist import N_BUCKETS, SUB, SUB_BITS


class ItemStats(NamedTuple):
    """Per-item accumulators, indexed by item id (the caller grows them)."""

    pkts: np.ndarray  # int64
    bytes: np.ndarray  # int64
    last: np.ndarray  # int64, last arrival
    end: np.ndarray  # int64, last finish


class WaitStats(NamedTuple):
    """Packets and state-wait time by wait cause (index = cause code)."""

    count: np.ndarray  # int64
    ns: np.ndarray  # int64


class ChunkAggregates(NamedTuple):
    """One chunk's epoch sums, sparse: only epochs/cells that saw traffic."""

    lat_sum: int
    lat_max: int
    ep_epoch: np.ndarray  # int64 [k]
    ep_offered_bytes: np.ndarray  # int64 [k]
    eu_epoch: np.ndarray  # int64 [m]
    eu_unit: np.ndarray  # int64 [m]
    eu_packets: np.ndarray  # int64 [m]
    eu_bytes: np.ndarray  # int64 [m]
    eu_busy_ns: np.ndarray  # int64 [m]
    eu_processed_bytes: np.ndarray  # int64 [m]


@nb.njit(cache=True)
def hist_bucket(v):
    """Bucket of one latency in the log histogram (:func:`snfkit.latency_hist.bucket_of`)."""
    if v < 2 * SUB:
        return max(v, 0)
    exp = 0  # floor(log2(v)), by halving the bit range
    x = v
    for shift in (32, 16, 8, 4, 2, 1):
        if x >> shift:
            x >>= shift
            exp += shift
    return (exp - SUB_BITS + 1) * SUB + ((v >> (exp - SUB_BITS)) - SUB)


@nb.njit(cache=True, nogil=True)
def collect_chunk_nb(
    ts,
    wire_len,
    unit,
    item,
    start,
    finish,
    wait_cause,
    state_wait,
    t0,
    epoch_ns,
    hist,
    items,
    waits,
):
    """Aggregate one chunk (see the module docstring); returns :class:`ChunkAggregates`."""
    n = ts.shape[0]
    lat_sum = 0
    lat_max = 0
    e_lo = (ts[0] - t0) // epoch_ns
    e_hi = e_lo
    u_hi = 0
    s_max = ts[n - 1]
    for i in range(n):
        lat = finish[i] - ts[i]
        lat_sum += lat
        if lat > lat_max:
            lat_max = lat
        hist[min(hist_bucket(lat), N_BUCKETS - 1)] += 1
        k = item[i]
        items.pkts[k] += 1
        items.bytes[k] += wire_len[i]
        if ts[i] > items.last[k]:
            items.last[k] = ts[i]
        if finish[i] > items.end[k]:
            items.end[k] = finish[i]
        if unit[i] + 1 > u_hi:
            u_hi = unit[i] + 1
        if start[i] > s_max:
            s_max = start[i]
        waits.count[wait_cause[i]] += 1
        waits.ns[wait_cause[i]] += state_wait[i]
    e_hi = (s_max - t0) // epoch_ns  # service starts are not sorted; arrivals are
    ne = e_hi - e_lo + 1
    offered = np.zeros(ne, np.int64)
    grid = np.zeros((ne, u_hi, 4), np.int64)  # packets, bytes, busy, processed
    ea = 0
    ea_end = t0 + (e_lo + 1) * epoch_ns  # arrivals are sorted: step the epoch, don't divide
    for i in range(n):
        while ts[i] >= ea_end:
            ea += 1
            ea_end += epoch_ns
        es = ea  # a service starts at or after its arrival, mostly in the same epoch
        if start[i] >= ea_end:
            es = (start[i] - t0) // epoch_ns - e_lo
        u = unit[i]
        size = np.int64(wire_len[i])
        offered[ea] += size
        grid[ea, u, 0] += 1
        grid[ea, u, 1] += size
        grid[es, u, 2] += finish[i] - start[i]
        grid[es, u, 3] += size
    k_ep = 0
    for e in range(ne):
        if offered[e] != 0:
            k_ep += 1
    ep_epoch = np.empty(k_ep, np.int64)
    ep_off = np.empty(k_ep, np.int64)
    j = 0
    for e in range(ne):
        if offered[e] != 0:
            ep_epoch[j] = e + e_lo
            ep_off[j] = offered[e]
            j += 1
    m = 0
    for e in range(ne):
        for u in range(u_hi):
            if grid[e, u, 0] != 0 or grid[e, u, 3] != 0:
                m += 1
    cols = np.empty((6, m), np.int64)
    j = 0
    for e in range(ne):
        for u in range(u_hi):
            if grid[e, u, 0] != 0 or grid[e, u, 3] != 0:
                cols[0, j] = e + e_lo
                cols[1, j] = u
                cols[2, j] = grid[e, u, 0]
                cols[3, j] = grid[e, u, 1]
                cols[4, j] = grid[e, u, 2]
                cols[5, j] = grid[e, u, 3]
                j += 1
    return ChunkAggregates(
        lat_sum, lat_max, ep_epoch, ep_off, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]
    )
