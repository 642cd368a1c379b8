"""Helpers shared by the benchmark scripts (run them as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time in seconds of ``repeat`` calls of ``fn``, and the last call's result. Each
    call starts with the previous one's result dropped and collected (outside the timer), as a
    user's next replay does once the earlier results are gone: its memory is free for the next
    (snfkit.memory), instead of all of it held while the next call runs."""
    best, out = float("inf"), None
    for _ in range(repeat):
        out = None
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def worker_report(times: dict[str, float], packets: int) -> None:
    """What a worker run prints for :func:`alternate`: one JSON line (seconds per measurement)."""
    import snfkit

    print(json.dumps({"times": times, "packets": packets, "snfkit": snfkit.__file__}))


def add_alternation_args(ap: argparse.ArgumentParser) -> None:
    """The options of a benchmark that runs through :func:`alternate`: ``--rounds``,
    ``--reference`` (another checkout) and the hidden ``--worker`` (a worker run)."""
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reference", help="another checkout of snfkit to compare with")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)


def alternate(
    script: str, args: list[str], reference: str | None, rounds: int
) -> tuple[int, dict[str, float]]:
    """Run ``script --worker ARGS`` ``rounds`` times from this checkout and, if given, from the
    ``reference`` checkout, in alternation (this, reference, this, ...; ``PYTHONPATH`` set to each,
    the benchmark script itself always this one), after one warm-up run of each (numba caches).
    Prints, per measurement, the median seconds and M packets/s of each, and the ratio of this
    checkout's time to the reference's, pair by pair (median, min-max). The machines are shared
    and noisy: ratios of runs made side by side are what holds. Returns the packet count and
    this checkout's median seconds per measurement."""
    checkouts = {"this": str(REPO)}
    if reference:
        checkouts["reference"] = str(Path(reference).resolve())
    runs: dict[str, list[dict]] = {k: [] for k in checkouts}
    for r in range(rounds + 1):
        for label, path in checkouts.items():
            env = {**os.environ, "PYTHONPATH": path, "CI": os.environ.get("CI", "false")}
            cmd = [sys.executable, script, "--worker", *args]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{label} ({path}) failed:\n{out.stderr[-3000:]}")
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            if r == 0:
                print(f"{label}: snfkit from {rec['snfkit']} (warm-up run, not counted)")
                continue
            runs[label].append(rec)
            line = "  ".join(f"{k} {v:.3f}" for k, v in rec["times"].items())
            print(f"round {r} {label:9s} {line}", flush=True)
    n = runs["this"][0]["packets"]
    names = list(runs["this"][0]["times"])
    print(f"\n{n:,} packets; medians of {rounds} rounds (seconds, M packets/s)")
    head = f"{'measurement':44} {'this':>16}"
    if reference:
        head += f" {'reference':>16} {'this / reference':>22}"
    print(head)
    for name in names:
        mine = [rec["times"][name] for rec in runs["this"]]
        row = f"{name:44} {_cell(mine, n):>16}"
        ref_times = [rec["times"].get(name) for rec in runs.get("reference", [])]
        if reference and all(t is not None for t in ref_times):
            ratios = [a / b for a, b in zip(mine, ref_times, strict=True)]
            row += f" {_cell(ref_times, n):>16} {_ratio(ratios):>22}"
        print(row)
    return n, {
        name: statistics.median(rec["times"][name] for rec in runs["this"]) for name in names
    }


def _cell(times: list[float], n: int) -> str:
    med = statistics.median(times)
    return f"{med:.3f} ({n / med / 1e6:5.2f})"


def _ratio(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
