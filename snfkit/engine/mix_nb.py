"""The splitmix64 finalizer, shared by the flow-key hash, the NF connection hash and the replica
draw (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014)."""

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
