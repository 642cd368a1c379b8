"""Studies end to end on a tiny synthetic trace: trials, resume, interruption, stale trials,
constraints, Pareto fronts, failed trials, seeds, several workers, the CLI."""

from __future__ import annotations

import copy
import os
import re
import time

import optuna
import polars as pl
import pytest
from test_cli import assert_one_line_error, run

import snfkit
from snfkit.errors import ConfigError
from snfkit.sweeps import (
    best_table,
    config_from_dict,
    open_study,
    run_study,
    study_counts,
    trials_table,
)
from snfkit.sweeps import study as study_mod
from snfkit.sweeps.charts import pareto_mask
from snfkit.sweeps.table import STALE_REASON
from snfkit.workloads import presets

TINY = {
    "study": {"name": "tiny", "n_trials": 4, "objectives": ["p99_latency_us"]},
    "trace": {"workload": "paper_like", "seed": 0, "scale": 0.001},
    "params": {"epoch_ns": 5_000_000},
    "search": {
        "timeout_ns": {"low": 20_000, "high": 5_000_000, "log": True},
        "size_bytes": {"low": 1_500, "high": 1_000_000, "log": True},
        "alpha": {"low": 0.0, "high": 1.0},
    },
    "sampler": {"name": "tpe", "seed": 0, "n_startup_trials": 3},
}


def tiny(tmp_path, **sections):
    d = copy.deepcopy(TINY)
    for name, value in sections.items():
        if name != "sampler" and isinstance(value, dict) and isinstance(d.get(name), dict):
            d[name].update(value)
        else:
            d[name] = value
    return config_from_dict(d, base_dir=tmp_path)


def complete(study) -> pl.DataFrame:
    return trials_table(study).filter(state="COMPLETE")


def param_rows(study, names=("timeout_ns", "size_bytes", "alpha")) -> list[tuple]:
    return [tuple(r) for r in complete(study).sort("number").select(names).iter_rows()]


def replay_of_trial(row: dict) -> snfkit.Results:
    """A direct replay of TINY's trace with a trial's parameters (what its metrics must equal)."""
    return snfkit.replay(
        presets.paper_like(0, 0.001),
        keep_packets=False,
        epoch_ns=5_000_000,
        timeout_ns=row["timeout_ns"],
        size_bytes=row["size_bytes"],
        alpha=row["alpha"],
    )


def test_tiny_study_end_to_end(tmp_path):
    c = tiny(tmp_path)
    seen = []
    r = run_study(c, workers=1, progress=lambda done, total: seen.append((done, total)))
    assert (r.complete, r.failed, r.new_trials, r.n_trials) == (4, 0, 4, 4)
    assert r.storage == f"sqlite:///{tmp_path.resolve()}/tiny.db"
    assert (tmp_path / "tiny.db").exists()
    assert seen[-1] == (4, 4)
    t = trials_table(r.study)
    assert t.height == 4 and t["number"].to_list() == [0, 1, 2, 3]
    for col in ("timeout_ns", "size_bytes", "alpha", "p99_latency_us", "mean_active_units",
                "overprovision_gbps", "replay_s", "worker", "feasible", "fail_reason"):  # fmt: skip
        assert col in t.columns
    assert t["feasible"].null_count() == 4  # no constraints
    # a trial's metrics are those of a direct replay with its parameters
    row = t.row(1, named=True)
    res = replay_of_trial(row)
    assert row["p99_latency_us"] == res.summary["latency_us"]["p99"]
    assert row["mean_active_units"] == res.summary["mean_active_units"]
    over = (res.epochs["provisioned_gbps"] - res.epochs["offered_gbps"]).mean()
    assert row["overprovision_gbps"] == pytest.approx(over)
    assert r.study.trials[1].value == row["p99_latency_us"]
    # running again with the target reached adds nothing
    again = run_study(c, workers=1)
    assert (again.complete, again.new_trials) == (4, 0)


