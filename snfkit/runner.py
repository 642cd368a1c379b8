"""``snfkit.replay``: run a packets table (or its chunks) through the controller and collect Results.

The kernel (:mod:`snfkit.engine.replay_nb`) sees only arrays and NamedTuples; this module turns
tables into arrays, feeds the kernel chunk by chunk (bounded memory, progress, Ctrl-C between chunks),
grows its state when new flows appear, and turns the records into :class:`~snfkit.results.Results`.
Chunked and one-shot replays give identical results for any chunk size.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from snfkit import latency_hist
from snfkit.engine import replay_nb as K
from snfkit.engine import state_nb as S
from snfkit.engine.collect_nb import (
    EPOCH_RING,
    EU_COLUMNS,
    N_WAIT_CAUSES,
    Items,
    new_items,
    ranked_values,
)
from snfkit.engine.events_nb import event_scratch, events_chunk, no_pending
from snfkit.errors import ParameterError
from snfkit.params import ReplayParams
from snfkit.prepared import REQUIRED as _REQUIRED
from snfkit.prepared import PreparedTrace, checked_columns
from snfkit.progress import ProgressCallback, progress_reporter
from snfkit.results import Results

PERCENTILES = (1.0, 25.0, 50.0, 75.0, 99.0, 99.9)
WAIT_CAUSES = ["none", "pull", "store", "replica"]
ITEM_REASONS = ["new_flow", "timeout", "size", "packet"]
TRANSFER_ROWS = 1 << 16
"""Transfer rows the kernel writes before the runner drains them (the buffer grows to 4x that when
transfers are kept: a full buffer is handed over as is and the kernel gets a fresh one)."""
EU_ROWS = 1 << 14
"""Epoch rows (:mod:`snfkit.engine.collect_nb`) the kernel writes before the runner drains them (at
least room for two flushes of the whole ring)."""


def enum_column(codes: np.ndarray, categories: Iterable[str]) -> pl.Series:
    """An Enum column from integer codes (indices into ``categories``; a code out of range
    raises)."""
    cats = list(categories)
    # gathering with a polars index is ~3x faster than with a numpy one (1M rows: 1.4 vs 4.1 ms)
    return pl.Series(cats, dtype=pl.Enum(cats)).gather(pl.Series(np.asarray(codes, np.uint32)))


def carve(dtypes: list, sizes: list[int]) -> list[np.ndarray]:
    """Arrays of these dtypes and lengths, cut from one fresh block (64-byte aligned each). One
    big block gets transparent huge pages (numpy asks for them from 4 MB on), so writing it first
    costs far fewer page faults than many small arrays, which are below that size."""
    offsets, total = [], 0
    for dt, n in zip(dtypes, sizes, strict=True):
        offsets.append(total)
        total += -(-n * np.dtype(dt).itemsize // 64) * 64
    block = np.empty(total + 64, np.uint8)
    base = -block.ctypes.data % 64
    return [block[base + o : base + o + n * np.dtype(dt).itemsize].view(dt)
            for dt, n, o in zip(dtypes, sizes, offsets, strict=True)]  # fmt: skip


def new_state(n_flows: int, p: K.NamedTuple) -> K.ReplayState:
    """Fresh controller state for ``n_flows`` flows and the pool of ``p.max_units`` slots."""
    u = p.max_units
    units = np.zeros(u, K.UNIT_DTYPE)
    units["life"] = -1
    units["ld"] = np.inf
    units["w"] = 1.0 / (np.arange(u) + 1.0)
    units["px_ver"] = -1
    ctl = np.zeros(1, K.CTL_DTYPE)
    ctl["load_bucket"] = -1
    return K.ReplayState(
        flows=fresh_flows(n_flows),
        units=units,
        ring=np.zeros((u, p.n_buckets), np.int64),
        records=np.zeros(4 * u + 64, K.RECORD_DTYPE),
        ctl=ctl,
        masks=np.zeros((n_flows, 2, p.mask_words), np.uint64),
        transfers=S.new_transfers(max(4 * u + 64, TRANSFER_ROWS)),
        items=new_items(0),
        hist=np.zeros(latency_hist.N_BUCKETS, np.int64),
        waits=np.zeros((2, N_WAIT_CAUSES), np.int64),
        eu=np.zeros((u, EPOCH_RING, 4), np.int64),
        eu_rows=np.zeros((max(EU_ROWS, 2 * (EPOCH_RING * u + 1)), len(EU_COLUMNS)), np.int64),
    )


def event_delays(kp: K.NamedTuple) -> tuple[int, int]:
    """Idle times after which a flow's item closes and its state is pushed (-1: no such events;
    :mod:`snfkit.engine.events_nb`)."""
    if kp.mode == K.MODE_PACKET:
        return -1, -1
    pushing = kp.state_mode == S.SM_PROACTIVE and kp.policy != S.POL_NONE
    return int(kp.close_after_ns), int(kp.push_after_ns) if pushing else -1


_FLOW_WORDS = K.FLOW_DTYPE.itemsize // 8
assert K.FLOW_DTYPE.itemsize % 8 == 0, "flow records are copied as int64 words"
_FRESH_WORDS = np.frombuffer(K.FLOW_FRESH.tobytes(), np.int64)


def _flow_words(flows: np.ndarray) -> np.ndarray:
    """The flow records as an int64 [F, words] view: numpy fills and copies structured arrays
    element by element, about 4x slower than the same bytes as int64 rows."""
    return flows.view(np.int64).reshape(flows.shape[0], _FLOW_WORDS)


def fresh_flows(n: int) -> np.ndarray:
    """n flow records, each :data:`~snfkit.engine.replay_nb.FLOW_FRESH`."""
    words = np.empty((n, _FLOW_WORDS), np.int64)
    words[:] = _FRESH_WORDS
    return words.view(K.FLOW_DTYPE).reshape(n)


def _grow_flows(st: K.ReplayState, n_flows: int) -> K.ReplayState:
    old = st.flows.shape[0]
    if n_flows <= old:
        return st
    size = max(n_flows, 2 * old)
    flows = fresh_flows(size)
    _flow_words(flows)[:old] = _flow_words(st.flows)
    masks = np.zeros((size, *st.masks.shape[1:]), np.uint64)
    masks[:old] = st.masks
    return st._replace(flows=flows, masks=masks)


def _chunks_of(packets: Any, chunk_size: int) -> tuple[Iterator[pl.DataFrame], int | None]:
    """Normalize the input to an iterator of DataFrames and a total packet count (or None)."""
    if isinstance(packets, pl.DataFrame):
        return packets.iter_slices(chunk_size), packets.height
    if isinstance(packets, pl.LazyFrame):
        df = packets.collect()
        return df.iter_slices(chunk_size), df.height
    if isinstance(packets, str | PathLike):
        path = Path(packets)
        with open(path, "rb") as fh:
            is_parquet = fh.read(4) == b"PAR1"
        if is_parquet:
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            cols = [c for c in _REQUIRED if c in pf.schema_arrow.names]
            it = (
                pl.from_arrow(batch)
                for batch in pf.iter_batches(batch_size=chunk_size, columns=cols)
            )
            return it, pf.metadata.num_rows
        from snfkit.traces import load_trace

        df = load_trace(path)
        return df.iter_slices(chunk_size), df.height
    if isinstance(packets, Iterable):
        return iter(packets), None
    raise ParameterError(
        "packets",
        type(packets).__name__,
        "a polars DataFrame, an iterable of DataFrames, or a trace path",
    )


def replay(
    packets: Any,
    params: ReplayParams | None = None,
    *,
    progress: bool | ProgressCallback = False,
    chunk_size: int = 1_000_000,
    nf: Any = None,
    keep_state_sources: bool = False,
    **flat: Any,
) -> Results:
    """Replay a trace through SNF's controller (mode ``flowlet``) or a baseline.

    packets: a packets table (needs ``ts_ns``, ``flow_id``, ``wire_len``), an iterable of such tables
        in time order (chunks of one trace, flow ids global), a path (parquet is read by row group),
        or a :class:`~snfkit.prepared.PreparedTrace` (:func:`~snfkit.prepared.prepare_trace`: checked
        once, flowlet detection and events cached per (T, B); for many replays of one trace).
    params: a :class:`~snfkit.params.ReplayParams`; or give parameters by name as keywords
        (``mode='flow', timeout_ns=100_000, alpha=0.5``), on top of ``params`` if both are given.
    progress: True draws a bar; a callable gets ``(packets_done, packets_total)``.
    chunk_size: packets per kernel call; results do not depend on it.
    nf: an NF (:func:`snfkit.nf.get_nf`, or a name such as ``'nat'``) to run over the replay: each
        packet is processed against the state version its unit holds (see
        :mod:`snfkit.engine.state_nb`). Needs the whole table (a DataFrame or a PreparedTrace). A
        bidirectional NF keys flows by connection first (:func:`snfkit.traces.transforms.connections`)
        when the table has no ``direction`` column. ``state_bytes`` defaults to the NF's. Adds
        ``nf_action``, ``nf_out0``, ``nf_out1`` to the packets table, ``Results.nf_output`` (one row
        per packet) and an ``nf`` entry to the summary; ``packets_dropped`` counts the NF's drops.
        How the NF pass runs: with the clock check on, every item starts from its flow's latest
        state, so the pass is the NF's sequential run; it runs on a second thread during the
        replay, and the replay's ``stale_state_used`` count (items that started from an older
        copy) confirms it (if it is not 0 the replay runs again keeping the state versions). With
        ``clock_check=False`` or ``keep_state_sources`` the pass runs after the replay over the
        version each packet's unit held (state sources and pushed packets kept).
    keep_state_sources: keep each packet's state source (``Results.extra['src_pkt']``: the global
        index of the packet whose post-state it started from, -1 for a fresh state).

    Returns :class:`~snfkit.results.Results`.
    """
    nf_obj = None
    if nf is not None:
        nf_obj, packets = _nf_setup(nf, packets)
        if "state_bytes" not in flat:
            flat = {**flat, "state_bytes": nf_obj.state_bytes}
    if params is None:
        params = ReplayParams.from_flat(**flat)
    elif flat:
        params = params.replace(**flat)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ParameterError("chunk_size", chunk_size, "an integer >= 1")
    inputs = sequential = None
    if nf_obj is not None:
        inputs = _nf_inputs(nf_obj, packets)
        if not keep_state_sources and _sequential_pass(params):
            sequential = _SequentialNF(nf_obj, inputs)
    run = _Run(params)
    run.keep_src = keep_state_sources or (nf_obj is not None and sequential is None)
    if run.keep_src:  # the NF pass needs the pushed packets: keep transfer rows
        run.kp = run.kp._replace(record_transfers=True, keep_src=True)
    if isinstance(packets, PreparedTrace):
        run.reserve(packets.n_flows, packets.n_packets)
        with progress_reporter(progress, packets.n_packets, f"replay ({params.modes.mode})") as bar:
            run.feed_prepared(packets, chunk_size, bar)
        results = run.finish()
    else:
        results = _replay_chunks(run, packets, params, progress, chunk_size)
    if sequential is not None:
        out = sequential.result()
        if results.summary["stale_state_used"]:  # some unit used an older version: replay again
            return replay(packets, params, progress=progress, chunk_size=chunk_size, nf=nf_obj,
                          keep_state_sources=True)  # fmt: skip
        _attach_nf(results, nf_obj, out)
    elif nf_obj is not None:
        _run_nf(results, nf_obj, inputs)
    if not keep_state_sources:
        results.extra.pop("src_pkt", None)
    results.extra.pop("pushed_packets", None)
    return results


def _sequential_pass(params: ReplayParams) -> bool:
    """Can the NF pass be the NF's sequential run, started before the replay? Yes with the clock
    check on (the replay's ``stale_state_used`` count confirms it afterwards)."""
    return params.state.clock_check


class _SequentialNF:
    """The NF's sequential run on a second thread (its kernel releases the GIL) while the replay
    runs on this one. If the replay is interrupted the thread finishes its run and is dropped."""

    def __init__(self, nf: Any, inputs: tuple) -> None:
        self._out: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(nf, inputs), name="snfkit-nf-pass", daemon=True
        )
        self._thread.start()

    def _run(self, nf: Any, inputs: tuple) -> None:
        from snfkit.nf import run

        try:
            self._out = run(nf, None, inputs=inputs)
        except BaseException as e:  # re-raised by result(), in the caller's thread
            self._error = e

    def result(self) -> Any:
        """The run's :class:`~snfkit.engine.nf_nb.NFOut` (waits for the thread)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._out


def _replay_chunks(run, packets, params, progress, chunk_size) -> Results:
    """Feed a table, an iterable of tables or a path chunk by chunk; then finish."""
    chunks, total = _chunks_of(packets, chunk_size)
    if isinstance(packets, pl.DataFrame) and "flow_id" in packets.columns and packets.height:
        # bad ids are reported chunk by chunk; item rows are zero pages until written
        run.reserve(int(packets["flow_id"].max()) + 1, packets.height)
    with progress_reporter(progress, total, f"replay ({params.modes.mode})") as bar:
        for chunk in chunks:
            if chunk.height > chunk_size:
                for sub in chunk.iter_slices(chunk_size):
                    run.feed(sub)
                    bar.advance(sub.height)
            else:
                run.feed(chunk)
                bar.advance(chunk.height)
    return run.finish()


def _nf_setup(nf: Any, packets: Any) -> tuple[Any, Any]:
    """Resolve ``nf`` and key a bidirectional NF's flows by connection."""
    from snfkit.nf import NF, get_nf
    from snfkit.nf.base import check_nf_columns

    nf_obj = get_nf(nf) if isinstance(nf, str) else nf
    if not isinstance(nf_obj, NF):
        raise ParameterError("nf", type(nf).__name__, "an snfkit.nf.NF or a built-in NF's name")
    table = packets.packets if isinstance(packets, PreparedTrace) else packets
    if not isinstance(table, pl.DataFrame):
        raise ParameterError(
            "packets", type(packets).__name__, "a packets DataFrame or a PreparedTrace with an NF"
        )
    check_nf_columns(table)
    if nf_obj.bidirectional and "direction" not in table.columns:
        if isinstance(packets, PreparedTrace):
            raise ParameterError(
                "packets", "a PreparedTrace without 'direction'",
                f"prepare_trace(connections(packets)) for the bidirectional NF {nf_obj.name!r}",
            )  # fmt: skip
        from snfkit.traces.transforms import connections

        packets = connections(packets)
    return nf_obj, packets


