"""snfkit.traces.transforms.connections: direction-agnostic flow ids and the direction column."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from nf_helpers import packets, traffic

from snfkit.errors import ParameterError
from snfkit.traces.transforms import connections


def test_connections_hand_made():
    table = packets(
        [
            (1, 2, 40000, 1, 80, 6, 60),  # initiator 0.0.0.2 (the larger address) -> server
            (2, 1, 80, 2, 40000, 6, 60),  # reply
            (3, 2, 40000, 1, 80, 17, 60),  # same endpoints, other protocol: another connection
            (4, 2, 40001, 1, 80, 6, 60),  # another client port
            (5, 1, 80, 2, 40001, 6, 60),
            (6, 3, 7, 3, 7, 6, 60),  # both endpoints equal
        ]
    )
    out = connections(table)
    assert out["flow_id"].to_list() == [0, 0, 1, 2, 2, 3]
    assert out["direction"].to_list() == [0, 1, 0, 0, 1, 0]
    assert out["direction"].dtype == pl.UInt8
    assert out.drop("flow_id", "direction").equals(table.drop("flow_id"))
    assert connections(out).equals(out)  # idempotent (direction is replaced)


@settings(max_examples=40, deadline=None)
@given(table=traffic())
def test_connections_properties(table):
    out = connections(table)
    ids = out["flow_id"].to_numpy()
    d = out["direction"].to_numpy()
    if not ids.size:
        return
    first = np.unique(ids, return_index=True)[1]
    assert np.array_equal(ids[np.sort(first)], np.arange(ids.max() + 1))  # dense, first-seen
    assert (d[first] == 0).all()
    # a 5-tuple flow maps to one connection and one direction; its reverse to the same connection
    key = ["src_ip", "dst_ip", "src_port", "dst_port", "proto"]
    per_flow = out.group_by(key).agg(pl.col("flow_id").n_unique(), pl.col("direction").n_unique())
    assert (per_flow["flow_id"] == 1).all() and (per_flow["direction"] == 1).all()
    rev = out.select(
        pl.col("dst_ip").alias("src_ip"),
        pl.col("src_ip").alias("dst_ip"),
        pl.col("dst_port").alias("src_port"),
        pl.col("src_port").alias("dst_port"),
        "proto",
        pl.col("flow_id").alias("rev_id"),
        pl.col("direction").alias("rev_dir"),
    ).unique()
    joined = out.join(rev, on=key, how="inner")
    assert (joined["flow_id"] == joined["rev_id"]).all()
    same_ends = (joined["src_ip"] == joined["dst_ip"]) & (joined["src_port"] == joined["dst_port"])
    assert ((joined["direction"] != joined["rev_dir"]) | same_ends).all()
    # the number of connections is the number of unordered endpoint pairs
    assert ids.max() + 1 <= table["flow_id"].max() + 1


def test_connections_errors_and_empty():
    with pytest.raises(ParameterError, match="packets"):
        connections("x")  # type: ignore[arg-type]
    empty = connections(packets([(1, 1, 1, 2, 2, 6, 60)]).head(0))
    assert empty.height == 0 and "direction" in empty.columns
