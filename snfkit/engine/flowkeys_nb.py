"""Dense flow ids in first-seen order from 5-tuples (packed key rows, or the packets table's own
columns), and a seeded hash of each key."""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from snfkit.engine.mix_nb import GOLDEN, mix64

_EMPTY = -1


@nb.njit(cache=True, inline="always")
def _fold_word(h, x):
    # fold one key word into the hash, then the splitmix64 finalizer: good avalanche for packed keys
    return mix64(h ^ (x + GOLDEN + (h << np.uint64(6)) + (h >> np.uint64(2))))


@nb.njit(cache=True)
def _hash_row(keys, i):
    h = np.uint64(0)
    for j in range(keys.shape[1]):
        h = _fold_word(h, keys[i, j])
    return h


@nb.njit(cache=True)
def _same_row(keys, a, b):
    for j in range(keys.shape[1]):
        if keys[a, j] != keys[b, j]:
            return False
    return True


@nb.njit(cache=True)
def factorize_rows_nb(keys):
    """Give each distinct row of ``keys`` (uint64[n, w]) a dense id, in order of first appearance.

    Returns ``(ids int64[n], first_row int64[n_ids])``. Open addressing with linear probing; the
    table doubles when it is half full, so memory follows the number of distinct keys.
    """
    n = keys.shape[0]
    ids = np.empty(n, np.int64)
    first_row = np.empty(max(n, 1), np.int64)
    cap = 1 << 16
    slots = np.full(cap, _EMPTY, np.int64)  # slot -> id
    n_ids = 0
    for i in range(n):
        mask = np.uint64(cap - 1)
        s = _hash_row(keys, i) & mask
        while True:
            k = slots[s]
            if k == _EMPTY:
                slots[s] = n_ids
                first_row[n_ids] = i
                ids[i] = n_ids
                n_ids += 1
                break
            if _same_row(keys, first_row[k], i):
                ids[i] = k
                break
            s = (s + np.uint64(1)) & mask
        if 2 * n_ids > cap:
            cap *= 2
            mask = np.uint64(cap - 1)
            slots = np.full(cap, _EMPTY, np.int64)
            for k in range(n_ids):
                s = _hash_row(keys, first_row[k]) & mask
                while slots[s] != _EMPTY:
                    s = (s + np.uint64(1)) & mask
                slots[s] = k
    return ids, first_row[:n_ids].copy()


_PORT_SHIFT = np.uint64(24)
_DPORT_SHIFT = np.uint64(8)
_LOW32 = np.uint64(0xFFFFFFFF)
_HIGH = np.uint64(32)
# One odd multiplier per key word (splitmix64's, murmur3's and xxhash's constants): the five
# products are independent, so they run in parallel, and mix64 then avalanches their xor.
_M0 = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xC2B2AE3D27D4EB4F)
_M2 = np.uint64(0x165667B19E3779F9)
_M3 = np.uint64(0xD6E8FEB86659FD93)
_M4 = np.uint64(0xFF51AFD7ED558CCD)
MAX_FLOWS = 2**32 - 2
"""Most distinct 5-tuples :func:`factorize_flows_nb` numbers (a slot holds the id in 32 bits)."""


@nb.njit(cache=True, inline="always")
def _flow_hash(a0, a1, b0, b1, c):
    return mix64((a0 * _M0) ^ (a1 * _M1) ^ (b0 * _M2) ^ (b1 * _M3) ^ (c * _M4))


@nb.njit(cache=True)
def _grow_keys(keys, hashes, first_row, n_ids):
    """The distinct-key arrays with twice the room, their first ``n_ids`` entries kept. (Loops,
    not slice assignments: numba's array-to-array assignment brings its shape-mismatch error
    message, string formatting included, about 2 s of a first run's compile time.)"""
    cap = 2 * keys.shape[0]
    k2 = np.empty((cap, 5), np.uint64)
    h2 = np.empty(cap, np.uint64)
    f2 = np.empty(cap, np.int64)
    for k in range(n_ids):
        for j in range(5):
            k2[k, j] = keys[k, j]
        h2[k] = hashes[k]
        f2[k] = first_row[k]
    return k2, h2, f2


@nb.njit(cache=True)
def _slot_table(hashes, n_ids, cap):
    """A slot table of ``cap`` (a power of 2) slots holding ids ``0 .. n_ids - 1``: each slot is
    ``(hash >> 32) << 32 | (id + 1)``, 0 when empty; linear probing from ``hash & (cap - 1)``."""
    slots = np.zeros(cap, np.uint64)
    mask = np.uint64(cap - 1)
    for k in range(n_ids):
        h = hashes[k]
        s = h & mask
        while slots[s] != 0:
            s = (s + np.uint64(1)) & mask
        slots[s] = ((h >> _HIGH) << _HIGH) | np.uint64(k + 1)
    return slots


class FlowIndex(NamedTuple):
    """The 5-tuples numbered so far (:func:`number_flows_nb`; :func:`new_flow_index` makes an
    empty one): the distinct keys in id order, their hashes and first rows, and the slot table."""

    keys: np.ndarray  # uint64[room, 5]: the addresses' words, then ports and proto packed
    hashes: np.ndarray  # uint64[room]
    first_row: np.ndarray  # int64[room]: the row where each id first appeared
    slots: np.ndarray  # uint64[cap], cap a power of 2: (hash >> 32) << 32 | (id + 1), 0 empty
    count: np.ndarray  # int64[1]: the ids given so far
    recent: np.ndarray  # uint64[RECENT]: id + 1 of the last key seen with these low hash bits


RECENT = 1 << 15
"""Entries of :class:`FlowIndex`'s table of recent flows (256 KB: it stays in cache, the slot
table of millions of flows does not, and a trace's packets come from a few recent flows)."""


