"""Flowlet detection (paper §4.1, Pseudocode 1 lines 14-25).

A packet opens a new flowlet when it is its flow's first packet, or its gap to the flow's previous
packet exceeds the inactivity timeout ``timeout_ns`` (strictly greater), or the open flowlet's bytes plus
this packet's ``wire_len`` would exceed the size threshold ``size_bytes`` (strictly greater). A size
threshold <= 0 disables the size rule. Detection depends only on the trace, T and B, so it is computed
once and reused by every replay (and every sweep trial) with the same T and B.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from snfkit.engine._jit import kernel_input
from snfkit.engine.enums import OpenReason, names

REASON_NAMES = names(OpenReason)[: OpenReason.size + 1]
"""The reasons detection gives (codes of :data:`~snfkit.engine.enums.OpenReason`, stored in
``reason`` arrays): a flow's first packet, the timeout, the size threshold."""


class FlowletState(NamedTuple):
    """Per-flow detector state carried between chunks of a trace (index = flow id).

    ``flowlet`` is -1 for a flow not seen yet; ``n_flowlets`` is a 1-element counter.
    """

    last_ts: np.ndarray  # int64[F]
    open_bytes: np.ndarray  # int64[F]
    flowlet: np.ndarray  # int64[F]
    n_flowlets: np.ndarray  # int64[1]


def new_flowlet_state(n_flows: int) -> FlowletState:
    return FlowletState(
        np.zeros(n_flows, np.int64),
        np.zeros(n_flows, np.int64),
        np.full(n_flows, -1, np.int64),
        np.zeros(1, np.int64),
    )


@nb.njit(cache=True)
def detect_flowlets_chunk_nb(ts_ns, flow_id, wire_len, timeout_ns, size_bytes, state):
    """Detect flowlets in one chunk, continuing from ``state`` (updated in place).

    Returns ``(open_reason int8[n], fl_flow int64[m], fl_first_pkt int64[m], fl_reason int8[m])``:
    per packet, why it opens a flowlet (-1: it continues one), then the m flowlets that open in this
    chunk in order (flowlet ids continue from the state's counter; ``fl_first_pkt`` indexes into
    this chunk).
    """
    n = ts_ns.shape[0]
    last_ts, open_bytes, flowlet, counter = state
    open_reason = np.empty(n, np.int8)
    fl_flow = np.empty(n, np.int64)
    fl_first = np.empty(n, np.int64)
    fl_reason = np.empty(n, np.int8)
    m = 0
    next_id = counter[0]
    use_size = size_bytes > 0
    for i in range(n):
        f = flow_id[i]
        size = np.int64(wire_len[i])
        t = ts_ns[i]
        reason = -1
        if flowlet[f] < 0:
            reason = OpenReason.new_flow
        elif t - last_ts[f] > timeout_ns:
            reason = OpenReason.timeout
        elif use_size and open_bytes[f] + size > size_bytes:
            reason = OpenReason.size
        if reason >= 0:
            flowlet[f] = next_id
            open_bytes[f] = 0
            fl_flow[m] = f
            fl_first[m] = i
            fl_reason[m] = reason
            m += 1
            next_id += 1
        open_bytes[f] += size
        last_ts[f] = t
        open_reason[i] = reason
    counter[0] = next_id
    return open_reason, fl_flow[:m].copy(), fl_first[:m].copy(), fl_reason[:m].copy()


def detect_flowlets_nb(ts_ns, flow_id, wire_len, timeout_ns, size_bytes):
    """One-shot detection over a whole trace (flow ids dense from 0). Same returns as the chunk
    kernel. The columns go to it as read-only int64 arrays, whatever their dtype (one compiled
    version: :func:`~snfkit.engine._jit.kernel_input`)."""
    ts_ns, flow_id, wire_len = (kernel_input(a) for a in (ts_ns, flow_id, wire_len))
    n_flows = int(flow_id.max()) + 1 if flow_id.shape[0] else 0
    state = new_flowlet_state(n_flows)
    return detect_flowlets_chunk_nb(
        ts_ns, flow_id, wire_len, np.int64(timeout_ns), np.int64(size_bytes), state
    )