def _nf_inputs(nf: Any, packets: Any) -> tuple:
    """The arrays the NF reads (:func:`snfkit.nf.prepare`; a PreparedTrace keeps them)."""
    from snfkit.nf import prepare

    if isinstance(packets, PreparedTrace):
        return packets.nf_inputs(nf)
    return prepare(nf, packets)


def _run_nf(results: Results, nf: Any, inputs: tuple) -> None:
    """The NF pass: every packet against the state version its unit held (copy-on-write)."""
    from snfkit.nf import run

    src = results.extra["src_pkt"]
    snap = np.zeros(src.shape[0], np.bool_)
    pushed = results.extra.pop("pushed_packets")
    snap[pushed[pushed >= 0]] = True
    _attach_nf(results, nf, run(nf, None, src=src, snap=snap, inputs=inputs))


def _attach_nf(results: Results, nf: Any, nf_out: Any) -> None:
    """Put an NF pass's outputs (:class:`~snfkit.engine.nf_nb.NFOut`) into the results."""
    from snfkit.nf.base import output_table

    out = output_table(nf_out)
    results.nf_output = out
    dropped = int((out["action"] == 1).sum())
    s = results.summary
    s["packets_dropped"] = dropped
    s["packets_processed"] = s["packets_in"] - dropped
    s["nf"] = {"name": nf.name, "state_width": nf.state_width, "state_bytes": nf.state_bytes,
               "dropped": dropped, "state_delta_bytes": int(out["delta"].sum())}  # fmt: skip
    if results.packets is not None:
        results.packets = results.packets.with_columns(
            nf_action=enum_column(out["action"].to_numpy(), ["forward", "drop"]),
            nf_out0=out["out0"], nf_out1=out["out1"],
        )  # fmt: skip


