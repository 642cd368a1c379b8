"""Benchmark state management on the paper-scale synthetic trace: replays with each state mode, and
proactive state (K=3) with the NAT, beside the state-free replay measured in the same run.

The trace is ``paper_like(seed=0, scale)``, keyed by connection (``connections()``, as the NAT
needs) and prepared once (``prepare_trace``), so every figure below is a replay of the same arrays
with flowlet detection cached. numba is warmed up first (compile and cache loading excluded). Each
row is the best of ``--repeat`` runs with ``keep_packets=False`` (aggregates only):

- ``local``: state free everywhere (the state-free reference);
- ``reactive`` / ``external`` / ``proactive`` (K=3, weighted): the state modes, no NF;
- ``proactive + NAT``: ``replay(trace, nf=nat)``, the target's configuration. With the clock check
  on, the NF pass is the NAT's sequential run, on a second thread while the replay runs (confirmed
  by the replay's ``stale_state_used`` count; see ``snfkit.replay``);
- ``proactive + NAT, versions pass``: the same with ``keep_state_sources=True``, which keeps every
  packet's state source and the pushed packets and runs the NF pass over the units' versions after
  the replay, on one thread (what ``clock_check=False`` runs);
- ``NAT alone``: the sequential NF run (``snfkit.nf.apply``) on the same table.

Usage: ``python benchmarks/bench_state.py [--scale 1.0] [--repeat 3]``.
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

TARGET_PPS = 10e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()

    import snfkit
    from snfkit.nf import apply, get_nf
    from snfkit.traces.transforms import connections
    from snfkit.workloads.presets import paper_like

    t = time.perf_counter()
    df = connections(paper_like(seed=0, scale=a.scale))
    trace = snfkit.prepare_trace(df)
    n = trace.n_packets
    print(f"paper_like(seed=0, scale={a.scale}) by connection: {n:,} packets, "
          f"{trace.n_flows:,} connections ({time.perf_counter() - t:.1f} s to build)")  # fmt: skip
    nat = get_nf("nat")
    t = time.perf_counter()
    small = snfkit.prepare_trace(df.head(20_000))
    for sm in ("local", "reactive", "external", "proactive"):
        snfkit.replay(small, state_mode=sm, keep_packets=False)
    snfkit.replay(small, nf=nat, keep_packets=False)
    print(f"warm-up (numba compile/cache load, excluded): {time.perf_counter() - t:.1f} s\n")

    rows = []
    summaries = {}
    for sm in ("local", "reactive", "external", "proactive"):
        secs, res = best_of(lambda sm=sm: snfkit.replay(trace, state_mode=sm, keep_packets=False),
                            a.repeat)  # fmt: skip
        rows.append((f"replay, state_mode={sm}" + (" (K=3)" if sm == "proactive" else ""), secs))
        summaries[sm] = res.summary
    secs, res = best_of(lambda: snfkit.replay(trace, nf=nat, keep_packets=False), a.repeat)
    rows.append(("replay, proactive (K=3) + NAT", secs))
    target_secs = secs
    summaries["proactive+nat"] = res.summary
    secs, full = best_of(lambda: snfkit.replay(trace, nf=nat, keep_packets=False,
                                               keep_state_sources=True), a.repeat)  # fmt: skip
    rows.append(("  the same, versions pass (one thread)", secs))
    if not full.nf_output.equals(res.nf_output) or full.summary["stale_state_used"]:
        raise SystemExit("the two NF passes disagree")
    secs, _ = best_of(lambda: apply(nat, df), a.repeat)
    rows.append(("NAT alone (sequential apply)", secs))

    ref = rows[0][1]
    print(f"{'what':40} {'seconds':>8} {'M pkt/s':>8} {'x local':>8}")
    for name, secs in rows:
        print(f"{name:40} {secs:8.3f} {n / secs / 1e6:8.2f} {secs / ref:8.2f}")
    print()
    for key, s in summaries.items():
        lat = s["latency_us"]
        share = s["seamless_share"]
        print(f"{key:14} p50 {lat['p50']:9.1f} us  p99 {lat['p99']:9.1f} us  "
              f"mean units {s['mean_active_units']:5.2f}  seamless "
              f"{'-' if share is None else f'{share:.3f}'}  replication {s['replication_mbps']:7.2f} Mbps")  # fmt: skip
    pps = n / target_secs
    print(f"\ntarget: proactive K=3 + NAT >= {TARGET_PPS / 1e6:.0f} M packets/s -> {pps / 1e6:.2f}: "
          f"{'MET' if pps >= TARGET_PPS else 'NOT MET'}")  # fmt: skip


if __name__ == "__main__":
    main()
