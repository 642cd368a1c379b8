"""The NF pass of a replay: each packet processed by the NF against the state version its unit held.

Two ways (see :func:`snfkit.replay`'s ``nf``): with the clock check on, every item starts from its
flow's latest state, so the pass is the NF's sequential run, started on a second thread before the
replay (:class:`SequentialNF`; its kernel releases the GIL); the replay's ``stale_state_used`` count
confirms it afterwards. Otherwise the pass runs after the replay over the versions each packet's unit
held (:func:`run_over_versions`, from the packets' state sources and the pushed packets).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from snfkit.engine.enums import FailureKind
from snfkit.engine.faults_nb import F_KIND
from snfkit.params import ReplayParams
from snfkit.results import Results
from snfkit.runner.tables import enum_column


def sequential_pass(params: ReplayParams, fails: np.ndarray | None = None) -> bool:
    """Can the NF pass be the NF's sequential run, started before the replay? Yes with the clock
    check on (the replay's ``stale_state_used`` count confirms it afterwards), and with failures
    only of the kinds the paper protects, recovered from the output loggers: recovered state
    equals failure-free state (§6; tests/test_faults.py checks it with the versions pass). A unit
    failing with its own OL loses state, and a recovery from stale replicas (fault injection)
    uses old state: those need the pass over the versions the units held."""
    if not params.state.clock_check:
        return False
    if fails is None or not fails.shape[0]:
        return True
    lossy = (fails[:, F_KIND] == FailureKind.unit_ol).any()
    return params.faults.recovery_from_ol and not lossy


def _lower_priority() -> None:
    """Give this thread a lower priority (nice +10; Linux gives threads their own) than the
    replay's: the replay kernel is the longer of the two, and when they share a core it should
    be the one that runs (with two cores the NF pass finishes within the replay either way).
    Nothing happens where threads have no priority of their own."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


class SequentialNF:
    """The NF's sequential run on a second thread while the replay runs on this one; ``inputs``
    gives the NF's inputs (:func:`snfkit.nf.prepare`'s result), called on that thread too. If the
    replay is interrupted the thread finishes its run and is dropped."""

    def __init__(self, nf: Any, inputs: Callable[[], tuple]) -> None:
        self._out: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(nf, inputs), name="snfkit-nf-pass", daemon=True
        )
        self._thread.start()

    def _run(self, nf: Any, inputs: Callable[[], tuple]) -> None:
        from snfkit.nf import run

        _lower_priority()
        try:
            self._out = run(nf, None, inputs=inputs())
        except BaseException as e:  # re-raised by result(), in the caller's thread
            self._error = e

    def result(self) -> Any:
        """The run's :class:`~snfkit.engine.nf_nb.NFOut` (waits for the thread)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._out


def run_over_versions(results: Results, nf: Any, inputs: tuple) -> None:
    """The NF pass after a replay that kept state sources: every packet against the state version
    its unit held (copy-on-write); the outputs go into ``results``."""
    from snfkit.nf import run

    src = results.extra["src_pkt"]
    snap = np.zeros(src.shape[0], np.bool_)
    pushed = results.extra.pop("pushed_packets")
    snap[pushed[pushed >= 0]] = True
    attach(results, nf, run(nf, None, src=src, snap=snap, inputs=inputs))


def attach(results: Results, nf: Any, nf_out: Any) -> None:
    """Put an NF pass's outputs (:class:`~snfkit.engine.nf_nb.NFOut`) into the results: the
    ``nf_output`` table, the NF's columns of the packets table, and the accounting (packets the NF
    dropped; processed = served - dropped)."""
    from snfkit.nf.base import output_table

    out = output_table(nf_out)
    results.nf_output = out
    dropped = int((out["action"] == 1).sum())
    s = results.summary
    s["packets_dropped"] = dropped
    s["packets_processed"] = s["packets_served"] - dropped
    if s.get("duration_s"):  # the traffic to the output loggers, with the NF's own deltas
        wire = results.extra["wire_bytes"]  # the items' bytes (not the flowlets table: unbuilt)
        s["ol_mbps"] = (wire + float(out["delta"].sum())) * 8 / s["duration_s"] / 1e6
    s["nf"] = {
        "name": nf.name,
        "state_width": nf.state_width,
        "state_bytes": nf.state_bytes,
        "dropped": dropped,
        "state_delta_bytes": int(out["delta"].sum()),
    }
    results.map_packets(
        lambda packets: packets.with_columns(
            nf_action=enum_column(out["action"].to_numpy(), ["forward", "drop"]),
            nf_out0=out["out0"],
            nf_out1=out["out1"],
        )
    )
