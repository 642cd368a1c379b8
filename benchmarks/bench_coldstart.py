"""Benchmark the first-ever run: the README's quick-start demo with an empty numba cache.

Runs ``snfkit demo`` (what the README's quick start runs; ``--max-packets`` to shrink the trace,
default: the whole ~100K-packet demo trace) in a fresh child process with ``NUMBA_CACHE_DIR`` set to
a new, empty temporary folder, so every kernel compiles, then ``--warm`` more children on the same,
now filled, folder. Each child records numba's ``numba:compile`` events (a dispatcher broadcasts one
each time it compiles a signature; a cache hit does not) and reports:

- its wall time, from the interpreter's start (the parent times the child process);
- the compile time per kernel, both inclusive and *self* (without the kernels it compiled while
  typing its calls: numba compiles a callee when it types the call), as the sum over signatures;
  the top ``--top`` kernels by self time are printed;
- the number of signatures each dispatcher compiled or loaded, so that one kernel compiled for
  several dtypes or layouts (int32 and int64, C and A order, readonly views) shows up.

The total compile time is the sum of the outermost compile events (nested ones are inside them).
The target (issue 21 part 5): the cold demo under 60 s on the 2-core machine. Prints the ratio
cold / warm of the runs made here. Also runs ``bench_startup.py`` (warm ``import snfkit`` plus the
first replay, target <= 2 s) unless ``--no-startup``.

Usage: ``python benchmarks/bench_coldstart.py [--cold 1] [--warm 1] [--max-packets N] [--top 20]
[--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 60.0

CHILD = r"""
import json, sys, threading, time
t_start = time.perf_counter()
from numba.core import event

events = []  # (kernel, signature, inclusive s, self s)
stack = threading.local()


class Timer(event.Listener):
    def on_start(self, ev):
        if not hasattr(stack, "frames"):
            stack.frames = []
        stack.frames.append([time.perf_counter(), 0.0])

    def on_end(self, ev):
        t0, nested = stack.frames.pop()
        dt = time.perf_counter() - t0
        if stack.frames:
            stack.frames[-1][1] += dt
        d = ev.data["dispatcher"]
        name = f"{d.py_func.__module__}.{d.py_func.__qualname__}"
        events.append((name, str(ev.data["args"]), dt, dt - nested, len(stack.frames)))


event.register("numba:compile", Timer())
out, args = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
import snfkit
from snfkit.cli import app
t_import = time.perf_counter() - t0
try:
    app(args, standalone_mode=False)
except SystemExit as exc:
    if exc.code:
        raise
from numba.core.registry import CPUDispatcher

sigs = {}
for mod_name, mod in list(sys.modules.items()):
    if not mod_name.startswith("snfkit"):
        continue
    for obj in vars(mod).values():
        if isinstance(obj, CPUDispatcher) and obj.py_func.__module__.startswith("snfkit"):
            name = f"{obj.py_func.__module__}.{obj.py_func.__qualname__}"
            sigs[name] = [str(s) for s in obj.signatures]
json.dump({"events": events, "signatures": sigs, "import_s": t_import,
           "child_s": time.perf_counter() - t_start}, open(out, "w"))
"""


def run_child(cache: Path, demo_args: list[str]) -> dict:
    """One fresh process running ``snfkit demo`` with numba's cache in ``cache``."""
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "rec.json"
        args = ["demo", "--out", str(Path(tmp) / "demo-out"), *demo_args]
        env = {**os.environ, "PYTHONPATH": str(REPO), "NUMBA_CACHE_DIR": str(cache)}
        env.pop("NUMBA_DISABLE_JIT", None)
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(rec), *args], env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - t
        if proc.returncode:
            sys.exit(f"the demo failed:\n{proc.stderr[-4000:]}")
        out = json.loads(rec.read_text())
    out["wall_s"] = wall
    out["compile_s"] = sum(e[2] for e in out["events"] if e[4] == 0)
    return out


