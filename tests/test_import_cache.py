"""STYLE.md: "the second import of snfkit in a fresh process compiles nothing".

A first subprocess imports snfkit and runs the jitted kernels that everyday use goes through
(flow ids, flowlet detection, the pcap reader, the trace summary; the workload synthesizer and the
replay engine, with one controller and with two), filling a fresh, temporary NUMBA_CACHE_DIR, and
must compile each kernel for one signature only (no second version for another kind of input
array or for a literal argument: each costs a first run seconds). A second fresh
subprocess does the same and must load every kernel from that cache: numba's ``numba:compile``
event (broadcast by a dispatcher each time it compiles, numba/core/dispatcher.py) must not fire.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from numba.core import event

    compiled = []

    class Recorder(event.Listener):
        def on_start(self, ev):
            d = ev.data["dispatcher"]
            compiled.append(f"{d.py_func.__module__}.{d.py_func.__qualname__}{ev.data['args']}")

        def on_end(self, ev):
            pass

    event.register("numba:compile", Recorder())

    import numpy as np
    import snfkit
    from snfkit.engine.flowlets_nb import detect_flowlets_nb
    from snfkit.traces.summary import trace_summary
    from snfkit.traces.table import ipv4_to_rows, packets_from_arrays

    used = ["packets_from_arrays", "detect_flowlets_nb", "trace_summary"]
    n = 64
    rng = np.random.default_rng(0)
    packets = packets_from_arrays(
        np.sort(rng.integers(0, 10**7, n)),
        ipv4_to_rows(rng.integers(0, 4, n).astype(np.uint32)),
        ipv4_to_rows(np.full(n, 7, np.uint32)),
        rng.integers(0, 3, n),
        np.full(n, 80),
        np.full(n, 6),
        rng.integers(40, 1500, n),
    )
    ts, fl, wl = (packets[c].to_numpy() for c in ("ts_ns", "flow_id", "wire_len"))
    detect_flowlets_nb(ts, fl, wl, 500_000, 15_000)
    trace_summary(packets)

    pcap = sys.argv[1]
    if pcap:
        snfkit.load_trace(pcap)
        used.append("load_trace(pcap)")
    from snfkit.workloads import presets

    demo = presets.paper_like(seed=1, scale=0.0005)
    used.append("workloads.presets.paper_like")
    snfkit.replay(demo, mode="flowlet")
    used.append("replay(flowlet)")
    snfkit.replay(demo, mode="flowlet", controllers=2)
    used.append("replay(flowlet, controllers=2)")

    from numba.core.registry import CPUDispatcher

    signatures = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("snfkit"):
            for obj in vars(module).values():
                if isinstance(obj, CPUDispatcher):
                    key = f"{obj.py_func.__module__}.{obj.py_func.__qualname__}"
                    signatures[key] = [str(sig) for sig in obj.signatures]
    print(json.dumps({"compiled": compiled, "used": used, "signatures": signatures}))
    """
)


def _run(cache_dir, pcap: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(REPO)}
    env.pop("NUMBA_DISABLE_JIT", None)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, pcap],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _tiny_pcap(path) -> str:
    try:
        import dpkt
    except ImportError:
        return ""
    ip = dpkt.ip.IP(src=bytes([10, 0, 0, 1]), dst=bytes([10, 0, 0, 2]), p=17)
    ip.data = dpkt.udp.UDP(sport=1, dport=2, data=b"abc")
    ip.len = len(bytes(ip))
    with open(path, "wb") as fh:
        w = dpkt.pcap.Writer(fh, linktype=dpkt.pcap.DLT_RAW)
        w.writepkt(bytes(ip), ts=1.0)
        w.writepkt(bytes(ip), ts=1.5)
    return str(path)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="nothing compiles")
def test_second_import_compiles_nothing(tmp_path):
    cache = tmp_path / "numba-cache"
    pcap = _tiny_pcap(tmp_path / "tiny.pcap")
    first = _run(cache, pcap)
    assert first["compiled"], "the first run compiled nothing: the recorder does not work"
    assert any(cache.rglob("*.nbi")), "no cache index written to NUMBA_CACHE_DIR"
    # one compiled version per kernel (each version costs a first run seconds of compiling: inputs
    # of one kind, snfkit.engine._jit.kernel_input, and no literal arguments, its docstring)
    several = {k: v for k, v in first["signatures"].items() if len(v) > 1}
    assert not several, (
        f"kernels compiled more than once: { {k: len(v) for k, v in several.items()} }"
    )
    literal = [k for k, v in first["signatures"].items() if "Literal[" in str(v)]
    assert not literal, f"kernels compiled for a literal argument: {literal}"
    second = _run(cache, pcap)
    assert second["used"] == first["used"]
    assert second["compiled"] == [], (
        "compiled again in a fresh process (cache=True missing, an uncachable signature, or a "
        "source file edited between the two runs):\n" + "\n".join(second["compiled"])
    )
