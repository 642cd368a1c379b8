"""splitmix64: the one numba version (snfkit.engine.mix_nb) against its one plain-Python twin
(snfkit.reference.mix), and the hashes and the replica-draw stream built on them."""

from __future__ import annotations

import numba as nb
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from snfkit.engine.flowkeys_nb import factorize_rows_nb, hash_rows_nb
from snfkit.engine.mix_nb import GOLDEN, mix64
from snfkit.engine.nf_nb import PacketFields, connection_hash_nb
from snfkit.engine.state_nb import uniform
from snfkit.reference import mix
from snfkit.reference.flowkeys import factorize_rows, hash_rows
from snfkit.reference.nf import connection_hash
from snfkit.reference.replay import SplitMix64

u64 = st.integers(0, 2**64 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)


def test_first_outputs_of_seed_zero_are_the_published_ones():
    # splitmix64 seeded with 0 (Vigna's splitmix64.c): the first two outputs of next()
    want = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]
    state, got = 0, []
    for _ in want:
        state = (state + mix.GOLDEN) & mix.MASK64
        got.append(mix.mix64(state))
    assert got == want
    assert int(GOLDEN) == mix.GOLDEN


@settings(max_examples=300, deadline=None)
@given(u64)
def test_mix64_kernel_equals_twin(z):
    assert int(mix64(np.uint64(z))) == mix.mix64(z)


@nb.njit
def _draws(c, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(c[0])
    return out


@settings(max_examples=50, deadline=None)
@given(u64, st.integers(1, 20))
def test_replica_draw_stream_equals_twin(seed, n):
    twin = SplitMix64(seed)
    c = np.full(1, seed, np.dtype([("rng", np.uint64)]))
    assert _draws(c, n).tolist() == [twin.uniform() for _ in range(n)]


@settings(max_examples=100, deadline=None)
@given(arrays(np.uint64, st.tuples(st.integers(0, 30), st.integers(1, 6))), u64)
def test_hash_rows_kernel_equals_twin(keys, seed):
    assert np.array_equal(hash_rows_nb(keys, np.uint64(seed)), hash_rows(keys, seed))


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.uint64, st.tuples(st.integers(0, 200), st.integers(1, 5)), elements=st.integers(0, 3))
)
def test_factorize_rows_kernel_equals_twin(keys):
    ids, first = factorize_rows_nb(keys)
    want_ids, want_first = factorize_rows(keys)
    assert np.array_equal(ids, want_ids) and np.array_equal(first, want_first)


packet_fields = st.builds(
    PacketFields,
    st.just(0),
    i64,
    i64,
    i64,
    i64,
    st.integers(0, 65535),
    st.integers(0, 65535),
    st.integers(0, 255),
    st.just(64),
    st.integers(0, 1),
    st.just(0),
    st.just(0),
)


@settings(max_examples=200, deadline=None)
@given(packet_fields, i64)
def test_connection_hash_kernel_equals_twin(pkt, seed):
    assert int(connection_hash_nb(pkt, seed)) == connection_hash(pkt, seed)
