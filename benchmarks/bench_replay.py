"""Benchmark ``snfkit.replay`` on the paper-scale synthetic trace (``paper_like``, 6.4M packets x scale).

Generates ``paper_like(seed=0, scale)`` (timed), warms numba up on a small slice (so compile and cache
loading are excluded from every figure below), then measures in the same process, best of
``--repeat``:

- ``detect``: the bare flowlet-detection kernel over the whole trace
  (:func:`snfkit.engine.flowlets_nb.detect_flowlets_nb`, T = 500 us, B = 15 KB) -- the yardstick;
- ``kernel``: :func:`snfkit.engine.replay_nb.replay_chunk_nb` alone, driven directly over the whole
  trace in 1M-packet chunks like ``replay`` does (it detects flowlets itself; events precomputed,
  state and output arrays preallocated; only the kernel calls are inside the timer);
- ``replay``: ``snfkit.replay(packets, mode='flowlet')`` end to end, keep_packets 'auto' (the
  default: per-packet columns kept, the packets table built when first read; also timed with that
  read), True and False (defaults otherwise, so state is proactive with K = 3), and with
  ``state_mode='local'`` (no state work: the replay engine alone, as the replay-engine issue
  specifies it);
- ``replay(prepared)``: the same with keep_packets=False on a :func:`snfkit.prepare_trace` result whose
  events are already cached (what sweeps and parameter grids run);
- a phase breakdown of one end-to-end flowlet replay (timers wrapped around the runner's own calls:
  checks and events (on a second thread, overlapped with the kernel), kernel (which also detects
  flowlets and keeps the aggregates), the per-chunk packet tables (``tables._packets_part``), and
  each table ``build_results`` makes);
- the other modes (flow, smart_flow, packet), one run each, keep_packets=True;
- the plain-Python twin ``replay_reference`` on the first ``--ref-packets`` packets, against the
  kernel and ``replay`` on the same slice;
- peak memory (VmHWM, see :func:`vm_hwm_mb`) of a paper-scale replay, each in a fresh subprocess that only loads the
  trace (written to a temporary parquet file) and replays it.

Usage: ``python benchmarks/bench_replay.py [--scale 1.0] [--repeat 3] [--ref-packets 30000]``.
The kernels are single-threaded; polars builds the tables on its thread pool, so
``POLARS_MAX_THREADS=1`` in the environment makes the whole replay use one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import best_of  # noqa: E402

T_NS, B_BYTES = 500_000, 15_000
TARGET_PPS = 10e6
TARGET_RSS_MB = 2048


def arrays(df):
    return (
        df["ts_ns"].to_numpy().astype(np.int64),
        df["flow_id"].to_numpy().astype(np.int64),
        df["wire_len"].to_numpy().astype(np.int64),
    )


def kernel_only(ts, flow, wl, params, chunk: int = 1_000_000) -> float:
    """Seconds spent inside the kernel driver (:meth:`snfkit.runner.Driver.run_kernel`, which calls
    ``replay_chunk_nb``, which detects flowlets and keeps the aggregates as it goes) for the whole
    trace; the event computation is outside the timer."""
    from snfkit.prepared import prepare_trace
    from snfkit.runner import Driver

    run = Driver(params.replace(keep_packets=False))  # transfer rows are not kept either
    trace = prepare_trace(pl.DataFrame({"ts_ns": ts, "flow_id": flow, "wire_len": wl}))
    run.reserve(trace.n_flows, ts.shape[0])  # per-flow tables; an item per packet at most
    ev_time, ev_code = trace.events(run.close_after, run.push_after)
    spent = 0.0
    e0 = 0
    for a in range(0, ts.shape[0], chunk):
        b = min(a + chunk, ts.shape[0])
        e1 = int(np.searchsorted(ev_time, ts[b - 1], side="left"))
        t = time.perf_counter()
        run.run_kernel(ts[a:b], flow[a:b], wl[a:b], (ev_time[e0:e1], ev_code[e0:e1]))
        spent += time.perf_counter() - t
        e0 = e1
        run.drained.n_in = b
        run.drained.records.clear()
        run.drained.eu_parts.clear()
    return spent


def phase_breakdown(df, **kw) -> tuple[float, dict[str, float]]:
    """One end-to-end replay with timers around the runner's calls; returns (total s, phases)."""
    import snfkit
    from snfkit import runner
    from snfkit.runner import drive, tables

    spent: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t

        return wrapper

    patches = [
        (drive, "events_chunk", "events (numba; 2nd thread, overlapped)"),
        (drive, "checked_columns", "checks (2nd thread, overlapped)"),
        (drive, "replay_chunk_nb", "replay kernel (numba)"),
        (runner, "build_results", "build_results (all tables)"),
        (tables, "_packets_part", "  per-chunk packet tables"),
        (tables, "_units_table", "  _units_table"),
        (tables, "_flowlets_table", "  _flowlets_table (when read)"),
        (tables, "packets_table", "  packets_table (when read, with auto)"),
        (tables, "_epoch_tables", "  _epoch_tables"),
        (tables, "_summary", "  _summary"),
        (tables, "_max_active_per_epoch", "  (_max_active_per_epoch, all calls)"),
    ]
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]
    try:
        for obj, attr, name in patches:
            setattr(obj, attr, timed(name, getattr(obj, attr)))
        t = time.perf_counter()
        res = snfkit.replay(df, mode="flowlet", **kw)
        _ = res.packets, res.flowlets  # built here if the replay left them to be built
        total = time.perf_counter() - t
    finally:
        for obj, attr, fn in saved:
            setattr(obj, attr, fn)
    return total, spent


