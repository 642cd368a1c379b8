"""Bit mixing: the splitmix64 finalizer, shared by the flow-key hash, the NF connection hash and the
replica draw (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014);
and the index of a word's lowest set bit (for walking a slot bitmask)."""

from __future__ import annotations

import numba as nb
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
"""splitmix64's increment (2**64 / golden ratio)."""


@nb.njit(cache=True, inline="always")
def mix64(z):
    """Avalanche a uint64 (arithmetic wraps modulo 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_DEBRUIJN_MUL = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN = np.zeros(64, np.int64)
for _k in range(64):
    _DEBRUIJN[(((1 << _k) * 0x03F79D71B4CB0A89) & (2**64 - 1)) >> 58] = _k


@nb.njit(cache=True, inline="always")
def pop_low_bit(word):
    """``(index of the lowest set bit of word, word without it)`` for a nonzero uint64 word
    (de Bruijn multiplication: the isolated bit times the sequence puts a unique 6-bit pattern on
    top)."""
    low = word & (~word + np.uint64(1))
    return _DEBRUIJN[(low * _DEBRUIJN_MUL) >> np.uint64(58)], word ^ low


@nb.njit(cache=True, nogil=True, error_model="numpy")
def buckets_nb(keys, n, seed):
    """``hash_words(seed, [key]) % n`` for each int64 key (:func:`snfkit.reference.mix.hash_words`'s
    rule): a seeded, even split of keys into n buckets (flows among controllers)."""
    out = np.empty(keys.shape[0], np.int64)
    h0 = mix64(np.uint64(seed) ^ GOLDEN)
    for i in range(keys.shape[0]):
        h = mix64(h0 ^ (np.uint64(keys[i]) + GOLDEN))
        out[i] = np.int64(h % np.uint64(n))
    return out
