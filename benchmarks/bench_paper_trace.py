"""The paper's trace statistics, checked on the full-scale ``paper_trace`` (§9, §9.1).

Generates ``paper_trace(seed, scale)`` (default scale 1.0: 199,000 connections) and prints each
statistic the paper states beside the measured value, with whether it holds: 6.4M packets (within
3 %), 199K connections (exact), median packet 1434 B (exact), 5 % of flows above 10 KB (within half
a point), the mean offered load (within 1 %). Also prints flowlets per flow at T = 100 and 500 us
(B = 15 KB; the paper's allocation opportunities are 5.18x and 4.66x over flows) and the generation
time. Exits 1 if a stated statistic does not hold. ``tests/test_workloads.py`` checks the same at
2 % scale.

Usage: ``python benchmarks/bench_paper_trace.py [--scale 1.0] [--seed 0] [--load-gbps 5]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from snfkit.engine.flowlets_nb import detect_flowlets_nb  # noqa: E402
from snfkit.traces.transforms import mean_gbps  # noqa: E402
from snfkit.workloads.presets import (  # noqa: E402
    PAPER_BIG_FLOW_BYTES,
    PAPER_BIG_FLOW_SHARE,
    PAPER_FLOWS,
    PAPER_MEDIAN_PACKET_BYTES,
    PAPER_PACKETS,
    paper_trace,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--load-gbps", type=float, default=5.0)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    p = paper_trace(args.seed, args.scale, load_gbps=args.load_gbps)
    secs = time.perf_counter() - t
    flows = p["flow_id"].n_unique()
    sizes = p.group_by("flow_id").agg(pl.col("wire_len").cast(pl.Int64).sum())["wire_len"]
    big = float((sizes > PAPER_BIG_FLOW_BYTES).mean())
    want_packets = PAPER_PACKETS * args.scale
    rows = [
        (
            "packets",
            f"{want_packets:,.0f}",
            f"{p.height:,}",
            abs(p.height / want_packets - 1) < 0.03,
        ),
        (
            "connections",
            f"{round(PAPER_FLOWS * args.scale):,}",
            f"{flows:,}",
            flows == round(PAPER_FLOWS * args.scale),
        ),
        (
            "median packet",
            f"{PAPER_MEDIAN_PACKET_BYTES} B",
            f"{p['wire_len'].median():g} B",
            p["wire_len"].median() == PAPER_MEDIAN_PACKET_BYTES,
        ),
        (
            "flows above 10 KB",
            f"{100 * PAPER_BIG_FLOW_SHARE:g} %",
            f"{100 * big:.2f} %",
            abs(big - PAPER_BIG_FLOW_SHARE) < 0.005,
        ),
        (
            "mean offered load",
            f"{args.load_gbps:g} Gbps",
            f"{mean_gbps(p):.3f} Gbps",
            abs(mean_gbps(p) / args.load_gbps - 1) < 0.01,
        ),
    ]
    ts, fl = p["ts_ns"].to_numpy(), p["flow_id"].to_numpy()
    wl = p["wire_len"].to_numpy().astype(np.int64)
    per_flow = {}
    for t_us in (100, 500):
        first = detect_flowlets_nb(ts, fl, wl, t_us * 1000, 15_000)[2]
        per_flow[t_us] = len(first) / flows
    print(
        f"paper_trace(seed={args.seed}, scale={args.scale:g}, load_gbps={args.load_gbps:g}): "
        f"generated in {secs:.1f} s"
    )
    print("| statistic (§9, §9.1) | paper | measured | holds |\n|---|---|---|---|")
    for name, want, got, ok in rows:
        print(f"| {name} | {want} | {got} | {'yes' if ok else 'NO'} |")
    print(
        f"flowlets per flow (B = 15 KB): T = 100 us {per_flow[100]:.2f}, T = 500 us "
        f"{per_flow[500]:.2f} (paper's opportunities over flows: 5.18x, 4.66x)"
    )
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
