"""Dense flow ids in first-seen order from packed 5-tuple keys, and a seeded hash of each key."""

from __future__ import annotations

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
