"""Benchmark the first-ever run: the README's quick-start demo with an empty numba cache.

Runs ``snfkit demo`` (what the README's quick start runs; ``--max-packets`` shrinks the trace,
default: the whole ~100K-packet demo trace) in a fresh child process with ``NUMBA_CACHE_DIR`` set to
a new, empty temporary folder, so that every kernel compiles; then ``--warm`` more children on the
same, now filled, folder. Each child records numba's ``numba:compile`` events (a dispatcher
broadcasts one each time it compiles a signature; a cache hit does not) and reports:

- its wall and CPU time (user + system, of the whole child process, interpreter start included;
  CPU time is less sensitive than wall time to other jobs on a shared machine);
- the compile time per kernel, inclusive and *self* (without the kernels it compiled while typing
  its calls: numba compiles a callee when it types the call), summed over its signatures; the
  top ``--top`` kernels by self time are printed. The total is the sum of the outermost events;
- the number of signatures of each snfkit dispatcher, so that a kernel compiled for several
  dtypes, layouts, writabilities or literal arguments shows up.

With ``--reference PATH`` (another checkout, e.g. one made with ``git archive``) each round runs a
cold demo of this checkout and one of the reference, alternately, and prints the ratios pair by
pair. The target (issue 21 part 5): the cold demo under 60 s on the 2-core machine. Also runs
``bench_startup.py`` (warm ``import snfkit`` plus the first replay, target <= 2 s) unless
``--no-startup``.

Usage: ``python benchmarks/bench_coldstart.py [--rounds 1] [--warm 1] [--reference PATH]
[--max-packets N] [--top 20] [--json out.json] [--no-startup]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 60.0

CHILD = r"""
import json, os, sys, threading, time
from numba.core import event

events = []  # (kernel, signature, inclusive s, self s, depth, inclusive CPU s)
stack = threading.local()


class Timer(event.Listener):
    def on_start(self, ev):
        if not hasattr(stack, "frames"):
            stack.frames = []
        stack.frames.append([time.perf_counter(), 0.0, time.process_time()])

    def on_end(self, ev):
        t0, nested, c0 = stack.frames.pop()
        dt = time.perf_counter() - t0
        if stack.frames:
            stack.frames[-1][1] += dt
        d = ev.data["dispatcher"]
        name = f"{d.py_func.__module__}.{d.py_func.__qualname__}"
        events.append((name, str(ev.data["args"]), dt, dt - nested, len(stack.frames),
                       time.process_time() - c0))


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
with open(out, "w") as fh:
    json.dump({"events": events, "signatures": sigs, "import_s": t_import,
               "snfkit": snfkit.__file__}, fh)
"""


def run_child(checkout: Path, cache: Path, demo_args: list[str] | None) -> dict:
    """One fresh process running ``snfkit demo`` (``snfkit warmup`` if ``demo_args`` is None)
    from ``checkout`` with numba's cache in ``cache``."""
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "rec.json"
        args = ["warmup"]
        if demo_args is not None:
            args = ["demo", "--out", str(Path(tmp) / "demo-out"), *demo_args]
        env = {**os.environ, "PYTHONPATH": str(checkout), "NUMBA_CACHE_DIR": str(cache)}
        env.pop("NUMBA_DISABLE_JIT", None)
        before = os.times()
        t = time.perf_counter()
        cmd = [sys.executable, "-c", CHILD, str(rec), *args]
        # (cwd: a folder without snfkit, else ``-c`` imports it from there, not from checkout)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp)
        wall = time.perf_counter() - t
        after = os.times()
        if proc.returncode:
            sys.exit(f"the demo ({checkout}) failed:\n{proc.stderr[-4000:]}")
        out = json.loads(rec.read_text())
    if not Path(out["snfkit"]).is_relative_to(checkout):
        sys.exit(f"the child imported {out['snfkit']}, not snfkit from {checkout}")
    out["wall_s"] = wall
    out["cpu_s"] = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    top = [e for e in out["events"] if e[4] == 0]
    out["compile_s"] = sum(e[2] for e in top)
    out["compile_cpu_s"] = sum(e[5] for e in top)
    out["n_sigs"] = sum(len(v) for v in out["signatures"].values())
    return out


def per_kernel(events: list) -> list[tuple[str, int, float, float]]:
    """(kernel, signatures compiled, inclusive s, self s) per kernel, by self time."""
    acc: dict[str, list] = {}
    for name, _sig, incl, self_s, *_ in events:
        a = acc.setdefault(name, [0, 0.0, 0.0])
        a[0] += 1
        a[1] += incl
        a[2] += self_s
    rows = [(k, n, i, s) for k, (n, i, s) in acc.items()]
    return sorted(rows, key=lambda r: -r[3])


def load() -> str:
    try:
        return "load " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load unknown"


def line(label: str, r: dict) -> str:
    return (
        f"{label}: wall {r['wall_s']:5.1f} s, CPU {r['cpu_s']:5.1f} s; compiling {r['compile_s']:5.1f}"
        f" s (CPU {r['compile_cpu_s']:5.1f} s), {len(r['events'])} signatures compiled "
        f"(snfkit: {r['n_sigs']}); import snfkit {r['import_s']:.2f} s [{load()}]"
    )


