"""The NF programming model's kernels: one packet's fields, an NF's result, and the per-packet runner.

An NF (DESIGN.md "NF programming model") is a jitted function

    process(pkt: PacketFields, payload: uint8[:], state: int64[:, :], row: int64, cfg) -> NFResult

that reads one packet's fields, reads and writes its flow's fixed-width state row ``state[row]`` (all
zeros = a fresh flow), may read the packet's payload bytes ``payload[pkt.pay_start:pkt.pay_end]``,
and reads its configuration ``cfg`` (a NamedTuple; keep it scalars, or few arrays: every array in a
NamedTuple passed to a non-inlined call costs an atomic incref/decref per call).

:func:`run_nf_nb` runs an NF over packets in index order, where each packet's state comes from a
*source* packet: ``src[i] == -1`` a fresh (zero) state, ``src[i]`` = the previous packet of the same
flow its current state (the sequential run), any other earlier packet j of the flow the state right
after j (a stale replica; j must be marked in ``snap`` so that its post-state was kept). The
plain-Python twin is :mod:`snfkit.reference.nf`.

Addresses: the 16-byte addresses of the packets table (IPv4 stored IPv4-mapped) are split into two
big-endian 64-bit halves ``hi`` (bytes 0-7) and ``lo`` (bytes 8-15), whose bits are stored as int64
(two's complement: a half >= 2**63 is negative). IPv4 ``a.b.c.d`` has ``hi = 0`` and
``lo = 0x0000FFFF_aabbccdd``.

Threads: :func:`run_nf_nb` (:func:`run_nf_into_nb`) and :func:`sequential_sources_nb` release the
GIL, so a replay can run the sequential NF pass on a second thread (``snfkit.runner``).

Compile time: :func:`run_nf_nb` takes the NF's process function as an argument, so numba cannot cache
it on disk; it compiles once per process and NF (about 1 s; ``benchmarks/bench_nf.py`` measures it).
Everything else here is ``cache=True``.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from snfkit.engine.mix_nb import GOLDEN, mix64
from snfkit.errors import ParameterError

FORWARD = 0
DROP = 1

KEY_BYTES = 37
"""Bytes of a flow's key in a state transfer: two 16-byte addresses, two ports, the protocol."""


class PacketFields(NamedTuple):
    """One packet as an NF sees it; all int64 scalars.

    ts_ns: arrival time (ns). src_hi, src_lo, dst_hi, dst_lo: address halves (module docstring).
    sport, dport, proto: ports and IP protocol. wire_len: IP-layer bytes. direction: 0 from the
    connection's initiator (the side that sent its first packet), 1 the reverse; always 0 when flows
    are one-directional 5-tuples. pay_start, pay_end: the payload's offsets in the flat payload
    buffer (equal when the packet has no payload or the trace none).
    """

    ts_ns: int
    src_hi: int
    src_lo: int
    dst_hi: int
    dst_lo: int
    sport: int
    dport: int
    proto: int
    wire_len: int
    direction: int
    pay_start: int
    pay_end: int


class NFResult(NamedTuple):
    """What an NF returns for one packet (int64 scalars).

    action: FORWARD (0) or DROP (1). out0, out1: rewritten fields or NF-specific outputs (each NF's
    docstring says which). delta: bytes of state this packet changed, 8 per state word whose value
    changed (what a unit would send its output logger, paper §6).
    """

    action: int
    out0: int
    out1: int
    delta: int


class PacketColumns(NamedTuple):
    """Per-packet column arrays (length n) plus the flat payload buffer.

    ts_ns int64; src_hi, src_lo, dst_hi, dst_lo int64; sport, dport uint16; proto uint8;
    wire_len uint32; direction uint8; pay_off int64[n + 1] (packet i's payload is
    ``payload[pay_off[i]:pay_off[i + 1]]``); payload uint8[total payload bytes].
    Built from a packets table by :func:`snfkit.nf.packet_columns`.
    """

    ts_ns: np.ndarray
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    proto: np.ndarray
    wire_len: np.ndarray
    direction: np.ndarray
    pay_off: np.ndarray
    payload: np.ndarray


