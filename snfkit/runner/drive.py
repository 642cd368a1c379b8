"""The kernel driver: feeds a replay to the kernel chunk by chunk and drains what it writes.

:class:`Driver` is public (benchmarks and tools that want the kernel without the tables use it):

    d = Driver(params)
    d.feed(chunk)            # a packets table; or feed_arrays / feed_prepared
    drained = d.finish()     # a Drained record (snfkit.runner.drained)

It turns the parameters into the kernel's record once, grows the per-flow and per-item tables as new
flows appear, computes each chunk's close and push events (:mod:`snfkit.engine.events_nb`) unless a
:class:`~snfkit.prepared.PreparedTrace` has them, calls
:func:`~snfkit.engine.replay_nb.replay_chunk_nb` until the chunk is done (draining unit records,
transfer and epoch rows as their buffers fill), and keeps the chunk's outputs. Chunked and one-shot
replays give identical results for any chunk size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import repeat
from typing import NamedTuple

import numpy as np
import polars as pl

from snfkit import latency_hist, memory
from snfkit.engine._jit import kernel_input
from snfkit.engine.collect_nb import EPOCH_RING, EU_COLUMNS, new_items
from snfkit.engine.enums import FailureKind, TransferKind, WaitCause, names
from snfkit.engine.events_nb import EventScratch, event_scratch, events_chunk, no_pending
from snfkit.engine.faults_nb import (
    F_KIND,
    F_TARGET,
    F_TIME,
    FAIL_COLUMNS,
    INFLIGHT_BUDGET,
    INFLIGHT_COLUMNS,
    INFLIGHT_SLOTS,
    PATCH_COLUMNS,
)
from snfkit.engine.pool_nb import RECORD_DTYPE, UNIT_DTYPE
from snfkit.engine.replay_nb import (
    CTL_DTYPE,
    FLOW_DTYPE,
    FLOW_FRESH,
    MAX_SPAN_NS,
    STATUS_BAD_FAILURE,
    STATUS_DONE,
    STATUS_TIME_LIMIT,
    TIME_LIMIT,
    ChunkOut,
    ReplayState,
    finish_replay_nb,
    replay_chunk_nb,
)
from snfkit.engine.state_nb import TR_KIND, TR_PACKET, new_transfers
from snfkit.errors import ParameterError
from snfkit.params import ReplayParams
from snfkit.prepared import PreparedTrace, checked_columns
from snfkit.runner.drained import Drained, PacketPart

FIRST_PIECE = 1 << 16
""":meth:`Driver.feed_chunks` replays the first this many packets of a longer first chunk on
their own: nothing overlaps the checks and events of the first piece, so a short one starts the
kernel sooner (results do not depend on where chunks are cut)."""
RAMP = 4
"""Each further piece of the first chunk is this many times the one before (:func:`ramp_cuts`)."""


def ramp_cuts(n: int) -> list[int]:
    """Where a first chunk of n rows is cut: a piece of :data:`FIRST_PIECE` rows, then pieces
    :data:`RAMP` times the one before while the rest is more than twice the next. Each piece is
    staged (checks, events) on the second thread while the kernel replays the one before, and
    staging runs several times faster than the kernel: the kernel starts at once and does not
    wait for the rest of the first chunk."""
    cuts, a, size = [], 0, FIRST_PIECE
    while n - a > 2 * size:
        a += size
        cuts.append(a)
        size *= RAMP
    return cuts


def _first_apart(chunks: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """The chunks, a longer first one in the pieces of :func:`ramp_cuts`."""
    first = next(chunks, None)
    if first is None:
        return
    a = 0
    for b in ramp_cuts(first.height):
        yield first.slice(a, b - a)
        a = b
    yield first.slice(a) if a else first
    yield from chunks


class _End:
    """What a stage of :meth:`Driver._pipeline` returns when there are no more chunks."""


_END = _End()


class Staged(NamedTuple):
    """A chunk checked and ready for the kernel (:meth:`Driver._stage`)."""

    ts: np.ndarray  # int64, the trace's clock
    flow: np.ndarray  # int64
    wl: np.ndarray  # int64
    rel: np.ndarray  # int64: ts counted from the trace's first packet (what the kernel takes)
    events: tuple[np.ndarray, np.ndarray]  # the chunk's events (time, code)
    wire_len: pl.Series | None  # the table's own UInt32 column, if it had one
    n_flows: int  # a bound above the chunk's flow ids
    out: ChunkOut  # the kernel's per-packet outputs for it, allocated and their pages mapped
    flows_ready: bool = False  # the per-flow room has its flows' rows, fresh (Driver.make_room)


TRANSFER_ROWS = 1 << 16
"""Transfer rows the kernel writes before the driver drains them (the buffer grows to 4x that when
transfers are kept: a full buffer is handed over as is and the kernel gets a fresh one)."""
MAX_SPARE_FLOWS = 1 << 20
"""Flow ids may run this far beyond 4 x the packets replayed so far (see
:meth:`Driver._check_flow_ids`)."""
MAX_EPOCHS = 1 << 20
"""The most epochs a replay reports (the epochs table's rows): a trace that spans more needs a longer
``epoch_ns`` (a clear error before anything is allocated, not a table of idle epochs)."""
EU_ROWS = 1 << 14
"""Epoch rows (:mod:`snfkit.engine.collect_nb`) the kernel writes before the driver drains them (at
least room for two flushes of the whole ring)."""


def carve(dtypes: list, sizes: list[int], touch: bool = False) -> list[np.ndarray]:
    """Arrays of these dtypes and lengths, cut from one fresh block (64-byte aligned each). One
    big block gets transparent huge pages (numpy asks for them from 4 MB on), so writing it first
    costs far fewer page faults than many small arrays, which are below that size. ``touch``:
    write a byte on every page now, so that the kernel's first writes find them mapped (the
    operating system clears a fresh page on its first touch, about a third of what per-packet
    outputs cost the kernel; the driver does it on its staging thread)."""
    offsets, total = [], 0
    for dt, n in zip(dtypes, sizes, strict=True):
        offsets.append(total)
        total += -(-n * np.dtype(dt).itemsize // 64) * 64
    block = memory.empty(total + 64, np.uint8, tag="replay.outputs")  # (reused: mapped already)
    if touch:
        block[::4096] = 0
    base = -block.ctypes.data % 64
    views = []
    for dt, n, o in zip(dtypes, sizes, offsets, strict=True):
        views.append(block[base + o : base + o + n * np.dtype(dt).itemsize].view(dt))
    return views


def new_state(
    n_flows: int,
    max_units: int,
    load_buckets: int,
    mask_words: int,
    fails: np.ndarray | None = None,
    units_per_ol: int = 1,
) -> ReplayState:
    """Fresh controller state for ``n_flows`` flows and a pool of ``max_units`` slots; ``fails``: the
    failure schedule (:func:`snfkit.faults.schedule_array`), if any (each unit then keeps its
    in-flight packets)."""
    u = max_units
    if fails is None:
        fails = np.zeros((0, len(FAIL_COLUMNS)), np.int64)
    ring_units = u if fails.shape[0] else 0
    slots = max(INFLIGHT_SLOTS, INFLIGHT_BUDGET // u) if ring_units else 0
    units = np.zeros(u, UNIT_DTYPE)
    units["life"] = -1
    units["ld"] = np.inf
    units["w"] = 1.0 / (np.arange(u) + 1.0)
    units["px_ver"] = -1
    ctl = np.zeros(1, CTL_DTYPE)
    ctl["load_bucket"] = -1
    return ReplayState(
        flows=fresh_flows(n_flows),
        units=units,
        ring=np.zeros((u, load_buckets), np.int64),
        records=np.zeros(4 * u + 64, RECORD_DTYPE),
        ctl=ctl,
        masks=np.zeros((n_flows, 2, mask_words), np.uint64),
        transfers=new_transfers(max(4 * u + 64, TRANSFER_ROWS)),
        items=new_items(0),
        hist=np.zeros(latency_hist.N_BUCKETS, np.int64),
        waits=np.zeros((2, len(WaitCause)), np.float64),
        eu=np.zeros((u, EPOCH_RING, 4), np.int64),
        eu_rows=np.zeros(
            (max(EU_ROWS, 2 * (EPOCH_RING * u + 1), 4 * slots + 8), len(EU_COLUMNS)), np.int64
        ),
        fails=fails.copy(),
        inflight=np.zeros((ring_units, slots, len(INFLIGHT_COLUMNS)), np.int64),
        olw=np.zeros((-(-u // units_per_ol), 2), np.int64),
        patches=np.zeros((2 * slots, len(PATCH_COLUMNS)), np.int64),
        flow_life=np.full(n_flows if ring_units else 0, -1, np.int64),
    )


_FLOW_WORDS = FLOW_DTYPE.itemsize // 8
assert FLOW_DTYPE.itemsize % 8 == 0, "flow records are copied as int64 words"
_FRESH_WORDS = np.frombuffer(FLOW_FRESH.tobytes(), np.int64)


def _flow_words(flows: np.ndarray) -> np.ndarray:
    """The flow records as an int64 [F, words] view: numpy fills and copies structured arrays
    element by element, about 4x slower than the same bytes as int64 rows."""
    return flows.view(np.int64).reshape(flows.shape[0], _FLOW_WORDS)


def fresh_flows(n: int) -> np.ndarray:
    """n flow records, each :data:`~snfkit.engine.replay_nb.FLOW_FRESH`."""
    words = np.empty((n, _FLOW_WORDS), np.int64)
    words[:] = _FRESH_WORDS
    return words.view(FLOW_DTYPE).reshape(n)


class FlowRoom(NamedTuple):
    """Per-flow tables with room for more flows than the replay has seen: the kernel's state holds
    their first rows (views), and :func:`_grow_flows` extends those views in place. Rows past
    them are not written, so they take no memory until used."""

    flows: np.ndarray
    masks: np.ndarray
    flow_life: np.ndarray  # (length 0 without failures)


def _new_room(size: int, mask_words: int, with_life: bool) -> FlowRoom:
    # not zeroed (rows are written when they come into use), from the memory pool: its new
    # blocks up to 256 MB get huge pages (first touches of 4 KB pages cost about 10x more here),
    # and a room above its limit comes from numpy's np.empty, which asks for them too
    life = memory.empty(size if with_life else 0, np.int64, tag="replay.flows")
    masks = memory.empty((size, 2, mask_words), np.uint64, tag="replay.flows")
    return FlowRoom(memory.empty(size, FLOW_DTYPE, tag="replay.flows"), masks, life)


_FRESH_BLOCK = np.tile(_FRESH_WORDS, (1 << 12, 1))
"""4096 fresh flow records as int64 words: new rows are copied from it a block at a time (a
broadcast of one record runs a 26-word inner loop per row, several times slower)."""


def _fresh_rows(flows: np.ndarray) -> None:
    """Make every record of ``flows`` :data:`~snfkit.engine.replay_nb.FLOW_FRESH`."""
    words = _flow_words(flows)
    block = _FRESH_BLOCK.shape[0]
    for a in range(0, words.shape[0], block):
        b = min(a + block, words.shape[0])
        words[a:b] = _FRESH_BLOCK[: b - a]


def _fresh_room_rows(room: FlowRoom, a: int, b: int) -> None:
    """Make rows a..b-1 of the room fresh flows (no mask bits, no lifetime)."""
    _fresh_rows(room.flows[a:b])
    room.masks[a:b] = 0
    room.flow_life[a:b] = -1  # (an empty array without failures)


def _grow_flows(
    st: ReplayState, n_flows: int, room: FlowRoom | None, ready: bool = False
) -> tuple[ReplayState, FlowRoom | None]:
    """The state with per-flow tables for ``n_flows`` flows, new rows fresh, and the room they are
    views of. Within the room the tables grow in place; beyond it, a room twice the size takes
    their rows (one copy of the rows in use: that the room's slack costs no memory is why flows
    grow this way, not by doubling fresh tables). ``ready``: the room has them, already fresh
    (:meth:`Driver._stage` made them so)."""
    old = st.flows.shape[0]
    if n_flows <= old:
        return st, room
    with_life = bool(st.flow_life.shape[0] or st.fails.shape[0])  # kept with failures
    if not ready:
        if room is None or room.flows.shape[0] < n_flows:
            have = room.flows.shape[0] if room is not None else old
            room = _new_room(max(n_flows, 2 * have), st.masks.shape[2], with_life)
            _flow_words(room.flows[:old])[:] = _flow_words(st.flows)
            room.masks[:old] = st.masks
            room.flow_life[:old] = st.flow_life
        _fresh_room_rows(room, old, n_flows)
    assert room is not None
    life = room.flow_life[:n_flows] if with_life else st.flow_life
    st = st._replace(flows=room.flows[:n_flows], masks=room.masks[:n_flows], flow_life=life)
    return st, room


def event_delays(params: ReplayParams, record: np.void) -> tuple[int, int]:
    """Idle times after which a flow's item closes and its state is pushed (-1: no such events;
    :mod:`snfkit.engine.events_nb`). Packet mode has neither (every packet is an item); pushes
    happen in the flow modes with proactive state and a replication policy."""
    if params.modes.mode == "packet":
        return -1, -1
    pushing = params.state.state_mode == "proactive" and params.state.replication_policy != "none"
    return int(record["close_after_ns"]), int(record["push_after_ns"]) if pushing else -1


class Driver:
    """One replay in progress: the kernel's state, its parameter record and what has been drained.

    params: the replay's :class:`~snfkit.params.ReplayParams`.
    keep_src: also keep each packet's state source and the pushed packets (for an NF pass over the
        state versions; transfers are then recorded too).
    fails: the failure schedule (:func:`snfkit.faults.schedule_array`), if any.
    """

    def __init__(
        self, params: ReplayParams, *, keep_src: bool = False, fails: np.ndarray | None = None
    ) -> None:
        self.params = params
        has_fails = fails is not None and fails.shape[0] > 0
        ol_kinds = [FailureKind.ol, FailureKind.ol_controller, FailureKind.unit_ol]
        ol_fails = has_fails and bool(np.isin(fails[:, F_KIND], ol_kinds).any())
        self.record = params.kernel_record(keep_src=keep_src, faults=has_fails, ol_faults=ol_fails)
        p = self.record[0]
        self.close_after, self.push_after = event_delays(params, p)
        state = new_state(
            0,
            params.units.max_units,
            params.assignment.load_buckets,
            int(p["mask_words"]),
            fails,
            params.faults.units_per_ol,
        )
        self.drained = Drained(
            params=params,
            state=state,
            keep=bool(p["keep_rows"]),
            keep_src=keep_src,
            keep_transfers=params.report.keep_packets is True,
        )
        self._pending = no_pending()
        # work buffers reused from chunk to chunk, two sets: a chunk is staged in one while the
        # kernel replays the previous chunk from the other (feed_chunks)
        self._ev_scratch: list[EventScratch | None] = [None, None]
        self._rel_buf: list[np.ndarray] = [np.zeros(0, np.int64)] * 2
        # what staging has seen: rows, the last arrival, the flow tables' size it implies
        self._staged = 0
        self._last_ts_seen: int | None = None
        self._flows_cap = 0
        self._room: FlowRoom | None = None  # what the per-flow tables are views of
        self._fresh_ahead = False  # whether _stage makes the room's new rows fresh (make_room)
        self._room_fresh = 0  # the room's rows made fresh so far, when it does

    @property
    def state(self) -> ReplayState:
        """The kernel's state (replaced as its tables grow)."""
        return self.drained.state

    # -- feeding -------------------------------------------------------------------------------
    def reserve(self, n_flows: int, n_items: int = 0, ahead: bool = False) -> None:
        """Size the per-flow tables for flow ids below n_flows, and the per-item ones for n_items
        items, at once (they grow by doubling otherwise, copying as they go). The per-item table
        is allocated zeroed, so its pages take memory only once written: an item per packet is
        a bound to reserve. ``ahead``: the flows' rows are made fresh chunk by chunk, on the
        staging thread, as a table's flows appear (:meth:`make_room`), not all of them now."""
        if n_flows > 0:
            self._check_flow_ids(n_flows - 1, max(n_items, self.drained.n_in))
            if ahead:
                self.make_room(n_flows)
            else:
                self.drained.state, self._room = _grow_flows(
                    self.drained.state, n_flows, self._room
                )
            self._flows_cap = max(self._flows_cap, n_flows, self.drained.state.flows.shape[0])
        self._grow_items(n_items, exact=True)

    def make_room(self, max_flows: int) -> None:
        """Room for up to ``max_flows`` flows (a bound known before the flows are, such as the
        packet count of a trace read as it goes), so that the per-flow tables grow in place as
        flows appear, never copied. It is address space: rows take memory once used. At most
        what would fill half the machine's memory (beyond it the tables grow by doubling)."""
        st = self.drained.state
        with_life = bool(st.flow_life.shape[0] or st.fails.shape[0])
        per_flow = st.flows.itemsize + 2 * st.masks.shape[2] * 8 + (8 if with_life else 0)
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # (no sysconf: no room made)
            return
        size = min(max_flows, memory // 2 // max(per_flow, 1))
        old = st.flows.shape[0]
        if size <= old or (self._room is not None and self._room.flows.shape[0] >= size):
            return
        room = _new_room(size, st.masks.shape[2], with_life)
        _flow_words(room.flows[:old])[:] = _flow_words(st.flows)
        room.masks[:old] = st.masks
        room.flow_life[:old] = st.flow_life
        life = room.flow_life[:old] if with_life else st.flow_life
        self.drained.state = st._replace(
            flows=room.flows[:old], masks=room.masks[:old], flow_life=life
        )
        self._room = room
        # the staging thread makes the rows of each chunk's new flows fresh, past the rows the
        # kernel sees (writing them, and their pages' first touches, is then off its thread)
        self._room_fresh = old
        self._fresh_ahead = True

    def _check_flow_ids(self, max_id: int, n_packets: int, row: int | None = None) -> None:
        """Flow ids index the per-flow tables (about 300 bytes a flow), so they must be dense: the
        largest may be at most :data:`MAX_SPARE_FLOWS` + 4 x the packets so far. A table keyed by
        hashes or by another trace's ids is refused with the way out."""
        limit = MAX_SPARE_FLOWS + 4 * n_packets
        if max_id >= limit:
            at = f" at row {row}" if row is not None else ""
            raise ParameterError(
                "packets",
                f"flow_id {max_id}{at}",
                f"dense flow ids (below {limit:,} for {n_packets:,} packets; they index per-flow "
                "tables): renumber them, e.g. snfkit.traces.reassign_flow_ids(packets) or "
                "packets.with_columns(pl.col('flow_id').rank('dense') - 1)",
            )

    def _grow_items(self, n_items: int, exact: bool = False) -> None:
        st = self.drained.state
        have = st.items.flow.shape[0]
        if n_items > have:
            size = n_items if exact else max(n_items, 2 * have)
            items = new_items(size)
            # only the items in use: the rest are not written yet
            used = int(st.ctl["items"][0])
            for new, old in zip(items, st.items, strict=True):
                new[:used] = old[:used]
            self.drained.state = st._replace(items=items)

    def feed(self, chunk: pl.DataFrame) -> None:
        """Replay the next chunk of packets (a packets table, checked here)."""
        staged = self._stage_table(chunk)
        if staged is not None:
            self._replay(staged)

    def feed_chunks(self, chunks: Iterable[pl.DataFrame], bar) -> None:
        """Replay packets tables one after the other (``bar.advance(n)`` after each), as
        :meth:`feed` does, but each is taken from ``chunks`` (read, when they come from a file),
        checked, its events computed and its output buffers mapped on a second thread while the
        kernel (which releases the GIL) replays the one before: that work takes about a fifth of
        a replay from a table. Errors come in the order :meth:`feed` gives them."""
        tables = _first_apart(iter(chunks))

        def stage(slot: int) -> Staged | _End | None:
            chunk = next(tables, None)  # (on the staging thread, like the rest)
            return _END if chunk is None else self._stage_table(chunk, slot)

        self._pipeline(repeat(stage), bar)

    def _pipeline(self, stages: Iterator[Callable[[int], Staged | _End | None]], bar) -> None:
        """Call each of ``stages`` (with the buffer set to use) on a second thread, and replay
        what it staged on this one, the next chunk staged while the kernel replays this one. A
        stage returns None for an empty chunk, and ``_END`` when there are no more."""
        with ThreadPoolExecutor(1, thread_name_prefix="snfkit-stage") as pool:
            ahead = None
            slot = 0
            while True:
                stage = next(stages, None)
                if stage is not None:
                    nxt = pool.submit(stage, slot=slot)
                    slot ^= 1  # its buffers: the kernel is done with the chunk before the last
                if ahead is not None:
                    staged = ahead.result()
                    if staged is _END:
                        break
                    if staged is not None:
                        self._replay(staged)
                        bar.advance(staged.ts.shape[0])
                if stage is None:
                    break
                ahead = nxt

    def feed_arrays(self, ts, flow, wl, events=None, wire_len=None, n_flows=None, rel=None):
        """Replay the next chunk given as checked int64 arrays. ``events`` (this chunk's events
        from a :class:`~snfkit.prepared.PreparedTrace`) skips their computation. ``wire_len``: the
        table's own UInt32 column, kept as the packets table's column. ``n_flows``: a bound
        above the chunk's flow ids, if known. ``rel``: ``ts`` counted from the trace's first
        packet, if already computed (the kernel takes times relative to it; tables report them
        on the trace's clock)."""
        if ts.shape[0]:
            ts, flow, wl = kernel_input(ts), kernel_input(flow), kernel_input(wl)
            rel = None if rel is None else kernel_input(rel)
            self._replay(self._stage(ts, flow, wl, events, wire_len, n_flows, rel))

    def _stage_table(self, chunk: pl.DataFrame, slot: int = 0) -> Staged | None:
        """:meth:`_stage` for a packets table (None for an empty one)."""
        if chunk.height == 0:
            return None
        ts, flow, wl, max_flow = checked_columns(chunk, self._staged, self._last_ts_seen)
        col = chunk["wire_len"]
        own = col if col.dtype == pl.UInt32 else None
        return self._stage(ts, flow, wl, wire_len=own, n_flows=max_flow + 1, slot=slot)

    def _stage(
        self, ts, flow, wl, events=None, wire_len=None, n_flows=None, rel=None, slot: int = 0
    ) -> Staged:
        """Everything about a chunk that does not need the kernel's state (checks, relative
        times, events; buffers of set ``slot``): a :class:`Staged` for :meth:`_replay`."""
        n = ts.shape[0]
        d = self.drained
        self._check_span(ts)
        if rel is None:
            rel = ts
            if d.t0:
                if self._rel_buf[slot].shape[0] < n:
                    self._rel_buf[slot] = memory.empty(n, np.int64, tag="replay.times")
                rel = np.subtract(ts, d.t0, out=self._rel_buf[slot][:n])
                rel.setflags(write=False)  # (one kind of array for the kernels: see _read_only)
        if n_flows is None:
            n_flows = int(flow.max()) + 1
        if n_flows > self._flows_cap:
            row = self._staged + int(np.argmax(flow)) if n_flows == int(flow.max()) + 1 else None
            self._check_flow_ids(n_flows - 1, self._staged + n, row)
            self._flows_cap = max(n_flows, 2 * self._flows_cap)  # (the event scratch's size)
        ready = False
        if self._fresh_ahead:  # (rows past any chunk's flows so far: the kernel's are below)
            room = self._room
            assert room is not None
            if n_flows <= room.flows.shape[0]:
                if n_flows > self._room_fresh:
                    _fresh_room_rows(room, self._room_fresh, n_flows)
                    self._room_fresh = n_flows
                ready = True
            else:  # _replay replaces the room: from now on it makes new rows fresh itself
                self._fresh_ahead = False
        if events is None:
            scratch = self._ev_scratch[slot] = event_scratch(
                n + self._pending.ts.shape[0], self._flows_cap, self._ev_scratch[slot]
            )
            ev_time, ev_code, self._pending = events_chunk(
                rel, flow, self.close_after, self.push_after, self._pending, scratch
            )
            events = (ev_time, ev_code)
        self._staged += n
        self._last_ts_seen = int(ts[-1])
        out = self._out_buffers(n, touch=True)
        return Staged(ts, flow, wl, rel, events, wire_len, n_flows, out, ready)

    def _replay(self, c: Staged) -> None:
        """Run the kernel over a staged chunk and keep its outputs."""
        d = self.drained
        n = c.ts.shape[0]
        d.state, self._room = _grow_flows(d.state, c.n_flows, self._room, c.flows_ready)
        self._grow_items(int(d.state.ctl["items"][0]) + n)  # an item per packet at most
        out = self.run_kernel(c.rel, c.flow, c.wl, c.events, c.out)
        if d.keep:
            d.packet_parts.append(PacketPart(c.ts, c.flow, c.wl, out, c.wire_len))
        if d.keep_src:
            d.src_parts.append(out.src_pkt)
        d.n_in += n
        d.t_last = int(c.ts[-1])

    def _check_span(self, ts: np.ndarray) -> None:
        """The trace so far must fit the kernel's clock (:data:`MAX_SPAN_NS` from its first packet)
        and the epochs table (:data:`MAX_EPOCHS` epochs): checked before the kernel runs."""
        d = self.drained
        if d.t0 is None:  # the first packet: the kernel's clock starts here
            d.t0 = int(ts[0])
            d.state.ctl["origin"] = d.t0
        span = int(ts[-1]) - d.t0  # Python ints: no overflow whatever the clock
        if span > MAX_SPAN_NS:
            row = self._staged + int(np.searchsorted(ts, d.t0 + MAX_SPAN_NS, side="right"))
            raise ParameterError(
                "packets",
                f"ts_ns {int(ts[row - self._staged])} at row {row}",
                f"at most {MAX_SPAN_NS} ns (2**60, about 36 years) after the first packet ({d.t0})",
            )
        epoch_ns = self.params.report.epoch_ns
        epochs = span // epoch_ns + 1
        if epochs > MAX_EPOCHS:
            raise ParameterError(
                "epoch_ns",
                epoch_ns,
                f"at least {-(-span // (MAX_EPOCHS - 1))} ns for this trace: it spans {span:,} ns "
                f"by row {self._staged + ts.shape[0] - 1}, {epochs:,} epochs of {epoch_ns:,} ns, and an "
                f"epochs table holds at most {MAX_EPOCHS:,}",
            )

    def run_kernel(self, ts, flow, wl, events, out: ChunkOut | None = None) -> ChunkOut:
        """Drive the replay kernel over one chunk and its events (draining unit records and
        transfer rows as they fill), writing its per-packet outputs into ``out`` (by default
        fresh ones). Every event of the chunk must be processed by its end."""
        n = ts.shape[0]
        if out is None:
            out = self._out_buffers(n)
        ev_time, ev_code = events
        st = self.drained.state
        st.ctl["ev"] = 0
        i = 0
        g0 = np.int64(self.drained.n_in)
        while True:
            i, status = replay_chunk_nb(
                ts, flow, wl, ev_time, ev_code, i, g0, self.record, self.drained.state, out
            )
            if status == STATUS_TIME_LIMIT:
                self._time_limit(g0 + i)
            if status == STATUS_BAD_FAILURE:
                self._bad_failure()
            self._drain()
            if status == STATUS_DONE:
                break
        done = int(self.drained.state.ctl["ev"][0])
        if done != ev_time.shape[0]:
            raise RuntimeError(
                f"replay kernel processed {done} of the chunk's {ev_time.shape[0]} events"
            )
        return out

    def _time_limit(self, row: int) -> None:
        u = self.params.units
        raise ParameterError(
            "per_packet_ns / per_byte_ps",
            f"{u.per_packet_ns} / {u.per_byte_ps}",
            f"service times this trace's units can work off: at row {row} a unit's backlog "
            f"reaches {int(TIME_LIMIT):,} ns (2**61) after the first packet",
        )

    def _bad_failure(self) -> None:
        st = self.drained.state
        k = int(st.ctl["fi"][0])
        row = st.fails[k]
        kind = names(FailureKind)[row[F_KIND]].replace("_", "+")
        active = [int(u) for u in np.flatnonzero(st.units["active"])]
        what = f"Failure({int(row[F_TIME])}, {kind!r}, {int(row[F_TARGET])})"
        if row[F_TARGET] >= 0 and row[F_TARGET] not in active:
            raise ParameterError(
                "failures", what, f"a unit active at that time (active then: {active})"
            )
        raise ParameterError(
            "failures",
            what,
            f"at most {st.inflight.shape[1]:,} unreleased packets on the failed unit (it had more: "
            "a backlog this long; give fewer units more capacity, or fail it earlier)",
        )

    def _out_buffers(self, n: int, touch: bool = False) -> ChunkOut:
        """Per-packet output arrays for an n-packet chunk: empty unless kept (then fresh each
        chunk, as the tables hold them; ``touch``: see :func:`carve`)."""
        rows = n if self.drained.keep else 0
        dtypes = [np.int32, *[np.int64] * 4, np.uint8, np.bool_, np.int64, np.int64, np.bool_]
        ol = rows if self.record[0]["ol_rows"] else 0
        sizes = [rows] * 7 + [n if self.drained.keep_src else 0, ol, ol]
        return ChunkOut(*carve(dtypes, sizes, touch))

    def feed_prepared(self, trace: PreparedTrace, chunk_size: int, bar) -> None:
        """Replay a prepared trace in chunks, with its cached events (``bar.advance(n)`` after
        each chunk)."""
        if trace.n_packets:  # before its relative times and events are computed
            self._check_span(trace.ts)
        ev_time, ev_code = trace.events(self.close_after, self.push_after)
        rel = trace.relative_ts
        n = trace.n_packets
        if n == 0:
            return
        cuts = [*range(0, n, chunk_size), n]
        cuts[1:1] = ramp_cuts(min(n, chunk_size))  # (see feed_chunks)
        ends = np.searchsorted(ev_time, rel[np.asarray(cuts[1:]) - 1], side="left")
        stages = []
        e0 = 0
        for a, b, e1 in zip(cuts[:-1], cuts[1:], ends.tolist(), strict=True):
            events = (ev_time[e0:e1], ev_code[e0:e1])  # before the chunk's last packet
            rows = (trace.ts[a:b], trace.flow[a:b], trace.wire_len[a:b], events)
            stages.append(partial(self._stage, *rows, n_flows=trace.n_flows, rel=rel[a:b]))
            e0 = e1
        self._pipeline(iter(stages), bar)

    def _drain(self) -> None:
        """Take the unit records, transfer rows and epoch rows the kernel wrote."""
        d = self.drained
        ctl = d.state.ctl
        r = int(ctl["n_records"][0])
        if r:
            d.records.append(d.state.records[:r].copy())
            ctl["n_records"] = 0
        r = int(ctl["n_transfers"][0])
        if r:
            batch = d.state.transfers[:, :r]
            if d.keep_transfers:  # every transfer; else only the sums and what the NF pass needs
                size = d.state.transfers.shape[1]
                if 2 * r >= size:  # a full buffer is kept as is, and the kernel gets a fresh one
                    d.transfers.append(batch)
                    d.state = d.state._replace(
                        transfers=new_transfers(max(size, 4 * TRANSFER_ROWS))
                    )
                else:
                    d.transfers.append(batch.copy())
            elif d.keep_src:
                push = batch[TR_KIND] == TransferKind.push
                d.pushed_packets.append(batch[TR_PACKET][push])
            ctl["n_transfers"] = 0
        r = int(ctl["n_eu"][0])
        if r:
            d.eu_parts.append(d.state.eu_rows[:r].copy())
            ctl["n_eu"] = 0
        r = int(ctl["n_patches"][0])
        if r:
            self._apply_patches(d.state.patches[:r])
            ctl["n_patches"] = 0

    def _apply_patches(self, rows: np.ndarray) -> None:
        """Rewrite the rows of earlier chunks that a failure changed (PATCH_COLUMNS)."""
        starts = np.cumsum([0] + [part.ts.shape[0] for part in self.drained.packet_parts])
        for row in rows:
            k = int(np.searchsorted(starts, row[0], side="right")) - 1
            out = self.drained.packet_parts[k].out
            i = int(row[0] - starts[k])
            out.unit[i], out.start[i], out.state_wait[i] = row[1], row[2], row[3]
            out.latency[i], out.wait_cause[i] = row[4], row[5]
            if out.ol.shape[0]:  # (else ol_hop_ns and not lost, the table's fill)
                out.ol[i], out.lost[i] = row[6], row[7]

    def finish(self) -> Drained:
        """End of trace: close every item, retire every unit, drain; returns the record."""
        st = self.drained.state
        k = int(st.ctl["fi"][0])
        if k < st.fails.shape[0]:
            span = self.drained.t_last - (self.drained.t0 or 0)
            raise ParameterError(
                "failures",
                f"a failure at {int(st.fails[k, F_TIME])} ns",
                f"a time within the trace: 0 to {span} ns after its first packet",
            )
        self._drain()
        finish_replay_nb(self.record, self.drained.state)
        self._drain()
        return self.drained
