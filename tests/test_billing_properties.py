"""Properties of every billing model on hypothesis-generated replays: costs are finite and >= 0,
they grow with the traffic of a fixed mode, and a saved-and-loaded Results bills the same."""

from __future__ import annotations

import math
import tempfile

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replay_helpers import random_trace, replay_cases

import snfkit
from snfkit.billing import MODELS, compare
from snfkit.results import Results

MONEY = ["user_usd", "provider_usd", "requests_usd", "duration_usd", "per_flowlet_usd",
         "hourly_usd", "per_gb_usd"]  # fmt: skip
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _bills(results: Results, **options) -> pl.DataFrame:
    return compare({"r": results}, **options).sort("model")


@SETTINGS
@given(replay_cases(), st.sampled_from([None, 100.0]), st.sampled_from([None, "month"]))
def test_every_cost_is_finite_and_not_negative(case, granularity_ms, scale_to):
    packets, params = case
    res = snfkit.replay(packets, **params)
    if scale_to is not None and res.summary["duration_s"] == 0:
        scale_to = None  # one arrival: nothing to extrapolate
    t = _bills(res, granularity_ms=granularity_ms, scale_to=scale_to)
    assert t["model"].to_list() == sorted(MODELS)
    for col in MONEY:
        values = t[col].to_list()
        assert all(math.isfinite(v) and v >= 0 for v in values), (col, values)


def _then(a: pl.DataFrame, b: pl.DataFrame, gap_ns: int) -> pl.DataFrame:
    """``a`` followed by ``b``, ``gap_ns`` after a's last packet, with b's flows new ones."""
    shift = int(a["ts_ns"].max()) + gap_ns
    flows = int(a["flow_id"].max()) + 1
    later = b.with_columns(ts_ns=pl.col("ts_ns") + shift, flow_id=pl.col("flow_id") + flows)
    return pl.concat([a, later])


@SETTINGS
@given(replay_cases(), st.integers(0, 2**31 - 1), st.integers(1, 120))
def test_more_traffic_never_costs_less(case, seed, n_more):
    a, params = case
    b = random_trace(seed, n_more, 5, 20_000.0)
    # Long enough after a's last packet that every unit, flow and epoch of a is over.
    gap = 2 * max(params["unit_idle_ns"], params["flow_timeout_ns"], 100_000_000)
    small = _bills(snfkit.replay(a, **params))
    large = _bills(snfkit.replay(_then(a, b, gap), **params))
    for col in ("user_usd", "provider_usd"):
        grew = large[col] - small[col]
        assert (grew >= -1e-12 * (1 + small[col])).all(), (col, small["model"], grew)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replay_cases())
def test_a_saved_and_loaded_results_bills_the_same(case):
    packets, params = case
    res = snfkit.replay(packets, **params)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = Results.load(res.save(tmp))
        assert _bills(loaded).equals(_bills(res))
        # and compare() reads a saved folder itself
        assert compare({"r": tmp}).sort("model").equals(_bills(res))
