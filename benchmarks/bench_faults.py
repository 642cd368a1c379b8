"""Benchmark failures and recovery on the paper-scale synthetic trace (``paper_like``, 6.4 M packets x
``--scale``, keyed by connection as the NAT needs), against a reference checkout in the same run.

Measured in one process, best of ``--repeat`` after a warm-up that loads the numba cache: a prepared
trace replayed with the NAT and aggregates only (``keep_packets=False``), without failures, with
100 random unit failures (SNF recovery) and with 100 random failures of every kind; the same trace
without an NF and without failures (a replay with failures disabled must be no slower than the
previous commit's); and ``snfkit.replay(table, nf='nat', failures=...)`` with its defaults from
the polars table (issue 21: >= 8 M packets/s with failures and the NAT). The process runs
``--rounds`` times from this checkout and from ``--reference`` (e.g. a git worktree at the previous
commit) in alternation; the ratios of this checkout's times to the reference's are printed pair by
pair, then the ratio of each failure run to the failure-free one, then the §9.4 recovery times.

Usage (about 1.5 min a round)::

    git worktree add --detach /tmp/snfkit-ref HEAD~1
    python benchmarks/bench_faults.py --reference /tmp/snfkit-ref --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_alternation_args, alternate, best_of, worker_report

TARGET_PPS = 8e6
NO_FAILURES = "prepared, NAT, no failures"
UNIT_FAILURES = "prepared, NAT, 100 unit failures"
TABLE_FAILURES = "table, defaults, NAT, 100 unit failures"


def trace(scale: float):
    from snfkit.traces.transforms import connections
    from snfkit.workloads import paper_like

    return connections(paper_like(seed=0, scale=scale))  # the NAT keys flows by connection


def worker(a: argparse.Namespace) -> None:
    import snfkit
    from snfkit.prepared import prepare_trace

    packets = trace(a.scale)
    prepared = prepare_trace(packets)
    span_s = (prepared.ts[-1] - prepared.ts[0]) / 1e9
    small = packets.head(20_000)
    warm = snfkit.random_failures(1_000.0, ["unit"], seed=0)
    for p in (small, prepare_trace(small)):
        snfkit.replay(p, nf="nat", keep_packets=False)
        snfkit.replay(p, nf="nat", failures=warm)
        snfkit.replay(p, keep_packets=False)
    rate = a.failures / span_s
    units = snfkit.random_failures(rate, ["unit"], seed=1)
    every = snfkit.random_failures(rate, snfkit.faults.KINDS, seed=1)
    runs = {
        NO_FAILURES: lambda: snfkit.replay(prepared, nf="nat", keep_packets=False),
        UNIT_FAILURES: lambda: snfkit.replay(
            prepared, nf="nat", keep_packets=False, failures=units
        ),
        "prepared, NAT, 100 failures of every kind": lambda: snfkit.replay(
            prepared, nf="nat", keep_packets=False, failures=every
        ),
        "prepared, no NF, no failures": lambda: snfkit.replay(prepared, keep_packets=False),
        TABLE_FAILURES: lambda: snfkit.replay(packets, nf="nat", failures=units),
    }
    times = {}
    for name, fn in runs.items():

        def run(fn=fn) -> None:
            res = fn()
            del res
            gc.collect()

        times[name] = best_of(run, a.repeat)[0]
    worker_report(times, prepared.n_packets)


def recovery_times(scale: float) -> None:
    import snfkit
    from snfkit.prepared import prepare_trace

    prepared = prepare_trace(trace(scale))
    span_ns = int(prepared.ts[-1] - prepared.ts[0])
    print("\n§9.4: one NAT unit fails halfway, launched at once (recovery time, ms):")
    half = snfkit.Failure(span_ns // 2, "unit")
    for strategy, paper in (("snf", 0.14), ("chc", 3.2), ("ftmb", 25.7)):
        res = snfkit.replay(
            prepared,
            nf="nat",
            keep_packets=False,
            recovery=strategy,
            recovery_launch="immediate",
            failures=[half],
        )
        rec = res.failures.row(0, named=True)
        print(
            f"  {strategy:5s} paper {paper:6.2f}  measured {rec['recovery_us'] / 1e3:7.3f}  "
            f"({rec['flows_affected']:,} flows, {rec['packets_replayed']} packets again)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--failures", type=int, default=100)
    add_alternation_args(ap)
    a = ap.parse_args()
    if a.worker:
        worker(a)
        return
    args = ["--scale", str(a.scale), "--repeat", str(a.repeat), "--failures", str(a.failures)]
    n, med = alternate(__file__, args, a.reference, a.rounds)
    print("\nthis checkout, ratio to the failure-free NAT replay:")
    for name, secs in med.items():
        print(f"  {name:44} x{secs / med[NO_FAILURES]:4.2f}")
    for name in (UNIT_FAILURES, TABLE_FAILURES):
        pps = n / med[name]
        verdict = "MET" if pps >= TARGET_PPS else "NOT MET"
        print(
            f"target >= {TARGET_PPS / 1e6:.0f} M packets/s, {name}: {pps / 1e6:.2f} M/s, {verdict}"
        )
    recovery_times(a.scale)


if __name__ == "__main__":
    main()
