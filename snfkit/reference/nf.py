"""Twin of :mod:`snfkit.engine.nf_nb`: the NF runner and the connection hash, written for clarity.

Each NF's own process twin lives next to its kernel in :mod:`snfkit.nf` (``process_twin``); it takes
``(pkt, payload: bytes, row: list[int], cfg)`` and updates ``row`` in place.
"""

from __future__ import annotations

import numpy as np

from snfkit.engine.nf_nb import NFOut, PacketFields
from snfkit.errors import ParameterError
from snfkit.reference.mix import hash_words


def connection_hash(pkt: PacketFields, seed: int) -> int:
    """Same value as :func:`~snfkit.engine.nf_nb.connection_hash_nb`, as a Python int < 2**64."""
    if pkt.direction == 0:
        a = (pkt.src_hi, pkt.src_lo, pkt.sport)
        b = (pkt.dst_hi, pkt.dst_lo, pkt.dport)
    else:
        a = (pkt.dst_hi, pkt.dst_lo, pkt.dport)
        b = (pkt.src_hi, pkt.src_lo, pkt.sport)
    return hash_words(seed, [a[0], a[1], b[0], b[1], (a[2] << 24) | (b[2] << 8) | pkt.proto])


def packet_fields(cols, i: int) -> PacketFields:
    """Packet i of a PacketColumns as PacketFields of Python ints."""
    return PacketFields(
        int(cols.ts_ns[i]),
        int(cols.src_hi[i]),
        int(cols.src_lo[i]),
        int(cols.dst_hi[i]),
        int(cols.dst_lo[i]),
        int(cols.sport[i]),
        int(cols.dport[i]),
        int(cols.proto[i]),
        int(cols.wire_len[i]),
        int(cols.direction[i]),
        int(cols.pay_off[i]),
        int(cols.pay_off[i + 1]),
    )


def sequential_sources(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each packet continues from its flow's previous packet (-1 for the first); no snapshots."""
    previous: dict[int, int] = {}
    src = []
    for i, f in enumerate(flow.tolist()):
        src.append(previous.get(f, -1))
        previous[f] = i
    return np.asarray(src, np.int64), np.zeros(len(src), np.bool_)


def run_nf(twin, cfg, cols, flow, src, snap, width: int, n_flows: int) -> NFOut:
    """Run an NF twin over the packets in index order; same contract as ``run_nf_nb``."""
    flow = [int(f) for f in flow]
    src = [int(j) for j in src]
    snap = [bool(s) for s in snap]
    n = len(flow)
    if len(src) != n or len(snap) != n:
        raise ParameterError("src, snap", len(src), "arrays as long as flow")
    for i, (f, j) in enumerate(zip(flow, src, strict=True)):
        if not 0 <= f < n_flows:
            raise ParameterError("flow[i]", f, "a flow id in [0, n_flows)")
        if j >= i or j < -1:
            raise ParameterError("src[i] (i, src[i])", (i, j), "-1 or an earlier packet (< i)")
        if j >= 0 and flow[j] != f:
            raise ParameterError(
                "src[i] (i, src[i])", (i, j), "an earlier packet of the same flow as packet i"
            )
    payload = bytes(cols.payload)
    rows: dict[int, list[int]] = {}  # flow -> its current state row
    last: dict[int, int] = {}  # flow -> the last packet processed
    snapshots: dict[int, list[int]] = {}  # packet -> its flow's state right after it
    action, out0, out1, delta = [], [], [], []
    for i in range(n):
        f, j = flow[i], src[i]
        if j != last.get(f, -1):  # not continuing from the flow's current state
            if j == -1:
                rows[f] = [0] * width
            elif j in snapshots:
                rows[f] = list(snapshots[j])
            else:
                raise ParameterError(
                    "src[i] (i, src[i])",
                    (i, j),
                    "the flow's previous packet, -1, or a packet marked in snap",
                )
        row = rows.setdefault(f, [0] * width)
        pkt = packet_fields(cols, i)
        r = twin(pkt, payload[pkt.pay_start : pkt.pay_end], row, cfg)
        action.append(r.action)
        out0.append(r.out0)
        out1.append(r.out1)
        delta.append(r.delta)
        last[f] = i
        if snap[i]:
            snapshots[i] = list(row)
    state = np.zeros((n_flows, width), np.int64)
    for f, row in rows.items():
        state[f] = row
    return NFOut(
        np.asarray(action, np.int8),
        np.asarray(out0, np.int64),
        np.asarray(out1, np.int64),
        np.asarray(delta, np.int64),
        state,
        len(snapshots),
    )


__all__ = ["connection_hash", "packet_fields", "run_nf", "sequential_sources"]