def test_resume_continues_to_exactly_n_and_matches_one_go(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    part = run_study(tiny(tmp_path / "a"), n_trials=2, workers=1)
    assert part.complete == 2
    resumed = run_study(tiny(tmp_path / "a"), n_trials=5, workers=1)
    assert (resumed.complete, resumed.new_trials) == (5, 3)
    one_go = run_study(tiny(tmp_path / "b"), n_trials=5, workers=1)
    rows = param_rows(resumed.study)
    assert len(rows) == len(set(rows)) == 5
    assert rows == param_rows(one_go.study)


def test_interrupted_run_resumes_without_losing_or_repeating(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    calls = {"n": 0}
    real = study_mod.run_replay

    def flaky(prepared, flat):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(prepared, flat)

    monkeypatch.setattr(study_mod, "run_replay", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_study(tiny(tmp_path / "a"), n_trials=5, workers=1)
    c = tiny(tmp_path / "a")
    study = open_study(c)
    t = trials_table(study)
    assert t["state"].to_list() == ["COMPLETE", "COMPLETE", "FAIL"]
    assert t["fail_reason"][2] == "interrupted (Ctrl-C)"
    monkeypatch.setattr(study_mod, "run_replay", real)
    resumed = run_study(c, n_trials=5, workers=1)
    assert (resumed.complete, resumed.failed) == (5, 1)
    one_go = run_study(tiny(tmp_path / "b"), n_trials=5, workers=1)
    assert param_rows(resumed.study) == param_rows(one_go.study)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_stale_running_trial_of_a_killed_worker_is_failed(tmp_path, monkeypatch):
    monkeypatch.setattr(study_mod, "HEARTBEAT_S", 1)
    monkeypatch.setattr(study_mod, "GRACE_S", 1)
    monkeypatch.setattr(study_mod, "WAIT_S", 0.2)
    c = tiny(tmp_path)
    study = open_study(c)
    ghost = study.ask()  # a worker that asked for a trial and was killed (kill -9)
    study._storage.record_heartbeat(ghost._trial_id)
    time.sleep(1.5)
    r = run_study(c, n_trials=3, workers=1)
    t = trials_table(r.study)
    assert t.filter(state="COMPLETE").height == 3
    assert t.filter(number=0)["state"][0] == "FAIL"
    assert t.filter(number=0)["fail_reason"][0] == STALE_REASON
    assert study_counts(r.study).get("RUNNING", 0) == 0


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_waits_for_a_recent_running_trial_until_it_goes_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(study_mod, "HEARTBEAT_S", 1)
    monkeypatch.setattr(study_mod, "GRACE_S", 2)
    monkeypatch.setattr(study_mod, "WAIT_S", 0.2)
    c = tiny(tmp_path)
    study = open_study(c)
    ghost = study.ask()
    study._storage.record_heartbeat(ghost._trial_id)
    r = run_study(
        c, n_trials=1, workers=1
    )  # 0 complete + 1 running: wait; then it is stale: run one
    assert study_counts(r.study)["COMPLETE"] == 1
    assert trials_table(r.study).filter(number=0)["state"][0] == "FAIL"


def test_same_seed_same_trials(tmp_path):
    for sampler in ({"name": "tpe", "seed": 3, "n_startup_trials": 2}, {"name": "random", "seed": 3},
                    {"name": "nsga2", "seed": 3, "population_size": 2}):  # fmt: skip
        runs = []
        for k in ("x", "y"):
            d = tmp_path / f"{sampler['name']}-{k}"
            d.mkdir()
            runs.append(
                param_rows(run_study(tiny(d, sampler=sampler), n_trials=4, workers=1).study)
            )
        assert runs[0] == runs[1], sampler["name"]
        assert len(set(runs[0])) == 4


def test_constraint_best_is_the_feasible_minimum(tmp_path):
    c = tiny(
        tmp_path,
        study={
            "objectives": ["mean_active_units"],
            "constraints": [{"metric": "p99_latency_us", "max": 3000.0}],
            "n_trials": 8,
        },
        sampler={"name": "random", "seed": 1},
    )
    r = run_study(c, workers=1)
    t = complete(r.study)
    assert t["feasible"].to_list() == [v <= 3000.0 for v in t["p99_latency_us"]]
    assert t["feasible"].any() and not t["feasible"].all(), t.select("p99_latency_us")
    best = best_table(r.study)
    feasible = t.filter("feasible")
    assert best.height >= 1
    assert best["mean_active_units"][0] == feasible["mean_active_units"].min()
    assert best["feasible"].all()


def test_nothing_feasible_gives_no_best(tmp_path):
    c = tiny(
        tmp_path,
        study={
            "objectives": ["mean_active_units"],
            "constraints": [{"metric": "p99_latency_us", "max": 0.001}],
        },
    )
    r = run_study(c, n_trials=3, workers=1)
    assert best_table(r.study).height == 0
    assert not complete(r.study)["feasible"].any()


def test_multi_objective_best_is_the_pareto_front(tmp_path):
    c = tiny(
        tmp_path,
        study={"objectives": ["p99_latency_us", "mean_active_units"], "n_trials": 8},
        sampler={"name": "nsga2", "seed": 0, "population_size": 4},
    )
    r = run_study(c, workers=1)
    assert r.study.directions == [optuna.study.StudyDirection.MINIMIZE] * 2
    t = complete(r.study)
    pts = list(zip(t["p99_latency_us"], t["mean_active_units"], strict=True))
    mask = pareto_mask(pts, ["minimize", "minimize"])
    want = sorted(n for n, m in zip(t["number"], mask, strict=True) if m)
    assert sorted(best_table(r.study)["number"].to_list()) == want
    assert 1 <= len(want) <= 8


def test_failed_replays_are_recorded_and_the_study_goes_on(tmp_path):
    # timeout_ns above unit_idle_ns is rejected by ReplayParams: such trials fail
    c = tiny(
        tmp_path,
        search={
            "timeout_ns": {"low": 1_000_000, "high": 50_000_000, "log": True},
            "unit_idle_ns": {"low": 1_000_000, "high": 50_000_000, "log": True},
        },
        sampler={"name": "random", "seed": 0},
    )
    r = run_study(c, n_trials=6, workers=1)
    t = trials_table(r.study)
    assert t.filter(state="COMPLETE").height == 6
    failed = t.filter(state="FAIL")
    assert failed.height == r.failed >= 1
    for row in failed.iter_rows(named=True):
        assert row["timeout_ns"] > row["unit_idle_ns"]
        assert row["fail_reason"].startswith("ParameterError: parameter timeout_ns=")
        assert "unit_idle_ns" in row["fail_reason"]
        assert row["p99_latency_us"] is None


def test_an_engine_error_is_recorded(tmp_path, monkeypatch):
    real = study_mod.run_replay

    def broken(prepared, flat):
        if flat["alpha"] > 0.5:
            raise RuntimeError("engine exploded")
        return real(prepared, flat)

    monkeypatch.setattr(study_mod, "run_replay", broken)
    r = run_study(tiny(tmp_path, sampler={"name": "random", "seed": 2}), n_trials=5, workers=1)
    t = trials_table(r.study)
    assert t.filter(state="COMPLETE").height == 5
    bad = t.filter(state="FAIL")
    assert bad.height >= 1
    assert set(bad["fail_reason"]) == {"RuntimeError: engine exploded"}
    assert (t.filter(state="COMPLETE")["alpha"] <= 0.5).all()


def test_resuming_with_a_changed_search_space_is_an_error(tmp_path):
    run_study(tiny(tmp_path), n_trials=1, workers=1)
    changed = tiny(tmp_path, search={"alpha": {"low": 0.0, "high": 0.5}})
    with pytest.raises(ConfigError) as info:
        run_study(changed, n_trials=2, workers=1)
    assert info.value.key == "study.name"
    assert "search" in str(info.value)


def test_bad_storage_url_names_the_storage(tmp_path):
    with pytest.raises(ConfigError) as info:
        run_study(tiny(tmp_path), storage="nosuchdb://x/y")
    assert info.value.key == "storage"


def test_two_worker_processes_on_sqlite(tmp_path):
    c = tiny(tmp_path, study={"n_trials": 8}, sampler={"name": "random", "seed": 0})
    r = run_study(c, workers=2)
    t = trials_table(r.study)
    assert t.filter(state="COMPLETE").height == 8 == r.complete
    assert t["number"].n_unique() == t.height
    done = t.filter(state="COMPLETE")
    assert done["worker"].null_count() == 0
    assert done.group_by("worker").len()["len"].sum() == 8
    rows = param_rows(r.study)
    assert len(set(rows)) == 8


def _write_toml(tmp_path, extra="") -> str:
    path = tmp_path / "cli.toml"
    path.write_text(
        '[study]\nn_trials = 3\nobjectives = ["p99_latency_us", "mean_active_units"]\n'
        '[trace]\nworkload = "paper_like"\nseed = 0\nscale = 0.001\n'
        "[search]\ntimeout_ns = { low = 20_000, high = 5_000_000, log = true }\n"
        "alpha = { low = 0.0, high = 1.0 }\n" + extra
    )
    return str(path)


def _pids(trials: pl.DataFrame) -> set[int]:
    """The process ids that ran the complete trials (``worker`` is ``host:pid:index``)."""
    return {int(w.split(":")[1]) for w in trials.filter(state="COMPLETE")["worker"]}


def wait_for_another_process(monkeypatch, name: str, url: str, timeout: float = 120) -> None:
    """Make this process's trials wait until another process has completed one: with several
    workers this process runs trials too (worker 0), and on a tiny trace it would finish the study
    before the workers it started are up (a second or two)."""
    from optuna.trial import TrialState

    real = study_mod.run_replay

    def others_done(study) -> bool:
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return any(t.user_attrs["worker"].split(":")[1] != str(os.getpid()) for t in done)

    def waiting(prepared, flat):
        study = optuna.load_study(study_name=name, storage=url)
        deadline = time.monotonic() + timeout
        while not others_done(study):
            if time.monotonic() > deadline:
                raise AssertionError(f"no other process completed a trial in {timeout} s")
            time.sleep(0.1)
        return real(prepared, flat)

    monkeypatch.setattr(study_mod, "run_replay", waiting)


def test_cli_sweep_runs_resumes_and_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(study_mod, "default_workers", lambda: 2)  # as on a 2-core machine
    cfg = _write_toml(tmp_path)
    wait_for_another_process(monkeypatch, "cli", f"sqlite:///{(tmp_path / 'cli.db').resolve()}")
    r = run("sweep", cfg, "--out", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert "Pareto front" in r.stdout
    line = "cli: running 2 trial processes (one per core); --workers 1 to run in this process"
    assert line in r.stderr.splitlines()
    # two workers may race for the last trial: the loser's is recorded as FAIL (surplus)
    assert re.search(r"^cli: 3 complete, \d failed trials \(\d new", r.stderr, re.MULTILINE)
    db = (tmp_path / "cli.db").resolve()
    assert f"open the study in optuna-dashboard: optuna-dashboard sqlite:///{db}" in r.stderr
    assert (tmp_path / "cli.db").exists()
    t = pl.read_parquet(tmp_path / "out" / "trials.parquet")
    assert t.filter(state="COMPLETE").height == 3
    assert all(r.startswith("surplus") for r in t.filter(state="FAIL")["fail_reason"])
    assert len(_pids(t)) == 2  # this process and the worker it started ran them
    for chart in ("pareto.html", "slices.html"):
        assert (tmp_path / "out" / chart).stat().st_size > 1000
    # --workers 1: the trials run in this process, and nothing is said about processes
    monkeypatch.undo()
    r = run("sweep", cfg, "--trials", "5", "--workers", "1", "--out", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert re.search(r"^cli: 5 complete, \d failed trials \(2 new", r.stderr, re.MULTILINE)
    assert "trial processes" not in r.stderr
    t = pl.read_parquet(tmp_path / "out" / "trials.parquet").sort("number").tail(2)
    assert _pids(t) == {os.getpid()}


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ('[sampler]\nname = "grid"\n', "sampler.name"),
        ("[params]\nK = 3\n", "params.K"),
    ],
)
def test_cli_sweep_bad_config_is_one_line(tmp_path, extra, needle):
    r = run("sweep", _write_toml(tmp_path, extra))
    assert_one_line_error(r, needle, "cli.toml")


def test_cli_sweep_missing_config(tmp_path):
    assert_one_line_error(run("sweep", tmp_path / "nope.toml"), "nope.toml", "cannot read")


def test_a_trial_failed_as_stale_while_running_is_dropped(tmp_path, monkeypatch):
    # another worker saw a late heartbeat and marked our running trial FAIL; we finish, Optuna
    # refuses to tell it, and the worker goes on
    from optuna.trial import TrialState

    c = tiny(tmp_path)
    real = study_mod.run_replay
    calls = {"n": 0}

    def overtaken(prepared, flat):
        calls["n"] += 1
        if calls["n"] == 2:
            study = open_study(c)
            (running,) = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            study._storage.set_trial_state_values(running._trial_id, TrialState.FAIL)
        return real(prepared, flat)

    monkeypatch.setattr(study_mod, "run_replay", overtaken)
    r = run_study(c, n_trials=3, workers=1)
    t = trials_table(r.study)
    assert t["state"].to_list() == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert t["fail_reason"][1] == STALE_REASON


def test_dashboard_command(monkeypatch):
    from snfkit.sweeps import dashboard

    monkeypatch.setattr(dashboard, "has", lambda module: True)
    assert (
        dashboard.dashboard_command("sqlite:////tmp/a b.db")
        == "optuna-dashboard 'sqlite:////tmp/a b.db'"
    )
    assert (
        dashboard.dashboard_command("postgresql://u@h/db")
        == "optuna-dashboard postgresql+psycopg2://u@h/db"
    )
    assert dashboard.dashboard_url("mysql://u@h/db") == "mysql://u@h/db"
    monkeypatch.setattr(dashboard, "has", lambda module: False)
    assert dashboard.dashboard_command("sqlite:///x.db") == (
        "pip install 'snfkit[dashboard]' && optuna-dashboard sqlite:///x.db"
    )
