"""The numba per-chunk aggregation against its plain-Python twin, and the histogram bucket rule."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snfkit import latency_hist
from snfkit.engine.collect_nb import ItemStats, WaitStats, collect_chunk_nb, hist_bucket
from snfkit.reference.collect import collect_chunk_reference


@st.composite
def chunks(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(1, 300))
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(0, draw(st.sampled_from([10, 10_000, 40_000_000])), n))
    ts = ts.astype(np.int64) + draw(st.integers(0, 10**9))
    wait = rng.integers(0, draw(st.sampled_from([1, 1_000, 300_000_000])), n)
    start = ts + wait
    finish = start + rng.integers(1, 20_000, n)
    unit = rng.integers(0, draw(st.integers(1, 12)), n).astype(np.int32)
    n_items = draw(st.integers(1, 40))
    item = rng.integers(0, n_items, n).astype(np.int64)
    wl = rng.choice([64, 576, 1500], n).astype(np.int64)
    t0 = int(ts[0]) - draw(st.integers(0, 10**8))
    epoch = draw(st.sampled_from([1_000, 100_000_000]))
    cause = rng.integers(0, 4, n).astype(np.int8)
    state_wait = np.where(cause > 0, rng.integers(0, 50_000, n), 0).astype(np.int64)
    return ts, wl, unit, item, start, finish, cause, state_wait, t0, epoch, n_items


def _fresh(n_items):
    return (
        np.zeros(latency_hist.N_BUCKETS, np.int64),
        ItemStats(*(np.zeros(n_items + 3, np.int64) for _ in range(4))),
        WaitStats(np.zeros(4, np.int64), np.zeros(4, np.int64)),
    )


@settings(max_examples=120, deadline=None)
@given(chunks())
def test_collect_matches_twin(case):
    ts, wl, unit, item, start, finish, cause, wait, t0, epoch, n_items = case
    h1, i1, w1 = _fresh(n_items)
    h2, i2, w2 = _fresh(n_items)
    got = collect_chunk_nb(ts, wl, unit, item, start, finish, cause, wait, np.int64(t0),
                           np.int64(epoch), h1, i1, w1)  # fmt: skip
    ref = collect_chunk_reference(ts, wl, unit, item, start, finish, cause, wait, t0, epoch, h2,
                                  i2, w2)  # fmt: skip
    assert int(got.lat_sum) == ref.lat_sum and int(got.lat_max) == ref.lat_max
    for a, b in zip(got[2:], ref[2:], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(h1, h2)
    for a, b in zip((*i1, *w1), (*i2, *w2), strict=True):
        np.testing.assert_array_equal(a, b)
    assert w1.count.sum() == ts.size and w1.ns.sum() == wait.sum()
    # every packet and byte lands in exactly one cell per view
    assert got.eu_packets.sum() == ts.size and got.eu_bytes.sum() == wl.sum()
    assert got.eu_processed_bytes.sum() == wl.sum() == got.ep_offered_bytes.sum()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**62), min_size=1, max_size=50))
def test_hist_bucket_matches_numpy_rule(values):
    v = np.asarray([*values, 0, 1, 255, 256, 257, 2**20, 2**20 - 1], np.int64)
    np.testing.assert_array_equal([hist_bucket(x) for x in v], latency_hist.bucket_of(v))
