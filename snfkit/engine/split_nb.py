"""Splitting a trace among controllers (:mod:`snfkit.runner.many`): each controller's rows in trace
order, and its flows numbered densely in the order of their ids, in O(packets + flows) passes. The
plain-Python twin is :mod:`snfkit.reference.split`."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def split_flows_nb(flow, owner, n_ctl):
    """One trace split among ``n_ctl`` controllers, given each flow's controller (``owner[f]``,
    -1 for an id no packet has; every packet's flow has one). Returns ``(rows, starts, local,
    ids, first)``: the row indices grouped by controller in trace order (controller k's are
    ``rows[starts[k]:starts[k + 1]]``); each of those rows' flow id within its controller
    (``local``, aligned with ``rows``); and each controller's flows ascending (``ids``, controller
    k's being ``ids[first[k]:first[k + 1]]``, so its local id j is global flow ``ids[first[k] + j]``).
    Two passes over the packets and one over the flows."""
    n_flows = owner.shape[0]
    first = np.zeros(n_ctl + 1, np.int64)
    for f in range(n_flows):
        if owner[f] >= 0:
            first[owner[f] + 1] += 1
    for k in range(n_ctl):
        first[k + 1] += first[k]
    fill = first[:-1].copy()
    local_of = np.full(n_flows, -1, np.int64)
    ids = np.empty(first[n_ctl], np.int64)
    for f in range(n_flows):
        k = owner[f]
        if k >= 0:
            local_of[f] = fill[k] - first[k]
            ids[fill[k]] = f
            fill[k] += 1
    starts = np.zeros(n_ctl + 1, np.int64)
    for i in range(flow.shape[0]):
        starts[owner[flow[i]] + 1] += 1
    for k in range(n_ctl):
        starts[k + 1] += starts[k]
    at = starts[:-1].copy()
    rows = np.empty(flow.shape[0], np.int64)
    local = np.empty(flow.shape[0], np.int64)
    for i in range(flow.shape[0]):
        f = flow[i]
        k = owner[f]
        rows[at[k]] = i
        local[at[k]] = local_of[f]
        at[k] += 1
    return rows, starts, local, ids, first


@nb.njit(cache=True, nogil=True)
def scatter_rows_nb(rows, part, out, unit_off, item_off):
    """Write one controller's per-packet outputs (``part``, a :class:`ChunkOut` of its packets in
    its order) to their rows of the whole trace's (``out``), its unit slots shifted by
    ``unit_off`` and its item ids by ``item_off``. ``src_pkt`` is left to the caller; ``ol`` and
    ``lost`` are copied when ``part`` has them."""
    for j in range(rows.shape[0]):
        i = rows[j]
        out.unit[i] = part.unit[j] + unit_off
        out.item[i] = part.item[j] + item_off
        out.start[i] = part.start[j]
        out.state_wait[i] = part.state_wait[j]
        out.latency[i] = part.latency[j]
        out.wait_cause[i] = part.wait_cause[j]
        out.reordered[i] = part.reordered[j]
    if part.ol.shape[0]:
        for j in range(rows.shape[0]):
            out.ol[rows[j]] = part.ol[j]
            out.lost[rows[j]] = part.lost[j]
