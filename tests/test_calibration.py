"""The calibration study (snfkit.sweeps.calibration) and the preset it ships
(snfkit.presets.paper_calibrated)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from snfkit import ReplayParams
from snfkit.errors import ConfigError
from snfkit.presets import calibrated_table, paper_calibrated
from snfkit.sweeps.calibration import (
    DATA,
    evaluate,
    fitted,
    load_calibration,
    loss,
    run_calibration,
)

CONFIG = Path(__file__).resolve().parent.parent / "sweeps" / "paper_calibration.toml"


def test_preset_comes_from_this_config_and_replays_to_its_record():
    """The shipped record was written by the study of sweeps/paper_calibration.toml as it is now
    (same fingerprint), its values lie in the search space, and replaying them gives the
    measurements it records (the record is the study's output, not edited by hand)."""
    config = load_calibration(CONFIG)
    preset = paper_calibrated()
    rec = preset.record
    assert rec["fingerprint"] == config.fingerprint()
    for spec in config.search:
        v = rec["values"][spec.name]
        assert spec.low <= v <= spec.high, spec.name
    ReplayParams.from_flat(**preset.params)  # a valid parameter set
    assert preset.load_gbps == rec["values"]["load_gbps"]
    got = evaluate(config, rec["values"])
    want = {k: v["measured"] for k, v in rec["targets"].items()}
    assert got == pytest.approx(want, rel=1e-9)
    assert loss(config, got) == pytest.approx(rec["loss"], rel=1e-9)
    table = calibrated_table(preset)
    assert table["target"].to_list() == [t.name for t in config.targets]


@pytest.mark.parametrize("study", ["paper_load_fig2", "paper_load_fig5"])
def test_figure_loads_come_from_their_configs(study):
    """The later stages' records were written by their configs as they are now, from the
    calibration's current record (``study.base``), and the preset exposes their loads."""
    config = load_calibration(CONFIG.with_name(f"{study}.toml"))
    rec = json.loads((DATA / f"{study}.json").read_text())
    assert rec["fingerprint"] == config.fingerprint()
    assert config.fixed["_base"] == f"paper_calibration@{paper_calibrated().record['fingerprint']}"
    fig = study.rsplit("_", 1)[1]
    assert paper_calibrated().figure_loads[fig] == rec["values"]["load_gbps"]


def test_loss_is_rms_log_ratio():
    config = load_calibration(CONFIG)
    exact = {t.name: t.value for t in config.targets}
    assert loss(config, exact) == 0.0
    doubled = {k: 2 * v for k, v in exact.items()}
    assert loss(config, doubled) == pytest.approx(math.log(2))


def test_a_small_study_runs_and_resumes(tmp_path):
    text = CONFIG.read_text().replace("scale = 0.05", "scale = 0.002")
    text = text.replace("n_startup_trials = 20", "n_startup_trials = 2")
    path = tmp_path / "small.toml"
    path.write_text(text)
    config = load_calibration(path)
    study = run_calibration(config, n_trials=3)
    study = run_calibration(config, n_trials=1)  # resumes the same study
    assert len(study.trials) == 4
    rec = fitted(study, config)
    assert rec["loss"] == min(t.value for t in study.trials)
    assert set(rec["targets"]) == {t.name for t in config.targets}
    other = path.with_name("other.toml")
    other.write_text(text.replace("value = 0.44", "value = 0.5"))
    with pytest.raises(ConfigError, match="another config"):  # same study name and storage
        run_calibration(load_calibration(other), n_trials=1)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('metric = "p50_latency_us"', 'metric = "p42"', "targets[0].metric"),
        ("value = 0.44", "value = -1", "targets[0].value"),
        ("load_gbps = { low", "no_such_knob = { low", "search.no_such_knob"),
        ('workload = "paper_trace"', 'workload = "nope"', "trace.workload"),
        ('run = { state_mode = "proactive" }', 'run = { state_mode = "psychic" }', "state_mode"),
    ],
)
def test_config_errors_name_the_key(tmp_path, old, new, key):
    path = tmp_path / "bad.toml"
    text = CONFIG.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_calibration(path)
