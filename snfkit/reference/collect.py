"""Plain-Python statement of the aggregates the replay kernel keeps (:mod:`snfkit.engine.collect_nb`),
computed from per-packet rows with numpy and dicts."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from snfkit import latency_hist
from snfkit.engine.enums import WaitCause


def collect_reference(ts, wire_len, unit, item, start, finish, wait_cause, state_wait,
                      epoch_ns) -> dict:  # fmt: skip
    """Aggregates of one whole replay's packets (arrays in arrival order; epochs from ts[0]).

    Returns a dict: ``hist`` (latency histogram), ``lat_sum``, ``lat_max``, ``waits`` (int64
    [2, 4]: packets and state-wait ns by wait cause), ``items`` ({item: (packets, bytes, last
    arrival, last finish)}), ``cells`` ({(epoch, unit): [packets, bytes, busy ns, processed
    bytes]}, packets and bytes by arrival epoch, the rest by service-start epoch) and ``offered``
    ({epoch: bytes arrived})."""
    latency = finish - ts
    hist = np.zeros(latency_hist.N_BUCKETS, np.int64)
    latency_hist.add(hist, latency)
    waits = np.zeros((2, len(WaitCause)), np.int64)
    for cause, wait in zip(wait_cause.tolist(), state_wait.tolist(), strict=True):
        waits[0, cause] += 1
        waits[1, cause] += wait
    items: dict[int, tuple[int, int, int, int]] = {}
    for k, t, size, f in zip(item.tolist(), ts.tolist(), wire_len.tolist(), finish.tolist(),
                             strict=True):  # fmt: skip
        p, b, last, end = items.get(k, (0, 0, t, f))
        items[k] = (p + 1, b + size, max(last, t), max(end, f))
    t0 = int(ts[0]) if ts.size else 0
    offered: dict[int, int] = defaultdict(int)
    cells: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for t, size, u, s, f in zip(ts.tolist(), wire_len.tolist(), unit.tolist(), start.tolist(),
                                finish.tolist(), strict=True):  # fmt: skip
        ea, es = (t - t0) // epoch_ns, (s - t0) // epoch_ns
        offered[ea] += size
        cells[ea, u][0] += 1
        cells[ea, u][1] += size
        cells[es, u][2] += f - s
        cells[es, u][3] += size
    return {
        "hist": hist,
        "lat_sum": int(latency.sum()),
        "lat_max": int(latency.max()) if latency.size else 0,
        "waits": waits,
        "items": items,
        "cells": dict(cells),
        "offered": dict(offered),
    }


def exact_percentiles_reference(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Twin of :func:`snfkit.engine.collect_nb.exact_percentiles`: the ranked values, sorting."""
    return np.sort(values)[ranks]


def item_counts_reference(moved, reason, source, n_reasons: int, n_sources: int) -> np.ndarray:
    """Twin of :func:`snfkit.engine.collect_nb.item_counts_nb`: items by (moved, reason, source)."""
    counts = np.zeros((2, n_reasons, n_sources), np.int64)
    for m, r, s in zip(moved.tolist(), reason.tolist(), source.tolist(), strict=True):
        counts[int(m), r, s] += 1
    return counts
