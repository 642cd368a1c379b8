"""The precomputed close/push events: numba kernel vs its twin, and chunk invariance."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snfkit.engine.events_nb import (
    PendingEvents,
    event_scratch,
    events_chunk,
    no_pending,
    trace_events,
)
from snfkit.reference.events import trace_events_reference


@st.composite
def traces(draw):
    n = draw(st.integers(0, 120))
    n_flows = draw(st.integers(1, 6))
    gaps = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    flows = draw(st.lists(st.integers(0, n_flows - 1), min_size=n, max_size=n))
    ts = np.cumsum(np.array(gaps, np.int64)) if n else np.zeros(0, np.int64)
    close_after = draw(st.sampled_from([-1, draw(st.integers(0, 60))]))  # -1: packet mode
    push_after = draw(st.sampled_from([-1, 0, close_after // 2, draw(st.integers(0, 60))]))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    return ts, np.array(flows, np.int64), n_flows, close_after, push_after, cuts


def decoded(time, code):
    return [(int(t), int(c) & 1, int(c) >> 1) for t, c in zip(time, code, strict=True)]


@settings(max_examples=300, deadline=None)
@given(traces())
def test_events_equal_twin_for_any_cut(case):
    ts, flow, n_flows, close_after, push_after, cuts = case
    expected = trace_events_reference(ts, flow, close_after, push_after)
    whole = decoded(*trace_events(ts, flow, close_after, push_after)) if ts.shape[0] else []
    assert whole == expected
    # chunk by chunk, carrying the pending events: each chunk's list holds exactly the events
    # before its last packet not listed before, so the concatenation is the whole list
    pending = no_pending()
    scratch = None  # grown as needed and reused, like the runner does
    got = []
    bounds = [0, *cuts, ts.shape[0]]
    for a, b in itertools.pairwise(bounds):
        if a == b:
            continue
        scratch = event_scratch(b - a + pending.ts.shape[0], n_flows, scratch)
        time, code, pending = events_chunk(
            ts[a:b], flow[a:b], close_after, push_after, pending, scratch
        )
        assert (time < ts[b - 1]).all()  # every listed event is processed within its chunk
        got += decoded(time, code)
        # between calls the per-flow buffers are back to -1 (a stale entry would corrupt the next)
        assert (scratch.last == -1).all() and (scratch.pidx == -1).all()
    assert got == expected


def test_events_of_a_known_trace():
    # flow 0: packets at 0, 5, 30; flow 1: 10, 11; close after 10, push after 4
    ts = np.array([0, 5, 10, 11, 30, 40], np.int64)
    flow = np.array([0, 0, 1, 1, 0, 1], np.int64)
    got = decoded(*trace_events(ts, flow, 10, 4))
    assert got == [
        (4, 1, 0),  # flow 0 idle 5 > 4 after t=0
        (9, 1, 0),  # idle 25 after t=5: push at 9, close at 15
        (15, 0, 0),
        (15, 1, 1),  # flow 1 idle 29 after t=11: push at 15 (after the close), close at 21
        (21, 0, 1),
        (34, 1, 0),  # flow 0's last packet: push at 34 < 40 counts; close at 40 does not
    ]


def test_bad_flow_id_is_an_error():
    ts = np.array([0, 1], np.int64)
    flow = np.array([0, 5], np.int64)
    pending = PendingEvents(
        np.array([0], np.int64), np.array([1], np.int64), np.array([3], np.int8)
    )
    for bad in (flow, np.array([0, -1], np.int64)):
        scratch = event_scratch(4, 2)
        with pytest.raises(ValueError, match="< 0 or >= n_flows"):
            events_chunk(ts, bad, 3, 1, pending, scratch)
        # the per-flow buffers are back to -1 (the runner could reuse them)
        assert (scratch.last == -1).all() and (scratch.pidx == -1).all()
    with pytest.raises(ValueError, match="too small"):
        events_chunk(ts, flow, 3, 1, no_pending(), event_scratch(1, 6))


def test_event_scratch_grows_only_the_side_that_is_too_small():
    """A stream whose flow ids keep growing renews the per-flow buffers, not the per-packet ones
    (which once doubled with them: 604 MB a slot by the end of a 10 M-packet parquet replay)."""
    from snfkit.engine.events_nb import event_scratch

    a = event_scratch(1000, 50)
    b = event_scratch(1000, 80, a)
    assert b.flags is a.flags and b.time is a.time  # per-packet: kept
    assert b.pidx.shape[0] == 100 and (b.pidx == -1).all() and (b.last == -1).all()
    c = event_scratch(1500, 80, b)
    assert c.pidx is b.pidx and c.flags.shape[0] == 2000 and not c.flags.any()
    assert event_scratch(1500, 80, c) is c
