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

from snfkit.engine._jit import kernel_input
from snfkit.memory import POOL

CLOSE, PUSH = 0, 1  # event kinds; the low bit of an event code (code = flow << 1 | kind)


class PendingEvents(NamedTuple):
    """Events of each flow's last packet whose fate depends on later chunks, in packet order."""

    ts: np.ndarray  # int64: the packet's time
    flow: np.ndarray  # int64
    kinds: np.ndarray  # int8: bit k set when the event of kind k is still undecided


def no_pending() -> PendingEvents:
    return PendingEvents(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8))


class EventScratch(NamedTuple):
    """Work buffers of :func:`events_chunk_nb`, reused from chunk to chunk (fresh memory is slow
    to touch). ``last`` and ``pidx`` are all -1 between calls; the rest is overwritten."""

    flags: np.ndarray  # int8[cap]: bit k: packet i is followed by a real event of kind k
    new_open: np.ndarray  # int8[cap]: bit k: packet i's event of kind k is still undecided
    seen: np.ndarray  # int64[cap]: the chunk's flows, in order of their first packet here
    last: np.ndarray  # int64[F, 2]: the flow's latest packet in the chunk and its time
    pidx: np.ndarray  # int64[F]: the flow's pending entry from earlier chunks
    kind_time: np.ndarray  # int64[2, cap + 1]: per kind, the event times in order
    kind_flow: np.ndarray  # int64[2, cap + 1]: and their flows
    time: np.ndarray  # int64[2 * cap]: the merged list
    code: np.ndarray  # int64[2 * cap]


def event_scratch(cap: int, n_flows: int, have: EventScratch | None = None) -> EventScratch:
    """Buffers for chunks of up to ``cap`` packets plus pending entries, and flow ids below
    ``n_flows``: ``have`` if it is big enough, else one whose too small side is new (at least
    twice the old size; the per-packet buffers are kept when only the flows outgrow theirs, and
    the other way round, so a stream whose flow ids keep growing does not double both)."""
    if have is not None and have.flags.shape[0] >= cap and have.pidx.shape[0] >= n_flows:
        return have
    grow = {"packets": True, "flows": True}
    if have is not None:
        grow = {"packets": have.flags.shape[0] < cap, "flows": have.pidx.shape[0] < n_flows}
        cap = max(cap, 2 * have.flags.shape[0]) if grow["packets"] else have.flags.shape[0]
        n_flows = max(n_flows, 2 * have.pidx.shape[0]) if grow["flows"] else have.pidx.shape[0]
    # big buffers from the memory pool, each tagged with its field: a later replay reuses the
    # same buffer for the same field, whose pages it has written (the lists are written in part)
    shapes = {
        "flags": (cap, np.int8, 0),
        "new_open": (cap, np.int8, 0),
        "seen": (cap, np.int64, None),
        "last": ((n_flows, 2), np.int64, -1),
        "pidx": (n_flows, np.int64, -1),
        "kind_time": ((2, cap + 1), np.int64, None),
        "kind_flow": ((2, cap + 1), np.int64, None),
        "time": (2 * cap, np.int64, None),
        "code": (2 * cap, np.int64, None),
    }
    fields = {}
    for name, (shape, dt, fill) in shapes.items():
        side = "flows" if name in ("last", "pidx") else "packets"
        if not grow[side]:
            fields[name] = getattr(have, name)
        elif fill is None:
            fields[name] = POOL.empty(shape, dt, tag=f"events.{name}")
        else:
            fields[name] = POOL.full(shape, fill, dt, tag=f"events.{name}")
    return EventScratch(**fields)


NEVER = np.int64(2**63 - 1)
"""After every event (ends the per-kind lists for the merge)."""


