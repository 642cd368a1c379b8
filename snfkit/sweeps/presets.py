"""Ready-made studies, for notebooks and quick looks: :func:`tuning_config` tunes T, B, alpha and K
(``replicas``) for latency against units.

The trace is the CAIDA excerpt in ``../shared/traces`` when it is there (``SNFKIT_SHARED`` points
elsewhere), else a small synthetic paper-like workload, so the study runs in any clone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from snfkit.sweeps.config import StudyConfig, config_from_dict

CAIDA = "caida-nyc-2018-10k.pcap"


def shared_traces() -> Path:
    """``$SNFKIT_SHARED/traces``, or ``shared/traces`` beside the repository holding snfkit."""
    root = os.environ.get("SNFKIT_SHARED")
    base = Path(root) if root else Path(__file__).resolve().parents[3] / "shared"
    return base / "traces"


def tuning_trace(prefer_real: bool = True) -> dict[str, Any]:
    """The ``[trace]`` table of :func:`tuning_config`: the CAIDA excerpt if present, else
    ``paper_like(seed=0, scale=0.01)`` (1,990 flows, ~64K packets, ~0.14 s at 5 Gbps)."""
    path = shared_traces() / CAIDA
    if prefer_real and path.is_file():
        return {"path": str(path)}
    return {"workload": "paper_like", "seed": 0, "scale": 0.01}


def tuning_config(
    n_trials: int = 80,
    *,
    name: str = "tuning",
    seed: int = 0,
    prefer_real: bool = True,
    base_dir: str | os.PathLike[str] | None = None,
) -> StudyConfig:
    """NSGA-II over T (``timeout_ns``, 20 us - 5 ms, log), B (``size_bytes``, 1.5 KB - 1 MB, log),
    alpha ([0, 1]) and K (``replicas``, 0-5; proactive state, the default state mode), minimizing
    p99 latency and mean active units. Units retire after 10 ms idle and epochs are 1 ms, to suit
    traces of tens of milliseconds."""
    search: dict[str, Any] = {
        "timeout_ns": {"low": 20_000, "high": 5_000_000, "log": True},
        "size_bytes": {"low": 1_500, "high": 1_000_000, "log": True},
        "alpha": {"low": 0.0, "high": 1.0},
        "replicas": {"low": 0, "high": 5},
    }
    return config_from_dict(
        {
            "study": {
                "name": name,
                "n_trials": n_trials,
                "objectives": ["p99_latency_us", "mean_active_units"],
            },
            "trace": tuning_trace(prefer_real),
            "params": {"mode": "flowlet", "unit_idle_ns": 10_000_000, "epoch_ns": 1_000_000},
            "search": search,
            "sampler": {"name": "nsga2", "seed": seed, "population_size": 16},
        },
        base_dir=base_dir,
    )