def memory_child(path: str, keep: str) -> None:
    import polars as pl

    import snfkit

    keep_packets = {"auto": "auto", "True": True, "False": False}[keep]
    df = pl.read_parquet(path)
    _ = snfkit.replay(df.head(20_000), mode="flowlet", keep_packets=keep_packets).packets
    before = vm_hwm_mb() * 1024
    t = time.perf_counter()
    res = snfkit.replay(df, mode="flowlet", keep_packets=keep_packets)
    _ = res.packets  # built (keep_packets='auto')
    secs = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_mb": before / 1024, "maxrss_mb": after / 1024, "peak_mb": vm_hwm_mb(),
                      "seconds": secs, "packets": df.height, "kept": res.packets is not None}))  # fmt: skip


def vm_hwm_mb() -> float:
    """This process's own peak RSS (VmHWM). Unlike ru_maxrss it does not inherit the parent's
    high-water mark: Linux carries the pre-exec memory's peak into ru_maxrss across fork + exec,
    so a child of a 4 GB benchmark process reports >= 4 GB whatever it does."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_memory(df, keep: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "trace.parquet"
        df.write_parquet(path)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, __file__, "--memory-child", str(path), "--keep", keep]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ref-packets", type=int, default=30_000)
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    ap.add_argument("--memory-only", action="store_true", help="only the peak-memory runs")
    ap.add_argument("--memory-child", metavar="PARQUET", help=argparse.SUPPRESS)
    ap.add_argument("--keep", default="auto", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.memory_child:
        memory_child(a.memory_child, a.keep)
        return

    t = time.perf_counter()
    import snfkit
    from snfkit.engine.flowlets_nb import detect_flowlets_nb
    from snfkit.params import MODES, ReplayParams
    from snfkit.reference.replay import replay_reference
    from snfkit.workloads.presets import paper_like

    print(f"import snfkit: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    df = paper_like(seed=0, scale=a.scale)
    gen = time.perf_counter() - t
    n = df.height
    n_flows = df["flow_id"].n_unique()
    print(f"paper_like(seed=0, scale={a.scale}): {n:,} packets, {n_flows:,} flows, "
          f"generated in {gen:.2f} s ({n / gen / 1e6:.2f} M packets/s)")  # fmt: skip
    ts, flow, wl = arrays(df)

    # warm-up: load (or compile) every kernel on a small slice; excluded from all figures
    t = time.perf_counter()
    small = df.head(20_000)
    detect_flowlets_nb(ts[:1000], flow[:1000], wl[:1000], T_NS, B_BYTES)
    for mode in MODES:
        snfkit.replay(small, mode=mode)
        kernel_only(*arrays(small), ReplayParams.from_flat(mode=mode))
    snfkit.replay(small, mode="flowlet", keep_packets=False)
    print(f"warm-up (numba cache load/compile, excluded below): {time.perf_counter() - t:.2f} s\n")

    if a.memory_only:
        report_memory(df)
        return
    rows: list[tuple[str, float, int]] = []  # (name, seconds, packets)
    det, (_, _, first, _) = best_of(
        lambda: detect_flowlets_nb(ts, flow, wl, T_NS, B_BYTES), a.repeat
    )
    rows.append(("detect_flowlets_nb (T=500us, B=15KB)", det, n))
    print(f"flowlets: {first.shape[0]:,} ({first.shape[0] / n_flows:.2f} per flow)")
    p_flowlet = ReplayParams.from_flat(mode="flowlet")
    kern = min(kernel_only(ts, flow, wl, p_flowlet) for _ in range(a.repeat))
    rows.append(("replay_chunk_nb only, flowlet", kern, n))
    p_free = ReplayParams.from_flat(mode="flowlet", state_mode="local")
    kern_free = min(kernel_only(ts, flow, wl, p_free) for _ in range(a.repeat))
    rows.append(("replay_chunk_nb only, flowlet, state local", kern_free, n))
    e2e_auto, res = best_of(lambda: snfkit.replay(df, mode="flowlet"), a.repeat)
    rows.append(("replay(mode='flowlet'), defaults (keep 'auto')", e2e_auto, n))

    def auto_and_read():
        _ = snfkit.replay(df, mode="flowlet").packets

    e2e_read, _ = best_of(auto_and_read, a.repeat)
    rows.append(("  the same, then Results.packets read", e2e_read, n))
    e2e_keep, _ = best_of(lambda: snfkit.replay(df, mode="flowlet", keep_packets=True), a.repeat)
    rows.append(("replay(mode='flowlet'), keep_packets=True", e2e_keep, n))
    e2e_nokeep, _ = best_of(lambda: snfkit.replay(df, mode="flowlet", keep_packets=False), a.repeat)
    rows.append(("replay(mode='flowlet'), keep_packets=False", e2e_nokeep, n))
    prepared = snfkit.prepare_trace(df)
    snfkit.replay(prepared, mode="flowlet", keep_packets=False)  # detection and events cached
    e2e_prep, _ = best_of(
        lambda: snfkit.replay(prepared, mode="flowlet", keep_packets=False), a.repeat
    )
    rows.append(("replay(prepared trace), keep_packets=False", e2e_prep, n))
    e2e_free, _ = best_of(
        lambda: snfkit.replay(df, mode="flowlet", state_mode="local", keep_packets=False), a.repeat
    )
    rows.append(("replay(state local), keep_packets=False", e2e_free, n))
    e2e_free_keep, _ = best_of(
        lambda: snfkit.replay(df, mode="flowlet", state_mode="local"), a.repeat
    )
    rows.append(("replay(state local), defaults (keep 'auto')", e2e_free_keep, n))
    snfkit.replay(prepared, mode="flowlet", state_mode="local", keep_packets=False)
    e2e_prep_free, _ = best_of(
        lambda: snfkit.replay(prepared, mode="flowlet", state_mode="local", keep_packets=False),
        a.repeat,
    )
    rows.append(("replay(prepared, state local), keep_packets=False", e2e_prep_free, n))
    s = res.summary
    print(f"flowlet replay: {s['allocations']:,} allocations, max {s['max_active_units']} units, "
          f"mean {s['mean_active_units']:.2f}, {res.epochs.height} epochs, "
          f"{res.units.height} unit lifetimes")  # fmt: skip
    for mode in ("flow", "smart_flow", "packet"):
        t = time.perf_counter()
        r = snfkit.replay(df, mode=mode)
        rows.append((f"replay(mode='{mode}'), defaults", time.perf_counter() - t, n))
        k = kernel_only(ts, flow, wl, ReplayParams.from_flat(mode=mode))
        rows.append((f"replay_chunk_nb only, {mode}", k, n))
        print(f"{mode}: {r.summary['allocations']:,} allocations, "
              f"max {r.summary['max_active_units']} units")  # fmt: skip

    print(f"\n{'what':52} {'seconds':>8} {'M pkt/s':>8} {'x detect':>9}")
    det_pps = n / det
    for name, secs, cnt in rows:
        pps = cnt / secs
        print(f"{name:52} {secs:8.3f} {pps / 1e6:8.2f} {det_pps / pps:9.1f}")
    print(
        f"\ntarget: flowlet replay >= {TARGET_PPS / 1e6:.0f} M packets/s, end to end from the table"
    )
    for name, secs in (("defaults (proactive K=3, keep_packets='auto')", e2e_auto),
                       ("defaults, then Results.packets read", e2e_read),
                       ("keep_packets=True", e2e_keep),
                       ("keep_packets=False", e2e_nokeep),
                       ("state local, defaults", e2e_free_keep),
                       ("state local, keep_packets=False", e2e_free)):  # fmt: skip
        pps = n / secs
        print(f"  {name:44} {pps / 1e6:6.2f} M/s: {'MET' if pps >= TARGET_PPS else 'NOT MET'}")

    # phase breakdown of one end-to-end flowlet replay
    for keep in ("auto", True, False):
        total, spent = phase_breakdown(df, keep_packets=keep)
        print(f"\nphases of one replay(mode='flowlet', keep_packets={keep!r}) and its tables "
              f"read: {total:.3f} s")  # fmt: skip
        accounted = 0.0
        for name, secs in spent.items():
            if not name.startswith(" ") and "overlapped" not in name:
                accounted += secs
            print(f"  {name:44} {secs:8.3f} s  {100 * secs / total:5.1f} %")
        print(f"  {'rest (to_numpy, state growth, tables read, ...)':44} {total - accounted:8.3f} s  "
              f"{100 * (total - accounted) / total:5.1f} %")  # fmt: skip

    # the plain-Python twin on a slice
    m = min(a.ref_packets, n)
    sl = df.head(m)
    sts, sfl, swl = arrays(sl)
    t = time.perf_counter()
    replay_reference(sts, sfl, swl, p_flowlet)
    ref = time.perf_counter() - t
    k_sl = min(kernel_only(sts, sfl, swl, p_flowlet) for _ in range(a.repeat))
    e_sl, _ = best_of(lambda: snfkit.replay(sl, mode="flowlet"), a.repeat)
    print(f"\nreplay_reference, first {m:,} packets (flowlet): {ref:.3f} s = "
          f"{m / ref / 1e3:.1f} K packets/s; replay_chunk_nb on the same slice is "
          f"{ref / k_sl:,.0f}x faster ({m / k_sl / 1e6:.2f} M/s), replay() end to end "
          f"{ref / e_sl:,.0f}x ({m / e_sl / 1e6:.2f} M/s)")  # fmt: skip

    if not a.no_memory:
        report_memory(df)


def report_memory(df) -> None:
    print(f"\npeak memory, fresh process: read the trace (parquet, all columns), replay it "
          f"(target <= {TARGET_RSS_MB} MB)")  # fmt: skip
    for keep in ("auto", "True", "False"):
        r = run_memory(df, keep)
        print(f"  keep_packets={keep}: peak RSS (VmHWM) {r['peak_mb']:.0f} MB "
              f"[ru_maxrss {r['maxrss_mb']:.0f} MB, may include the parent's peak] "
              f"(after loading the trace and warm-up: {r['before_mb']:.0f} MB; "
              f"replay {r['seconds']:.2f} s) -> "
              f"{'MET' if r['peak_mb'] <= TARGET_RSS_MB else 'NOT MET'}")  # fmt: skip


if __name__ == "__main__":
    main()
