"""NAT (paper §8): source NAT of the connections' initiators onto one public address and a port pool.

Configuration (read-only): the public address, the port pool ``[port_min, port_max]`` and a hash seed.
When a connection's first outbound packet arrives, its public port is chosen deterministically from
the configuration and the connection: ``port_min + hash(connection, seed) % pool size`` (the
connection hash of :func:`snfkit.engine.nf_nb.connection_hash_nb`, equal in both directions). There is
no global pool of free ports: a distributed run needs nothing but the flow's own state to reproduce
the sequential one. The price is that two connections can draw the same public port (a real NAT
would also key its reverse table by the remote endpoint, as an endpoint-dependent mapping does;
probability about connections / pool size per pair).

Direction 0 (the initiator's side, "inside") is outbound: the source is rewritten to
``public address : mapped port``. Direction 1 is inbound: the destination is rewritten back to the
initiator's address and port, read from the state; an inbound packet of a connection without a
mapping (the NAT never saw it leave) is dropped, as a NAT drops unsolicited inbound traffic.
Flows must be connections (``bidirectional``).

Mappings expire like a real NAT's (RFC 4787 REQ-5, RFC 5382): a mapping idle for longer than
``idle_timeout_ns`` (default 5 minutes; 0 = never) is forgotten when the next packet finds it, so a
late inbound packet is dropped and a late outbound one maps again (to the same port). Every
forwarded packet, in either direction, refreshes the mapping's timer.

State row (5 words): mapped public port (0 = no mapping yet), initiator port, initiator address hi,
lo, time of the mapping's last forwarded packet (ns). Outputs: out0 = the rewritten port (outbound:
the public port; inbound: the initiator's port; -1 when dropped), out1 = the low half of the
rewritten address (outbound: the public address's; inbound: the initiator's; -1 when dropped).
delta: 8 per changed word (the mapping's creation or expiry, and the timer of every forwarded
packet with a new timestamp).
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from snfkit.engine.nf_nb import DROP, FORWARD, NFResult, connection_hash_nb
from snfkit.errors import ParameterError
from snfkit.nf.base import NF, check_int, default_state_bytes
from snfkit.reference.nf import connection_hash
from snfkit.traces.table import ip_to_bytes

WIDTH = 5
DEFAULT_IDLE_TIMEOUT_NS = 300 * 10**9  # 5 minutes (RFC 4787 REQ-5: at least 2, 5 recommended)
NO_TIMEOUT = 2**63 - 1


class NATConfig(NamedTuple):
    public_hi: int  # public address, big-endian halves as int64
    public_lo: int
    port_min: int
    n_ports: int
    seed: int
    idle_timeout_ns: int  # NO_TIMEOUT (2**63 - 1): mappings never expire


@nb.njit(cache=True)
def _map_or_drop_nb(pkt, state, row, cfg):
    # no live mapping (none yet, or it expired): forget it, then map outbound / drop inbound
    o0, o1, o2, o3, o4 = state[row, 0], state[row, 1], state[row, 2], state[row, 3], state[row, 4]
    state[row, :] = 0
    if pkt.direction == 0:
        h = connection_hash_nb(pkt, cfg.seed)
        state[row, 0] = cfg.port_min + np.int64(h % np.uint64(cfg.n_ports))
        state[row, 1] = pkt.sport
        state[row, 2] = pkt.src_hi
        state[row, 3] = pkt.src_lo
        state[row, 4] = pkt.ts_ns
        r = NFResult(FORWARD, state[row, 0], cfg.public_lo, 0)
    else:
        r = NFResult(DROP, -1, -1, 0)
    delta = 8 * (
        np.int64(state[row, 0] != o0)
        + np.int64(state[row, 1] != o1)
        + np.int64(state[row, 2] != o2)
        + np.int64(state[row, 3] != o3)
        + np.int64(state[row, 4] != o4)
    )
    return NFResult(r.action, r.out0, r.out1, delta)


@nb.njit(cache=True)
def process_nb(pkt, payload, state, row, cfg):
    # Common path small, one return: LLVM then inlines it into the runner (about 2x faster).
    port = state[row, 0]
    last = state[row, 4]
    if port == 0 or pkt.ts_ns - last > cfg.idle_timeout_ns:
        return _map_or_drop_nb(pkt, state, row, cfg)
    state[row, 4] = pkt.ts_ns  # a forwarded packet refreshes the mapping's timer
    inbound = pkt.direction != 0
    out0 = state[row, 1] if inbound else port
    out1 = state[row, 3] if inbound else cfg.public_lo
    return NFResult(FORWARD, out0, out1, 8 * np.int64(pkt.ts_ns != last))


def process_twin(pkt, payload, row, cfg):
    """Twin of :func:`process_nb`; ``row`` is the flow's state as a list of 5 ints."""
    old = list(row)
    expired = pkt.ts_ns - row[4] > cfg.idle_timeout_ns
    if row[0] != 0 and expired:
        row[:] = [0] * WIDTH  # the mapping timed out: forget it
    if pkt.direction == 1:  # inbound: rewrite the destination back, if there is a mapping
        if row[0] == 0:
            result = NFResult(DROP, -1, -1, 0)
        else:
            row[4] = pkt.ts_ns  # a forwarded packet refreshes the mapping
            result = NFResult(FORWARD, row[1], row[3], 0)
    else:  # outbound: create the mapping if needed, rewrite the source
        if row[0] == 0:
            port = cfg.port_min + connection_hash(pkt, cfg.seed) % cfg.n_ports
            row[:4] = [port, pkt.sport, pkt.src_hi, pkt.src_lo]
        row[4] = pkt.ts_ns
        result = NFResult(FORWARD, row[0], cfg.public_lo, 0)
    delta = 8 * sum(a != b for a, b in zip(old, row, strict=True))
    return result._replace(delta=delta)


