"""Benchmark ``snfkit.billing.compare`` against the replay it bills, on the paper-scale trace.

Generates ``paper_like(seed=0, scale)`` (6.4M packets x scale), warms numba and polars up on a small
slice, then, in the same process and best of ``--repeat`` each:

- ``replay``: ``snfkit.replay(packets, mode)`` (keep_packets True: per-packet billing reads the
  packets table);
- ``bill``: :func:`snfkit.billing.compare` of that Results under every model (per-packet rows,
  flowlets, flows regrouped from the items, the VM fleets), and again with ``scale_to='month'``;

and prints both times and their ratio per mode, then each model alone (one ``compare`` per model,
so each builds the tables it needs: models sharing one, such as per_flow and managed_gwlb, pay for it
twice there and once in ``bill``). ``--modes`` picks the allocation modes (default flowlet and flow).

Usage: ``python benchmarks/bench_billing.py [--scale 1.0] [--repeat 3] [--modes flowlet flow]``.
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", nargs="+", default=["flowlet", "flow"])
    args = ap.parse_args()

    import snfkit
    from snfkit.billing import MODELS, compare
    from snfkit.workloads import paper_like

    t = time.perf_counter()
    packets = paper_like(0, args.scale)
    print(f"trace: paper_like(seed=0, scale={args.scale:g}): {packets.height:,} packets, "
          f"{packets['flow_id'].max() + 1:,} flows, generated in {time.perf_counter() - t:.1f} s")  # fmt: skip
    warm = packets.head(20_000)
    for mode in args.modes:
        compare({mode: snfkit.replay(warm, mode=mode)})
    print(f"models billed: {len(MODELS)} ({', '.join(MODELS)})")
    parts: dict[str, dict[str, float]] = {}
    print(f"{'mode':<10} {'replay s':>9} {'bill s':>8} {'ratio':>7} {'month s':>8} {'ratio':>7}")
    for mode in args.modes:
        replay_s, res = best_of(lambda m=mode: snfkit.replay(packets, mode=m), args.repeat)
        bill_s, table = best_of(lambda r=res, m=mode: compare({m: r}), args.repeat)
        month_s, _ = best_of(lambda r=res, m=mode: compare({m: r}, scale_to="month"), args.repeat)
        print(f"{mode:<10} {replay_s:9.2f} {bill_s:8.3f} {bill_s / replay_s:7.3f} "
              f"{month_s:8.3f} {month_s / replay_s:7.3f}")  # fmt: skip
        assert table.height == len(MODELS)
        parts[mode] = {
            m: best_of(lambda r=res, m=m: compare({"r": r}, m), args.repeat)[0] for m in MODELS
        }
    print("each model alone, seconds:")
    print(f"{'model':<26}" + "".join(f"{m:>10}" for m in parts))
    for model in MODELS:
        print(f"{model:<26}" + "".join(f"{parts[m][model]:10.3f}" for m in parts))


if __name__ == "__main__":
    main()
