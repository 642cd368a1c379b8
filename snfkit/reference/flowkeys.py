"""Twins of :mod:`snfkit.engine.flowkeys_nb`."""

from __future__ import annotations

import numpy as np

from snfkit.reference.mix import hash_words


def factorize_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`snfkit.engine.flowkeys_nb.factorize_rows_nb`."""
    seen: dict[tuple[int, ...], int] = {}
    ids = np.empty(keys.shape[0], np.int64)
    first_row: list[int] = []
    for i, row in enumerate(keys.tolist()):
        key = tuple(row)
        if key not in seen:
            seen[key] = len(first_row)
            first_row.append(i)
        ids[i] = seen[key]
    return ids, np.asarray(first_row, np.int64)


def hash_rows(keys: np.ndarray, seed: int) -> np.ndarray:
    """Twin of :func:`snfkit.engine.flowkeys_nb.hash_rows_nb`."""
    return np.array([hash_words(seed, row) for row in keys.tolist()], np.uint64)
