"""Twin of :mod:`snfkit.engine.flowlets_nb`: flowlet detection written for clarity."""

from __future__ import annotations

import numpy as np


def detect_flowlets(ts_ns, flow_id, wire_len, timeout_ns, size_bytes):
    """``(open_reason, fl_flow, fl_first, fl_reason)`` as the numba kernel returns them, for a whole
    trace."""
    last_seen: dict[int, int] = {}
    open_bytes: dict[int, int] = {}
    current: dict[int, int] = {}
    open_reason, fl_flow, fl_first, fl_reason = [], [], [], []
    for i, (t, f, size) in enumerate(
        zip(ts_ns.tolist(), flow_id.tolist(), wire_len.tolist(), strict=True)
    ):
        if f not in current:
            reason = 0  # the flow's first packet
        elif t - last_seen[f] > timeout_ns:
            reason = 1  # idle longer than T
        elif size_bytes > 0 and open_bytes[f] + size > size_bytes:
            reason = 2  # flowlet would grow past B
        else:
            reason = None
        if reason is not None:
            current[f] = len(fl_flow)
            open_bytes[f] = 0
            fl_flow.append(f)
            fl_first.append(i)
            fl_reason.append(reason)
        open_bytes[f] += size
        last_seen[f] = t
        open_reason.append(-1 if reason is None else reason)
    return (
        np.asarray(open_reason, np.int8),
        np.asarray(fl_flow, np.int64),
        np.asarray(fl_first, np.int64),
        np.asarray(fl_reason, np.int8),
    )
