"""Packets tables and state-source patterns for the NF tests (hypothesis strategies included)."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import strategies as st

from snfkit.engine.nf_nb import run_nf_nb
from snfkit.nf import prepare
from snfkit.reference.nf import run_nf
from snfkit.traces import packets_from_arrays
from snfkit.traces.table import ipv4_to_rows


def packets(rows: list[tuple], payload: bool = False) -> pl.DataFrame:
    """A table from (ts_ns, src, sport, dst, dport, proto, wire_len[, payload]) rows; src and dst
    are IPv4 host integers."""
    ts, src, sport, dst, dport, proto, wl = (np.array([r[k] for r in rows]) for k in range(7))
    pay = [r[7] for r in rows] if payload else None
    return packets_from_arrays(
        ts,
        ipv4_to_rows(src.astype(np.uint32)),
        ipv4_to_rows(dst.astype(np.uint32)),
        sport,
        dport,
        proto,
        wl,
        pay,
    )


PIECES = [b"/etc/pa", b"sswd", b"/bin/sh", b"UNION ", b"SELECT", b"xx", b"\x90" * 8, b"stats", b""]


@st.composite
def traffic(draw, max_packets: int = 60) -> pl.DataFrame:
    """A few connections with both directions, UDP and TCP, service ports, IDS-relevant payload."""
    n_conn = draw(st.integers(1, 5))
    conns = []
    for _ in range(n_conn):
        client = draw(st.integers(1, 4))
        server = draw(st.integers(100, 102))
        cport = draw(st.sampled_from([53, 123, 40000, 40001]))
        sport = draw(st.sampled_from([53, 69, 80, 123, 445, 11211]))
        proto = draw(st.sampled_from([6, 17, 17, 1]))
        conns.append((client, cport, server, sport, proto))
    n = draw(st.integers(0, max_packets))
    gaps = draw(st.lists(st.integers(0, 3_000_000), min_size=n, max_size=n))
    ts = np.cumsum(np.asarray(gaps, np.int64)) + 1_000
    rows = []
    for i in range(n):
        c, cp, s, sp, proto = conns[draw(st.integers(0, n_conn - 1))]
        wl = draw(st.integers(40, 1500))
        pay = b"".join(draw(st.lists(st.sampled_from(PIECES), max_size=3)))
        if draw(st.booleans()):
            rows.append((ts[i], c, cp, s, sp, proto, wl, pay))
        else:
            rows.append((ts[i], s, sp, c, cp, proto, wl, pay))
    if not rows:
        return packets([(0, 1, 1, 2, 2, 6, 40, b"")], payload=True).head(0)
    return packets(rows, payload=True)


@st.composite
def sources(draw, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A valid (src, snap) pattern over ``flow``: fresh, continue, or a stale snapshot."""
    n = flow.shape[0]
    snap = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), np.bool_)
    src = np.empty(n, np.int64)
    last: dict[int, int] = {}
    snaps: dict[int, list[int]] = {}
    for i, f in enumerate(flow.tolist()):
        options = [last.get(f, -1), -1, *snaps.get(f, [])]
        src[i] = options[draw(st.integers(0, len(options) - 1))]
        last[f] = i
        if snap[i]:
            snaps.setdefault(f, []).append(i)
    return src, snap


def both(nf, table: pl.DataFrame, src=None, snap=None):
    """Run ``nf`` with the kernel and the twin; returns (kernel NFOut, twin NFOut)."""
    cols, flow, n_flows = prepare(nf, table)
    if src is None:
        from snfkit.engine.nf_nb import sequential_sources

        src, snap = sequential_sources(flow)
    k = run_nf_nb(nf.process, nf.config, cols, flow, src, snap, nf.state_width, n_flows)
    t = run_nf(nf.twin, nf.config, cols, flow, src, snap, nf.state_width, n_flows)
    return k, t


def assert_same(k, t) -> None:
    for name in ("action", "out0", "out1", "delta", "state", "n_snapshots"):
        a, b = getattr(k, name), getattr(t, name)
        assert np.array_equal(a, b), f"{name}: kernel {a} twin {b}"
