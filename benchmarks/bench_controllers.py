"""Benchmark many controllers (issue 18) on Fig 6's workload: the paper-scale synthetic trace
(``paper_like``, 6.4 M packets x ``--scale``) sped up to 93.5 Gbps, replayed from the polars table
by 10 controllers with the resource manager, by 10 independent controllers, and by one controller,
with the defaults (per-packet rows kept for the packets table) and with ``keep_packets=False`` (as
``snfkit figures`` runs Fig 6).

Measured in one process, best of ``--repeat`` after a warm-up that loads the numba cache, over the
whole trace (split, replays, merge, RM packing, tables). The process runs ``--rounds`` times from
this checkout and, if given, from ``--reference`` (e.g. a git worktree at the previous commit) in
alternation; prints the ratios of this checkout's times to the reference's pair by pair, then each
run's ratio to the single-controller replay of the same packets, and the target (10 controllers
with the RM at >= 8 M packets/s, with the defaults).

Usage (about 1 min a round)::

    git worktree add --detach /tmp/snfkit-ref HEAD~1
    python benchmarks/bench_controllers.py --reference /tmp/snfkit-ref --rounds 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_alternation_args, alternate, best_of, worker_report

TARGET_PPS = 8e6
LOAD_GBPS = 93.5


def runs(controllers: int) -> dict[str, dict]:
    """Each measurement's replay arguments."""
    out = {}
    for keep, tag in ((None, "defaults"), (False, "keep_packets=False")):
        extra = {} if keep is None else {"keep_packets": keep}
        out[f"1 controller, {tag}"] = extra
        out[f"{controllers} independent, {tag}"] = {**extra, "controllers": controllers}
        out[f"{controllers} + RM, {tag}"] = {
            **extra,
            "controllers": controllers,
            "resource_manager": True,
        }
    return out


def worker(a: argparse.Namespace) -> None:
    import snfkit
    from snfkit.figures import epoch_for
    from snfkit.workloads import paper_like

    packets = paper_like(seed=0, scale=a.scale, load_gbps=LOAD_GBPS)
    span = int(packets["ts_ns"][-1] - packets["ts_ns"][0])
    epoch = epoch_for(span)
    snfkit.replay(packets.head(20_000), controllers=a.controllers, resource_manager=True)
    times = {}
    for label, kw in runs(a.controllers).items():
        times[label], _ = best_of(
            lambda kw=kw: snfkit.replay(packets, epoch_ns=epoch, **kw), a.repeat
        )
    worker_report(times, packets.height)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--controllers", type=int, default=10)
    add_alternation_args(ap)
    a = ap.parse_args()
    if a.worker:
        worker(a)
        return
    print(
        f"paper_like(seed=0, scale={a.scale}, load_gbps={LOAD_GBPS}), "
        f"{a.controllers} controllers, best of {a.repeat} per round"
    )
    args = ["--scale", str(a.scale), "--repeat", str(a.repeat)]
    args += ["--controllers", str(a.controllers)]
    n, med = alternate(__file__, args, a.reference, a.rounds)
    print("\nthis checkout, speed against one controller on the same packets (x):")
    for name, secs in med.items():
        one = med[f"1 controller, {name.split(', ', 1)[1]}"]
        print(f"  {name:44} x{one / secs:4.2f}")
    name = f"{a.controllers} + RM, defaults"
    pps = n / med[name]
    verdict = "MET" if pps >= TARGET_PPS else "NOT MET"
    print(f"target >= {TARGET_PPS / 1e6:.0f} M packets/s, {name}: {pps / 1e6:.2f} M/s, {verdict}")


if __name__ == "__main__":
    main()
