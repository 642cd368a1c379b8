"""Benchmark failures and recovery on the paper-scale synthetic trace (``paper_like``, 6.4 M packets x
``--scale``): the replay with the NAT and no failures, the same with 100 random unit failures (SNF
recovery; the NF pass then runs over the units' state versions), and each of the three strategies
with its §9.4 figure, all in one process, best of ``--repeat``, after a warm-up that loads the numba
cache. Prints M packets/s and the ratio of each run to the failure-free one.

Usage: ``python benchmarks/bench_faults.py [--scale 1.0] [--repeat 3] [--failures 100]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import best_of  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--failures", type=int, default=100)
    a = ap.parse_args()

    import snfkit
    from snfkit.prepared import prepare_trace
    from snfkit.traces.transforms import connections
    from snfkit.workloads import paper_like

    t = time.perf_counter()
    packets = connections(paper_like(seed=0, scale=a.scale))  # the NAT keys flows by connection
    trace = prepare_trace(packets)
    span_s = (trace.ts[-1] - trace.ts[0]) / 1e9
    n = trace.n_packets
    print(
        f"paper_like(seed=0, scale={a.scale}): {n:,} packets over {span_s:.2f} s, "
        f"prepared in {time.perf_counter() - t:.1f} s"
    )
    small = prepare_trace(packets.head(20_000))
    warm = snfkit.random_failures(1_000.0, ["unit"], seed=0)
    snfkit.replay(small, nf="nat", keep_packets=False)
    snfkit.replay(small, nf="nat", keep_packets=False, failures=warm)

    rate = a.failures / span_s
    runs = {
        "NAT, no failures": {},
        f"NAT, {a.failures} unit failures (snf)": {
            "failures": snfkit.random_failures(rate, ["unit"], seed=1)
        },
        f"NAT, {a.failures} failures of every kind (snf)": {
            "failures": snfkit.random_failures(rate, snfkit.faults.KINDS, seed=1)
        },
    }
    base = None
    for label, kw in runs.items():
        sec, res = best_of(
            lambda kw=kw: snfkit.replay(trace, nf="nat", keep_packets=False, **kw), a.repeat
        )
        base = base or sec
        s = res.summary
        print(
            f"{label:45s} {sec:6.2f} s  {n / sec / 1e6:5.2f} M packets/s  "
            f"x{sec / base:4.2f}  failures {s['failures']}, recovery {s['recovery_us']}, "
            f"lost {s['packets_lost']}"
        )

    print("\n§9.4: one NAT unit fails halfway, launched at once (recovery time, ms):")
    half = snfkit.Failure(int(span_s * 1e9 / 2), "unit")
    for strategy, paper in (("snf", 0.14), ("chc", 3.2), ("ftmb", 25.7)):
        res = snfkit.replay(
            trace,
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


if __name__ == "__main__":
    main()
