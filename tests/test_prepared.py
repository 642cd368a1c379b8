"""A prepared trace replays exactly like the table it came from, and reuses its detections."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from replay_helpers import LOADED, random_trace, table

from snfkit import prepare_trace, replay
from snfkit.errors import ParameterError
from snfkit.params import MODES


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("chunk", [97, 1_000_000])
def test_prepared_equals_table(mode, chunk):
    packets = random_trace(11, 1_500, 40, 4_000.0)
    trace = prepare_trace(packets)
    a = replay(packets, mode=mode, **LOADED)
    b = replay(trace, mode=mode, chunk_size=chunk, **LOADED)
    for name in ("packets", "flowlets", "epochs", "epoch_units", "units"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert a.summary == b.summary


def test_detection_is_cached_per_timeout_and_size():
    trace = prepare_trace(random_trace(3, 800, 20, 4_000.0))
    first = trace.open_reasons(500_000, 15_000)
    assert trace.open_reasons(500_000, 15_000) is first
    other = trace.open_reasons(100_000, 15_000)
    assert other is not first and (other >= 0).sum() >= (first >= 0).sum()
    # one reason per packet; every flow's first packet opens with reason 0 (new flow)
    flow = trace.flow
    _, firsts = np.unique(flow, return_index=True)
    assert (first[firsts] == 0).all() and first.shape == flow.shape


def test_cache_is_bounded():
    trace = prepare_trace(random_trace(3, 300, 10, 4_000.0))
    trace.max_cached = 2
    kept = [trace.open_reasons(t, 0) for t in (1_000, 2_000, 3_000)]
    assert len(trace._reasons) == 2
    assert trace.open_reasons(3_000, 0) is kept[2]


def test_bad_tables_name_the_row():
    with pytest.raises(ParameterError, match="row 2"):
        prepare_trace(table([0, 5, 4], [0, 0, 1], [64, 64, 64]))
    with pytest.raises(ParameterError, match="row 1"):
        prepare_trace(table([0, 5, 6], [0, -1, 1], [64, 64, 64]))
    with pytest.raises(ParameterError, match="flow_id"):
        prepare_trace(table([0], [0], [64]).drop("flow_id"))
    # wire_len outside the table's UInt32, nulls and non-integer columns are refused, not wrapped
    # or truncated
    with pytest.raises(ParameterError, match="wire_len -5 at row 1"):
        prepare_trace(table([0, 5, 6], [0, 0, 1], [64, -5, 64]))
    with pytest.raises(ParameterError, match=f"wire_len {2**32} at row 2"):
        prepare_trace(table([0, 5, 6], [0, 0, 1], [64, 64, 2**32]))
    with pytest.raises(ParameterError, match="a null ts_ns at row 1"):
        prepare_trace(table([0, 5, 6], [0, 0, 1], [64, 64, 64]).with_columns(
            ts_ns=pl.Series([0, None, 6], dtype=pl.Int64)))  # fmt: skip
    with pytest.raises(ParameterError, match=f"ts_ns {2**63} at row 1"):  # would wrap in int64
        prepare_trace(table([0, 5, 6], [0, 0, 1], [64, 64, 64]).with_columns(
            ts_ns=pl.Series([0, 2**63, 2**63 + 1], dtype=pl.UInt64)))  # fmt: skip
    with pytest.raises(ParameterError, match="ts_ns of type Float64"):
        prepare_trace(table([0, 5, 6], [0, 0, 1], [64, 64, 64]).with_columns(
            pl.col("ts_ns").cast(pl.Float64)))  # fmt: skip


def test_bad_chunks_name_the_global_row():
    first = table([0, 1, 2], [0, 1, 0], [64, 64, 64])
    with pytest.raises(ParameterError, match="backwards at row 5"):
        replay(iter([first, table([3, 4, 1], [0, 0, 0], [64, 64, 64])]))
    with pytest.raises(ParameterError, match="backwards at row 3"):
        replay(iter([first, table([1, 4, 5], [0, 0, 0], [64, 64, 64])]))
    with pytest.raises(ParameterError, match="negative flow_id at row 4"):
        replay(iter([first, table([3, 4, 5], [0, -2, 0], [64, 64, 64])]))
    with pytest.raises(ParameterError, match="wire_len -1 at row 5"):
        replay(iter([first, table([3, 4, 5], [0, 0, 0], [64, 64, -1])]))
