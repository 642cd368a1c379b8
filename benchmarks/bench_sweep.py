"""Benchmark a sweep: the shipped study ``sweeps/paper_like_units.toml`` on the paper-scale trace.

Takes the example config (minimize mean active units s.t. p99 <= 2 ms over T, B and alpha; TPE,
seed 0), swaps its trace for ``paper_like(seed=0, scale)`` (6.4M packets at scale 1.0) and runs
``--trials`` trials with ``--workers`` worker processes on a fresh SQLite storage. In the same run
it measures:

- ``trace``: generating the trace once (not part of the study: a config's trace is loaded once per
  process and reused by every trial);
- ``bare replay``: one ``snfkit.replay(packets, keep_packets=False)`` at the paper's defaults, after a
  warm-up on a slice (numba compile / cache load excluded);
- ``study``: the wall time of :func:`snfkit.sweeps.run_study` (workers' start-up and trace hand-off
  included), trials per minute, and per trial: the replay time inside the trial (``replay_s``),
  the whole trial (``duration_s``: sampling, storage writes, metrics) and the worker time per trial
  (workers x wall / trials), whose excess over ``replay_s`` is the per-trial overhead.

Usage: ``python benchmarks/bench_sweep.py [--scale 1.0] [--trials 200] [--workers 2] [--json]``.
Target (issue 5): 200 trials at scale 1.0 in <= 180 s on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_S = 180.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="paper_like scale (1.0: 6.4M packets)")
    ap.add_argument("--trials", type=int, default=200, help="COMPLETE trials to run")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--config", type=Path, default=REPO / "sweeps" / "paper_like_units.toml")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    import polars as pl

    import snfkit
    from snfkit.sweeps import load_config, run_study, trials_table
    from snfkit.sweeps import study as study_mod
    from snfkit.sweeps.trace import TraceSpec

    base = load_config(args.config)
    trace = TraceSpec(workload="paper_like", options=(("scale", args.scale), ("seed", 0)))
    config = dataclasses.replace(base, trace=trace, n_trials=args.trials, name="bench_sweep")

    t = time.perf_counter()
    packets = study_mod.cached_packets(config)  # what run_study loads once per process
    trace_s = time.perf_counter() - t

    snfkit.replay(packets.head(20_000), keep_packets=False)  # warm-up
    t = time.perf_counter()
    bare = snfkit.replay(packets, keep_packets=False)
    bare_s = time.perf_counter() - t

    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        storage = f"sqlite:///{tmp}/bench.db"
        t = time.perf_counter()
        run = run_study(config, storage=storage, workers=args.workers)
        study_s = time.perf_counter() - t
        table = trials_table(run.study)
    done = table.filter(pl.col("state") == "COMPLETE")
    replay_mean = float(done["replay_s"].mean())
    trial_mean = float(done["duration_s"].mean())
    worker_per_trial = args.workers * study_s / max(run.complete, 1)
    figures = {
        "packets": packets.height,
        "scale": args.scale,
        "trials": run.complete,
        "failed": run.failed,
        "workers": args.workers,
        "trace_s": round(trace_s, 2),
        "bare_replay_s": round(bare_s, 3),
        "bare_replay_p99_us": bare.summary["latency_us"]["p99"],
        "study_s": round(study_s, 1),
        "trials_per_min": round(60 * run.complete / study_s, 1),
        "replay_s_mean": round(replay_mean, 3),
        "replay_s_median": round(float(done["replay_s"].median()), 3),
        "replay_s_max": round(float(done["replay_s"].max()), 3),
        "trial_s_mean": round(trial_mean, 3),
        "in_trial_overhead_s": round(trial_mean - replay_mean, 3),
        "worker_s_per_trial": round(worker_per_trial, 3),
        "overhead_s_per_trial": round(worker_per_trial - replay_mean, 3),
        "target_s": TARGET_S,
        "meets_target": study_s <= TARGET_S,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"trace: paper_like(seed=0, scale={args.scale}): {packets.height:,} packets, "
          f"generated in {trace_s:.1f} s (once, not part of the study)")  # fmt: skip
    print(f"bare replay (paper defaults, keep_packets=False): {bare_s:.2f} s")
    print(
        f"study: {run.complete} trials ({run.failed} failed) with {args.workers} workers in "
        f"{study_s:.1f} s ({figures['trials_per_min']} trials/min); target {TARGET_S:.0f} s: "
        f"{'met' if figures['meets_target'] else 'NOT met'}"
    )
    print(
        f"per trial: replay {replay_mean:.3f} s mean (median {figures['replay_s_median']}, max "
        f"{figures['replay_s_max']}), whole trial {trial_mean:.3f} s, worker time "
        f"{worker_per_trial:.3f} s; overhead {figures['overhead_s_per_trial']:.3f} s per trial "
        f"({figures['in_trial_overhead_s']:.3f} s of it inside the trial)"
    )


if __name__ == "__main__":
    main()