class _Run:
    """One replay in progress: kernel state plus the aggregates collected chunk by chunk."""

    def __init__(self, params: ReplayParams) -> None:
        self.params = params
        self.kp = params.kernel_tuple()
        self.state = new_state(0, self.kp)
        self.close_after, self.push_after = event_delays(self.kp)
        self.pending = no_pending()
        self.ev_scratch = None  # events_nb work buffers, reused from chunk to chunk
        self.keep = params.report.keep_packets
        self.epoch_ns = params.report.epoch_ns
        self.t0: int | None = None
        self.t_last = 0
        self.last_ts_seen: int | None = None
        self.n_in = 0
        self.pkt_parts: list[pl.DataFrame] = []
        self.transfers: list[np.ndarray] = []  # transfer columns (state_nb), when keep_packets
        self.pushed_packets: list[np.ndarray] = []  # without keep_packets: for the NF pass
        self.keep_src = False  # per-packet state sources, for an NF pass
        self.src_parts: list[np.ndarray] = []
        self.records: list[np.ndarray] = []
        self.eu_parts: list[np.ndarray] = []  # epoch rows drained from the kernel

    # -- feeding -------------------------------------------------------------------------------
    def reserve(self, n_flows: int, n_items: int = 0) -> None:
        """Size the per-flow tables for flow ids below n_flows, and the per-item ones for n_items
        items, at once (they grow by doubling otherwise, copying as they go). The per-item table
        is allocated zeroed, so its pages take memory only once written: an item per packet is
        a bound to reserve."""
        if n_flows > 0:
            self.state = _grow_flows(self.state, n_flows)
        self._grow_items(n_items, exact=True)

    def _grow_items(self, n_items: int, exact: bool = False) -> None:
        have = self.state.items.flow.shape[0]
        if n_items > have:
            size = n_items if exact else max(n_items, 2 * have)
            items = new_items(size)
            for new, old in zip(items, self.state.items, strict=True):
                new[:have] = old
            self.state = self.state._replace(items=items)

    def feed(self, chunk: pl.DataFrame) -> None:
        """Replay the next chunk of packets (a packets table)."""
        if chunk.height == 0:
            return
        ts, flow, wl, max_flow = checked_columns(chunk, self.n_in, self.last_ts_seen)
        col = chunk["wire_len"]
        self.feed_arrays(ts, flow, wl, wire_len=col if col.dtype == pl.UInt32 else None,
                         n_flows=max_flow + 1)  # fmt: skip

    def feed_arrays(self, ts, flow, wl, events=None, wire_len=None, n_flows=None) -> None:
        """Replay the next chunk given as checked int64 arrays. ``events`` (this chunk's events
        from a :class:`~snfkit.prepared.PreparedTrace`) skips their computation. The kernel detects
        flowlets itself (:mod:`snfkit.engine.replay_nb`). ``wire_len``: see :meth:`_collect`.
        ``n_flows``: a bound above the chunk's flow ids, if known."""
        n = ts.shape[0]
        if n == 0:
            return
        if self.t0 is None:
            self.t0 = int(ts[0])
        self.last_ts_seen = int(ts[-1])
        if n_flows is None:
            n_flows = int(flow.max()) + 1
        self.state = _grow_flows(self.state, n_flows)
        if events is None:
            self.ev_scratch = event_scratch(
                n + self.pending.ts.shape[0], self.state.flows.shape[0], self.ev_scratch
            )
            ev_time, ev_code, self.pending = events_chunk(
                ts, flow, self.close_after, self.push_after, self.pending, self.ev_scratch
            )
            events = (ev_time, ev_code)
        self._grow_items(int(self.state.ctl["items"][0]) + n)  # an item per packet at most
        out = self.run_kernel(ts, flow, wl, events)
        self._collect(ts, flow, wl, out, wire_len)
        self.n_in += n
        self.t_last = int(ts[-1])

    def run_kernel(self, ts, flow, wl, events) -> K.ChunkOut:
        """Drive the replay kernel over one chunk and its events (draining unit records and
        transfer rows as they fill). Every event of the chunk must be processed by its end."""
        n = ts.shape[0]
        out = self._out_buffers(n)
        ev_time, ev_code = events
        self.state.ctl["ev"] = 0
        i = 0
        g0 = np.int64(self.n_in)
        pr = K.params_record(self.kp)
        while True:
            i, status = K.replay_chunk_nb(
                ts, flow, wl, ev_time, ev_code, i, g0, self.kp, pr, self.state, out
            )
            self._drain_records()
            if status == K.STATUS_DONE:
                break
        done = int(self.state.ctl["ev"][0])
        if done != ev_time.shape[0]:
            raise RuntimeError(f"replay kernel processed {done} of the chunk's "
                               f"{ev_time.shape[0]} events")  # fmt: skip
        return out

    def _out_buffers(self, n: int) -> K.ChunkOut:
        """Per-packet output arrays for an n-packet chunk: empty unless kept (then fresh each
        chunk, as the tables hold them)."""
        rows = n if self.keep else 0
        dtypes = [np.int32, *[np.int64] * 7, np.uint32, np.bool_, np.int64]
        sizes = [rows] * 10 + [n if self.keep_src else 0]
        return K.ChunkOut(*carve(dtypes, sizes))

    def feed_prepared(self, trace: PreparedTrace, chunk_size: int, bar) -> None:
        """Replay a prepared trace in chunks, with its cached events."""
        ev_time, ev_code = trace.events(self.close_after, self.push_after)
        e0 = 0
        for a in range(0, trace.n_packets, chunk_size):
            b = min(a + chunk_size, trace.n_packets)
            e1 = int(np.searchsorted(ev_time, trace.ts[b - 1], side="left"))  # before the last
            self.feed_arrays(trace.ts[a:b], trace.flow[a:b], trace.wire_len[a:b],
                             (ev_time[e0:e1], ev_code[e0:e1]), n_flows=trace.n_flows)  # fmt: skip
            e0 = e1
            bar.advance(b - a)

    def _drain_records(self) -> None:
        r = int(self.state.ctl["n_records"][0])
        if r:
            self.records.append(self.state.records[:r].copy())
            self.state.ctl["n_records"] = 0
        r = int(self.state.ctl["n_transfers"][0])
        if r:
            batch = self.state.transfers[:, :r]
            if self.keep:  # every transfer; otherwise only the sums and what the NF pass needs
                size = self.state.transfers.shape[1]
                if 2 * r >= size:  # a full buffer is kept as is, and the kernel gets a fresh one
                    self.transfers.append(batch)
                    fresh = S.new_transfers(max(size, 4 * TRANSFER_ROWS))
                    self.state = self.state._replace(transfers=fresh)
                else:
                    self.transfers.append(batch.copy())
            elif self.keep_src:
                push = batch[S.TR_KIND] == S.KIND_PUSH
                self.pushed_packets.append(batch[S.TR_PACKET][push])
            self.state.ctl["n_transfers"] = 0
        r = int(self.state.ctl["n_eu"][0])
        if r:
            self.eu_parts.append(self.state.eu_rows[:r].copy())
            self.state.ctl["n_eu"] = 0

    def _collect(self, ts, flow, wl, out: K.ChunkOut, wire_len: pl.Series | None) -> None:
        """Keep the chunk's per-packet rows (``wire_len``: the table's own UInt32 column, if it
        has one, taken as it is) and state sources."""
        if self.keep:
            self.pkt_parts.append(
                pl.DataFrame(
                    {
                        "ts_ns": ts,
                        "flow_id": flow,
                        "wire_len": wl.astype(np.uint32) if wire_len is None else wire_len,
                        "unit": out.unit,
                        "item": out.item,
                        "start_ns": out.start,
                        "finish_ns": out.finish,
                        "latency_ns": out.latency,
                        "queue_ns": out.queue,
                        "state_wait_ns": out.state_wait,
                        "service_ns": out.service,
                        "wait_cause": enum_column(out.wait_cause, WAIT_CAUSES),
                        "reordered": out.reordered,
                    }
                )
            )
        if self.keep_src:
            self.src_parts.append(out.src_pkt)

    # -- finishing ------------------------------------------------------------------------------
    def finish(self) -> Results:
        self._drain_records()
        K.finish_replay_nb(K.params_record(self.kp), self.state)
        self._drain_records()
        return _build_results(self)


