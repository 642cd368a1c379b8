"""Benchmark ``snfkit.load_trace`` end to end against dpkt + struct, on the two issue-21 traces.

Writes synthetic classic pcaps (microsecond, little-endian; vectorised numpy, ~0.5 s per million
packets) with records of fixed capture length ``--caplen`` (default 64 B, header-only like the
CAIDA trace), IPv4 total lengths with a ~1434-byte median and ``--flows`` TCP/UDP flows:

- ``eth``: 1,000,000 packets as full Ethernet frames (link type 1), 80 MB;
- ``raw``: 6,400,000 packets as raw IP (link type 101; the paper-scale packet count), 512 MB.

For each, after a warm-up (numba code loaded from its cache, the file in the page cache), it runs
``--repeat`` rounds of, in turn:

- ``load_trace``: :func:`snfkit.load_trace` end to end (mmap, sniff, the numba reader, flow-id
  factorisation, the polars table);
- ``kernel``: :func:`snfkit.traces.pcap.read_capture_columns` alone (the numba reader's calls and
  its column growth), for the breakdown;
- ``dpkt + struct``: the reference, over the first ``--ref-packets`` records: ``dpkt.pcap.Reader``
  for the records and ``struct.unpack_from`` at fixed offsets (IPv4 after a 14-byte Ethernet header
  or at 0; ports after the IHL) for timestamp, addresses, ports, protocol and IP length, appended
  as one tuple per packet. It computes no flow ids and builds no table, so it is the fast end of
  what Python does per packet.

It prints each one's best and median wall-clock rate over the rounds, CPU-time rates, and the ratio
of ``load_trace`` to ``dpkt + struct`` (best to best, median to median: the same rounds).
``--breakdown`` adds the best time of each phase of the build: the reader, the flow ids
(:func:`snfkit.traces.table.flow_ids`) and the two address columns
(:func:`snfkit.traces.table.binary16_series`).

Usage: ``python benchmarks/bench_ingest.py [--traces eth raw] [--repeat 5] [--ref-packets 300000]
[--breakdown] [--verbose] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

TRACES = {"eth": ("eth", 1_000_000), "raw": ("raw", 6_400_000)}
"""Name -> (link, packets)."""


def write_pcap(
    path: Path, n: int, *, link: str, caplen: int, seed: int, n_flows: int = 100_000
) -> None:
    """Write ``n`` fixed-size records with numpy (vectorised; ~0.5 s per million packets)."""
    rng = np.random.default_rng(seed)
    l2 = 14 if link == "eth" else 0
    rec = 16 + caplen
    a = np.zeros((n, rec), np.uint8)
    ts_us = 1_521_118_773_000_000 + np.cumsum(rng.integers(0, 3, n))
    hdr = np.empty((n, 4), "<u4")
    hdr[:, 0] = ts_us // 1_000_000
    hdr[:, 1] = ts_us % 1_000_000
    hdr[:, 2] = caplen
    # IP total length: a bimodal mix (40-byte ACKs, full-size segments) with median ~1434 B
    size = np.where(rng.random(n) < 0.1, 40 + rng.integers(0, 60, n), rng.integers(1380, 1501, n))
    hdr[:, 3] = size + l2
    a[:, :16] = hdr.view(np.uint8).reshape(n, 16)
    p = 16
    if l2:
        a[:, p + 12] = 0x08  # ethertype IPv4
        p += 14
    flows = rng.integers(0, n_flows, n)
    a[:, p] = 0x45
    a[:, p + 2 : p + 4] = size.astype(">u2").view(np.uint8).reshape(n, 2)
    a[:, p + 8] = 64
    proto = np.where(flows % 4 == 0, 17, 6).astype(np.uint8)
    a[:, p + 9] = proto
    src = (0x0A000000 + flows).astype(">u4").view(np.uint8).reshape(n, 4)
    dst = (0xC0A80000 + flows % 251).astype(">u4").view(np.uint8).reshape(n, 4)
    a[:, p + 12 : p + 16] = src
    a[:, p + 16 : p + 20] = dst
    ports = np.stack([1024 + flows % 60_000, np.full(n, 443)], axis=1).astype(">u2")
    a[:, p + 20 : p + 24] = ports.view(np.uint8).reshape(n, 4)
    a[:, p + 32] = 0x50  # TCP data offset 5
    head = np.array([0xA1B2C3D4, 0x00040002, 0, 0, 65535, 1 if l2 else 101], "<u4")
    with open(path, "wb") as fh:
        fh.write(head.tobytes())
        step = 1 << 20
        for i in range(0, n, step):
            fh.write(a[i : i + step].tobytes())


_IP = struct.Struct("!BxH5xB2x4s4s")  # version/IHL, total length, protocol, source, destination
_PORTS = struct.Struct("!HH")


def dpkt_struct(path: Path, limit: int) -> int:
    """The reference decode of the first ``limit`` records; returns the packets decoded."""
    import dpkt

    rows = []
    with open(path, "rb") as fh:
        reader = dpkt.pcap.Reader(fh)
        l2 = 14 if reader.datalink() == dpkt.pcap.DLT_EN10MB else 0
        ip, ports = _IP.unpack_from, _PORTS.unpack_from
        for ts, buf in itertools.islice(reader, limit):
            vihl, length, proto, src, dst = ip(buf, l2)
            sport, dport = ports(buf, l2 + (vihl & 15) * 4) if proto in (6, 17) else (0, 0)
            rows.append((ts, src, dst, sport, dport, proto, length))
    return len(rows)


def timed(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of one call of ``fn``."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def bench_trace(path: Path, n: int, args: argparse.Namespace) -> dict[str, float]:
    """Run the rounds on one trace; print and return the rates."""
    import snfkit
    from snfkit.traces.pcap import read_capture_columns
    from snfkit.traces.sniff import open_trace_bytes

    def load() -> None:
        assert snfkit.load_trace(path).height == n

    def kernel() -> None:
        with open_trace_bytes(path) as src:
            assert read_capture_columns(src)[0].ts.shape[0] == n

    n_ref = min(n, args.ref_packets)

    def reference() -> None:
        assert dpkt_struct(path, n_ref) == n_ref

    load()  # warm-up: numba cache, page cache
    kernel()
    times: dict[str, list[tuple[float, float]]] = {"load_trace": [], "kernel": [], "ref": []}
    for _ in range(args.repeat):
        times["load_trace"].append(timed(load))
        times["kernel"].append(timed(kernel))
        times["ref"].append(timed(reference))
        if args.verbose:
            print("    round (wall s):", *(f"{k} {v[-1][0]:.3f}" for k, v in times.items()))
    rates = {}
    for name, runs in times.items():
        count = n_ref if name == "ref" else n
        wall = [w for w, _ in runs]
        cpu = min(c for _, c in runs)
        rates[name] = count / min(wall) / 1e6
        rates[name + "_median"] = count / statistics.median(wall) / 1e6
        label = "dpkt + struct" if name == "ref" else name
        extra = f" over the first {n_ref:,} packets" if name == "ref" else ""
        print(
            f"  {label:<14}: {rates[name]:7.2f} M packets/s best, "
            f"{rates[name + '_median']:7.2f} median ({min(wall):.3f} s best{extra}); "
            f"{count / cpu / 1e6:.2f} M packets/s of CPU time"
        )
    best = rates["load_trace"] / rates["ref"]
    median = rates["load_trace_median"] / rates["ref_median"]
    print(f"  load_trace / dpkt + struct: x{best:.0f} best to best, x{median:.0f} median to median")
    if args.breakdown:
        breakdown(path, args.repeat)
    return rates


def breakdown(path: Path, repeat: int) -> None:
    """Best of ``repeat`` of each phase of the table build, run on the same columns."""
    from snfkit.traces.pcap import read_capture_columns
    from snfkit.traces.sniff import open_trace_bytes
    from snfkit.traces.table import binary16_series, flow_ids

    best: dict[str, float] = {}
    for _ in range(repeat):
        with open_trace_bytes(path) as src:
            t = time.perf_counter()
            cols, _ = read_capture_columns(src)
            t1 = time.perf_counter()
            flow_ids(cols.src, cols.dst, cols.sport, cols.dport, cols.proto)
            t2 = time.perf_counter()
            binary16_series("src_ip", cols.src)
            binary16_series("dst_ip", cols.dst)
            t3 = time.perf_counter()
        for name, dt in (("reader", t1 - t), ("flow ids", t2 - t1), ("addresses", t3 - t2)):
            best[name] = min(best.get(name, dt), dt)
    print("  breakdown (best s):", ", ".join(f"{k} {v:.3f}" for k, v in best.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", nargs="+", choices=sorted(TRACES), default=["eth", "raw"])
    ap.add_argument("--packets", type=int, help="override the packet count of every trace")
    ap.add_argument("--caplen", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--ref-packets", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flows", type=int, default=100_000)
    ap.add_argument("--verbose", action="store_true", help="print every round's times")
    ap.add_argument(
        "--breakdown",
        action="store_true",
        help="also time the phases: reader, flow ids, address columns (views)",
    )
    ap.add_argument("--keep", type=Path, help="write the pcaps into this folder and keep them")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name in args.traces:
            link, n = TRACES[name]
            n = args.packets or n
            path = folder / f"bench-{name}-{n}.pcap"
            t = time.perf_counter()
            write_pcap(path, n, link=link, caplen=args.caplen, seed=args.seed, n_flows=args.flows)
            size = path.stat().st_size
            print(
                f"{name}: {n:,} packets, link {link}, caplen {args.caplen}, {size / 1e6:.0f} MB "
                f"(written in {time.perf_counter() - t:.1f} s); {args.repeat} rounds"
            )
            bench_trace(path, n, args)


if __name__ == "__main__":
    main()
