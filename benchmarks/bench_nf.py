"""Benchmark the five NFs' sequential run (``run_nf_nb``) on the paper-scale synthetic trace.

Generates ``paper_like(seed=0, scale)``, then for each NF in the same process:

- the first call of :func:`snfkit.engine.nf_nb.run_nf_nb` on 1,000 packets, minus a warm call on them:
  the compile time of the runner for that NF (it takes the NF's process function as an argument, so
  numba cannot cache it on disk; the NF's own kernel is cached);
- the sequential run over the whole trace (``src`` = previous packet of the flow, no snapshots),
  best of ``--repeat``, only the kernel call inside the timer (columns extracted beforehand; the
  bidirectional NFs run over :func:`snfkit.traces.transforms.connections` flows);
- a bare loop over the same arrays measured in the same run: it reads every field each packet
  passes to an NF and adds them into the flow's state row, without an NF call -- the yardstick.

The synthetic trace carries no payload, so the IDS scans nothing there (its figure is the per-packet
overhead only); with ``--ids-payload N`` every packet also gets N pseudo-random payload bytes (a
second IDS figure, in M packets/s and Gbit/s of payload scanned).

Usage: ``python benchmarks/bench_nf.py [--scale 0.1] [--repeat 3] [--ids-payload 0]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numba as nb
import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import best_of  # noqa: E402

TARGET_NAT_PPS = 30e6


def best_cpu(fn, repeat: int) -> float:
    """Best CPU time (process_time) of ``repeat`` calls: less sensitive to other load on the box."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


@nb.njit(cache=True)
def bare_loop_nb(cols, flow, src, n_flows):
    """Read what an NF call gets (all fields, the source packet) and touch the flow's row."""
    state = np.zeros((n_flows, 2), np.int64)
    acc = np.empty(flow.shape[0], np.int64)
    for i in range(flow.shape[0]):
        f = flow[i]
        if src[i] < 0:
            state[f, 0] = 0
        x = (
            cols.ts_ns[i]
            + cols.src_hi[i]
            + cols.src_lo[i]
            + cols.dst_hi[i]
            + cols.dst_lo[i]
            + np.int64(cols.sport[i])
            + np.int64(cols.dport[i])
            + np.int64(cols.proto[i])
            + np.int64(cols.wire_len[i])
            + np.int64(cols.direction[i])
            + cols.pay_off[i + 1]
        )
        state[f, 0] += x
        state[f, 1] += 1
        acc[i] = state[f, 1]
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--ids-payload", type=int, default=0, help="payload bytes per packet for a 2nd IDS run"
    )
    args = ap.parse_args()

    import polars as pl

    from snfkit.engine.nf_nb import run_nf_nb, sequential_sources_nb
    from snfkit.errors import NoPayloadWarning
    from snfkit.nf import NFS, get_nf, prepare
    from snfkit.workloads import paper_like

    t = time.perf_counter()
    packets = paper_like(seed=0, scale=args.scale)
    n = packets.height
    print(
        f"paper_like(seed=0, scale={args.scale}): {n:,} packets in {time.perf_counter() - t:.1f} s"
    )
    print(
        "the synthetic trace has no payload: the IDS inspects nothing in the rows marked (no payload)"
    )

    runs = [(name, get_nf(name), packets, "") for name in NFS]
    if args.ids_payload > 0:
        rng = np.random.default_rng(0)
        blob = rng.integers(0, 256, n * args.ids_payload, dtype=np.uint8).tobytes()
        k = args.ids_payload
        pay = pl.Series("payload", [blob[i * k : (i + 1) * k] for i in range(n)], dtype=pl.Binary)
        runs.append(("ids", get_nf("ids"), packets.with_columns(pay), f"{k} B payload"))

    print(
        f"{'NF':<10} {'note':<14} {'compile s':>9} {'run s':>7} {'M pkt/s':>8} {'bare M pkt/s':>12} "
        f"{'x bare':>7} {'M pkt/CPU-s':>11} {'bare, CPU':>9}"
    )
    results = {}
    for name, nf, table, note in runs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoPayloadWarning)
            cols, flow, n_flows = prepare(nf, table)
        src, snap = sequential_sources_nb(flow, n_flows)
        m = min(1000, n)
        sub = type(cols)(
            *(a[:m] if a is not cols.pay_off and a is not cols.payload else a for a in cols)
        )
        sub = sub._replace(pay_off=cols.pay_off[: m + 1])

        def small(sub=sub, nf=nf, flow=flow, src=src, snap=snap, n_flows=n_flows, m=m):
            return run_nf_nb(
                nf.process, nf.config, sub, flow[:m], src[:m], snap[:m], nf.state_width, n_flows
            )

        t0 = time.perf_counter()
        small()
        first = time.perf_counter() - t0
        warm, _ = best_of(small, 3)
        compile_s = first - warm

        def full(cols=cols, nf=nf, flow=flow, src=src, snap=snap, n_flows=n_flows):
            return run_nf_nb(nf.process, nf.config, cols, flow, src, snap, nf.state_width, n_flows)

        sec, _ = best_of(full, args.repeat)
        bare_loop_nb(cols, flow, src, n_flows)
        bare, _ = best_of(
            lambda cols=cols, flow=flow, src=src, n_flows=n_flows: bare_loop_nb(
                cols, flow, src, n_flows
            ),
            args.repeat,
        )
        cpu = best_cpu(full, args.repeat)
        bare_cpu = best_cpu(
            lambda cols=cols, flow=flow, src=src, n_flows=n_flows: bare_loop_nb(
                cols, flow, src, n_flows
            ),
            args.repeat,
        )
        label = note or ("(no payload)" if nf.needs_payload else "")
        pps = n / sec
        results[(name, note)] = max(pps, n / cpu)
        print(
            f"{name:<10} {label:<14} {compile_s:9.2f} {sec:7.3f} {pps / 1e6:8.1f} {n / bare / 1e6:12.1f} "
            f"{sec / bare:7.1f} {n / cpu / 1e6:11.1f} {n / bare_cpu / 1e6:9.1f}"
        )
        if note:
            gbps = args.ids_payload * 8 * n / sec / 1e9
            print(f"{'':<10} {'':<14} payload scanned at {gbps:.2f} Gbit/s")
    nat = results[("nat", "")]
    verdict = "yes" if nat >= TARGET_NAT_PPS else "no"
    print(
        f"target: NAT sequential run >= {TARGET_NAT_PPS / 1e6:.0f} M packets/s (best of wall and "
        f"CPU time): {nat / 1e6:.1f} -> {verdict}"
    )


if __name__ == "__main__":
    main()
