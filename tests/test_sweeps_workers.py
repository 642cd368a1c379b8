"""Sweeps on every core (issue 21, part 3): one trial process per core by default, a line that
says so, one prepared trace written once and memory-mapped by the workers, ``workers=1`` to run
in this process, and metrics that do or cannot reach the worker processes.

Studies with several workers are not repeatable (the order in which trials finish decides what
the sampler sees), so these tests check counts, processes and per-trial metrics, not parameters.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import polars as pl
import pytest
from test_sweeps_study import TINY, replay_of_trial, tiny, wait_for_another_process

import snfkit
import snfkit.prepared
from snfkit.errors import ConfigError, ParameterError, SnfkitError
from snfkit.metrics import METRICS, Metric
from snfkit.sweeps import config_from_dict, run_study, trials_table
from snfkit.sweeps import study as study_mod
from snfkit.sweeps.trace import REPLAY_COLUMNS, open_shared, share
from snfkit.workloads import presets


def double_p99(results) -> float:
    """A user's metric, importable by name: worker processes get it."""
    return 2.0 * results.summary["latency_us"]["p99"]


def _pids(trials: pl.DataFrame) -> set[int]:
    return {int(w.split(":")[1]) for w in trials.filter(state="COMPLETE")["worker"]}


def test_default_workers_are_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert study_mod.default_workers() == 3  # the affinity, not the machine's count
    monkeypatch.delattr(os, "sched_getaffinity")
    assert study_mod.default_workers() == 8
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown
    assert study_mod.default_workers() == 1


def test_plan_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(study_mod, "default_workers", lambda: 4)
    c, url = tiny(tmp_path), f"sqlite:///{tmp_path}/x.db"
    plan = study_mod.plan_workers
    assert plan(c, url, None, 10) == (4, "one per core")
    assert plan(c, url, None, 3) == (3, "one per trial left")
    assert plan(c, url, None, 0) == (1, "one per trial left")  # complete: nothing to start
    assert plan(c, url, 2, 10) == (2, "")
    assert plan(c, url, 6, 3) == (3, "one per trial left")
    assert plan(c, url, 1, 10) == (1, "")
    n, why = plan(c, "sqlite:///:memory:", None, 10)
    assert n == 1 and "memory" in why
    with pytest.raises(ParameterError, match="workers=2"):
        plan(c, "sqlite:///:memory:", 2, 10)
    assert study_mod.workers_note(2, "one per core", "--workers 1") == (
        "running 2 trial processes (one per core); --workers 1 to run in this process"
    )


def test_run_study_rejects_bad_worker_counts(tmp_path):
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ParameterError, match="workers"):
            run_study(tiny(tmp_path), workers=bad)


def test_a_shared_trace_maps_the_prepared_arrays_without_checking_them_again(tmp_path, monkeypatch):
    packets = presets.paper_like(0, 0.001).select(REPLAY_COLUMNS)
    packets = packets.with_columns(pl.col("ts_ns") + 10**12)  # not from 0: relative_ts is shared
    prepared = snfkit.prepare_trace(packets)
    written = share(prepared, tmp_path)
    names = ["flow.npy", "relative_ts.npy", "ts.npy", "wire_len.npy"]
    assert sorted(p.name for p in written) == sorted(p.name for p in tmp_path.iterdir()) == names

    def no_checks(*args, **kwargs):
        raise AssertionError("a shared trace is not checked again")

    monkeypatch.setattr(snfkit.prepared, "checked_columns", no_checks)
    mapped = open_shared(tmp_path)
    for name in ("ts", "flow", "wire_len", "relative_ts"):
        array = getattr(mapped, name)
        np.testing.assert_array_equal(array, getattr(prepared, name))
        assert type(array) is np.ndarray and isinstance(array.base, np.memmap)
        assert not array.flags.writeable
    assert np.shares_memory(mapped.packets["ts_ns"].to_numpy(), mapped.ts)  # no copy
    a = snfkit.replay(mapped, keep_packets=False, timeout_ns=200_000)
    b = snfkit.replay(prepared, keep_packets=False, timeout_ns=200_000)
    assert a.summary == b.summary
    assert a.units.equals(b.units)


