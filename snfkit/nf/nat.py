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

State row (4 words): mapped public port (0 = no mapping yet), initiator port, initiator address hi,
lo. Outputs: out0 = the rewritten port (outbound: the public port; inbound: the initiator's port;
-1 when dropped), out1 = the low half of the rewritten address (outbound: the public address's;
inbound: the initiator's; -1 when dropped). delta: 8 per changed word (the mapping's creation).
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

WIDTH = 4


class NATConfig(NamedTuple):
    public_hi: int  # public address, big-endian halves as int64
    public_lo: int
    port_min: int
    n_ports: int
    seed: int


@nb.njit(cache=True)
def process_nb(pkt, payload, state, row, cfg):
    port = state[row, 0]
    if pkt.direction == 0:
        if port == 0:
            h = connection_hash_nb(pkt, cfg.seed)
            port = cfg.port_min + np.int64(h % np.uint64(cfg.n_ports))
            delta = 8 * (
                1
                + (state[row, 1] != pkt.sport)
                + (state[row, 2] != pkt.src_hi)
                + (state[row, 3] != pkt.src_lo)
            )
            state[row, 0] = port
            state[row, 1] = pkt.sport
            state[row, 2] = pkt.src_hi
            state[row, 3] = pkt.src_lo
            return NFResult(FORWARD, port, cfg.public_lo, delta)
        return NFResult(FORWARD, port, cfg.public_lo, 0)
    if port == 0:
        return NFResult(DROP, -1, -1, 0)
    return NFResult(FORWARD, state[row, 1], state[row, 3], 0)


def process_twin(pkt, payload, row, cfg):
    """Twin of :func:`process_nb`; ``row`` is the flow's state as a list of 4 ints."""
    if pkt.direction == 1:  # inbound: rewrite the destination back, if there is a mapping
        if row[0] == 0:
            return NFResult(DROP, -1, -1, 0)
        return NFResult(FORWARD, row[1], row[3], 0)
    if row[0] != 0:  # outbound, mapping known
        return NFResult(FORWARD, row[0], cfg.public_lo, 0)
    port = cfg.port_min + connection_hash(pkt, cfg.seed) % cfg.n_ports
    new = [port, pkt.sport, pkt.src_hi, pkt.src_lo]
    delta = 8 * sum(a != b for a, b in zip(row, new, strict=True))
    row[:] = new
    return NFResult(FORWARD, port, cfg.public_lo, delta)


def make(
    public_ip: str = "203.0.113.1", port_min: int = 1024, port_max: int = 65535, seed: int = 0
) -> NF:
    """A NAT onto ``public_ip`` (IPv4 or IPv6 text) with ports ``port_min..port_max`` (1-65535)."""
    try:
        raw = ip_to_bytes(public_ip)
    except (ValueError, AttributeError):
        raise ParameterError("public_ip", public_ip, "an IPv4 or IPv6 address as text") from None
    lo = check_int("port_min", port_min, 1, 65535)
    hi = check_int("port_max", port_max, 1, 65535)
    if hi < lo:
        raise ParameterError("port_max", port_max, f"an integer in [port_min={lo}, 65535]")
    seed = check_int("seed", seed, -(2**63), 2**63 - 1)
    halves = np.frombuffer(raw, ">u8").astype(np.uint64).view(np.int64)
    cfg = NATConfig(int(halves[0]), int(halves[1]), lo, hi - lo + 1, seed)
    return NF(
        name="nat",
        process=process_nb,
        twin=process_twin,
        state_width=WIDTH,
        state_bytes=default_state_bytes(WIDTH),
        needs_payload=False,
        bidirectional=True,
        config=cfg,
        params={"public_ip": public_ip, "port_min": lo, "port_max": hi, "seed": seed},
        outputs=("port", "address_lo"),
    )


__all__ = ["NATConfig", "make", "process_nb", "process_twin"]
