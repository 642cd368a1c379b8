"""The controller's timed events, computed from the trace before the replay.

An item closes once its flow has been idle ``close_after_ns``, and in proactive mode a flow's state
is pushed once it has been idle ``push_after_ns`` (:mod:`snfkit.engine.replay_nb`). Both depend only
on the gaps between a flow's consecutive packets: packet j of flow f is followed by an event of kind
k at ``ts[j] + after_k`` exactly when the flow's next packet comes more than ``after_k`` later (or
never comes). So the events are known before the replay, and the kernel walks one sorted array of
them with a cursor instead of keeping timer queues.

Order: by time; at equal times closes before pushes, then packet order. An event at time e is
processed before the first packet whose time is > e; events after the last packet are not.

Chunks. For packet j whose flow has no later packet in the chunk, the event is *pending* unless its
time is before the chunk's last packet (the flow's next packet, in a later chunk, comes no earlier
than that, so the event is real). Pending events are carried to the next chunk and resolved there.
So each chunk's event list holds exactly the events the kernel processes in that chunk, in order,
and the lists do not depend on how the trace is cut.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

CLOSE, PUSH = 0, 1  # event kinds; the low bit of an event code (code = flow << 1 | kind)


class PendingEvents(NamedTuple):
    """Events of each flow's last packet whose fate depends on later chunks, in packet order."""

    ts: np.ndarray  # int64: the packet's time
    flow: np.ndarray  # int64
    kinds: np.ndarray  # int8: bit k set when the event of kind k is still undecided


def no_pending() -> PendingEvents:
    return PendingEvents(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8))


@nb.njit(cache=True)
def _merge(c_time, c_flow, p_time, p_flow):
    """Merge the close and push lists (each sorted) into (time, code); closes first at ties."""
    nc = c_time.shape[0]
    npu = p_time.shape[0]
    time = np.empty(nc + npu, np.int64)
    code = np.empty(nc + npu, np.int64)
    a = 0
    b = 0
    for k in range(nc + npu):
        if b >= npu or (a < nc and c_time[a] <= p_time[b]):
            time[k] = c_time[a]
            code[k] = c_flow[a] << 1
            a += 1
        else:
            time[k] = p_time[b]
            code[k] = (p_flow[b] << 1) | 1
            b += 1
    return time, code


@nb.njit(cache=True)
def _count_bits(bits, counts):
    """Add to counts[k] the entries of ``bits`` (int8) with bit k set, k = 0, 1."""
    for i in range(bits.shape[0]):
        b = bits[i]
        counts[0] += b & 1
        counts[1] += (b >> 1) & 1


@nb.njit(cache=True)
def _split_part(bits, ts, flow, after, t0, f0, t1, f1, m):
    """Append ``(ts + after[k], flow)`` of the entries with bit k of ``bits`` set to (t_k, f_k) from
    m[k] on (k = 0, 1), in order; advances m."""
    a0, a1 = after
    for i in range(bits.shape[0]):
        b = bits[i]
        if b == 0:
            continue
        if b & 1:
            t0[m[0]] = ts[i] + a0
            f0[m[0]] = flow[i]
            m[0] += 1
        if b & 2:
            t1[m[1]] = ts[i] + a1
            f1[m[1]] = flow[i]
            m[1] += 1


@nb.njit(cache=True)
def _split(old_bits, old_ts, old_flow, new_bits, new_ts, new_flow, after):
    """Per kind k = 0, 1: ``(ts + after[k], flow)`` of the old entries with bit k set, then of the
    new ones, in order; returns (time0, flow0, time1, flow1)."""
    m = np.zeros(2, np.int64)
    _count_bits(old_bits, m)
    _count_bits(new_bits, m)
    t0 = np.empty(m[0], np.int64)
    f0 = np.empty(m[0], np.int64)
    t1 = np.empty(m[1], np.int64)
    f1 = np.empty(m[1], np.int64)
    m[:] = 0
    _split_part(old_bits, old_ts, old_flow, after, t0, f0, t1, f1, m)
    _split_part(new_bits, new_ts, new_flow, after, t0, f0, t1, f1, m)
    return t0, f0, t1, f1


@nb.njit(cache=True)
def _copy_open(bits, ts, flow, out_ts, out_flow, out_kinds, m):
    """Copy the entries with bits left to the outputs from m on, in order; returns the new m."""
    for i in range(bits.shape[0]):
        if bits[i]:
            out_ts[m] = ts[i]
            out_flow[m] = flow[i]
            out_kinds[m] = bits[i]
            m += 1
    return m


