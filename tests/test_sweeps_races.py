"""Sweeps started together (issue 15, item 9).

Two ``snfkit sweep same.toml`` started at once on a fresh SQLite file both run (the schema is
created under a lock, and a creation that lost a race is retried).
"""

from __future__ import annotations

import threading

import optuna
from test_sweeps_study import tiny

from snfkit.sweeps import open_study
from snfkit.sweeps import study as study_mod


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
