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


def first_other_length(views: np.ndarray, length: int) -> int:
    """Twin of :func:`snfkit.engine.binary_views_nb.first_other_length_nb`."""
    lengths = [row[0] for row in views.tolist()]
    return next((i for i, n in enumerate(lengths) if n != length), -1)


def address_halves(views: np.ndarray, data: bytes) -> tuple[list[int], list[int]] | int:
    """Twin of :func:`snfkit.engine.binary_views_nb.address_halves_nb` (``data`` the buffer's
    bytes): the unsigned big-endian halves of each 16-byte value, or the first row whose view is
    not one at a multiple of 8 bytes inside buffer 0."""
    hi, lo = [], []
    whole = len(data) // 8 * 8  # the kernel reads whole words
    for i, (length, _prefix, buffer, offset) in enumerate(views.tolist()):
        if length != VALUE_BYTES or buffer != 0 or offset % 8 or offset + VALUE_BYTES > whole:
            return i
        value = bytes(data[offset : offset + VALUE_BYTES])
        hi.append(int.from_bytes(value[:8], "big"))
        lo.append(int.from_bytes(value[8:], "big"))
    return hi, lo