class NFOut(NamedTuple):
    """The runner's outputs: per packet (length n) and the flows' final states.

    action int8[n], out0 int64[n], out1 int64[n], delta int64[n] (NFResult's fields, packet by
    packet); state int64[n_flows, width]: each flow's state row after its last packet (zeros for a
    flow without packets); n_snapshots: how many post-states were kept.
    """

    action: np.ndarray
    out0: np.ndarray
    out1: np.ndarray
    delta: np.ndarray
    state: np.ndarray
    n_snapshots: int


@nb.njit(cache=True)
def packet_fields_nb(cols, i):
    """Packet i of ``cols`` (PacketColumns) as a :class:`PacketFields`."""
    return PacketFields(
        np.int64(cols.ts_ns[i]),
        np.int64(cols.src_hi[i]),
        np.int64(cols.src_lo[i]),
        np.int64(cols.dst_hi[i]),
        np.int64(cols.dst_lo[i]),
        np.int64(cols.sport[i]),
        np.int64(cols.dport[i]),
        np.int64(cols.proto[i]),
        np.int64(cols.wire_len[i]),
        np.int64(cols.direction[i]),
        np.int64(cols.pay_off[i]),
        np.int64(cols.pay_off[i + 1]),
    )


@nb.njit(cache=True)
def connection_hash_nb(pkt, seed):
    """A seeded uint64 hash of the packet's connection, equal for both directions.

    The words hashed are the initiator's address and port, then the responder's, then the protocol
    (so ``direction`` orients the 5-tuple); seed is an int64.
    """
    if pkt.direction == 0:
        a_hi, a_lo, a_port = pkt.src_hi, pkt.src_lo, pkt.sport
        b_hi, b_lo, b_port = pkt.dst_hi, pkt.dst_lo, pkt.dport
    else:
        a_hi, a_lo, a_port = pkt.dst_hi, pkt.dst_lo, pkt.dport
        b_hi, b_lo, b_port = pkt.src_hi, pkt.src_lo, pkt.sport
    g = GOLDEN
    h = mix64(np.uint64(seed) ^ g)
    h = mix64(h ^ (np.uint64(a_hi) + g))
    h = mix64(h ^ (np.uint64(a_lo) + g))
    h = mix64(h ^ (np.uint64(b_hi) + g))
    h = mix64(h ^ (np.uint64(b_lo) + g))
    ports = (np.uint64(a_port) << np.uint64(24)) | (np.uint64(b_port) << np.uint64(8))
    return mix64(h ^ ((ports | np.uint64(pkt.proto)) + g))


@nb.njit(cache=True, nogil=True)
def sequential_sources_nb(flow, n_flows):
    """The single-unit sequential run: ``src[i]`` = the previous packet of flow[i] (-1 for its
    first packet), ``snap`` all False. Returns ``(src int64[n], snap bool[n])``."""
    n = flow.shape[0]
    last = np.full(n_flows, -1, np.int64)
    src = np.empty(n, np.int64)
    for i in range(n):
        f = flow[i]
        if f < 0 or f >= n_flows:
            raise ParameterError("flow", f, "flow ids in [0, n_flows)")
        src[i] = last[f]
        last[f] = i
    return src, np.zeros(n, np.bool_)