@nb.njit(cache=True)
def _merge(kt, kf, m, time, code):
    """Merge the close and push lists (kind k: ``kt[k, :m[k]]``, sorted, ``NEVER`` at m[k]) into
    (time, code); closes first at ties. Branch-free: both heads are read, one is taken."""
    for k in range(2):
        if m[1 - k] == 0:  # one list only (pushes off): copied
            for e in range(m[k]):
                time[e] = kt[k, e]
                code[e] = (kf[k, e] << 1) | k
            return m[k]
    a = 0
    b = 0
    for k in range(m[0] + m[1]):
        ct = kt[0, a]
        pt = kt[1, b]
        take = ct <= pt
        time[k] = ct if take else pt
        code[k] = (kf[0, a] << 1) if take else ((kf[1, b] << 1) | 1)
        a += take
        b += 1 - take
    return m[0] + m[1]


@nb.njit(cache=True)
def _split_part(bits, ts, flow, after, kt, kf, m):
    """Append ``(ts + after[k], flow)`` of the entries with bit k of ``bits`` set to kind k's list
    from m[k] on (k = 0, 1), in order; advances m. Branch-free: every entry is written at both
    lists' ends, which advance by its bits (each list has a spare slot)."""
    a0, a1 = after
    m0, m1 = m[0], m[1]
    for i in range(bits.shape[0]):
        b = bits[i]
        t = ts[i]
        f = flow[i]
        kt[0, m0] = t + a0
        kf[0, m0] = f
        m0 += b & 1
        kt[1, m1] = t + a1
        kf[1, m1] = f
        m1 += (b >> 1) & 1
    m[0], m[1] = m0, m1


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
    m = _copy_open(old_bits, old_ts, old_flow, out_ts, out_flow, out_kinds, np.int64(0))
    _copy_open(new_bits, new_ts, new_flow, out_ts, out_flow, out_kinds, m)
    return out_ts, out_flow, out_kinds


@nb.njit(cache=True)
def _restore(last, seen, n_seen, pidx, pend_flow):
    """Put the per-flow buffers back to -1 (what a call that stops early has written)."""
    for s in range(n_seen):
        last[seen[s], 0] = -1
        last[seen[s], 1] = -1
    for k in range(pend_flow.shape[0]):
        pidx[pend_flow[k]] = -1


