"""Twin of :mod:`snfkit.engine.mix_nb`: the splitmix64 finalizer on Python ints, and the seeded
word hash that the flow-key hash and the NF connection hash build on it."""

from __future__ import annotations

from collections.abc import Iterable

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
"""splitmix64's increment (2**64 / golden ratio)."""


def mix64(z: int) -> int:
    """Same value as :func:`snfkit.engine.mix_nb.mix64`, for an int in [0, 2**64)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def hash_words(seed: int, words: Iterable[int]) -> int:
    """``h = mix64(seed ^ GOLDEN)``, then ``h = mix64(h ^ (word + GOLDEN))`` for each word
    (arithmetic modulo 2**64): the hash of :func:`snfkit.engine.flowkeys_nb.hash_rows_nb` and
    :func:`snfkit.engine.nf_nb.connection_hash_nb`."""
    h = mix64((seed & MASK64) ^ GOLDEN)
    for w in words:
        h = mix64(h ^ (((w & MASK64) + GOLDEN) & MASK64))
    return h


def buckets(keys: Iterable[int], n: int, seed: int) -> list[int]:
    """Twin of :func:`snfkit.engine.mix_nb.buckets_nb`: each key's seeded hash modulo n."""
    return [hash_words(seed, [k]) % n for k in keys]
