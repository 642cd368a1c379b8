"""The default replay path, against a reference checkout in the same run (issue 21, part 1).

Replays ``paper_like(seed=0, scale)`` (6.4 M packets at scale 1) from its polars table the ways a
user does: ``snfkit.replay(table)`` with its defaults (then ``Results.packets`` read, which builds
the per-packet table if the defaults left it to be built), with ``keep_packets=True`` and
``False``, and from a prepared trace (aggregates only; the default state, and state-free). Each is
the best of ``--repeat`` in one process after a warm-up; the process is run ``--rounds`` times from
this checkout and from ``--reference`` (another checkout, e.g. a git worktree at the previous
commit) in alternation, and the ratio of this checkout's time to the reference's is printed pair
by pair. A reference without ``keep_packets='auto'`` builds the per-packet table inside the replay.

Usage (about 1 min a round)::

    git worktree add --detach /tmp/snfkit-ref HEAD~1
    python benchmarks/bench_replay_quick.py --reference /tmp/snfkit-ref --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_alternation_args, alternate, best_of, worker_report

TARGET_PPS = 10e6


def worker(a: argparse.Namespace) -> None:
    import snfkit
    from snfkit.prepared import prepare_trace
    from snfkit.workloads.presets import paper_like

    df = paper_like(seed=0, scale=a.scale)
    _ = snfkit.replay(df.head(20_000)).packets  # numba cache load
    pt = prepare_trace(df)
    snfkit.replay(pt, keep_packets=False)  # events cached
    times: dict[str, float] = {}

    def timed(name: str, fn) -> None:
        def run():
            out = fn()
            del out
            gc.collect()

        times[name] = best_of(run, a.repeat)[0]

    build = float("inf")
    total = float("inf")
    for _ in range(a.repeat):
        t = time.perf_counter()
        res = snfkit.replay(df)
        mid = time.perf_counter()
        _ = res.packets  # built now if the defaults left it to be built
        end = time.perf_counter()
        total = min(total, mid - t)
        build = min(build, end - t)  # with the table built
        del res
        gc.collect()
    times["replay(table), defaults"] = total
    times["replay(table), defaults + Results.packets"] = build
    timed("replay(table), keep_packets=True", lambda: snfkit.replay(df, keep_packets=True))
    timed("replay(table), keep_packets=False", lambda: snfkit.replay(df, keep_packets=False))
    timed("replay(prepared), keep_packets=False", lambda: snfkit.replay(pt, keep_packets=False))
    timed(
        "replay(prepared), state local, no rows",
        lambda: snfkit.replay(pt, keep_packets=False, state_mode="local"),
    )
    worker_report(times, df.height)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    add_alternation_args(ap)
    a = ap.parse_args()
    if a.worker:
        worker(a)
        return
    args = ["--scale", str(a.scale), "--repeat", str(a.repeat)]
    n, med = alternate(__file__, args, a.reference, a.rounds)
    pps = n / med["replay(table), defaults"]
    verdict = "MET" if pps >= TARGET_PPS else "NOT MET"
    print(f"\ntarget: snfkit.replay(table) with its defaults >= {TARGET_PPS / 1e6:.0f} M packets/s: "
          f"{pps / 1e6:.2f} M/s, {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
