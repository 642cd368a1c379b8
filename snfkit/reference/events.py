"""Plain-Python twin of :mod:`snfkit.engine.events_nb`: the controller's timed events of a trace."""

from __future__ import annotations


def trace_events_reference(
    ts, flow, close_after: int, push_after: int
) -> list[tuple[int, int, int]]:
    """Every event the replay processes, as (time, kind, flow) in processing order.

    Packet j of a flow is followed by a close (kind 0) at ts[j] + close_after when the flow's next
    packet comes more than close_after later, and by a push (kind 1) at ts[j] + push_after likewise
    (an after < 0 disables that kind). With no next packet, the event counts only if it falls
    before the trace's last packet (later ones are never reached). Order: time, then kind, then
    packet."""
    ts = [int(x) for x in ts]
    flow = [int(x) for x in flow]
    if not ts:
        return []
    next_ts: dict[int, int | None] = {}
    following: list[int | None] = [None] * len(ts)
    for j in range(len(ts) - 1, -1, -1):
        following[j] = next_ts.get(flow[j])
        next_ts[flow[j]] = ts[j]
    events = []
    for j, t in enumerate(ts):
        for kind, after in ((0, close_after), (1, push_after)):
            if after < 0:
                continue
            nxt = following[j]
            real = nxt - t > after if nxt is not None else t + after < ts[-1]
            if real:
                events.append((t + after, kind, j, flow[j]))
    events.sort()
    return [(time, kind, f) for time, kind, _, f in events]
