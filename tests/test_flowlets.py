"""The numba flowlet detector against its plain-Python twin, whole and cut into chunks."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_helpers import random_trace

from snfkit.engine.flowlets_nb import (
    detect_flowlets_chunk_nb,
    detect_flowlets_nb,
    new_flowlet_state,
)
from snfkit.reference.flowlets import detect_flowlets


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 300), st.integers(1, 30),
       st.sampled_from([0, 1_000, 100_000, 10**12]), st.sampled_from([0, 1, 1_500, 15_000]),
       st.lists(st.integers(1, 299), max_size=4))  # fmt: skip
def test_detection_equals_twin_for_any_cut(seed, n, n_flows, timeout, size, cuts):
    packets = random_trace(seed, n, n_flows, 50_000.0)
    ts, flow, wl = (packets[c].to_numpy() for c in ("ts_ns", "flow_id", "wire_len"))
    want = detect_flowlets(ts, flow, wl, timeout, size)
    whole = detect_flowlets_nb(ts, flow, wl, timeout, size)
    for a, b in zip(whole, want, strict=True):
        np.testing.assert_array_equal(a, b)
    # chunks continue from the state: flowlet firsts shift by each chunk's offset
    state = new_flowlet_state(int(flow.max()) + 1)
    bounds = [0, *sorted({c for c in cuts if c < n}), n]
    parts = [detect_flowlets_chunk_nb(ts[a:b], flow[a:b], wl[a:b], np.int64(timeout),
                                      np.int64(size), state)
             for a, b in itertools.pairwise(bounds)]  # fmt: skip
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), want[0])
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), want[1])
    firsts = [p[2] + a for p, a in zip(parts, bounds, strict=False)]
    np.testing.assert_array_equal(np.concatenate(firsts), want[2])
    np.testing.assert_array_equal(np.concatenate([p[3] for p in parts]), want[3])
    assert state.n_flowlets[0] == len(want[1])
    # the per-packet reasons say the same as the flowlet list
    opens = np.flatnonzero(want[0] >= 0)
    np.testing.assert_array_equal(opens, want[2])
    np.testing.assert_array_equal(want[0][opens], want[3])
