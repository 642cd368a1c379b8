"""Which controller gets each flow (paper §7: controllers each own a share of the flows)."""

from __future__ import annotations

import numpy as np
import polars as pl

from snfkit.engine.mix_nb import buckets_nb
from snfkit.errors import ParameterError

INGRESS = "ingress"
"""A packets table column that names each packet's controller (its ingress point), if present."""


def controller_of(packets: pl.DataFrame, controllers: int, seed: int) -> np.ndarray:
    """Each packet's controller, 0..controllers-1: by the table's ``ingress`` column when it has
    one (its distinct values in sorted order are controllers 0, 1, ...; there must be exactly
    ``controllers`` of them, and a flow must keep one ingress), else by a seeded hash of the
    packet's ``flow_id`` (the flow's key), so every packet of a flow goes to one controller.
    Raises ParameterError when there are fewer flows than controllers (a controller with none)."""
    owner = flow_owners(packets, controllers, seed)
    return owner[packets["flow_id"].to_numpy()]


def flow_owners(packets: pl.DataFrame, controllers: int, seed: int) -> np.ndarray:
    """Each flow id's controller (:func:`controller_of`'s rule), indexed by flow id up to the
    largest in the table, -1 for an id no packet has. Raises ParameterError for a negative flow
    id."""
    flow = packets["flow_id"].to_numpy()
    if flow.shape[0] and flow.min() < 0:
        row = int(np.argmin(flow))
        raise ParameterError(
            "packets", f"flow_id {int(flow[row])} at row {row}", "non-negative flow ids"
        )
    present = np.bincount(flow) > 0 if flow.shape[0] else np.zeros(0, bool)
    if INGRESS in packets.columns:
        col = packets[INGRESS]
        if col.null_count():
            row = int(col.is_null().arg_max())
            raise ParameterError("packets", f"ingress null at row {row}", "an ingress per packet")
        values = col.unique().sort()
        if values.len() != controllers:
            raise ParameterError(
                "controllers",
                controllers,
                f"the number of distinct ingress values in the table ({values.len()}: "
                f"{values.head(5).to_list()}{', ...' if values.len() > 5 else ''})",
            )
        ctl = col.rank("dense").cast(pl.Int64).to_numpy() - 1
        per_flow = (
            pl.DataFrame({"flow": flow, "ctl": ctl})
            .group_by("flow")
            .agg(pl.col("ctl").n_unique().alias("n"))
        )
        split = per_flow.filter(pl.col("n") > 1)
        if split.height:
            raise ParameterError(
                "packets",
                f"flow_id {int(split['flow'][0])} arrives at {int(split['n'][0])} ingress points",
                "one ingress per flow (a flow's state lives with one controller)",
            )
        owner = np.full(present.shape[0], -1, np.int64)
        owner[flow] = ctl
        return owner
    n_flows = int(np.count_nonzero(present))
    if controllers > max(n_flows, 1):
        raise ParameterError(
            "controllers", controllers, f"at most the trace's number of flows ({n_flows:,})"
        )
    ids = np.arange(present.shape[0], dtype=np.int64)
    owner = buckets_nb(ids, np.int64(controllers), np.int64(seed))
    owner[~present] = -1
    return owner
