"""Plain-Python twin of :mod:`snfkit.engine.split_nb`: a trace's rows and flows per controller."""

from __future__ import annotations


def split_flows(flow, owner, n_ctl: int) -> list[tuple[list[int], list[int], list[int]]]:
    """Twin of :func:`snfkit.engine.split_nb.split_flows_nb`: for each controller, its rows in
    trace order, their flow ids within the controller, and its flows ascending (local id j is
    global flow ``ids[j]``)."""
    out = []
    for k in range(n_ctl):
        ids = [f for f in range(len(owner)) if owner[f] == k]
        local_of = {f: j for j, f in enumerate(ids)}
        rows = [i for i, f in enumerate(flow) if owner[int(f)] == k]
        out.append((rows, [local_of[int(flow[i])] for i in rows], ids))
    return out


def scatter_rows(rows, part: dict, out: dict, unit_off: int, item_off: int) -> None:
    """Twin of :func:`snfkit.engine.split_nb.scatter_rows_nb` over dicts of lists: ``part``'s
    entries to rows ``rows`` of ``out``, units and items shifted."""
    shift = {"unit": unit_off, "item": item_off}
    for name, values in part.items():
        if name == "src_pkt" or not len(values):
            continue
        for j, i in enumerate(rows):
            out[name][i] = values[j] + shift.get(name, 0)