@nb.njit(cache=True)
def new_flow_index():
    """An empty :class:`FlowIndex` (from Python, or inside :func:`factorize_flows_nb`)."""
    room = 1 << 12
    return FlowIndex(
        np.empty((room, 5), np.uint64),
        np.empty(room, np.uint64),
        np.empty(room, np.int64),
        np.zeros(2 * room, np.uint64),
        np.zeros(1, np.int64),
        np.zeros(RECENT, np.uint64),
    )


@nb.njit(cache=True)
def factorize_flows_nb(src, dst, src_port, dst_port, proto, ids):
    """Write into ``ids`` (int64[n]) dense flow ids, in order of first appearance, of the 5-tuples
    ``(src[i], dst[i], src_port[i], dst_port[i], proto[i])``: the ids :func:`factorize_rows_nb`
    gives the :func:`snfkit.traces.table.flow_keys` rows, without building them.

    ``src`` and ``dst`` are the addresses as uint64[n, 2] (the 16 address bytes viewed as two
    machine words: only equality matters); ports uint16[n], proto uint8[n]. ``ids`` is the
    caller's (numpy allocates large arrays on huge pages, numba does not: see
    :mod:`snfkit.engine.binary_views_nb`). Returns ``first_row`` (int64[n_ids]). At most
    :data:`MAX_FLOWS` distinct 5-tuples. :func:`number_flows_nb` on a fresh index.
    """
    index = number_flows_nb(src, dst, src_port, dst_port, proto, ids, new_flow_index(), np.int64(0))
    return index.first_row[: index.count[0]].copy()


@nb.njit(cache=True, nogil=True)
def number_flows_nb(src, dst, src_port, dst_port, proto, ids, index, row0):
    """:func:`factorize_flows_nb` for the next rows of a table given in chunks: ids continue
    from those ``index`` (a :class:`FlowIndex`) holds, and a 5-tuple seen in an earlier chunk
    keeps its id, so the chunks together get the ids the whole table would. ``row0``: the
    chunk's first row in the table (for ``first_row``). Returns the index (new arrays when it
    grew; its ``count`` is updated in place).

    An open-addressing table whose slots hold the id and the high half of the key's hash (8 bytes
    each, so that a probe reads the distinct keys only on a likely match) doubles when half full;
    the distinct keys live in a compact array in id order. A small table of recent flows by the
    hash's low bits is tried first.
    """
    keys, hashes, first_row, slots = index.keys, index.hashes, index.first_row, index.slots
    recent = index.recent
    n = src.shape[0]
    cap = slots.shape[0]
    mask = np.uint64(cap - 1)
    n_ids = index.count[0]
    for i in range(n):
        a0 = src[i, 0]
        a1 = src[i, 1]
        b0 = dst[i, 0]
        b1 = dst[i, 1]
        c = (
            (np.uint64(src_port[i]) << _PORT_SHIFT)
            | (np.uint64(dst_port[i]) << _DPORT_SHIFT)
            | np.uint64(proto[i])
        )
        h = _flow_hash(a0, a1, b0, b1, c)
        r = h & np.uint64(RECENT - 1)
        k = np.int64(recent[r]) - 1
        if (
            k >= 0
            and keys[k, 0] == a0
            and keys[k, 1] == a1
            and keys[k, 2] == b0
            and keys[k, 3] == b1
            and keys[k, 4] == c
        ):
            ids[i] = k
            continue
        tag = h >> _HIGH
        s = h & mask
        while True:
            v = slots[s]
            if v == 0:
                if n_ids == MAX_FLOWS:
                    raise ValueError("more than 2**32 - 2 distinct 5-tuples")
                if n_ids == keys.shape[0]:
                    keys, hashes, first_row = _grow_keys(keys, hashes, first_row, n_ids)
                keys[n_ids, 0] = a0
                keys[n_ids, 1] = a1
                keys[n_ids, 2] = b0
                keys[n_ids, 3] = b1
                keys[n_ids, 4] = c
                hashes[n_ids] = h
                first_row[n_ids] = row0 + i
                slots[s] = (tag << _HIGH) | np.uint64(n_ids + 1)
                ids[i] = n_ids
                recent[r] = np.uint64(n_ids + 1)
                n_ids += 1
                if 2 * n_ids > cap:
                    cap *= 2
                    mask = np.uint64(cap - 1)
                    slots = _slot_table(hashes, n_ids, cap)
                break
            if v >> _HIGH == tag:
                k = np.int64(v & _LOW32) - 1
                if (
                    keys[k, 0] == a0
                    and keys[k, 1] == a1
                    and keys[k, 2] == b0
                    and keys[k, 3] == b1
                    and keys[k, 4] == c
                ):
                    ids[i] = k
                    recent[r] = np.uint64(k + 1)
                    break
            s = (s + np.uint64(1)) & mask
    index.count[0] = n_ids
    return FlowIndex(keys, hashes, first_row, slots, index.count, recent)


@nb.njit(cache=True)
def hash_rows_nb(keys, seed):
    """A seeded 64-bit hash of each row of ``keys`` (uint64[n, w]; seed a uint64): ``h =
    mix64(seed ^ GOLDEN)``, then ``h = mix64(h ^ (word + GOLDEN))`` for each word of the row (twin:
    :func:`snfkit.reference.mix.hash_words`). Returns uint64[n]."""
    out = np.empty(keys.shape[0], np.uint64)
    start = mix64(seed ^ GOLDEN)
    for i in range(keys.shape[0]):
        h = start
        for j in range(keys.shape[1]):
            h = mix64(h ^ (keys[i, j] + GOLDEN))
        out[i] = h
    return out