@nb.njit(cache=True)
def _pending(old_bits, old_ts, old_flow, new_bits, new_ts, new_flow):
    """The entries still pending: old ones with bits left, then new ones, in order ->
    (ts, flow, kinds)."""
    m = np.count_nonzero(old_bits) + np.count_nonzero(new_bits)
    out_ts = np.empty(m, np.int64)
    out_flow = np.empty(m, np.int64)
    out_kinds = np.empty(m, np.int8)
    m = _copy_open(old_bits, old_ts, old_flow, out_ts, out_flow, out_kinds, 0)
    _copy_open(new_bits, new_ts, new_flow, out_ts, out_flow, out_kinds, m)
    return out_ts, out_flow, out_kinds


@nb.njit(cache=True)
def events_chunk_nb(ts, flow, n_flows, close_after, push_after, pend_ts, pend_flow, pend_kinds):
    """Events to process while replaying this chunk, given the events pending from earlier chunks.

    ``push_after < 0`` disables pushes. Returns ``(time, code, pend_ts, pend_flow, pend_kinds)``:
    the chunk's events (sorted as the module docstring says; ``code = flow << 1 | kind``) and the
    events still pending after it.
    """
    n = ts.shape[0]
    if close_after < 0 and push_after < 0:  # no events at all (packet mode)
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), pend_ts[:0], pend_flow[:0],
                pend_kinds[:0])  # fmt: skip
    if (n > 0 and flow.max() >= n_flows) or (pend_flow.shape[0] > 0 and pend_flow.max() >= n_flows):
        raise ValueError("events_chunk_nb: a flow id is >= n_flows")
    after = (close_after, push_after)
    use = (close_after >= 0, push_after >= 0)
    flags = np.zeros(n, np.int8)  # bit k: packet i is followed by a real event of kind k
    last = np.full(n_flows, -1, np.int64)  # the flow's latest packet in this chunk
    pidx = np.full(n_flows, -1, np.int64)  # the flow's pending entry from earlier chunks
    n_old = pend_ts.shape[0]
    real_old = np.zeros(n_old, np.int8)
    open_old = pend_kinds.copy()  # bits not decided yet
    for k in range(n_old):
        pidx[pend_flow[k]] = k
    seen = np.empty(n, np.int64)  # the chunk's flows, in order of their first packet here
    n_seen = 0
    for i in range(n):
        f = flow[i]
        j = last[f]
        if j >= 0:
            gap = ts[i] - ts[j]
            bits = 0
            for kind in range(2):
                if use[kind] and gap > after[kind]:
                    bits |= 1 << kind
            flags[j] = bits
        else:
            seen[n_seen] = f
            n_seen += 1
        if j < 0 and pidx[f] >= 0:
            k = pidx[f]
            gap = ts[i] - pend_ts[k]
            for kind in range(2):
                if open_old[k] & (1 << kind) and gap > after[kind]:
                    real_old[k] |= 1 << kind
            open_old[k] = 0
            pidx[f] = -1
        last[f] = i
    ts_last = ts[n - 1] if n > 0 else np.int64(-(2**62))
    # pending entries whose flow did not come back: real once the chunk has passed their time
    for k in range(n_old):
        for kind in range(2):
            bit = 1 << kind
            if open_old[k] & bit and pend_ts[k] + after[kind] < ts_last:
                real_old[k] |= bit
                open_old[k] &= ~bit
    # each flow's last packet in the chunk: real if before the chunk's end, else pending (walked
    # by flow; new_open is indexed by packet, so what is read from it stays in packet order)
    new_open = np.zeros(n, np.int8)
    for s in range(n_seen):
        i = last[seen[s]]
        for kind in range(2):
            if use[kind]:
                if ts[i] + after[kind] < ts_last:
                    flags[i] |= 1 << kind
                else:
                    new_open[i] |= 1 << kind
    out_ts, out_flow, out_kinds = _pending(open_old, pend_ts, pend_flow, new_open, ts, flow)
    # per kind: pending-from-before events first (older packets), then this chunk's, packet order
    c_time, c_flow, p_time, p_flow = _split(real_old, pend_ts, pend_flow, flags, ts, flow, after)
    time, code = _merge(c_time, c_flow, p_time, p_flow)
    return time, code, out_ts, out_flow, out_kinds


def trace_events(ts, flow, close_after: int, push_after: int) -> tuple[np.ndarray, np.ndarray]:
    """All events of a whole trace (one chunk, nothing pending before): ``(time, code)``."""
    n_flows = int(flow.max()) + 1 if flow.shape[0] else 0
    p = no_pending()
    time, code, *_ = events_chunk_nb(
        ts, flow, n_flows, np.int64(close_after), np.int64(push_after), p.ts, p.flow, p.kinds
    )
    return time, code
