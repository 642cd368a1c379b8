"""Failures and recovery: what happens when a unit, an output logger or the controller fails.

Give :func:`snfkit.replay` a schedule of failures (``failures=[Failure(...), ...]``) or a seeded
process (``failures=random_failures(rate_per_s, kinds, seed)``), and a recovery strategy
(``recovery='snf' | 'chc' | 'ftmb'``, with the other :class:`~snfkit.params.FaultParams`). The
replay kernel applies each failure at its time (:mod:`snfkit.engine.faults_nb` states the model);
``Results.failures`` has one row per failure and the summary ``failures``, ``recovery_us`` and
``packets_lost``. docs/faults.md explains the model and its choices.
"""

from snfkit.faults.schedule import (
    KINDS,
    Failure,
    RandomFailures,
    parse_failure,
    random_failures,
    schedule_array,
)

__all__ = [
    "KINDS",
    "Failure",
    "RandomFailures",
    "parse_failure",
    "random_failures",
    "schedule_array",
]
