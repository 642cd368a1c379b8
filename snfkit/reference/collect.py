"""Plain-Python twin of :mod:`snfkit.engine.collect_nb`: the same sums with numpy and dicts."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from snfkit import latency_hist
from snfkit.engine.collect_nb import ChunkAggregates, ItemStats, WaitStats


def collect_chunk_reference(
    ts, wire_len, unit, item, start, finish, wait_cause, state_wait, t0, epoch_ns, hist,
    items: ItemStats, waits: WaitStats,
) -> ChunkAggregates:  # fmt: skip
    latency = finish - ts
    latency_hist.add(hist, latency)
    for cause, wait in zip(wait_cause.tolist(), state_wait.tolist(), strict=True):
        waits.count[cause] += 1
        waits.ns[cause] += wait
    np.add.at(items.pkts, item, 1)
    np.add.at(items.bytes, item, wire_len)
    np.maximum.at(items.last, item, ts)
    np.maximum.at(items.end, item, finish)
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
    ep = sorted(e for e, b in offered.items() if b != 0)
    keys = sorted(k for k, v in cells.items() if v[0] != 0 or v[3] != 0)

    def col(values) -> np.ndarray:
        return np.asarray(list(values), np.int64)

    return ChunkAggregates(
        int(latency.sum()), int(latency.max()), col(ep), col(offered[e] for e in ep),
        col(k[0] for k in keys), col(k[1] for k in keys),
        *(col(cells[k][j] for k in keys) for j in range(4)),
    )  # fmt: skip
