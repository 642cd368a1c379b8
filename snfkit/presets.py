"""Named settings: :func:`paper_calibrated`, the calibration's fitted settings (issue 19).

The paper states T, B, alpha, K and BW_max but not its offered load, a unit's per-byte cost or how
long moving state takes. ``sweeps/paper_calibration.toml`` is an Optuna study
(:mod:`snfkit.sweeps.calibration`) that fits those unknowns to the NAT's Fig 4 numbers and the
90.43 % seamless share on :func:`snfkit.workloads.paper_trace`; its best trial is stored in
``snfkit/sweeps/data/paper_calibration.json`` (written by the study, stamped with the config's
fingerprint; ``tests/test_calibration.py`` replays it and checks it). Every other claim is measured
under these settings, out of sample (``benchmarks/reproduce.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from snfkit.sweeps.calibration import DATA, TRACE_OPTIONS, replay_params

FIGURE_LOAD_STUDIES = {"fig2": "paper_load_fig2", "fig5": "paper_load_fig5"}
"""The later stages that fit the offered load of other figures from the calibrated settings
(``sweeps/paper_load_fig2.toml``: Fig 2's flowlet p99; ``sweeps/paper_load_fig5.toml``: Fig 5's
p99 at 1 in 100 flows)."""


@dataclass(frozen=True)
class CalibratedPreset:
    """Fitted settings. ``params``: flat replay parameters (the config's fixed ones and the
    fitted ones), for :func:`snfkit.replay` or ``snfkit figures -p``; ``load_gbps``: the fitted
    offered load of Fig 4; ``record``: the study's record (study, fingerprint, trials, loss,
    each target beside its measurement)."""

    params: dict[str, Any]
    load_gbps: float
    record: dict[str, Any] = field(repr=False)
    figure_loads: dict[str, float] = field(default_factory=dict)
    """Offered load per figure (Gbps) fitted by the later stages: ``fig4`` (the calibration's),
    and ``fig2``, ``fig5`` when their records exist."""

    def workload(self, seed: int = 0, scale: float = 0.25, load_gbps: float | None = None):
        """:func:`snfkit.workloads.paper_trace` at the fitted load (or ``load_gbps``)."""
        from snfkit.workloads import paper_trace

        return paper_trace(
            seed, scale, load_gbps=self.load_gbps if load_gbps is None else load_gbps
        )


def paper_calibrated(study: str = "paper_calibration") -> CalibratedPreset:
    """The fitted settings of the calibration ``study`` (default: ``paper_calibration``)."""
    rec = json.loads((DATA / f"{study}.json").read_text())
    values = rec["values"]
    params = replay_params(rec["fixed"])
    params.update({k: v for k, v in values.items() if k not in TRACE_OPTIONS})
    loads = {"fig4": float(values["load_gbps"])}
    for fig, name in FIGURE_LOAD_STUDIES.items():
        path = DATA / f"{name}.json"
        if study == "paper_calibration" and path.is_file():
            loads[fig] = float(json.loads(path.read_text())["values"]["load_gbps"])
    return CalibratedPreset(params, float(values["load_gbps"]), rec, loads)


def calibrated_table(preset: CalibratedPreset) -> pl.DataFrame:
    """The preset's targets: ``target``, ``paper``, ``measured`` (at the study's scale)."""
    rows = [
        {"target": k, "paper": float(v["paper"]), "measured": float(v["measured"])}
        for k, v in preset.record["targets"].items()
    ]
    return pl.DataFrame(
        rows, schema={"target": pl.String, "paper": pl.Float64, "measured": pl.Float64}
    )


__all__ = ["CalibratedPreset", "calibrated_table", "paper_calibrated"]
