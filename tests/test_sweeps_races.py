"""Sweeps started together, and sweeps whose parent dies (issue 15, item 9).

Two ``snfkit sweep same.toml`` started at once on a fresh SQLite file both run (the schema is
created under a lock, and a creation that lost a race is retried); the workers of a ``--workers N``
sweep whose parent is killed stop on their own, record their running trial as FAIL and remove the
temporary folder holding the trace; a folder left by a dead sweep is removed at the next start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from test_sweeps_study import tiny

from snfkit.sweeps import open_study, study_counts
from snfkit.sweeps import study as study_mod

REPO = Path(__file__).resolve().parent.parent


def _open_together(config, url: str, n: int) -> list[str]:
    """``n`` threads open the same study at the same moment; their outcomes."""
    barrier = threading.Barrier(n)
    out: list[str] = []

    def go() -> None:
        barrier.wait()
        try:
            open_study(config, url)
            out.append("ok")
        except Exception as exc:  # the failure under test: keep its text
            out.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=go) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_studies_opened_together_on_a_fresh_sqlite_file_all_open(tmp_path):
    # Threads open separate connections and race in the schema creation as processes do; before
    # the fix every round lost at least one ('table studies already exists', UNIQUE constraint).
    c = tiny(tmp_path)
    for i in range(6):
        url = f"sqlite:///{tmp_path / f'fresh{i}.db'}"
        assert _open_together(c, url, 4) == ["ok"] * 4
        assert len(optuna.get_all_study_summaries(url)) == 1


def test_schema_creation_that_lost_a_race_is_retried(tmp_path, monkeypatch):
    # Another machine (PostgreSQL: no file lock) created the schema between our look and our
    # CREATE TABLE: the first attempt fails that way, the retry finds the schema.
    real = optuna.storages.RDBStorage
    calls = []

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            real(*args, **kwargs)  # the other process wins
            raise RuntimeError("(sqlite3.OperationalError) table studies already exists")
        return real(*args, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    storage = study_mod.make_storage(f"sqlite:///{tmp_path / 'x.db'}")
    assert len(calls) == 2 and storage.get_all_studies() == []


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_of_a_killed_sweep_stop_and_clean_up(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cfg = tmp_path / "slow.toml"
    # Trials of a few seconds each, so that the parent is killed while workers are mid-trial.
    cfg.write_text(
        '[study]\nname = "slow"\nn_trials = 50\nobjectives = ["p99_latency_us"]\n'
        '[trace]\nworkload = "paper_like"\nseed = 0\nscale = 0.05\n'
        '[params]\nmode = "packet"\n'
        "[search]\nalpha = { low = 0.0, high = 1.0 }\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(REPO), "CI": "false"}
    parent = subprocess.Popen(
        [sys.executable, "-m", "snfkit.cli", "sweep", str(cfg), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    workers: list[int] = []
    try:
        url = f"sqlite:///{tmp_path / 'slow.db'}"

        def running() -> bool:
            if not (tmp_path / "slow.db").exists():
                return False
            try:
                return (
                    study_counts(optuna.load_study(study_name="slow", storage=url)).get(
                        "RUNNING", 0
                    )
                    >= 2
                )
            except Exception:  # the study is not created yet
                return False

        _wait(running, 180, "two running trials")
        workers = _children(parent.pid)
        assert len(workers) >= 2
        assert len(list(tmp.glob("snfkit-sweep-*"))) == 1
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        _wait(lambda: not any(_alive(w) for w in workers), 30, "the orphaned workers to exit")
        assert list(tmp.glob("snfkit-sweep-*")) == []  # the trace copy is gone
        study = optuna.load_study(study_name="slow", storage=url)
        counts = study_counts(study)
        assert counts.get("RUNNING", 0) == 0  # recorded as FAIL at once, not left to go stale
        reasons = {t.user_attrs.get("fail_reason") for t in study.trials if t.state.name == "FAIL"}
        assert any("parent" in (r or "") for r in reasons), reasons
    finally:
        for pid in [parent.pid, *workers]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_dead_sweeps_folder_is_removed_at_the_next_start(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True)  # fmt: skip
    stale = tmp_path / f"snfkit-sweep-{int(dead.stdout)}-abc"
    stale.mkdir()
    (stale / "packets.parquet").write_bytes(b"x" * 100)
    mine = tmp_path / f"snfkit-sweep-{os.getpid()}-def"  # a live owner: kept
    mine.mkdir()
    other = tmp_path / "snfkit-sweep-notmine"  # not ours to judge: kept
    other.mkdir()
    c = tiny(tmp_path, study={"n_trials": 2}, sampler={"name": "random", "seed": 0})
    study_mod.run_study(c, workers=2)
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.glob("snfkit-sweep-*")) == [mine.name, other.name]
