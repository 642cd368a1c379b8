"""Benchmark the pcap reader: numba kernel and end-to-end ``read_trace`` against dpkt's full decode.

Writes a synthetic classic pcap (microsecond, little-endian) with ``--packets`` records of
fixed capture length ``--caplen`` (default 64 B, like a header-only trace), IP total lengths with
a ~1434-byte median, ``--flows`` TCP/UDP flows over IPv4, Ethernet or raw IP. Then measures, best of
``--repeat`` runs after a warm-up (numba compiled and cached, file in the page cache):

- kernel: :func:`snfkit.traces.pcap.read_capture_columns` (kernel calls plus chunk copies);
- end to end: :func:`snfkit.traces.read_trace` (mmap, sniff, kernel, flow-id factorization, polars
  table);
- dpkt: ``dpkt.pcap.Reader`` + ``dpkt.ethernet.Ethernet`` / ``dpkt.ip.IP`` on every packet,
  extracting the same fields (addresses, ports, proto, IP length, timestamp), over the first
  ``--dpkt-packets`` records (one run: it is slow).

Usage: ``python benchmarks/bench_ingest.py --packets 1000000 [--link raw] [--keep FILE]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def write_pcap(
    path: Path, n: int, *, link: str, caplen: int, seed: int, n_flows: int = 100_000
) -> None:
    """Write ``n`` fixed-size records with numpy (vectorised; ~1 s per million packets)."""
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


def best_of(fn, repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU (process) time of ``repeat`` calls, in seconds."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


def dpkt_decode(path: Path, limit: int) -> tuple[int, float]:
    import dpkt

    t = time.perf_counter()
    rows = []
    with open(path, "rb") as fh:
        reader = dpkt.pcap.Reader(fh)
        eth = reader.datalink() == 1
        for i, (ts, buf) in enumerate(reader):
            if i >= limit:
                break
            ip = dpkt.ethernet.Ethernet(buf).data if eth else dpkt.ip.IP(buf)
            l4 = ip.data
            ports = (l4.sport, l4.dport) if isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP) else (0, 0)
            rows.append((ts, ip.src, ip.dst, *ports, ip.p, ip.len))
    return len(rows), time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--caplen", type=int, default=64)
    ap.add_argument("--link", choices=["eth", "raw"], default="eth")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dpkt-packets", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flows", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="write the pcap here and keep it")
    args = ap.parse_args()

    from snfkit.traces import read_trace
    from snfkit.traces.pcap import read_capture_columns
    from snfkit.traces.sniff import open_trace_bytes

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.pcap"
        t = time.perf_counter()
        write_pcap(
            path,
            args.packets,
            link=args.link,
            caplen=args.caplen,
            seed=args.seed,
            n_flows=args.flows,
        )
        size = path.stat().st_size
        print(
            f"wrote {args.packets:,} packets ({size / 1e6:.0f} MB, link {args.link}, "
            f"caplen {args.caplen}) in {time.perf_counter() - t:.1f} s"
        )

        def kernel() -> None:
            with open_trace_bytes(path) as src:
                cols, _ = read_capture_columns(src)
                assert cols.ts.shape[0] == args.packets

        def end_to_end() -> None:
            res = read_trace(path)
            assert res.packets.height == args.packets

        kernel()  # warm-up: numba cache load, page cache
        end_to_end()
        (tk, ck), (te, ce) = best_of(kernel, args.repeat), best_of(end_to_end, args.repeat)
        nd, td = dpkt_decode(path, args.dpkt_packets)
        n = args.packets
        rate = nd / td
        print(
            f"numba kernel     : {n / tk / 1e6:7.2f} M packets/s wall ({tk:.3f} s, "
            f"{size / tk / 1e9:.2f} GB/s); {n / ck / 1e6:.2f} M packets/s of CPU time"
        )
        print(
            f"read_trace (e2e) : {n / te / 1e6:7.2f} M packets/s wall ({te:.3f} s); "
            f"{n / ce / 1e6:.2f} M packets/s of CPU time"
        )
        print(f"dpkt full decode : {rate / 1e6:7.3f} M packets/s wall ({td:.2f} s for {nd:,})")
        print(f"speed-up vs dpkt : kernel x{n / tk / rate:.0f}, end to end x{n / te / rate:.0f}")


if __name__ == "__main__":
    main()
