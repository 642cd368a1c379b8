"""Benchmark many controllers (issue 18) on Fig 6's workload: the paper-scale synthetic trace
(``paper_like``, 6.4 M packets x ``--scale``) sped up to 93.5 Gbps, replayed by 10 controllers with
the resource manager, by 10 independent controllers, and by one controller, in one process, best of
``--repeat`` after a warm-up that loads the numba cache, with the default per-packet rows and
without them (``keep_packets=False``, as ``snfkit figures`` runs Fig 6).
Prints M packets/s over the whole trace (split, replays, merge, RM packing, tables) and the ratio
of each run to the single-controller replay of the same packets.

Usage: ``python benchmarks/bench_controllers.py [--scale 1.0] [--repeat 3] [--controllers 10]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import best_of  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--controllers", type=int, default=10)
    a = ap.parse_args()

    import snfkit
    from snfkit.figures import epoch_for
    from snfkit.workloads import paper_like

    packets = paper_like(seed=0, scale=a.scale, load_gbps=93.5)
    n = packets.height
    span = int(packets["ts_ns"][-1] - packets["ts_ns"][0])
    epoch = epoch_for(span)
    print(f"paper_like(seed=0, scale={a.scale}, load_gbps=93.5): {n:,} packets, epoch {epoch:,} ns")
    snfkit.replay(packets.head(20_000), controllers=a.controllers, resource_manager=True)
    runs = {
        "1 controller": {},
        f"{a.controllers} independent controllers": {"controllers": a.controllers},
        f"{a.controllers} controllers + RM": {
            "controllers": a.controllers,
            "resource_manager": True,
        },
    }
    for keep in (None, False):  # the default per-packet rows, and none (as snfkit figures runs)
        print("defaults" if keep is None else "keep_packets=False")
        extra = {} if keep is None else {"keep_packets": keep}
        base = None
        for label, kw in runs.items():
            sec, _ = best_of(
                lambda kw={**extra, **kw}: snfkit.replay(packets, epoch_ns=epoch, **kw), a.repeat
            )
            base = base or sec
            print(
                f"  {label:32s} {sec:7.2f} s  {n / sec / 1e6:6.2f} M packets/s  {base / sec:5.2f}x"
            )


if __name__ == "__main__":
    main()