def span(values: list[float]) -> str:
    return f"{min(values):.1f}-{max(values):.1f}" if len(values) > 1 else f"{values[0]:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1, help="cold runs (each with an empty cache)")
    ap.add_argument("--warm", type=int, default=1, help="warm runs after the cold ones")
    ap.add_argument("--reference", type=Path, default=None, help="a checkout to compare with")
    ap.add_argument("--max-packets", type=int, default=None, help="snfkit demo --max-packets")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None, help="write this checkout's records")
    ap.add_argument("--no-startup", action="store_true", help="skip bench_startup.py")
    ap.add_argument(
        "--warmup",
        action="store_true",
        help="also time 'snfkit warmup' with an empty cache, then the demo after it (this checkout)",
    )
    a = ap.parse_args()
    demo_args = [] if a.max_packets is None else ["--max-packets", str(a.max_packets)]
    checkouts = {"this": REPO}
    if a.reference is not None:
        checkouts["reference"] = a.reference.resolve()
    print(f"command: snfkit demo --out TMP {' '.join(demo_args)}".rstrip())
    print(f"checkouts: {', '.join(f'{k} {v}' for k, v in checkouts.items())}")
    print(f"machine: {os.cpu_count()} cores, {load()} before the runs")
    cold: dict[str, list[dict]] = {k: [] for k in checkouts}
    warm: dict[str, list[dict]] = {k: [] for k in checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        caches = {}
        for r in range(a.rounds):
            for label, path in checkouts.items():
                caches[label] = Path(tmp) / f"{label}{r}"
                caches[label].mkdir()
                cold[label].append(run_child(path, caches[label], demo_args))
                print(line(f"round {r + 1} cold {label:9s}", cold[label][-1]), flush=True)
        for r in range(a.warm):
            for label, path in checkouts.items():
                warm[label].append(run_child(path, caches[label], demo_args))
                w = warm[label][-1]
                print(line(f"round {r + 1} warm {label:9s}", w), flush=True)
                again = sorted({e[0].removeprefix("snfkit.") for e in w["events"] if e[4] == 0})
                if again:
                    print(f"  compiled although cached (not cache=True): {', '.join(again)}")
        if a.warmup:
            cache = Path(tmp) / "warmup"
            cache.mkdir()
            print(line("snfkit warmup, empty cache", run_child(REPO, cache, None)), flush=True)
            after = run_child(REPO, cache, demo_args)
            print(line("demo after snfkit warmup", after), flush=True)
            again = sorted({e[0].removeprefix("snfkit.") for e in after["events"] if e[4] == 0})
            print(f"  compiled after the warm-up: {', '.join(again) or 'nothing'}")
    last = cold["this"][-1]
    rows = per_kernel(last["events"])
    print(f"\ncompile time per kernel, this checkout's last cold run, top {a.top} by self time")
    print(f"(of {len(rows)} kernels compiled, numba's own overloads included):")
    print(f"{'self s':>7} {'incl s':>7} {'sigs':>4}  kernel")
    for name, n, incl, self_s in rows[: a.top]:
        print(f"{self_s:7.2f} {incl:7.2f} {n:4d}  {name.removeprefix('snfkit.')}")
    for label in checkouts:
        sigs = cold[label][-1]["signatures"]
        multi = {k: v for k, v in sigs.items() if len(v) > 1}
        print(
            f"\n{label}: {sum(len(v) for v in sigs.values())} signatures over {len(sigs)} snfkit "
            f"dispatchers; {len(multi)} with more than one" + (":" if multi else "")
        )
        for name, s in sorted(multi.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(s)}  {name.removeprefix('snfkit.')}")
    print()
    for label in checkouts:
        c = cold[label]
        walls = [x["wall_s"] for x in c]
        print(
            f"{label}: cold demo wall {span(walls)} s, CPU {span([x['cpu_s'] for x in c])} s, "
            f"compiling {span([x['compile_s'] for x in c])} s "
            f"(CPU {span([x['compile_cpu_s'] for x in c])} s) over {len(c)} run(s)"
            + (
                f"; warm demo wall {min(x['wall_s'] for x in warm[label]):.1f} s (best of "
                f"{len(warm[label])}), cold / warm {max(walls) / min(x['wall_s'] for x in warm[label]):.1f}"
                if warm[label]
                else ""
            )
        )
    walls = [x["wall_s"] for x in cold["this"]]
    print(
        f"target: cold demo < {TARGET_S:.0f} s: {'MET' if max(walls) < TARGET_S else 'NOT MET'} "
        f"(slowest of {len(walls)})"
    )
    if a.reference is not None:
        for key, what in (("wall_s", "wall"), ("cpu_s", "CPU"), ("compile_cpu_s", "compile CPU")):
            ratios = [x[key] / y[key] for x, y in zip(cold["this"], cold["reference"], strict=True)]
            print(
                f"this / reference, cold {what}: median {statistics.median(ratios):.2f} "
                f"(range {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} pairs)"
            )
    if a.json:
        a.json.write_text(json.dumps({"cold": cold, "warm": warm}))
    if not a.no_startup:
        print("\nbench_startup.py (warm import snfkit + first replay):", flush=True)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        script = str(REPO / "benchmarks" / "bench_startup.py")
        subprocess.run([sys.executable, script], check=True, env=env)


if __name__ == "__main__":
    main()