def _build_results(run: _Run) -> Results:
    p = run.params
    cap = p.assignment.unit_capacity_bps
    counters = run.state.ctl[0]
    t0 = run.t0 if run.t0 is not None else 0
    duration = max(run.t_last - t0, 0)

    units = _units_table(run)
    flowlets = _flowlets_table(run)
    epochs, epoch_units = _epoch_tables(run, units, cap)
    packets = None
    if run.keep:
        packets = pl.concat(run.pkt_parts) if run.pkt_parts else _empty_packets()
    transfers = _transfers_table(run)
    summary = _summary(run, packets, units, duration, counters)
    summary.update(_state_summary(run, duration, counters))
    extra = {}
    if run.keep_src:
        extra["src_pkt"] = np.concatenate(run.src_parts) if run.src_parts else np.zeros(0, np.int64)
        if run.keep:
            pushed = transfers.filter(pl.col("kind") == "push")["packet"].to_numpy()
        else:
            pushed = np.concatenate(run.pushed_packets) if run.pushed_packets else np.zeros(0, int)
        extra["pushed_packets"] = pushed
    return Results(
        extra=extra,
        summary=summary,
        params=p.flat(),
        packets=packets,
        flowlets=flowlets,
        epochs=epochs,
        epoch_units=epoch_units,
        units=units,
        transfers=transfers,
    )


