"""A study on a real PostgreSQL server, two worker processes of ``snfkit sweep --workers 2``.

The server comes from ``.ci/run``, which starts one and exports ``SNFKIT_TEST_POSTGRES_URL``
(e.g. ``postgresql://snfkit@127.0.0.1:PORT/postgres``). Without that variable the test skips, except
on CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import optuna
import pytest

from snfkit.sweeps import config_from_dict, trials_table
from snfkit.sweeps.study import make_storage

URL_VAR = "SNFKIT_TEST_POSTGRES_URL"


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get(URL_VAR)
    if not url:
        msg = (
            f"{URL_VAR} is not set: start a PostgreSQL server and point it there "
            "(.ci/run does both), e.g. postgresql://user@127.0.0.1:5432/postgres"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return url


def test_two_workers_share_a_postgres_study(tmp_path, postgres_url):
    name = f"pg_{uuid.uuid4().hex[:12]}"
    toml = tmp_path / "pg.toml"
    toml.write_text(
        f'[study]\nname = "{name}"\nn_trials = 8\n'
        'objectives = ["p99_latency_us", "mean_active_units"]\n'
        '[trace]\nworkload = "paper_like"\nseed = 0\nscale = 0.003\n'
        "[search]\ntimeout_ns = { low = 20_000, high = 5_000_000, log = true }\n"
        "alpha = { low = 0.0, high = 1.0 }\n"
        '[sampler]\nname = "nsga2"\nseed = 0\npopulation_size = 4\n'
    )
    cmd = [sys.executable, "-m", "snfkit.cli", "sweep", str(toml), "--storage", postgres_url]
    try:
        done = subprocess.run([*cmd, "--workers", "2"], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert f"{name}: 8 complete, " in done.stderr
        assert not (tmp_path / "pg.db").exists()  # the URL was used, not the default file

        study = optuna.load_study(study_name=name, storage=make_storage(postgres_url))
        t = trials_table(study)
        assert t.filter(state="COMPLETE").height == 8
        assert t["number"].n_unique() == t.height
        # the only failures allowed: a trial asked for in a race at the end (no replay run)
        assert all(r.startswith("surplus") for r in t.filter(state="FAIL")["fail_reason"])
        done_t = t.filter(state="COMPLETE")
        per_worker = done_t.group_by("worker").len()
        assert per_worker["len"].sum() == 8
        assert per_worker.height <= 2
        params = done_t.select("timeout_ns", "alpha").rows()
        assert len(set(params)) == 8

        # resume to 11 on the same server: adds exactly 3
        more = subprocess.run(
            [*cmd, "--workers", "2", "--trials", "11"], capture_output=True, text=True, timeout=300
        )
        assert more.returncode == 0, more.stderr
        assert f"{name}: 11 complete, " in more.stderr

        # the same study read through snfkit's own config path
        c = config_from_dict(
            {"study": {"name": name, "n_trials": 11,
                       "objectives": ["p99_latency_us", "mean_active_units"]},
             "trace": {"workload": "paper_like", "seed": 0, "scale": 0.003},
             "search": {"timeout_ns": {"low": 20_000, "high": 5_000_000, "log": True},
                        "alpha": {"low": 0.0, "high": 1.0}}},
            base_dir=tmp_path,
        )  # fmt: skip
        from snfkit.sweeps import open_study, study_counts

        assert study_counts(open_study(c, postgres_url))["COMPLETE"] == 11
    finally:
        try:
            optuna.delete_study(study_name=name, storage=make_storage(postgres_url))
        except KeyError:
            pass