PACKET_NS = 200
"""Processing cost per packet (ns) declared for ``nf_cost=True`` replays: a port-pool allocation on a connection's first packet, then one mapping lookup and a header rewrite.
The paper publishes no per-NF cost; these order the NFs by their work (:data:`snfkit.nf.NF_COSTS`)."""
BYTE_PS = 0
"""Processing cost per byte of ``wire_len`` (ps) declared for ``nf_cost=True`` replays."""


def make(
    public_ip: str = "203.0.113.1",
    port_min: int = 1024,
    port_max: int = 65535,
    seed: int = 0,
    idle_timeout_ns: int = DEFAULT_IDLE_TIMEOUT_NS,
) -> NF:
    """A NAT onto ``public_ip`` (IPv4 or IPv6 text) with ports ``port_min..port_max`` (1-65535);
    mappings expire after ``idle_timeout_ns`` without a forwarded packet (0: never)."""
    try:
        raw = ip_to_bytes(public_ip)
    except (ValueError, AttributeError):
        raise ParameterError("public_ip", public_ip, "an IPv4 or IPv6 address as text") from None
    lo = check_int("port_min", port_min, 1, 65535)
    hi = check_int("port_max", port_max, 1, 65535)
    if hi < lo:
        raise ParameterError("port_max", port_max, f"an integer in [port_min={lo}, 65535]")
    seed = check_int("seed", seed, -(2**63), 2**63 - 1)
    timeout = check_int("idle_timeout_ns", idle_timeout_ns, 0, NO_TIMEOUT)
    halves = np.frombuffer(raw, ">u8").astype(np.uint64).view(np.int64)
    cfg = NATConfig(int(halves[0]), int(halves[1]), lo, hi - lo + 1, seed, timeout or NO_TIMEOUT)
    return NF(
        packet_ns=PACKET_NS,
        byte_ps=BYTE_PS,
        name="nat",
        process=process_nb,
        twin=process_twin,
        state_width=WIDTH,
        state_bytes=default_state_bytes(WIDTH),
        needs_payload=False,
        bidirectional=True,
        config=cfg,
        params={
            "public_ip": public_ip,
            "port_min": lo,
            "port_max": hi,
            "seed": seed,
            "idle_timeout_ns": timeout,
        },
        outputs=("port", "address_lo"),
    )


__all__ = ["NATConfig", "make", "process_nb", "process_twin"]
