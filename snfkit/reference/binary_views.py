"""Twin of :mod:`snfkit.engine.binary_views_nb`."""

from __future__ import annotations

import numpy as np

VALUE_BYTES = 16


def binary16_views(words: np.ndarray, rows_per_buffer: int, views: np.ndarray) -> None:
    """Twin of :func:`snfkit.engine.binary_views_nb.binary16_views_nb`: one Arrow view per row,
    ``(length, prefix, buffer index, offset)``, written into ``views``."""
    for i, row in enumerate(words.tolist()):
        buffer, slot = divmod(i, rows_per_buffer)
        views[i] = (VALUE_BYTES, row[0], buffer, slot * VALUE_BYTES)
