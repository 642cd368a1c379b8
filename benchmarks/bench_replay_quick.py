"""A quick replay benchmark to compare two checkouts in alternation (the machines are shared and
noisy: run A, B, A, B ... and compare pair by pair).

Replays ``paper_like(seed=0, scale)`` (6.4 M packets at scale 1) three ways: a prepared trace with
aggregates only and the default state (``prepared``), the same state-free (``local``), and the
default ``snfkit.replay(table)`` with per-packet rows (``default-table``). Prints the best of
``--repeat`` for the first two and one run of the third, in seconds.

Usage, from one checkout against another (each with its numba cache warm)::

    for i in 1 2 3; do
        PYTHONPATH=/path/to/A python benchmarks/bench_replay_quick.py A
        PYTHONPATH=/path/to/B python benchmarks/bench_replay_quick.py B
    done
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("label", nargs="?", default="")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()

    import snfkit
    from snfkit.prepared import prepare_trace
    from snfkit.workloads.presets import paper_like

    df = paper_like(seed=0, scale=a.scale)
    pt = prepare_trace(df)
    snfkit.replay(pt, keep_packets=False)  # numba cache load, events cached

    def best(**kw) -> float:
        b = float("inf")
        for _ in range(a.repeat):
            t = time.perf_counter()
            snfkit.replay(pt, keep_packets=False, **kw)
            b = min(b, time.perf_counter() - t)
        return b

    prepared, local = best(), best(state_mode="local")
    t = time.perf_counter()
    snfkit.replay(df)
    full = time.perf_counter() - t
    n = df.height
    print(
        f"{a.label} prepared {prepared:.3f} s ({n / prepared / 1e6:.2f} M/s)  local {local:.3f} s "
        f"({n / local / 1e6:.2f} M/s)  default-table {full:.3f} s ({n / full / 1e6:.2f} M/s)  "
        f"[{snfkit.__file__}]"
    )


if __name__ == "__main__":
    main()
