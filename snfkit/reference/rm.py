"""Plain-Python twin of :func:`snfkit.engine.pool_nb.pack_leases_nb`: the resource manager packing
every controller's leases onto shared units (paper §7), written for reading; tests require the same
outputs on random inputs."""

from __future__ import annotations

ONE = 1000  # a whole unit, in thousandths


def pack_leases(start, retire, share, rtt_ns, startup_ns, idle_ns, prestart_utilization):
    """(unit of each lease, unit rows (rm_unit, start, ready, retire, peak_share, leases), late
    grants). See the kernel's docstring for the rules."""
    n = len(start)
    # by time; at one time: releases, then grants, then releases of leases held for no time
    events = [(int(retire[k]), 2 if retire[k] == start[k] else 0, k, k) for k in range(n)]
    events += [(int(start[k]), 1, k, k) for k in range(n)]
    events.sort()
    running: dict[int, dict] = {}  # unit ID -> {"leased", "empty_since", "row"}
    rows: list[list[int]] = []
    unit_of = [-1] * n
    late = 0

    def retire_idle(t: int) -> None:
        for u in sorted(running):
            r = running[u]
            if r["leased"] == 0 and r["empty_since"] + idle_ns <= t:
                rows[r["row"]][3] = r["empty_since"] + idle_ns
                del running[u]

    def open_unit(t: int) -> int:
        u = min(set(range(len(running) + 1)) - set(running))  # the lowest free ID
        running[u] = {"leased": 0, "empty_since": t, "row": len(rows)}
        rows.append([u, t, t + startup_ns, -1, 0, 0])
        return u

    for t, kind, _, k in events:
        retire_idle(t)
        if kind != 1:  # a release
            r = running[unit_of[k]]
            r["leased"] -= int(share[k])
            if r["leased"] == 0:
                r["empty_since"] = t
            continue
        fits = [u for u in sorted(running) if running[u]["leased"] + share[k] <= ONE]
        u = max(fits, key=lambda v: (running[v]["leased"], -v)) if fits else open_unit(t)
        row = rows[running[u]["row"]]
        if row[2] > t + rtt_ns:
            late += 1
        running[u]["leased"] += int(share[k])
        unit_of[k] = u
        row[5] += 1
        row[4] = max(row[4], running[u]["leased"])
        if all(r["leased"] > prestart_utilization * ONE for r in running.values()):
            open_unit(t)
    for r in running.values():
        rows[r["row"]][3] = r["empty_since"] + idle_ns
    return unit_of, rows, late
