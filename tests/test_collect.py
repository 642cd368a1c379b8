"""The aggregates the replay kernel keeps as it goes, against the plain-Python sums of its per-packet
rows (:func:`snfkit.reference.collect.collect_reference`), and the histogram bucket rule."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replay_helpers import replay_cases

from snfkit import latency_hist, replay
from snfkit.engine.collect_nb import EPOCH_RING, hist_bucket
from snfkit.reference.collect import collect_reference
from snfkit.runner import PERCENTILES, WAIT_CAUSES


def _check_aggregates(packets, flat, epoch_ns, chunk):
    res = replay(packets, epoch_ns=epoch_ns, chunk_size=chunk, **flat)
    P = res.packets
    cause = P["wait_cause"].to_physical().to_numpy().astype(np.int64)
    ref = collect_reference(
        *(P[c].to_numpy().astype(np.int64) for c in ("ts_ns", "wire_len", "unit", "item",
                                                      "start_ns", "finish_ns")),
        cause, P["state_wait_ns"].to_numpy(), epoch_ns,
    )  # fmt: skip
    s = res.summary
    n = P.height
    assert round(s["latency_max_us"] * 1e3) == ref["lat_max"]
    assert abs(s["latency_mean_us"] * 1e3 * n - ref["lat_sum"]) <= 1e-6 * max(ref["lat_sum"], 1)
    for j, name in enumerate(WAIT_CAUSES[1:], start=1):
        assert s["waits"][name]["packets"] == ref["waits"][0, j]
        assert round(s["waits"][name]["total_us"] * 1e3) == ref["waits"][1, j]
    # every item's totals
    F = res.flowlets
    got = {k: (p, b, last, end) for k, p, b, last, end in
           F.select("item", "packets", "bytes", "last_ns", "end_ns").iter_rows()}  # fmt: skip
    assert got == ref["items"]
    # every (epoch, unit) cell that the tables report, and offered load per epoch
    n_epochs = res.epochs.height
    want = {k: v for k, v in ref["cells"].items() if k[0] < n_epochs}
    EU = res.epoch_units.filter((pl.col("packets") > 0) | (pl.col("busy_ns") > 0))
    cells = {(e, u): [p, b, busy] for e, u, p, b, busy in
             EU.select("epoch", "unit", "packets", "bytes", "busy_ns").iter_rows()}  # fmt: skip
    assert cells == {k: v[:3] for k, v in want.items()}
    offered = res.epochs["offered_gbps"].to_numpy() * epoch_ns / 8.0
    expect = np.zeros(n_epochs)
    for e, b in ref["offered"].items():
        expect[e] += b
    np.testing.assert_allclose(offered, expect, rtol=1e-12)
    processed = res.epochs["processed_gbps"].to_numpy() * epoch_ns / 8.0
    expect = np.zeros(n_epochs)
    for (e, _), v in want.items():
        expect[e] += v[3]
    np.testing.assert_allclose(processed, expect, rtol=1e-12)
    # the histogram, read back by a replay without per-packet rows
    lean = replay(packets, epoch_ns=epoch_ns, chunk_size=chunk, keep_packets=False, **flat)
    pct = latency_hist.percentiles(ref["hist"], list(PERCENTILES))
    assert list(lean.summary["latency_us"].values()) == [v / 1e3 for v in pct]
    for name in ("flowlets", "epochs", "epoch_units", "units"):
        assert getattr(lean, name).equals(getattr(res, name)), name


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    replay_cases(), st.sampled_from([1_000, 20_000, 100_000_000]), st.sampled_from([1, 7, 10**6])
)
def test_kernel_aggregates_match_reference(case, epoch_ns, chunk):
    """Epochs of 1 us put services many epochs after their arrival (rows beyond the ring)."""
    packets, flat = case
    _check_aggregates(packets, flat, epoch_ns, chunk)


def test_services_beyond_the_ring():
    """A unit that starts late: services begin more than EPOCH_RING epochs after arrival."""
    n = 400
    ts = np.arange(n, dtype=np.int64) * 1_000
    packets = pl.DataFrame({"ts_ns": ts, "flow_id": np.arange(n) % 5, "wire_len": np.full(n, 1500)})
    flat = {"unit_startup_ns": 50_000, "unit_capacity_bps": 1e9, "max_units": 2}
    res = replay(packets, epoch_ns=2_000, **flat)
    P = res.packets
    late = ((P["start_ns"] - P["ts_ns"]) // 2_000 >= EPOCH_RING).sum()
    assert late > 50  # the case exercises the rows of their own
    _check_aggregates(packets, flat, 2_000, 64)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**62), min_size=1, max_size=50))
def test_hist_bucket_matches_numpy_rule(values):
    v = np.asarray(
        [*values, 0, 1, 255, 256, 257, 2**20, 2**20 - 1, 2**53 - 1, 2**53, 2**53 + 1, 2**62 - 1],
        np.int64,
    )
    np.testing.assert_array_equal([hist_bucket(x) for x in v], latency_hist.bucket_of(v))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 300), st.integers(0, 2**62)), min_size=1, max_size=400),
       st.data())  # fmt: skip
def test_exact_percentiles_match_twin(values, data):
    from snfkit.engine.collect_nb import (
        count_parts,
        exact_percentiles,
        latency_histogram_nb,
        rank_plan,
        ranked_values,
        read_ranked,
    )
    from snfkit.reference.collect import exact_percentiles_reference

    v = np.asarray(values, np.int64)
    ranks = np.asarray(data.draw(st.lists(st.integers(0, v.size - 1), min_size=1, max_size=8)),
                       np.int64)  # fmt: skip
    expected = exact_percentiles_reference(v, ranks)
    np.testing.assert_array_equal(exact_percentiles(v, ranks), expected)
    # the same over parts of the values, given their histogram (as the runner does per chunk)
    cuts = sorted(data.draw(st.lists(st.integers(0, v.size), max_size=4)))
    parts = np.split(v, cuts)
    hist = latency_histogram_nb(v)
    np.testing.assert_array_equal(ranked_values(parts, ranks, hist), expected)
    # counted in two shares (as two threads do in the runner), the counts summed
    plan = rank_plan(parts, ranks, hist)
    counts = count_parts(parts[::2], plan) + count_parts(parts[1::2], plan)
    np.testing.assert_array_equal(read_ranked(parts, plan, counts, hist), expected)
    hist[0] += 1  # a histogram that does not count these values is refused
    with pytest.raises(RuntimeError, match="histogram"):
        ranked_values(parts, ranks, hist)


def test_ranked_values_refuse_a_histogram_of_other_values():
    from snfkit.engine.collect_nb import latency_histogram_nb, ranked_values

    ranks = np.array([0], np.int64)
    for values, counted in (([5, 5, 5], [5, 6, 6]),  # more values in the target bucket (overflow)
                            ([5, 7, 7], [5, 5, 7])):  # fewer  # fmt: skip
        hist = latency_histogram_nb(np.array(counted, np.int64))
        with pytest.raises(RuntimeError, match="histogram"):
            ranked_values([np.array(values, np.int64)], ranks, hist)


def test_summary_percentiles_equal_numpy():
    from replay_helpers import random_trace

    res = replay(random_trace(3, 3_000, 20, 5_000.0), unit_capacity_bps=3e8, max_units=4)
    lat = res.packets["latency_ns"].to_numpy()
    want = np.percentile(lat, PERCENTILES, method="lower") / 1e3
    assert list(res.summary["latency_us"].values()) == want.tolist()
    assert res.summary["latency_exact"]


def test_bucket_span_is_the_histogram_bucket():
    from snfkit.engine.collect_nb import bucket_span

    for b in range(1, 7168):  # up to values of 2**62
        lo, width = bucket_span(b)
        assert lo == latency_hist.bucket_low(np.array([b]))[0]
        assert hist_bucket(lo) == b == hist_bucket(lo + width - 1)
        assert hist_bucket(lo + width) == b + 1 and hist_bucket(lo - 1) == b - 1
    assert bucket_span(latency_hist.N_BUCKETS - 1) == (-1, -1)
    assert bucket_span(0) == (-1, -1)  # bucket 0 also holds every negative value: gathered


def test_percentiles_of_negative_values_and_bad_ranks():
    from snfkit.engine.collect_nb import exact_percentiles, latency_histogram_nb, ranked_values

    # bucket 0 holds every value <= 0: its values are gathered, not counted at value - 0
    v = np.array([-(10**9), -3, 0, 0, 0, 7], np.int64)
    ranks = np.array([0, 1, 2, 5], np.int64)
    np.testing.assert_array_equal(exact_percentiles(v, ranks), np.sort(v)[ranks])
    np.testing.assert_array_equal(ranked_values([v[:2], v[2:]], ranks, latency_histogram_nb(v)),
                                  np.sort(v)[ranks])  # fmt: skip
    for bad in ([6], [-1]):  # ranks outside the values are refused, not read from garbage
        with pytest.raises(ValueError, match="rank"):
            exact_percentiles(v, np.array(bad, np.int64))
        with pytest.raises(ValueError, match="rank"):
            ranked_values([v], np.array(bad, np.int64), latency_histogram_nb(v))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(0, 5), st.integers(-(2**63), 2**63 - 1)), min_size=1, max_size=300
    ),
    st.data(),
)
def test_kth_smallest_matches_sorted(values, data):
    """The selection pick_ranked_nb uses (instead of np.partition): the k-th of the sorted values,
    with many duplicates (values 0..5) and extremes; every value is still there afterwards."""
    from snfkit.engine.collect_nb import kth_smallest_nb

    a = np.asarray(values, np.int64)
    k = data.draw(st.integers(0, a.size - 1))
    work = a.copy()
    assert kth_smallest_nb(work, np.int64(k)) == sorted(values)[k]
    np.testing.assert_array_equal(np.sort(work), np.sort(a))


def test_kth_smallest_on_sorted_and_constant_runs():
    from snfkit.engine.collect_nb import kth_smallest_nb

    n = 20_001
    for a in (np.arange(n), np.arange(n)[::-1].copy(), np.full(n, 7), np.arange(n) % 3):
        for k in (0, 1, n // 2, n - 2, n - 1):
            assert kth_smallest_nb(a.astype(np.int64), np.int64(k)) == np.sort(a)[k]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3), st.integers(0, 6)), max_size=60))
def test_item_counts_kernel_equals_twin(items):
    from snfkit.engine.collect_nb import item_counts_nb
    from snfkit.reference.collect import item_counts_reference

    moved = np.array([m for m, _, _ in items], np.bool_)
    reason = np.array([r for _, r, _ in items], np.int8)
    source = np.array([s for _, _, s in items], np.int8)
    got = item_counts_nb(moved, reason, source, 4, 7)
    assert np.array_equal(got, item_counts_reference(moved, reason, source, 4, 7))
    assert got.sum() == len(items)
