"""Optuna samplers by name: ``tpe`` (default), ``nsga2``, ``random``.

A study's sampler is rebuilt before every trial with a seed derived from the config's seed, the
worker's index and the number of trials already complete (:func:`trial_seed`). With one worker the
trials are therefore the same whether a study ran in one go or was stopped and resumed: the sampler
keeps no state of its own besides its random generator, and everything else it reads from the
storage. With several workers (the default on a machine with several cores) each worker draws
from its own stream, and the order in which trials finish decides what the sampler has seen, so
such a study is not repeatable: ``workers=1`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

SAMPLERS = ("tpe", "nsga2", "random")

SAMPLER_OPTIONS: dict[str, dict[str, type]] = {
    "tpe": {"n_startup_trials": int, "multivariate": bool},
    "nsga2": {"population_size": int},
    "random": {},
}
"""Options each sampler accepts in a config's ``[sampler]`` table (besides ``name`` and ``seed``)."""


def trial_seed(seed: int, worker: int, n_complete: int) -> int:
    """The sampler seed for the next trial of ``worker`` after ``n_complete`` complete trials."""
    return int(np.random.SeedSequence([seed, worker, n_complete]).generate_state(1)[0])


def make_sampler(
    name: str,
    seed: int,
    options: dict[str, Any] | None = None,
    constraints_func: Callable[[Any], Sequence[float]] | None = None,
):
    """Build the named Optuna sampler. ``constraints_func`` is only for Optuna < 5, where trials
    cannot report their own constraints (``Trial.set_constraint``)."""
    import optuna

    opts = dict(options or {})
    if name == "tpe":
        if constraints_func is not None:
            opts["constraints_func"] = constraints_func
        return optuna.samplers.TPESampler(seed=seed, **opts)
    if name == "nsga2":
        if constraints_func is not None:
            opts["constraints_func"] = constraints_func
        return optuna.samplers.NSGAIISampler(seed=seed, **opts)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r}; expected one of {SAMPLERS}")
