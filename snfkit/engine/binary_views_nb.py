"""Arrow BinaryView descriptors for fixed 16-byte values (the packets table's addresses).

Polars stores a Binary column as Arrow "binary views": one 16-byte descriptor per value (its
length, its first 4 bytes, the index of the data buffer that holds it and its offset there) plus
data buffers. A value longer than 12 bytes lives in a data buffer, so the ``uint8[n, 16]`` address
rows the readers fill can *be* the data buffers, and a Binary column costs only these descriptors
(no copy of the addresses, no per-value allocation). :func:`address_halves_nb` reads such a
column back as two int64 halves per value (what the NFs take). Twin:
:mod:`snfkit.reference.binary_views`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

VALUE_BYTES = 16
"""Bytes per value (an address)."""

ROWS_PER_BUFFER = 1 << 27
"""Values per data buffer: a view's offset is an int32, so a buffer holds at most 2 GiB
(2**27 values of 16 bytes; the last offset, 2**31 - 16, fits)."""


@nb.njit(cache=True)
def binary16_views_nb(words, rows_per_buffer, views):
    """Fill ``views`` with the views of ``n`` 16-byte values stored back to back in data buffers
    of ``rows_per_buffer`` values each (value ``i`` in buffer ``i // rows_per_buffer``).

    ``words``: the values as uint32[n, 4] (the rows' bytes viewed as machine words; word 0 holds
    the first 4 bytes, the view's prefix). ``views``: uint32[n, 4], allocated by the caller (numpy
    asks the kernel for huge pages, numba's allocator does not: on a fresh 100 MB that was 16 ms
    against 55 ms here). Each row becomes length 16, prefix, buffer index,
    byte offset in the buffer (the Arrow layout; integers in native byte order, the prefix
    the bytes themselves).
    """
    n = words.shape[0]
    start = 0
    buffer = 0
    while start < n:  # buffer by buffer: no division per value
        stop = min(n, start + rows_per_buffer)
        offset = 0
        for i in range(start, stop):
            views[i, 0] = VALUE_BYTES
            views[i, 1] = words[i, 0]
            views[i, 2] = buffer
            views[i, 3] = offset
            offset += VALUE_BYTES
        start = stop
        buffer += 1


@nb.njit(cache=True, nogil=True)
def first_other_length_nb(views, length):
    """The first row of ``views`` (uint32[n, 4], the Arrow layout above) whose value is not
    ``length`` bytes long, or -1 (a check of a whole address column in one pass over its views,
    without building a column of lengths)."""
    for i in range(views.shape[0]):
        if views[i, 0] != length:
            return i
    return -1


@nb.njit(cache=True, inline="always")
def _big_endian(word):
    """A uint64 read from memory (little-endian) as the big-endian number its bytes spell."""
    m8, m16 = np.uint64(0x00FF00FF00FF00FF), np.uint64(0x0000FFFF0000FFFF)
    word = ((word & m8) << np.uint64(8)) | ((word >> np.uint64(8)) & m8)
    word = ((word & m16) << np.uint64(16)) | ((word >> np.uint64(16)) & m16)
    return (word << np.uint64(32)) | (word >> np.uint64(32))


@nb.njit(cache=True, nogil=True)
def address_halves_nb(views, data, hi, lo):
    """Each 16-byte value's big-endian halves, read through its view from the column's one data
    buffer: ``views`` uint32[n, 4] (the Arrow layout above), ``data`` the buffer as uint64 words,
    ``hi``/``lo`` uint64[n] filled (the caller views them as int64: the bits of each half).
    Returns -1, or the first row whose view is not a 16-byte value at a multiple of 8 bytes
    inside buffer 0 (the caller then reads the column another way)."""
    for i in range(views.shape[0]):
        at = np.int64(views[i, 3])
        word = at >> 3
        if views[i, 0] != VALUE_BYTES or views[i, 2] != 0 or at & 7 or word + 2 > data.shape[0]:
            return i
        hi[i] = _big_endian(data[word])
        lo[i] = _big_endian(data[word + 1])
    return -1
