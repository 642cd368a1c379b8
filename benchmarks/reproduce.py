"""The paper's claims beside what snfkit measures: the table of docs/REPRODUCTION.md.

For each real trace in ``../shared/traces`` (``$SNFKIT_SHARED/traces``; skipped when absent) and the
synthetic ``paper_like(seed=0, scale)``, runs every figure of :mod:`snfkit.figures` (the same as
``snfkit figures --trace T --out OUT/<trace>``), then writes ``OUT/claims.md``: one row per claim,
the paper's number, then one column per trace. Prints the same table. Then writes
``OUT/extra_runs.md``: the single replays (NAT, flows keyed by connection) that the page's text
quotes beside the table (:func:`extra_runs`).

Usage: ``python benchmarks/reproduce.py [--scale 0.25] [--out reproduce-out] [--small]
[--formats png,html]``. At scale 0.25 (1.6M packets, 3.6 s at 5 Gbps) the whole run takes a few
minutes on one core.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import polars as pl

from snfkit import figures as F
from snfkit.workloads import paper_like

REAL_TRACES = ("caida-nyc-2018-10k.pcap", "auckland-2000-31k.pcap")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.25, help="paper_like scale (default 0.25)")
    ap.add_argument("--out", type=Path, default=Path("reproduce-out"))
    ap.add_argument("--small", action="store_true", help="reduced grids (quick check)")
    ap.add_argument("--formats", default="png,html", help="figure formats (default png,html)")
    ap.add_argument("--no-real", action="store_true", help="only the synthetic trace")
    args = ap.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]

    workloads: list[tuple[str, F.Workload]] = []
    if not args.no_real:
        for name in REAL_TRACES:
            path = F.shared_traces() / name
            if path.is_file():
                workloads.append((name.split("-")[0], F.workload(path)))
            else:
                print(f"{path}: absent, skipped", file=sys.stderr)
    t = time.perf_counter()
    synth = paper_like(0, args.scale)
    label = f"paper_like(seed=0, scale={args.scale:g})"
    workloads.append(("paper_like", F.Workload.from_packets(synth, label)))
    print(f"{label}: generated in {time.perf_counter() - t:.1f} s", file=sys.stderr)

    tables = []
    for short, wl in workloads:
        t = time.perf_counter()
        print(f"{wl.describe()} ...", file=sys.stderr, flush=True)
        fd = F.compute_figures(wl, small=args.small)
        F.write_figures(fd, args.out / short, formats)
        secs = time.perf_counter() - t
        print(f"  {short}: {secs:.0f} s, epoch {fd.params['epoch_ns'] / 1e6:g} ms", file=sys.stderr)
        tables.append(
            (short, wl.describe(), F.claims_table(fd).select("key", "claim", "paper", "measured"))
        )

    merged = tables[0][2].rename({"measured": tables[0][0]})
    for short, _, tab in tables[1:]:
        merged = merged.join(
            tab.select("key", pl.col("measured").alias(short)), on="key", how="full", coalesce=True
        )
    lines = ["Traces:", ""]
    lines += [f"- **{short}**: {desc}" for short, desc, _ in tables]
    lines += ["", "| claim | paper | " + " | ".join(s for s, _, _ in tables) + " |"]
    lines.append("|---" * (2 + len(tables)) + "|")
    for row in merged.iter_rows(named=True):
        cells = [row["claim"] or "", row["paper"] or ""]
        cells += [row[s] or "-" for s, _, _ in tables]
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "claims.md").write_text(text)
    print(text)
    extra = extra_runs(args.scale, real=not args.no_real)
    (args.out / "extra_runs.md").write_text(extra)
    print(extra)
    return 0


def extra_runs(scale: float, *, real: bool = True) -> str:
    """A markdown table of single replays with the NAT (flows keyed by connection, default
    parameters unless the row says otherwise): the CAIDA excerpt in flowlet and flow mode and with
    free state, ``paper_like(0, scale)`` with proactive and free state, and the same trace at 1 Gbps
    in every state mode."""
    from snfkit import load_trace, prepare_trace, replay
    from snfkit.traces.transforms import connections

    runs: list[tuple[str, object, dict]] = []
    caida = F.shared_traces() / REAL_TRACES[0]
    if real and caida.is_file():
        trace = prepare_trace(connections(load_trace(caida)))
        runs += [
            ("CAIDA, flowlet, proactive", trace, {}),
            ("CAIDA, flow, proactive", trace, {"mode": "flow"}),
            ("CAIDA, flowlet, local (no state cost: the bound)", trace, {"state_mode": "local"}),
        ]
    trace = prepare_trace(connections(paper_like(0, scale)))
    runs += [
        (f"paper_like(0, {scale:g}), proactive", trace, {}),
        (f"paper_like(0, {scale:g}), local", trace, {"state_mode": "local"}),
    ]
    slow = prepare_trace(connections(paper_like(0, scale, load_gbps=1.0)))
    runs += [
        (f"paper_like(0, {scale:g}, load_gbps=1.0), {m}", slow, {"state_mode": m})
        for m in ("external", "reactive", "proactive", "local")
    ]
    lines = [
        "| run | p50 / p99 latency | mean units | seamless | replication | pushes per s |",
        "|---|---|---|---|---|---|",
    ]
    for label, tr, params in runs:
        s = replay(tr, nf="nat", keep_packets=False, **params).summary
        lat, share = s["latency_us"], s["seamless_share"]
        seamless = "-" if share is None else f"{100 * share:.1f} %"  # None: no flowlet moved
        lines.append(
            f"| {label} | {lat['p50']:,.1f} / {lat['p99']:,.1f} us | {s['mean_active_units']:.2f} "
            f"| {seamless} | {s['replication_mbps']:,.1f} Mbps "
            f"| {s['pushes'] / s['duration_s']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
