"""Benchmark a sweep on one worker and on several: 40 trials at paper scale, same run.

Takes the example config ``sweeps/paper_like_units.toml`` (minimize mean active units s.t. p99 <=
2 ms over T, B, alpha and K; TPE), swaps its trace for ``paper_like(seed=0, scale)`` (6.4M
packets at scale 1.0) and runs ``--trials`` trials on a fresh SQLite storage, first with one worker
(the trials in this process), then with ``--workers`` trial processes (the default of ``snfkit
sweep`` on a machine with that many cores): a pair of studies per sampler seed in ``--seeds``,
``--repeat`` times.

Several workers do not replay the trials one worker does: each worker draws from its own stream,
and TPE decides from other finished trials. At paper scale a trial takes from 0.4 s to over 10 s
depending on its parameters, so a pair of studies over the config's space compares two sets of
trials of different cost (the CPU ratio below says how different). ``--space alpha`` searches
alpha only (T, B and K at the paper's defaults): every trial then costs about one bare replay,
both studies do the same work, and the ratio measures what the workers themselves gain.
``--sampler random`` draws both studies from one distribution (some draws take over 10 s).

Figures, all from the same run:

- ``trace``: generating and preparing the trace once (a study does it once per run; worker
  processes map the prepared arrays instead of loading the trace again);
- ``bare replay``: one ``snfkit.replay(packets, keep_packets=False)`` at the paper's defaults, after
  a warm-up on a slice (numba compile / cache load excluded);
- per study: the wall time of :func:`snfkit.sweeps.run_study` (for several workers: their
  start-up and the wait for the last trial included), its CPU time (this process and its
  workers) and the cores it used on average (CPU over wall: below the number of workers, other
  jobs or idle waits took the rest), the replay work (sum of ``replay_s``) and the overhead per
  trial (worker time minus replay, per trial);
- the ratio of the several-worker wall time to the one-worker wall time, per pair and of the
  summed wall times of all pairs (target <= 0.6 for 40 trials on 2 workers, issue 21); the same
  ratio per second of replay work; and the ratio of their CPU times.

Usage: ``python benchmarks/bench_sweep.py [--scale 1.0] [--trials 40] [--workers 2]
[--seeds 0 1 2] [--space config|alpha] [--sampler tpe|random] [--repeat 1] [--json]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_RATIO = 0.6


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its finished child processes (the workers)."""
    me, children = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def run_once(config, workers: int) -> dict:
    """One study on a fresh SQLite storage with ``workers`` trial processes: its figures."""
    import polars as pl

    from snfkit.sweeps import run_study, trials_table

    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        cpu = _cpu_s()
        t = time.perf_counter()
        run = run_study(config, storage=f"sqlite:///{tmp}/bench.db", workers=workers)
        wall = time.perf_counter() - t
        cpu = _cpu_s() - cpu
        table = trials_table(run.study)
    done = table.filter(pl.col("state") == "COMPLETE")
    work = float(done["replay_s"].sum())
    return {
        "workers": workers,
        "trials": run.complete,
        "failed": run.failed,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cores_used": round(cpu / wall, 2),
        "trials_per_min": round(60 * run.complete / wall, 1),
        "replay_work_s": round(work, 2),
        "replay_s_median": round(float(done["replay_s"].median()), 3),
        "replay_s_max": round(float(done["replay_s"].max()), 3),
        "overhead_s_per_trial": round((workers * wall - work) / max(run.complete, 1), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="paper_like scale (1.0: 6.4M packets)")
    ap.add_argument("--trials", type=int, default=40, help="COMPLETE trials per study")
    ap.add_argument("--workers", type=int, default=2, help="worker processes to compare with 1")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="sampler seeds, a pair each")
    ap.add_argument(
        "--sampler", choices=("tpe", "random"), default="tpe", help="the config's tpe, or random"
    )
    ap.add_argument(
        "--space",
        choices=("config", "alpha"),
        default="config",
        help="search the config's space, or alpha only (T, B, K at the paper's defaults)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="times to run the pairs of every seed")
    ap.add_argument("--config", type=Path, default=REPO / "sweeps" / "paper_like_units.toml")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    import snfkit
    from snfkit.sweeps import load_config
    from snfkit.sweeps import study as study_mod
    from snfkit.sweeps.trace import TraceSpec

    base = load_config(args.config)
    trace = TraceSpec(workload="paper_like", options=(("scale", args.scale), ("seed", 0)))
    config = dataclasses.replace(base, trace=trace, n_trials=args.trials, name="bench_sweep")
    if args.sampler != base.sampler.name:  # random: both studies draw from one distribution
        sampler = dataclasses.replace(base.sampler, name=args.sampler, options=())
        config = dataclasses.replace(config, sampler=sampler)
    if args.space == "alpha":  # every trial costs about one replay at the defaults
        alpha = tuple(spec for spec in base.search if spec.name == "alpha")
        config = dataclasses.replace(config, search=alpha)

    t = time.perf_counter()
    prepared = study_mod.cached_prepared(config)  # what run_study prepares once per run
    trace_s = time.perf_counter() - t
    packets = study_mod.cached_packets(config)

    snfkit.replay(packets.head(20_000), keep_packets=False)  # warm-up
    t = time.perf_counter()
    snfkit.replay(packets, keep_packets=False)
    bare_s = time.perf_counter() - t

    pairs = []
    for _ in range(args.repeat):
        for seed in args.seeds:
            seeded = dataclasses.replace(
                config, sampler=dataclasses.replace(config.sampler, seed=seed)
            )
            one = run_once(seeded, 1)
            many = run_once(seeded, args.workers)
            ratio = many["wall_s"] / one["wall_s"]
            per_work = ratio * one["replay_work_s"] / many["replay_work_s"]
            pair = {"seed": seed, "one": one, "many": many, "ratio": round(ratio, 3)}
            pair["ratio_per_work"] = round(per_work, 3)
            pair["cpu_ratio"] = round(many["cpu_s"] / one["cpu_s"], 3)
            pairs.append(pair)
    ratios = [p["ratio"] for p in pairs]
    total = {k: sum(p[k]["wall_s"] for p in pairs) for k in ("one", "many")}
    ratio_total = total["many"] / total["one"]
    figures = {
        "packets": prepared.n_packets,
        "scale": args.scale,
        "sampler": config.sampler.name,
        "space": [spec.name for spec in config.search],
        "trials": args.trials,
        "workers": args.workers,
        "trace_s": round(trace_s, 2),
        "bare_replay_s": round(bare_s, 3),
        "pairs": pairs,
        "wall_s_one": round(total["one"], 1),
        "wall_s_many": round(total["many"], 1),
        "ratio": round(ratio_total, 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio_total <= TARGET_RATIO,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    what = f"paper_like(seed=0, scale={args.scale}): {prepared.n_packets:,} packets"
    print(f"trace: {what}, generated and prepared in {trace_s:.1f} s (once, not in the studies)")
    print(f"bare replay (paper defaults, keep_packets=False): {bare_s:.2f} s")
    searched = ", ".join(spec.name for spec in config.search)
    print(f"sampler: {config.sampler.name}, seeds {args.seeds}; searching {searched}")
    for i, p in enumerate(pairs, 1):
        for s in (p["one"], p["many"]):
            print(
                f"pair {i} (seed {p['seed']}): {s['workers']} worker(s): {s['trials']} trials ({s['failed']} failed) "
                f"in {s['wall_s']:.1f} s ({s['trials_per_min']} trials/min; {s['cpu_s']:.1f} "
                f"CPU s, {s['cores_used']:.2f} cores on average); replay work "
                f"{s['replay_work_s']:.1f} s (median {s['replay_s_median']}, max "
                f"{s['replay_s_max']}); overhead {s['overhead_s_per_trial']:.3f} s per trial"
            )
        print(
            f"pair {i}: {args.workers} workers / 1 worker: {p['ratio']:.3f} of the wall time "
            f"({p['ratio_per_work']:.3f} per second of replay work); CPU time "
            f"{p['cpu_ratio']:.3f}x"
        )
    print(
        f"{len(pairs)} pairs: 1 worker {total['one']:.1f} s, {args.workers} workers "
        f"{total['many']:.1f} s: ratio {ratio_total:.3f} (median of the pairs' "
        f"{figures['ratio_median']:.3f}); target <= {TARGET_RATIO}: "
        f"{'met' if figures['meets_target'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
