"""Splitting a trace among controllers (:mod:`snfkit.runner.many`): each controller's rows in trace
order, and its flows numbered densely in the order of their ids, in O(packets + flows) passes. The
plain-Python twin is :mod:`snfkit.reference.split`."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def group_rows_nb(ctl, n_ctl):
    """``(rows, starts)``: the row indices grouped by controller (a stable counting sort of ``ctl``,
    values in [0, n_ctl)), controller k's rows being ``rows[starts[k]:starts[k + 1]]`` in order."""
    starts = np.zeros(n_ctl + 1, np.int64)
    for i in range(ctl.shape[0]):
        starts[ctl[i] + 1] += 1
    for k in range(n_ctl):
        starts[k + 1] += starts[k]
    fill = starts[:-1].copy()
    rows = np.empty(ctl.shape[0], np.int64)
    for i in range(ctl.shape[0]):
        k = ctl[i]
        rows[fill[k]] = i
        fill[k] += 1
    return rows, starts


@nb.njit(cache=True, nogil=True)
def local_flow_ids_nb(flow, ctl, n_ctl, n_flows):
    """Each packet's flow id within its controller (``local``, per packet), and each controller's
    flows (``ids``, grouped: controller k's are ``ids[first[k]:first[k + 1]]``, ascending, so local
    id j of controller k is global flow ``ids[first[k] + j]``). Flow ids are in [0, n_flows); a flow
    belongs to one controller."""
    owner = np.full(n_flows, -1, np.int64)
    for i in range(flow.shape[0]):
        owner[flow[i]] = ctl[i]
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
    local = np.empty(flow.shape[0], np.int64)
    for i in range(flow.shape[0]):
        local[i] = local_of[flow[i]]
    return local, ids, first


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
