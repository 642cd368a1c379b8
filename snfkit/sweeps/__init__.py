"""Tuning SNF's knobs with Optuna: studies over T, B, alpha (and K once state replication lands) or
any other replay parameter, against latency, units and over-provisioning.

- :mod:`~snfkit.sweeps.config`: TOML study configs -> :class:`StudyConfig` (:func:`load_config`,
  :func:`config_from_dict`); errors name the key.
- :mod:`snfkit.metrics` (re-exported here): the metrics (:data:`METRICS`, :func:`register_metric`).
- :mod:`~snfkit.sweeps.space`: :class:`ParamSpec`, one searched parameter.
- :mod:`~snfkit.sweeps.trace`: the study's trace, prepared once and shared with worker processes,
  and the one replay call.
- :mod:`~snfkit.sweeps.samplers`: TPE, NSGA-II, random; per-trial seeds.
- :mod:`~snfkit.sweeps.study`: :func:`run_study` (storage, one worker per core, resume),
  :func:`open_study`.
- :mod:`~snfkit.sweeps.table`: :func:`trials_table`, :func:`write_trials`, :func:`best_table`.
- :mod:`~snfkit.sweeps.charts`: Pareto front, parameter importance, parameter slices.
- :mod:`~snfkit.sweeps.presets`: :func:`~snfkit.sweeps.presets.tuning_config`, the notebook's study.

docs/sweeps.md is the reference for configs, storage, workers, resuming and optuna-dashboard.
"""

from snfkit.metrics import METRICS, Metric, compute_metrics, register_metric
from snfkit.sweeps.config import (
    ConstraintSpec,
    ObjectiveSpec,
    SamplerSpec,
    StudyConfig,
    config_from_dict,
    load_config,
)
from snfkit.sweeps.space import ParamSpec
from snfkit.sweeps.study import SweepRun, open_study, run_study, study_counts
from snfkit.sweeps.table import best_table, trials_table, write_trials
from snfkit.sweeps.trace import TraceSpec

__all__ = [
    "METRICS",
    "ConstraintSpec",
    "Metric",
    "ObjectiveSpec",
    "ParamSpec",
    "SamplerSpec",
    "StudyConfig",
    "SweepRun",
    "TraceSpec",
    "best_table",
    "compute_metrics",
    "config_from_dict",
    "load_config",
    "open_study",
    "register_metric",
    "run_study",
    "study_counts",
    "trials_table",
    "write_trials",
]