@nb.njit(cache=True, nogil=True)
def events_chunk_nb(ts, flow, close_after, push_after, pend_ts, pend_flow, pend_kinds, scratch):
    """Events to process while replaying this chunk, given the events pending from earlier chunks.

    ``push_after < 0`` disables pushes. ``scratch`` (:func:`event_scratch`) must hold the chunk
    and the pending entries and cover every flow id. Returns ``(time, code, pend_ts, pend_flow,
    pend_kinds)``: the chunk's events (sorted as the module docstring says; ``code = flow << 1 |
    kind``; views of ``scratch``, valid until its next use) and the events still pending after it.
    """
    n = ts.shape[0]
    n_old = pend_ts.shape[0]
    if close_after < 0 and push_after < 0:  # no events at all (packet mode)
        return scratch.time[:0], scratch.code[:0], pend_ts[:0], pend_flow[:0], pend_kinds[:0]
    n_flows = scratch.pidx.shape[0]
    if n_old > 0 and (pend_flow.max() >= n_flows or pend_flow.min() < 0):
        raise ValueError("events_chunk_nb: a flow id is < 0 or >= n_flows")
    if n + n_old > scratch.flags.shape[0]:
        raise ValueError("events_chunk_nb: the scratch buffers are too small")
    after = (close_after, push_after)
    use = (close_after >= 0, push_after >= 0)
    # a gap above these sets bit 0 / bit 1 (a kind not in use: never)
    gap0 = close_after if use[0] else NEVER
    gap1 = push_after if use[1] else NEVER
    flags = scratch.flags[:n]
    flags[:] = 0
    new_open = scratch.new_open[:n]
    new_open[:] = 0
    last = scratch.last
    pidx = scratch.pidx
    seen = scratch.seen
    real_old = np.zeros(n_old, np.int8)
    open_old = pend_kinds.copy()  # bits not decided yet
    for k in range(n_old):
        pidx[pend_flow[k]] = k
    n_seen = np.int64(0)  # (an int64, not a literal: snfkit.engine._jit)
    for i in range(n):
        f = flow[i]
        if f < 0 or f >= n_flows:  # (checked here, before any write, rather than in a pass)
            _restore(last, seen, n_seen, pidx, pend_flow)
            raise ValueError("events_chunk_nb: a flow id is < 0 or >= n_flows")
        t = ts[i]
        j = last[f, 0]
        if j >= 0:
            gap = t - last[f, 1]
            flags[j] = np.int8(gap > gap0) | (np.int8(gap > gap1) << 1)
        else:
            seen[n_seen] = f
            n_seen += 1
            k = pidx[f]
            if k >= 0:  # the flow's pending entry is decided by this packet
                gap = t - pend_ts[k]
                for kind in range(2):
                    if open_old[k] & (1 << kind) and gap > after[kind]:
                        real_old[k] |= 1 << kind
                open_old[k] = 0
        last[f, 0] = i
        last[f, 1] = t
    ts_last = ts[n - 1] if n > 0 else np.int64(-(2**62))
    # pending entries whose flow did not come back: real once the chunk has passed their time
    for k in range(n_old):
        pidx[pend_flow[k]] = -1
        for kind in range(2):
            bit = 1 << kind
            if open_old[k] & bit and pend_ts[k] + after[kind] < ts_last:
                real_old[k] |= bit
                open_old[k] &= ~bit
    # each flow's last packet in the chunk: real if before the chunk's end, else pending (walked
    # by flow; new_open is indexed by packet, so what is read from it stays in packet order)
    for s in range(n_seen):
        f = seen[s]
        i = last[f, 0]
        last[f, 0] = -1
        last[f, 1] = -1
        for kind in range(2):
            if use[kind]:
                if ts[i] + after[kind] < ts_last:
                    flags[i] |= 1 << kind
                else:
                    new_open[i] |= 1 << kind
    out_ts, out_flow, out_kinds = _pending(open_old, pend_ts, pend_flow, new_open, ts, flow)
    # per kind: pending-from-before events first (older packets), then this chunk's, packet order
    kt, kf = scratch.kind_time, scratch.kind_flow
    m = np.zeros(2, np.int64)
    _split_part(real_old, pend_ts, pend_flow, after, kt, kf, m)
    _split_part(flags, ts, flow, after, kt, kf, m)
    kt[0, m[0]] = NEVER
    kt[1, m[1]] = NEVER
    total = _merge(kt, kf, m, scratch.time, scratch.code)
    return scratch.time[:total], scratch.code[:total], out_ts, out_flow, out_kinds


def events_chunk(ts, flow, close_after: int, push_after: int, pending: PendingEvents,
                 scratch: EventScratch) -> tuple[np.ndarray, np.ndarray, PendingEvents]:  # fmt: skip
    """:func:`events_chunk_nb` with the pending events as a :class:`PendingEvents`: returns
    ``(time, code, pending after the chunk)``. The times and flow ids, the chunk's and the
    pending ones, go to the kernel read-only (one compiled version: :func:`kernel_input`)."""
    time, code, *rest = events_chunk_nb(
        kernel_input(ts),
        kernel_input(flow),
        np.int64(close_after),
        np.int64(push_after),
        kernel_input(pending.ts),
        kernel_input(pending.flow),
        pending.kinds,
        scratch,
    )
    return time, code, PendingEvents(*rest)


def trace_events(ts, flow, close_after: int, push_after: int) -> tuple[np.ndarray, np.ndarray]:
    """All events of a whole trace (one chunk, nothing pending before): ``(time, code)``."""
    n_flows = int(flow.max()) + 1 if flow.shape[0] else 0
    time, code, _ = events_chunk(ts, flow, close_after, push_after, no_pending(),
                                 event_scratch(ts.shape[0], n_flows))  # fmt: skip
    return time.copy(), code.copy()
