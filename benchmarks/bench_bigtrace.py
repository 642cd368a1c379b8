"""Traces beyond memory (issue 21 part 4): a ~100 M-packet trace replayed from parquet in chunks.

The trace: ``--packets`` packets (default 100 M) of paper-like traffic, written once to
``--dir`` (a cache directory outside the repository; reused while the file is there) as parquet in
the packets-table schema, row groups of :data:`ROW_GROUP` rows. It is made piece by piece, so the
generator never holds more than one piece: piece k is ``paper_like(seed + k, scale)`` (the
paper-scale synthetic trace, 6.4 M packets and 199 K flows at scale 1; ``scale`` is the
``--packets`` over the piece count, at most 1), shifted in time to start 1 us after the previous
piece's last packet, with the first octet of every source address set to k (so no 5-tuple of one
piece is in another: flow ids are unique over the file, and each piece's flows start and end in
it, as flows of successive time windows of one capture would, except that none spans two).
The file's ``flow_id`` column is the ids ``load_trace`` gives (dense, first-seen order).

Then, each in a fresh process (numba caches warm; a 20 K-packet replay first so that cache loading
is outside the timer), ``--repeat`` times in alternation:

- big: ``snfkit.replay(path, keep_packets=False)`` (defaults otherwise, ``chunk_size`` 1 M): the
  file is streamed by row group; wall time, packets/s, and the process's peak RSS (VmHWM: unlike
  ``ru_maxrss``, it is not inherited from the parent across fork + exec);
- reference: the first :data:`SLICE` packets of the same file (written to a file of their own) read
  with ``load_trace`` and replayed in memory in one chunk (``chunk_size`` = their count,
  ``keep_packets=False``); then the slice's file is replayed from its path, in chunks, and the two
  results compared (summary and every table): "identical" is that comparison.

Prints medians and ranges, the ratio of the big replay's packets/s to the reference's, and the
targets (peak RSS <= 4 GB, >= 8 M packets/s).

Usage::

    python benchmarks/bench_bigtrace.py --dir /tmp/snfkit-bigtrace              # 100 M packets
    python benchmarks/bench_bigtrace.py --dir /tmp/snfkit-bigtrace --packets 10_000_000
    python benchmarks/bench_bigtrace.py --dir /tmp/snfkit-bigtrace --packets 10_000_000 \
        --before /tmp/snfkit-before    # also an older checkout's replay of the same file
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

ROW_GROUP = 1 << 20
"""Rows per parquet row group of the written trace."""
SLICE = 6_400_000
"""Packets of the reference slice (the paper-scale trace's size)."""
WARMUP = 20_000
TARGET_PPS = 8e6
TARGET_RSS_MB = 4096


def vm_hwm_mb() -> float:
    """This process's own peak RSS (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the trace ----------------------------------------------------------------------------------
def _piece(k: int, seed: int, scale: float, start_ns: int, flows_before: int):
    """Piece k of the trace (see the module docstring): a packets table."""
    import numpy as np
    import polars as pl

    from snfkit.traces.table import address_rows, binary16_series, flow_ids
    from snfkit.workloads.presets import paper_like

    p = paper_like(seed + k, scale)
    src = address_rows(p["src_ip"]).copy()
    src[:, 12] = k  # the IPv4 address's first octet (addresses are IPv4-mapped)
    dst = address_rows(p["dst_ip"])
    ids = flow_ids(src, dst, *(p[c].to_numpy() for c in ("src_port", "dst_port", "proto")))
    if not np.array_equal(ids, p["flow_id"].to_numpy()):
        sys.exit(f"piece {k}: setting the first octet merged two flows; pick another --seed")
    ts = p["ts_ns"]
    return p.with_columns(
        ts + (start_ns - ts[0]),
        binary16_series("src_ip", src),
        pl.col("flow_id") + flows_before,
    )


def write_trace(path: Path, packets: int, seed: int) -> None:
    """Write the trace to ``path`` (via a ``.part`` file renamed when complete)."""
    import polars as pl
    import pyarrow.parquet as pq

    from snfkit.workloads.presets import PAPER_PACKETS

    pieces = max(1, math.ceil(packets / PAPER_PACKETS))
    if pieces > 256:
        sys.exit("--packets: at most 256 pieces of 6.4 M packets (the first octet numbers them)")
    scale = packets / pieces / PAPER_PACKETS
    part = path.with_suffix(".part")
    t0 = time.perf_counter()
    writer = None
    carry = None
    start, flows, written = 0, 0, 0
    try:
        for k in range(pieces):
            p = _piece(k, seed, scale, start, flows)
            start = int(p["ts_ns"][-1]) + 1_000
            flows = int(p["flow_id"].max()) + 1
            if carry is not None:
                p = pl.concat([carry, p])
            whole = p.height - p.height % ROW_GROUP if k < pieces - 1 else p.height
            table = p.head(whole).to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(part, table.schema)
            writer.write_table(table, row_group_size=ROW_GROUP)
            carry = p.slice(whole)
            written += whole
            secs = time.perf_counter() - t0
            left = secs / (k + 1) * (pieces - k - 1)
            print(
                f"  piece {k + 1}/{pieces}: {written:,} packets written, {flows:,} flows, "
                f"{secs:.0f} s, ~{left:.0f} s left",
                flush=True,
            )
    finally:
        if writer is not None:
            writer.close()
    part.rename(path)


def write_slice(big: Path, path: Path, rows: int) -> int:
    """The first ``rows`` packets of ``big`` as a file of their own; returns their count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = pq.ParquetFile(big)
    got, batches = 0, []
    for batch in f.iter_batches(batch_size=ROW_GROUP):
        batches.append(batch.slice(0, rows - got))
        got += batches[-1].num_rows
        if got >= rows:
            break
    part = path.with_suffix(".part")
    pq.write_table(pa.Table.from_batches(batches), part, row_group_size=ROW_GROUP)
    part.rename(path)
    return got


# -- the children -------------------------------------------------------------------------------
def _warm_up(snfkit, path: Path) -> None:
    """Replay the first :data:`WARMUP` packets from a table and from a parquet file of their own
    (numba's cache loaded, pyarrow's reader imported)."""
    import tempfile

    import polars as pl

    head = pl.read_parquet(path, n_rows=WARMUP)
    snfkit.replay(head, keep_packets=False)
    with tempfile.TemporaryDirectory() as d:
        head.write_parquet(Path(d) / "head.parquet")
        snfkit.replay(Path(d) / "head.parquet", keep_packets=False)


def child_big(path: str) -> None:
    import snfkit

    _warm_up(snfkit, Path(path))
    before = vm_hwm_mb()
    t, cpu = time.perf_counter(), time.process_time()
    res = snfkit.replay(path, keep_packets=False)
    secs = time.perf_counter() - t
    cpu = time.process_time() - cpu
    flowlets = res.flowlets.height
    out = {
        "seconds": secs,
        "cpu_seconds": cpu,
        "packets": res.summary["packets_in"],
        "flowlets": flowlets,
        "before_mb": before,
        "peak_mb": vm_hwm_mb(),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(out))


def child_reference(path: str) -> None:
    import snfkit

    _warm_up(snfkit, Path(path))
    t = time.perf_counter()
    df = snfkit.load_trace(path)
    load = time.perf_counter() - t
    t, cpu = time.perf_counter(), time.process_time()
    one = snfkit.replay(df, keep_packets=False, chunk_size=df.height)
    secs = time.perf_counter() - t
    cpu = time.process_time() - cpu
    n = df.height
    del df
    chunked = snfkit.replay(path, keep_packets=False)
    same = one.summary == chunked.summary
    for name in ("flowlets", "epochs", "epoch_units", "units"):
        same = same and getattr(one, name).equals(getattr(chunked, name))
    same = same and one.packets is None and chunked.packets is None
    out = {"seconds": secs, "cpu_seconds": cpu, "load_seconds": load, "packets": n}
    print(json.dumps({**out, "identical": same}))


def _run_child(kind: str, path: Path, checkout: Path = REPO) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout), "CI": os.environ.get("CI", "false")}
    cmd = [sys.executable, __file__, f"--child-{kind}", str(path)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{kind} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _stat(values: list[float], fmt: str = "{:.2f}") -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", help="cache directory for the trace (not the repo); required")
    ap.add_argument("--packets", type=lambda s: int(s.replace("_", "")), default=100_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--before",
        help="another checkout (e.g. a git worktree at an older commit) whose big replay also "
        "runs each round, from the same file; one that loads the whole file needs the memory",
    )
    ap.add_argument("--child-big", help=argparse.SUPPRESS)
    ap.add_argument("--child-reference", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child_big:
        child_big(a.child_big)
        return 0
    if a.child_reference:
        child_reference(a.child_reference)
        return 0
    if not a.dir:
        ap.error("--dir is required")
    d = Path(a.dir).resolve()
    if d == REPO or REPO in d.parents:
        sys.exit("--dir: a directory outside the repository")
    d.mkdir(parents=True, exist_ok=True)
    big = d / f"bigtrace-{a.packets}-seed{a.seed}.parquet"
    if not big.exists():
        print(f"writing {big} ({a.packets:,} packets, paper-like pieces of <= 6.4 M)", flush=True)
        write_trace(big, a.packets, a.seed)
    ref = d / f"bigtrace-{a.packets}-seed{a.seed}-slice{SLICE}.parquet"
    if not ref.exists():
        write_slice(big, ref, SLICE)

    import pyarrow.parquet as pq

    meta = pq.ParquetFile(big).metadata
    print(
        f"trace {big}: {meta.num_rows:,} packets, {meta.num_row_groups} row groups, "
        f"{big.stat().st_size / 1e9:.2f} GB; reference slice {ref.name}"
    )
    bigs, refs, befores = [], [], []
    for r in range(a.repeat):
        refs.append(_run_child("reference", ref))
        bigs.append(_run_child("big", big))
        b, f = bigs[-1], refs[-1]
        if a.before:
            befores.append(_run_child("big", big, Path(a.before).resolve()))
            o = befores[-1]
            print(
                f"round {r + 1}: before ({a.before}) {o['seconds']:.2f} s "
                f"({o['packets'] / o['seconds'] / 1e6:.2f} M/s), peak {o['peak_mb']:,.0f} MB",
                flush=True,
            )
        print(
            f"round {r + 1}: big {b['seconds']:.2f} s ({b['packets'] / b['seconds'] / 1e6:.2f} M/s, "
            f"CPU {b['cpu_seconds']:.1f} s), peak {b['peak_mb']:,.0f} MB (after warm-up "
            f"{b['before_mb']:,.0f} MB); reference {f['seconds']:.3f} s "
            f"({f['packets'] / f['seconds'] / 1e6:.2f} M/s, CPU {f['cpu_seconds']:.2f} s), "
            f"identical {f['identical']}; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    n, m = bigs[0]["packets"], refs[0]["packets"]
    big_pps = [b["packets"] / b["seconds"] / 1e6 for b in bigs]
    ref_pps = [f["packets"] / f["seconds"] / 1e6 for f in refs]
    ratios = [x / y for x, y in zip(big_pps, ref_pps, strict=True)]
    peaks = [b["peak_mb"] for b in bigs]
    identical = all(f["identical"] for f in refs)
    print(f"\nmedians (min-max) of {a.repeat} rounds, each in a fresh process")
    print("| what | packets | seconds | M packets/s | peak RSS MB |\n|---|---|---|---|---|")
    print(
        f"| `replay(path, keep_packets=False)`, chunks from parquet | {n:,} | "
        f"{_stat([b['seconds'] for b in bigs])} | {_stat(big_pps)} | {_stat(peaks, '{:,.0f}')} |"
    )
    if befores:
        pps = [o["packets"] / o["seconds"] / 1e6 for o in befores]
        print(
            f"| the same, `--before` checkout | {n:,} | {_stat([o['seconds'] for o in befores])} "
            f"| {_stat(pps)} | {_stat([o['peak_mb'] for o in befores], '{:,.0f}')} |"
        )
    print(
        f"| reference: `replay(table, keep_packets=False)`, one chunk in memory | {m:,} | "
        f"{_stat([f['seconds'] for f in refs], '{:.3f}')} | {_stat(ref_pps)} | |"
    )
    print(f"big / reference packets/s: {_stat(ratios)}")
    cpu_big = [b["cpu_seconds"] / b["packets"] * 1e9 for b in bigs]
    cpu_ref = [f["cpu_seconds"] / f["packets"] * 1e9 for f in refs]
    par_big = [b["cpu_seconds"] / b["seconds"] for b in bigs]
    par_ref = [f["cpu_seconds"] / f["seconds"] for f in refs]
    print(
        f"CPU time per packet (all threads): big {_stat(cpu_big, '{:.0f}')} ns, reference "
        f"{_stat(cpu_ref, '{:.0f}')} ns; CPU / wall (2: both cores ours throughout): big "
        f"{_stat(par_big)}, reference {_stat(par_ref)}"
    )
    print(f"flowlets: {bigs[0]['flowlets']:,}")
    print(
        f"targets: peak RSS <= {TARGET_RSS_MB:,} MB: {'met' if max(peaks) <= TARGET_RSS_MB else 'NOT met'}"
        f"; >= {TARGET_PPS / 1e6:g} M packets/s: "
        f"{'met' if statistics.median(big_pps) >= TARGET_PPS / 1e6 else 'NOT met'} (median); "
        f"slice chunked from its path == one chunk in memory: {'yes' if identical else 'NO'}"
    )
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