def per_kernel(events: list) -> list[tuple[str, int, float, float]]:
    """(kernel, signatures compiled, inclusive s, self s) per kernel, by self time."""
    acc: dict[str, list] = {}
    for name, _sig, incl, self_s, _depth in events:
        a = acc.setdefault(name, [0, 0.0, 0.0])
        a[0] += 1
        a[1] += incl
        a[2] += self_s
    rows = [(k, n, i, s) for k, (n, i, s) in acc.items()]
    return sorted(rows, key=lambda r: -r[3])


def uptime() -> str:
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cold", type=int, default=1, help="cold runs (each with a new empty cache)")
    ap.add_argument("--warm", type=int, default=1, help="warm runs after the last cold one")
    ap.add_argument("--max-packets", type=int, default=None, help="snfkit demo --max-packets")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None, help="write the last cold run's record")
    ap.add_argument("--no-startup", action="store_true", help="skip bench_startup.py")
    a = ap.parse_args()
    demo_args = [] if a.max_packets is None else ["--max-packets", str(a.max_packets)]
    print(f"command: snfkit demo --out TMP {' '.join(demo_args)}".rstrip())
    print(f"machine: {os.cpu_count()} cores, {uptime()} before the runs")
    colds, warms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.cold):
            cache = Path(tmp) / f"cache{i}"
            cache.mkdir()
            colds.append(run_child(cache, demo_args))
            c = colds[-1]
            print(
                f"cold run {i + 1}: wall {c['wall_s']:.1f} s, compiling {c['compile_s']:.1f} s "
                f"({len(c['events'])} signatures compiled), import snfkit {c['import_s']:.2f} s"
                f" [{uptime()}]"
            )
        for i in range(a.warm):
            warms.append(run_child(cache, demo_args))
            w = warms[-1]
            again = sorted({e[0].removeprefix("snfkit.") for e in w["events"] if e[4] == 0})
            print(
                f"warm run {i + 1}: wall {w['wall_s']:.1f} s, compiling {w['compile_s']:.1f} s "
                f"({len(w['events'])} signatures compiled), import snfkit {w['import_s']:.2f} s"
                f" [{uptime()}]"
            )
            if again:
                print(f"  compiled again although cached (no cache=True?): {', '.join(again)}")
    last = colds[-1]
    rows = per_kernel(last["events"])
    print(
        f"\ncompile time per kernel, last cold run, top {a.top} by self time "
        f"(of {len(rows)} kernels compiled):"
    )
    print(f"{'self s':>7} {'incl s':>7} {'sigs':>4}  kernel")
    for name, n, incl, self_s in rows[: a.top]:
        print(f"{self_s:7.2f} {incl:7.2f} {n:4d}  {name.removeprefix('snfkit.')}")
    multi = {k: v for k, v in last["signatures"].items() if len(v) > 1}
    n_sigs = sum(len(v) for v in last["signatures"].values())
    print(
        f"\nsignatures: {n_sigs} over {len(last['signatures'])} dispatchers; "
        f"{len(multi)} with more than one:"
    )
    for name, sigs in sorted(multi.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(sigs)}  {name.removeprefix('snfkit.')}")
        for s in sigs:
            print(f"       {s[:160]}")
    walls = [c["wall_s"] for c in colds]
    comp = [c["compile_s"] for c in colds]
    lo, hi = min(walls), max(walls)
    print(
        f"\ncold demo: wall {lo:.1f}-{hi:.1f} s over {len(colds)} run(s), compiling "
        f"{min(comp):.1f}-{max(comp):.1f} s (target < {TARGET_S:.0f} s: "
        f"{'MET' if hi < TARGET_S else 'NOT MET'})"
    )
    if warms:
        wbest = min(w["wall_s"] for w in warms)
        print(
            f"warm demo: wall {wbest:.1f} s (best of {len(warms)}); "
            f"cold / warm = {lo / wbest:.1f}-{hi / wbest:.1f}"
        )
    if a.json:
        a.json.write_text(json.dumps({"cold": last, "warm": warms[-1] if warms else None}))
    if not a.no_startup:
        print("\nbench_startup.py (warm import snfkit + first replay):", flush=True)
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_startup.py")], check=True)


if __name__ == "__main__":
    main()
