"""The metrics a study can minimize or constrain: the registry of :mod:`snfkit.metrics`.

Studies read the one registry there (:data:`~snfkit.metrics.METRICS`); this module only re-exports it
for code written before the registry moved out of the sweeps.
"""

from snfkit.metrics import DIRECTIONS, METRICS, Metric, compute_metrics, register_metric

__all__ = ["DIRECTIONS", "METRICS", "Metric", "compute_metrics", "register_metric"]