def _transfers_table(run: _Run) -> pl.DataFrame | None:
    if not run.keep:
        return None
    state_bytes = run.params.state.state_bytes

    def frame(cols: np.ndarray) -> pl.DataFrame:
        """The table of one transfer buffer (its columns are contiguous: taken without copies)."""
        c = dict(zip(S.TRANSFER_COLUMNS, cols, strict=True))
        return pl.DataFrame({
            "time_ns": c["time_ns"], "arrive_ns": c["arrive_ns"], "flow_id": c["flow_id"],
            "from_unit": c["from_unit"].astype(np.int32), "to_unit": c["to_unit"].astype(np.int32),
            "bytes": np.full(cols.shape[1], state_bytes, np.int64),
            "kind": enum_column(c["kind"], S.TRANSFER_KINDS), "clock": c["clock"],
            "packet": c["packet"],
        })  # fmt: skip

    frames = []
    while run.transfers:  # convert part by part, freeing each: the rows can run to millions
        frames.append(frame(run.transfers.pop(0)))
    return pl.concat(frames) if frames else frame(S.new_transfers(0))


def _state_summary(run, duration, counters) -> dict[str, Any]:
    """Where state came from, waits by cause, seamless share, replication traffic."""
    n_items = int(run.state.ctl["items"][0])  # the flowlets table's rows, from the kernel's columns
    codes = run.state.items.source[:n_items]
    moved = run.state.items.moved[:n_items]
    counts = np.bincount(codes, minlength=len(S.STATE_SOURCES))
    sources = {name: int(n) for name, n in zip(S.STATE_SOURCES, counts, strict=True)}
    n_moved = int(np.count_nonzero(moved))
    seamless = int(np.count_nonzero(moved & ((codes == S.SRC_REPLICA) | (codes == S.SRC_FREE))))
    push_bytes = int(counters["transfer_bytes"][S.KIND_PUSH])
    waits = {}
    for j, cause in enumerate(WAIT_CAUSES[1:], start=1):
        n, total = int(run.state.waits[0, j]), int(run.state.waits[1, j])
        waits[cause] = {"packets": n, "total_us": total / 1e3,
                        "mean_us": total / n / 1e3 if n else 0.0}  # fmt: skip
    return {
        "state_mode": run.params.state.state_mode,
        "state_sources": sources,
        "moved_flowlets": n_moved,
        "seamless_share": seamless / n_moved if n_moved else None,
        "waits": waits,
        "pushes": int(counters["pushes"]),
        "replica_copies": int(counters["copies"]),
        "stale_copies": int(counters["stale_copies"]),
        "stale_state_used": int(counters["stale_used"]),
        "store_reads": int(counters["store_reads"]),
        "store_writes": int(counters["store_writes"]),
        "state_bytes": run.params.state.state_bytes,
        "replication_mbps": push_bytes * 8.0 / duration * 1e3 if duration else 0.0,
    }


