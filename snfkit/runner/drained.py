"""What a finished replay leaves behind: the kernel's drained state and the parts collected chunk by
chunk. :mod:`snfkit.runner.drive` fills it; :mod:`snfkit.runner.tables` turns it into tables and
the summary (the two never import each other)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import polars as pl

from snfkit.engine.replay_nb import ChunkOut, ReplayState
from snfkit.params import ReplayParams


class PacketPart(NamedTuple):
    """One chunk's per-packet inputs and the kernel's outputs for it."""

    ts: np.ndarray  # int64
    flow: np.ndarray  # int64
    wire_len: np.ndarray  # int64
    out: ChunkOut
    wire_len_column: pl.Series | None  # the table's own UInt32 column, if it had one


@dataclass
class Drained:
    """One replay's drained state: everything the tables and the summary are built from.

    ``state`` is the kernel's :class:`~snfkit.engine.replay_nb.ReplayState` after
    ``finish_replay_nb`` (counters in ``state.ctl``, items, latency histogram, wait sums);
    ``t0``/``t_last`` the first and last arrival (None/0 for an empty trace); ``n_in`` the packets
    fed. ``packet_parts`` (per-packet rows, when ``keep``), ``transfers`` (transfer columns of
    :mod:`snfkit.engine.state_nb`, when ``keep_transfers``), ``pushed_packets`` (without
    ``keep_transfers``, for an NF pass), ``src_parts`` (state sources, when ``keep_src``), ``records`` (unit lifetimes) and
    ``eu_parts`` (epoch rows) are lists of the chunks' arrays in time order.
    """

    params: ReplayParams
    state: ReplayState
    keep: bool
    keep_src: bool
    keep_transfers: bool = False
    t0: int | None = None
    t_last: int = 0
    n_in: int = 0
    packet_parts: list[PacketPart] = field(default_factory=list)
    transfers: list[np.ndarray] = field(default_factory=list)
    pushed_packets: list[np.ndarray] = field(default_factory=list)
    src_parts: list[np.ndarray] = field(default_factory=list)
    records: list[np.ndarray] = field(default_factory=list)
    eu_parts: list[np.ndarray] = field(default_factory=list)
    ordered_parts: Callable[[], list[PacketPart]] | None = None
    """When set, builds the per-packet rows in trace order for the packets table, and
    ``packet_parts`` hold the same rows in another order (many controllers' rows before their
    merge into trace order, :mod:`snfkit.runner.many`), read only for the latency percentiles."""
