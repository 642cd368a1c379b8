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


def factorize_flows(
    src: np.ndarray,
    dst: np.ndarray,
    src_port: np.ndarray,
    dst_port: np.ndarray,
    proto: np.ndarray,
    ids: np.ndarray,
) -> np.ndarray:
    """Twin of :func:`snfkit.engine.flowkeys_nb.factorize_flows_nb`: a dict keyed on the 5-tuple."""
    seen: dict[tuple[int, ...], int] = {}
    first_row: list[int] = []
    columns = (src.tolist(), dst.tolist(), src_port.tolist(), dst_port.tolist(), proto.tolist())
    for i, (s, d, sport, dport, p) in enumerate(zip(*columns, strict=True)):
        key = (*s, *d, sport, dport, p)
        if key not in seen:
            seen[key] = len(first_row)
            first_row.append(i)
        ids[i] = seen[key]
    return np.asarray(first_row, np.int64)


def hash_rows(keys: np.ndarray, seed: int) -> np.ndarray:
    """Twin of :func:`snfkit.engine.flowkeys_nb.hash_rows_nb`."""
    return np.array([hash_words(seed, row) for row in keys.tolist()], np.uint64)