def sequential_sources(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(src, snap)`` of the sequential run over ``flow`` (int64 flow ids, dense from 0)."""
    flow = np.ascontiguousarray(flow, np.int64)
    n_flows = int(flow.max()) + 1 if flow.shape[0] else 0
    return sequential_sources_nb(flow, n_flows)


@nb.njit(cache=True)
def snapshot_index_nb(snap):
    """The sorted indices of the packets marked in ``snap`` (bool[n]) -> int64[n_snapshots]."""
    k = 0
    for i in range(snap.shape[0]):
        if snap[i]:
            k += 1
    idx = np.empty(k, np.int64)
    k = 0
    for i in range(snap.shape[0]):
        if snap[i]:
            idx[k] = i
            k += 1
    return idx


@nb.njit(nogil=True)
def run_nf_nb(process, cfg, cols, flow, src, snap, width, n_flows):
    """:func:`run_nf_into_nb` with its per-packet outputs allocated here."""
    n = flow.shape[0]
    action = np.empty(n, np.int8)
    out0 = np.empty(n, np.int64)
    out1 = np.empty(n, np.int64)
    delta = np.empty(n, np.int64)
    return run_nf_into_nb(
        process, cfg, cols, flow, src, snap, width, n_flows, action, out0, out1, delta
    )


@nb.njit(nogil=True)
def run_nf_into_nb(process, cfg, cols, flow, src, snap, width, n_flows, action, out0, out1, delta):
    """Run ``process`` over packets 0..n-1 in index order (module docstring); returns :class:`NFOut`
    whose per-packet columns are ``action`` (int8[n]), ``out0``, ``out1`` and ``delta`` (int64[n]),
    filled here (the caller allocates them: numpy maps large arrays on huge pages, numba's
    allocator does not, and the first writes to fresh memory are much of a sequential run's cost).

    flow: int64 flow ids in [0, n_flows). src: int64 source packet per packet (-1 fresh state).
    snap: bool, keep the post-state of these packets (only these: memory is one state row per
    snapshot). ``src`` and ``snap`` both empty: the sequential run (each packet continues its
    flow, as :func:`sequential_sources_nb`'s arrays say) without building them. width: state
    words per flow (the NF's ``state_width``). Raises ParameterError if a flow id is out of range,
    or src[i] is not -1, the flow's previous packet, or an earlier packet of the same flow marked
    in snap (checked as the run reaches packet i).
    """
    n = flow.shape[0]
    sequential = src.shape[0] == 0 and snap.shape[0] == 0
    lengths = (n, n) if not sequential else (0, 0)
    if cols.ts_ns.shape[0] != n or (src.shape[0], snap.shape[0]) != lengths:
        raise ParameterError("src, snap, cols", src.shape[0], "arrays as long as flow")
    snap_idx = snapshot_index_nb(snap)
    store = np.empty((snap_idx.shape[0], width), np.int64)
    if action.shape[0] != n or out0.shape[0] != n or out1.shape[0] != n or delta.shape[0] != n:
        raise ParameterError("action, out0, out1, delta", action.shape[0], "arrays as long as flow")
    state = np.zeros((n_flows, width), np.int64)
    last = np.full(n_flows, -1, np.int64)
    payload = cols.payload
    k = 0
    for i in range(n):
        f = flow[i]
        if f < 0 or f >= n_flows:
            raise ParameterError("flow[i] (i, flow[i])", (i, f), "a flow id in [0, n_flows)")
        j = last[f] if sequential else src[i]
        if j != last[f]:  # not the flow's current state
            if j == -1:
                state[f, :] = 0
            elif j < -1 or j >= i:
                raise ParameterError(
                    "src[i] (i, src[i])", (i, j), "-1 or an earlier packet of the same flow (< i)"
                )
            elif flow[j] != f:
                raise ParameterError(
                    "src[i] (i, src[i])", (i, j), "an earlier packet of the same flow as packet i"
                )
            else:
                s = np.searchsorted(snap_idx, j)
                if s >= snap_idx.shape[0] or snap_idx[s] != j:
                    raise ParameterError(
                        "src[i] (i, src[i])",
                        (i, j),
                        "the flow's previous packet, -1, or a packet marked in snap",
                    )
                for w in range(width):  # (a loop: see flowkeys_nb._grow_keys)
                    state[f, w] = store[s, w]
        r = process(packet_fields_nb(cols, i), payload, state, f, cfg)
        action[i] = r.action
        out0[i] = r.out0
        out1[i] = r.out1
        delta[i] = r.delta
        last[f] = i
        if not sequential and snap[i]:
            for w in range(width):
                store[k, w] = state[f, w]
            k += 1
    return NFOut(action, out0, out1, delta, state, k)


__all__ = [
    "DROP",
    "FORWARD",
    "KEY_BYTES",
    "NFOut",
    "NFResult",
    "PacketColumns",
    "PacketFields",
    "connection_hash_nb",
    "packet_fields_nb",
    "run_nf_into_nb",
    "run_nf_nb",
    "sequential_sources",
    "sequential_sources_nb",
    "snapshot_index_nb",
]