def test_by_default_one_process_per_core_shares_one_prepared_trace(tmp_path, monkeypatch):
    monkeypatch.setattr(study_mod, "default_workers", lambda: 2)  # as on a 2-core machine
    monkeypatch.setattr(study_mod, "_PACKETS", {})  # nothing prepared by earlier tests
    monkeypatch.setattr(study_mod, "_PREPARED", {})
    prepared, shared = [], []
    real_prepare, real_share = study_mod.prepare, study_mod.share

    def counting_prepare(packets):
        prepared.append(packets.height)
        return real_prepare(packets)

    def counting_share(trace, folder):
        written = real_share(trace, folder)
        shared.append(sorted(p.name for p in folder.iterdir()))
        return written

    monkeypatch.setattr(study_mod, "prepare", counting_prepare)
    monkeypatch.setattr(study_mod, "share", counting_share)
    monkeypatch.setitem(METRICS, "double_p99", Metric("double_p99", double_p99))
    c = tiny(
        tmp_path,
        study={"n_trials": 6, "objectives": ["double_p99"]},
        sampler={"name": "random", "seed": 0},
    )
    wait_for_another_process(monkeypatch, "tiny", c.default_storage())
    notes = []
    r = run_study(c, announce=lambda n, why: notes.append((n, why)))
    assert notes == [(2, "one per core")]
    # prepared once, here; written once for the workers, as arrays only (no packets table that
    # a worker could load and prepare again)
    assert len(prepared) == 1
    assert len(shared) == 1
    assert {"flow.npy", "ts.npy", "wire_len.npy"} <= set(shared[0])
    assert all(name.endswith(".npy") for name in shared[0])
    t = trials_table(r.study)
    done = t.filter(state="COMPLETE")
    assert done.height == 6 == r.complete
    assert os.getpid() in _pids(t) and len(_pids(t)) == 2  # this process and one started
    # the worker replayed the mapped arrays and computed the user's metric: its trials equal
    # replays of the trace in this process with their parameters
    theirs = done.filter(~pl.col("worker").str.contains(f":{os.getpid()}:", literal=True))
    for row in theirs.head(2).iter_rows(named=True):
        res = replay_of_trial(row)
        assert row["p99_latency_us"] == res.summary["latency_us"]["p99"]
        assert row["double_p99"] == double_p99(res)


def test_workers_1_runs_in_this_process_and_says_nothing(tmp_path, capsys):
    r = run_study(tiny(tmp_path, study={"n_trials": 2}), workers=1)
    assert _pids(trials_table(r.study)) == {os.getpid()}
    assert capsys.readouterr().err == ""


def test_an_objective_metric_of_this_session_only_keeps_the_trials_here(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(study_mod, "default_workers", lambda: 2)
    lam = Metric("session_p99", lambda r: float(r.summary["latency_us"]["p99"]))
    monkeypatch.setitem(METRICS, "session_p99", lam)
    c = tiny(tmp_path, study={"n_trials": 2, "objectives": ["session_p99"]})
    with pytest.raises(ParameterError, match="session_p99"):
        run_study(c, workers=2)  # asked for: an error before any trial
    r = run_study(c)  # by default: here, and the line on stderr says why
    assert capsys.readouterr().err == (
        "sweep tiny: running the trials in this process: metric 'session_p99' is defined in this "
        "session only (another process cannot import it)\n"
    )
    assert r.complete == 2 and _pids(trials_table(r.study)) == {os.getpid()}


def test_a_worker_that_fails_stops_the_run_with_its_status(tmp_path, monkeypatch, capfd):
    # A metric from a module this process has imported but a new process cannot find (deleted):
    # the worker cannot compute the objective, says so and exits with status 2; the run fails.
    import importlib
    import sys

    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "gone_metrics.py").write_text("def p99(r):\n    return r.summary['latency_us']['p99']\n")
    monkeypatch.syspath_prepend(str(lib))
    gone = importlib.import_module("gone_metrics")
    monkeypatch.setitem(sys.modules, "gone_metrics", gone)
    (lib / "gone_metrics.py").unlink()
    monkeypatch.setitem(METRICS, "gone_p99", Metric("gone_p99", gone.p99))
    c = tiny(tmp_path, study={"n_trials": 6, "objectives": ["gone_p99"]})
    with pytest.raises(SnfkitError, match="worker 1 exited with status 2"):
        run_study(c, workers=2)
    err = capfd.readouterr().err
    assert "snfkit: worker 1: error:" in err and "study.objectives" in err and "gone_p99" in err


def test_a_trace_that_cannot_be_loaded_stops_the_started_workers(tmp_path, monkeypatch):
    # The workers start before the trace is loaded; when it cannot be, they are told and exit,
    # the error names trace.path, and the temporary folder is gone.
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all" * 10)
    d = {**TINY, "trace": {"path": str(bad)}}
    c = config_from_dict(d, base_dir=tmp_path)
    monkeypatch.setattr(study_mod, "_PACKETS", {})
    monkeypatch.setattr(study_mod, "_PREPARED", {})
    started = []
    real_start = multiprocessing.context.SpawnProcess.start

    def start(self):
        real_start(self)
        started.append(self)

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", start)
    with pytest.raises(ConfigError) as info:
        run_study(c, workers=2)
    assert info.value.key == "trace.path"
    assert len(started) == 1 and [p.exitcode for p in started] == [0]
    assert list(tmp_path.glob("snfkit-sweep-*")) == []