def _empty_packets() -> pl.DataFrame:
    return pl.DataFrame(schema={
        "ts_ns": pl.Int64, "flow_id": pl.Int64, "wire_len": pl.UInt32, "unit": pl.Int32,
        "item": pl.Int64, "start_ns": pl.Int64, "finish_ns": pl.Int64, "latency_ns": pl.Int64,
        "queue_ns": pl.Int64, "state_wait_ns": pl.Int64, "service_ns": pl.Int64,
        "wait_cause": pl.Enum(WAIT_CAUSES), "reordered": pl.Boolean,
    })  # fmt: skip


def _units_table(run: _Run) -> pl.DataFrame:
    rec = np.concatenate(run.records) if run.records else np.zeros(0, K.RECORD_DTYPE)
    rec = rec[np.argsort(rec["unit_life"], kind="stable")]
    table = pl.DataFrame({c: rec[c] for c in K.RECORD_DTYPE.names})
    return table.with_columns((pl.col("retire_ns") - pl.col("start_ns")).alias("lifetime_ns"))


def _flowlets_table(run: _Run) -> pl.DataFrame:
    n = int(run.state.ctl["items"][0])
    it = Items(*(a[:n] for a in run.state.items))
    rate = K.item_rates_nb(it.open_ts, it.last, it.bytes, it.pkts,
                           np.int64(run.params.close_after_ns))  # fmt: skip
    return pl.DataFrame({
        "item": np.arange(n, dtype=np.int64), "flow_id": it.flow, "unit": it.unit,
        "unit_life": it.life, "open_ns": it.open_ts, "last_ns": it.last, "end_ns": it.end,
        "packets": it.pkts, "bytes": it.bytes, "reason": enum_column(it.reason, ITEM_REASONS),
        "estimate_gbps": it.est / 1e9, "measured_gbps": rate / 1e9, "overflow": it.overflow,
        "state_source": enum_column(it.source, S.STATE_SOURCES), "moved": it.moved,
    })  # fmt: skip


