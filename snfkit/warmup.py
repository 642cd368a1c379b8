"""The first run's compilation of the numba kernels: a notice when it happens, and a warm-up that
does it ahead of time.

numba compiles each kernel at its first use and keeps it in an on-disk cache (``cache=True``; the
``NUMBA_CACHE_DIR`` environment variable moves the cache), so the first run on a machine, and the
first after an upgrade (:mod:`snfkit.engine._cache`), spends its first half minute or so compiling
(the demo: ``benchmarks/bench_coldstart.py``, BENCHMARKS.md); later runs load the kernels in well
under a second. The CLI prints :data:`NOTICE` on stderr when a kernel starts compiling
(:func:`watch_compiles`), so a first-time user knows what the wait is; ``snfkit warmup``
(:func:`warm_up`) compiles what the demo, ``replay``, ``info``, ``ingest`` and ``figures`` use,
for a container image or a shared machine that should not pay it on a first real run.
"""

from __future__ import annotations

import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from numba.core import event

NOTICE = "compiling numba kernels (first run only; later runs load them from the cache) ..."
"""What the CLI prints when a kernel starts compiling."""


class CompileWatch(event.Listener):
    """Counts the compilations of snfkit's cached kernels and times the outermost compilations
    (numba compiles a callee while typing its caller, inside the caller's event). Calls
    ``on_first`` once, at the first compilation of a cached snfkit kernel. Kernels that are not
    cached (:func:`snfkit.engine.nf_nb.run_nf_into_nb`, which takes the NF as an argument) compile in
    every process and are not counted."""

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.on_first = on_first
        self.kernels = 0
        self.seconds = 0.0
        self._depth = 0  # (numba compiles under one global lock: no two threads at once)
        self._t0 = 0.0

    def on_start(self, ev: event.Event) -> None:
        if self._depth == 0:
            self._t0 = time.perf_counter()
        self._depth += 1
        if _cached_snfkit_kernel(ev.data["dispatcher"]):
            if self.kernels == 0 and self.on_first is not None:
                self.on_first()
            self.kernels += 1

    def on_end(self, ev: event.Event) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.seconds += time.perf_counter() - self._t0


def _cached_snfkit_kernel(dispatcher) -> bool:
    from numba.core.caching import NullCache

    module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
    return module.startswith("snfkit") and not isinstance(
        getattr(dispatcher, "_cache", None), NullCache
    )


@contextmanager
def watch_compiles(on_first: Callable[[], None] | None = None) -> Iterator[CompileWatch]:
    """A :class:`CompileWatch` listening while the block runs."""
    watch = CompileWatch(on_first)
    event.register("numba:compile", watch)
    try:
        yield watch
    finally:
        event.unregister("numba:compile", watch)


def announce_compiles(echo: Callable[[str], None]) -> CompileWatch:
    """Print :data:`NOTICE` with ``echo`` when a cached kernel first compiles in this process
    (for the rest of the process; the CLI's commands)."""
    watch = CompileWatch(lambda: echo(NOTICE))
    event.register("numba:compile", watch)
    return watch


@dataclass(frozen=True)
class WarmUp:
    """What :func:`warm_up` did: the cached kernels it compiled (0: all were in the cache) and
    the seconds spent compiling."""

    kernels: int
    seconds: float


STEPS = ("trace summary", "replays and bills", "figures (small grids)", "a pcap file")
"""The steps of :func:`warm_up`, in order."""


def warm_up(progress: Callable[[int, int | None], None] | None = None) -> WarmUp:
    """Compile (or load from the cache) the kernels that the demo, ``snfkit replay``, ``info``,
    ``ingest`` and ``figures`` use, by running them on a tiny synthetic trace: its summary, a
    replay in each allocation mode, their bills, the paper's figures on the small grids (state
    modes, failures, NFs, controllers), and reading it back from a pcap file. ``progress(done,
    total)`` is called after each of :data:`STEPS`. Takes a few seconds when everything is cached.
    """
    from snfkit import replay
    from snfkit.billing import compare
    from snfkit.figures import Workload, compute_figures
    from snfkit.params import MODES
    from snfkit.traces import load_trace
    from snfkit.traces.summary import trace_summary
    from snfkit.workloads import presets

    packets = presets.small_demo(0).head(2_000)

    def summary() -> None:
        trace_summary(packets, [100_000, 500_000], 15_000)

    def replays() -> None:
        runs = {mode: replay(packets, mode=mode) for mode in MODES}
        compare(runs)

    def figures() -> None:
        compute_figures(Workload.from_packets(packets, "warm-up"), {}, small=True)

    def trace_file() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "warm-up.pcap"
            path.write_bytes(_tiny_pcap())
            load_trace(path)

    work = (summary, replays, figures, trace_file)
    with watch_compiles() as watch:
        for done, step in enumerate(work, 1):
            step()
            if progress is not None:
                progress(done, len(work))
    return WarmUp(watch.kernels, watch.seconds)


def _tiny_pcap() -> bytes:
    """A pcap file (raw IPv4 link type) of two UDP packets of one flow, built with struct."""
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65_535, 101)
    src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0, src, dst)
    udp = struct.pack("!HHHH", 1_000, 2_000, 8, 0)
    frame = ip + udp
    records = b"".join(
        struct.pack("<IIII", 1, usec, len(frame), len(frame)) + frame for usec in (0, 500)
    )
    return head + records
