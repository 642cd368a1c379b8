"""Plain-Python twin of :mod:`snfkit.engine.split_nb`: a trace's rows and flows per controller."""

from __future__ import annotations


def group_rows(ctl, n_ctl: int) -> list[list[int]]:
    """Each controller's row indices, in trace order."""
    out: list[list[int]] = [[] for _ in range(n_ctl)]
    for i, k in enumerate(ctl):
        out[int(k)].append(i)
    return out


def local_flow_ids(flow, ctl, n_ctl: int) -> tuple[list[int], list[list[int]]]:
    """Each packet's flow id within its controller, and each controller's flows ascending (local id
    j of controller k is global flow ``ids[k][j]``)."""
    ids = []
    for k in range(n_ctl):
        ids.append(sorted({int(f) for f, c in zip(flow, ctl, strict=True) if c == k}))
    index = [{f: j for j, f in enumerate(mine)} for mine in ids]
    return [index[int(c)][int(f)] for f, c in zip(flow, ctl, strict=True)], ids


def scatter_rows(rows, part: dict, out: dict, unit_off: int, item_off: int) -> None:
    """Twin of :func:`snfkit.engine.split_nb.scatter_rows_nb` over dicts of lists: ``part``'s
    entries to rows ``rows`` of ``out``, units and items shifted."""
    shift = {"unit": unit_off, "item": item_off}
    for name, values in part.items():
        if name == "src_pkt" or not len(values):
            continue
        for j, i in enumerate(rows):
            out[name][i] = values[j] + shift.get(name, 0)
