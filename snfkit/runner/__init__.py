"""``snfkit.replay``: run a packets table (or its chunks) through the controller and collect Results.

One module per job: :mod:`~snfkit.runner.inputs` (what a replay accepts, normalised),
:mod:`~snfkit.runner.drive` (the kernel driver, :class:`~snfkit.runner.drive.Driver`),
:mod:`~snfkit.runner.drained` (the record a finished replay leaves),
:mod:`~snfkit.runner.tables` (tables and summary from that record) and
:mod:`~snfkit.runner.nfpass` (the NF pass). This module puts them together.
The kernel (:mod:`snfkit.engine.replay_nb`) sees only arrays and NamedTuples.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import polars as pl

from snfkit.errors import ParameterError
from snfkit.faults import schedule_array
from snfkit.params import ReplayParams
from snfkit.prepared import PreparedTrace
from snfkit.progress import ProgressCallback, progress_reporter
from snfkit.results import Results
from snfkit.runner import nfpass
from snfkit.runner.drive import Driver
from snfkit.runner.inputs import check_chunk_size, chunks_of, nf_inputs, nf_setup
from snfkit.runner.many import replay_many
from snfkit.runner.tables import PERCENTILES, WAIT_CAUSES, build_results

__all__ = ["PERCENTILES", "WAIT_CAUSES", "Driver", "replay"]


def replay(
    packets: Any,
    params: ReplayParams | None = None,
    *,
    progress: bool | ProgressCallback = False,
    chunk_size: int = 1_000_000,
    nf: Any = None,
    keep_state_sources: bool = False,
    failures: Any = None,
    **flat: Any,
) -> Results:
    """Replay a trace through SNF's controller (mode ``flowlet``) or a baseline.

    packets: a packets table (needs ``ts_ns``, ``flow_id``, ``wire_len``), an iterable of such tables
        in time order (chunks of one trace, flow ids global), a path (a parquet file in the packets
        table's types is read ``chunk_size`` rows at a time, so a trace larger than memory can be
        replayed: :mod:`snfkit.traces.stream`; other files are read whole by
        :func:`~snfkit.traces.load_trace`),
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
        when the table has no ``direction`` column. ``state_bytes`` and the NF's processing cost
        (``nf_packet_ns``, ``nf_byte_ps``; used with ``nf_cost=True``) default to the NF's. Adds
        ``nf_action``, ``nf_out0``, ``nf_out1`` to the packets table, ``Results.nf_output`` (one row
        per packet) and an ``nf`` entry to the summary; ``packets_dropped`` counts the NF's drops.
        How the NF pass runs: :mod:`snfkit.runner.nfpass`.
    keep_state_sources: keep each packet's state source (``Results.extra['src_pkt']``: the global
        index of the packet whose post-state it started from, -1 for a fresh state).
    failures: failures to inject (:mod:`snfkit.faults`): a list of :class:`snfkit.Failure` or
        :func:`snfkit.random_failures` (rate, kinds, seed); recovery per the ``faults`` parameters
        (``recovery='snf' | 'chc' | 'ftmb'``, ...). Adds ``Results.failures``; with an NF, its pass
        runs over the state versions each packet's unit held, so recovered (or lost) state shows
        in the NF output. One controller with units of its own only.

    With ``controllers`` > 1 or ``resource_manager=True`` the flows are split among controllers
    that each run the algorithm on their share (:mod:`snfkit.runner.many`; docs/controllers.md):
    the tables get a ``controller`` column and ``Results.controller_epochs`` (and ``leases`` and
    ``rm_units`` under a resource manager) are added.

    Returns :class:`~snfkit.results.Results`.
    """
    nf_obj = None
    if nf is not None:
        nf_obj, packets = nf_setup(nf, packets)
        own = {
            "state_bytes": nf_obj.state_bytes,
            "nf_packet_ns": nf_obj.packet_ns,
            "nf_byte_ps": nf_obj.byte_ps,
        }
        flat = {**{k: v for k, v in own.items() if k not in flat}, **flat}
    if params is None:
        params = ReplayParams.from_flat(**flat)
    elif flat:
        params = params.replace(**flat)
    check_chunk_size(chunk_size)
    if params.controllers.controllers > 1 or params.controllers.resource_manager:
        if failures:
            raise ParameterError(
                "failures",
                "given",
                "none with controllers > 1 or resource_manager (failures are modelled for one "
                "controller with units of its own)",
            )
        return replay_many(
            packets,
            params,
            progress=progress,
            chunk_size=chunk_size,
            nf_obj=nf_obj,
            inputs=nf_inputs(nf_obj, packets) if nf_obj is not None else None,
            keep_state_sources=keep_state_sources,
        )
    fails = schedule_array(
        failures, _span(packets), params.units.max_units, params.faults.units_per_ol
    )
    sequential = None
    if nf_obj is not None and not keep_state_sources and nfpass.sequential_pass(params, fails):
        # the NF's inputs are extracted on its thread too, while the replay runs
        sequential = nfpass.SequentialNF(nf_obj, lambda: nf_inputs(nf_obj, packets))
    keep_src = keep_state_sources or (nf_obj is not None and sequential is None)
    driver = Driver(params, keep_src=keep_src, fails=fails)
    label = f"replay ({params.modes.mode})"
    if isinstance(packets, PreparedTrace):
        driver.reserve(packets.n_flows, packets.n_packets)
        with progress_reporter(progress, packets.n_packets, label) as bar:
            driver.feed_prepared(packets, chunk_size, bar)
    else:
        _feed_chunks(driver, packets, chunk_size, progress, label)
    results = build_results(driver.finish())
    if sequential is not None:
        out = sequential.result()
        if results.summary["stale_state_used"]:  # some unit used an older version: replay again
            return replay(
                packets,
                params,
                progress=progress,
                chunk_size=chunk_size,
                nf=nf_obj,
                keep_state_sources=True,
                failures=failures,
            )
        nfpass.attach(results, nf_obj, out)
    elif nf_obj is not None:
        nfpass.run_over_versions(results, nf_obj, nf_inputs(nf_obj, packets))
    if not keep_state_sources:
        results.extra.pop("src_pkt", None)
    results.extra.pop("pushed_packets", None)
    results.extra.pop("wire_bytes", None)
    return results


def _span(packets: Any) -> int | None:
    """The trace's span (last - first arrival, ns) when known before replaying it."""
    if isinstance(packets, PreparedTrace):
        return int(packets.ts[-1]) - int(packets.ts[0]) if packets.n_packets else 0
    if isinstance(packets, pl.DataFrame) and "ts_ns" in packets.columns and packets.height:
        col = packets["ts_ns"]
        if col.dtype.is_integer() and col.null_count() == 0:
            return int(col.max()) - int(col.min())
    return None


def _feed_chunks(driver: Driver, packets: Any, chunk_size: int, progress, label: str) -> None:
    """Feed a table, an iterable of tables or a path chunk by chunk."""
    chunks, total = chunks_of(packets, chunk_size)
    top = None
    if (
        isinstance(packets, pl.DataFrame)
        and "flow_id" in packets.columns
        and packets["flow_id"].dtype.is_integer()
    ):
        top = packets["flow_id"].max()
    if top is not None:  # bad ids are reported chunk by chunk; item rows: zero pages until written
        driver.reserve(int(top) + 1, packets.height, ahead=True)
    elif isinstance(packets, str | PathLike) and total:  # tables grow in place, never copied
        driver.reserve(0, total)
        driver.make_room(total)  # (a flow per packet at most)
    pieces = (
        sub
        for chunk in chunks
        for sub in (chunk.iter_slices(chunk_size) if chunk.height > chunk_size else (chunk,))
    )
    with progress_reporter(progress, total, label) as bar:
        driver.feed_chunks(pieces, bar)
