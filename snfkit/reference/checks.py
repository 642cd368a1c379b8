"""Plain-Python twin of :mod:`snfkit.engine.checks_nb`."""

from __future__ import annotations

import numpy as np


def scan_columns_reference(
    ts: np.ndarray, flow: np.ndarray, wire_len: np.ndarray
) -> tuple[int, int, int, int]:
    back = np.flatnonzero(np.diff(ts) < 0)
    bad = np.flatnonzero((wire_len < 0) | (wire_len > 2**32 - 1))
    return ((int(back[0]) + 1 if back.size else -1), int(flow.min()), int(flow.max()),
            int(bad[0]) if bad.size else -1)  # fmt: skip