def _epoch_tables(run: _Run, units: pl.DataFrame, cap: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    E = run.epoch_ns
    t0 = run.t0 if run.t0 is not None else 0
    n_epochs = (run.t_last - t0) // E + 1 if run.n_in else 0
    # unit activity per epoch from lifetimes
    act_epoch, act_unit, act_ns = [], [], []
    starts = units["start_ns"].to_numpy()
    retires = units["retire_ns"].to_numpy()
    slots = units["unit"].to_numpy()
    for s, r, u in zip(starts, retires, slots, strict=True):
        e_lo = max((s - t0) // E, 0)
        e_hi = min((r - t0) // E, n_epochs - 1)
        for e in range(e_lo, e_hi + 1):
            lo = max(s, t0 + e * E)
            hi = min(r, t0 + (e + 1) * E)
            if hi > lo:
                act_epoch.append(e)
                act_unit.append(u)
                act_ns.append(hi - lo)
    active = pl.DataFrame(
        {"epoch": np.asarray(act_epoch, np.int64), "unit": np.asarray(act_unit, np.int64),
         "active_ns": np.asarray(act_ns, np.int64)}
    ).group_by("epoch", "unit").agg(pl.col("active_ns").sum())  # fmt: skip
    rows = (
        np.concatenate(run.eu_parts) if run.eu_parts else np.zeros((0, len(EU_COLUMNS)), np.int64)
    )
    traffic = (
        pl.DataFrame(rows, schema=list(EU_COLUMNS), orient="row")
        .group_by("epoch", "unit")
        .agg(pl.all().sum())
    )
    eu = (
        active.join(traffic, on=["epoch", "unit"], how="full", coalesce=True)
        .filter(pl.col("epoch") < n_epochs)
        .fill_null(0)
        .sort("epoch", "unit")
        .with_columns(
            utilization=pl.when(pl.col("active_ns") > 0)
            .then(pl.col("bytes") * 8e9 / (cap * pl.col("active_ns")))
            .otherwise(None),
            busy_fraction=pl.when(pl.col("active_ns") > 0)
            .then(pl.col("busy_ns") / pl.col("active_ns"))
            .otherwise(None),
        )
    )
    max_active = _max_active_per_epoch(starts, retires, t0, E, n_epochs)
    offered = traffic.group_by("epoch").agg(pl.col("bytes").sum().alias("offered_bytes"))
    base = pl.DataFrame({"epoch": np.arange(n_epochs, dtype=np.int64)})
    per = eu.group_by("epoch").agg(
        pl.col("active_ns").sum(), pl.col("processed_bytes").sum().alias("processed_bytes")
    )
    epochs = (
        base.join(offered, on="epoch", how="left")
        .join(per, on="epoch", how="left")
        .fill_null(0)
        .with_columns(
            start_ns=t0 + pl.col("epoch") * E,
            offered_gbps=pl.col("offered_bytes") * 8.0 / E,
            processed_gbps=pl.col("processed_bytes") * 8.0 / E,
            mean_active_units=pl.col("active_ns") / E,
            max_active_units=pl.Series(max_active, dtype=pl.Int64),
        )
        .with_columns(provisioned_gbps=pl.col("mean_active_units") * cap / 1e9)
        .with_columns(overprovision_gbps=pl.col("provisioned_gbps") - pl.col("offered_gbps"))
        .select("epoch", "start_ns", "offered_gbps", "processed_gbps", "mean_active_units",
                "max_active_units", "provisioned_gbps", "overprovision_gbps")
    )  # fmt: skip
    return epochs, eu.drop("processed_bytes")


def _max_active_per_epoch(starts, retires, t0, E, n_epochs) -> np.ndarray:
    """Most units alive at once within each epoch (sweep over start/retire events)."""
    out = np.zeros(n_epochs, np.int64)
    if n_epochs == 0 or len(starts) == 0:
        return out
    times = np.concatenate([starts, retires])
    delta = np.concatenate([np.ones(len(starts), np.int64), -np.ones(len(retires), np.int64)])
    order = np.lexsort((delta, times))  # retirements before starts at the same instant
    times, delta = times[order], delta[order]
    alive = np.cumsum(delta)
    # level at each epoch start, then the maximum after each event inside the epoch
    for e in range(n_epochs):
        lo, hi = t0 + e * E, t0 + (e + 1) * E
        before = np.searchsorted(times, lo, side="right") - 1
        level = alive[before] if before >= 0 else 0
        inside = alive[(times > lo) & (times < hi)]
        out[e] = max(level, inside.max() if inside.size else 0)
    return out


def _summary(run, packets, units, duration, counters) -> dict[str, Any]:
    if packets is not None and packets.height:
        # numpy's percentile(method="lower") ranks, read with the kernel's latency histogram from
        # the column's chunks (no copy, no partition of the whole column)
        ranks = np.floor((packets.height - 1) * (np.asarray(PERCENTILES) / 100)).astype(np.int64)
        parts = [c.to_numpy() for c in packets["latency_ns"].get_chunks()]
        pct = [float(v) for v in ranked_values(parts, ranks, run.state.hist)]
        exact = True
    else:
        pct = latency_hist.percentiles(run.state.hist, list(PERCENTILES))
        exact = False
    names = ["p1", "p25", "p50", "p75", "p99", "p99.9"]
    unit_ns = int(units["lifetime_ns"].sum()) if units.height else 0
    offered_bits = float(run.state.items.bytes[: int(counters["items"])].sum()) * 8.0
    max_active = int(_max_active_per_epoch(
        units["start_ns"].to_numpy(), units["retire_ns"].to_numpy(), 0, 1 << 62, 1)[0]
    ) if units.height else 0  # fmt: skip
    # time-weighted mean over the trace's span [t0, t_last]
    t0 = run.t0 if run.t0 is not None else 0
    span = max(duration, 1)
    if units.height:
        s = np.clip(units["start_ns"].to_numpy(), t0, t0 + span)
        r = np.clip(units["retire_ns"].to_numpy(), t0, t0 + span)
        mean_active = float((r - s).sum()) / span
    else:
        mean_active = 0.0
    allocations = int(counters["allocations"])
    moves = int(counters["moves"])
    return {
        "mode": run.params.modes.mode,
        "packets_in": run.n_in,
        "packets_processed": run.n_in,
        "packets_dropped": 0,
        "latency_us": {k: v / 1e3 for k, v in zip(names, pct, strict=True)},
        "latency_mean_us": (int(counters["lat_sum"]) / run.n_in / 1e3)
        if run.n_in
        else float("nan"),
        "latency_max_us": int(counters["lat_max"]) / 1e3,
        "latency_exact": exact,
        "mean_active_units": mean_active,
        "max_active_units": max_active,
        "unit_seconds": unit_ns / 1e9,
        "allocations": allocations,
        "moves": moves,
        "opportunities": allocations + moves,
        "overflow": int(counters["overflow_new"] + counters["overflow_full"]),
        "prestarts": int(counters["prestarts"]),
        "state_pulls": int(counters["state_pulls"]),
        "reordered": int(counters["reordered"]),
        "duration_s": duration / 1e9,
        "offered_gbps": offered_bits / span if duration else float("nan"),
    }
