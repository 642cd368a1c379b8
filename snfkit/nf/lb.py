"""LB (paper §8): hash-based load balancing with a per-connection server and packet count.

Configuration (read-only): the server list and a hash seed. A connection's first packet picks server
``hash(connection, seed) % len(servers)`` (the connection hash of
:func:`snfkit.engine.nf_nb.connection_hash_nb`, equal in both directions) and stores it; every later
packet of the connection goes to the stored server (stickiness) and increments the connection's
packet count. Both directions share the state (``bidirectional``). Every packet is forwarded.

State row (2 words): chosen server + 1 (0 = none yet), packets of the connection so far.
Outputs: out0 = the server index (into ``params['servers']``), out1 = the connection's packet count
including this packet (a stale state shows here). delta: 8 per changed word (16 on the first packet,
8 afterwards).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numba as nb
import numpy as np

from snfkit.engine.nf_nb import FORWARD, NFResult, connection_hash_nb
from snfkit.errors import ParameterError
from snfkit.nf.base import NF, check_int, default_state_bytes
from snfkit.reference.nf import connection_hash
from snfkit.traces.table import format_ip, ip_to_bytes

WIDTH = 2


class LBConfig(NamedTuple):
    n_servers: int
    seed: int


@nb.njit(cache=True)
def process_nb(pkt, payload, state, row, cfg):
    server = state[row, 0] - 1
    delta = 8
    if server < 0:
        server = np.int64(connection_hash_nb(pkt, cfg.seed) % np.uint64(cfg.n_servers))
        state[row, 0] = server + 1
        delta = 16
    count = state[row, 1] + 1
    state[row, 1] = count
    return NFResult(FORWARD, server, count, delta)


def process_twin(pkt, payload, row, cfg):
    """Twin of :func:`process_nb`; ``row`` = [server + 1, packets]."""
    delta = 0
    if row[0] == 0:  # a new connection: pick its server by hash, once
        row[0] = connection_hash(pkt, cfg.seed) % cfg.n_servers + 1
        delta += 8
    row[1] += 1
    delta += 8
    return NFResult(FORWARD, row[0] - 1, row[1], delta)


PACKET_NS = 150
"""Processing cost per packet (ns) declared for ``nf_cost=True`` replays: a hash on a connection's first packet, then one lookup and a counter update.
The paper publishes no per-NF cost; these order the NFs by their work (:data:`snfkit.nf.NF_COSTS`)."""
BYTE_PS = 0
"""Processing cost per byte of ``wire_len`` (ps) declared for ``nf_cost=True`` replays."""


def make(servers: Sequence[str] | int = 8, seed: int = 0) -> NF:
    """An LB over ``servers``: a list of addresses (text), or a count n for 10.1.0.1, 10.1.0.2, ..."""
    if isinstance(servers, int | np.integer) and not isinstance(servers, bool):
        n = check_int("servers", servers, 1, 65535)
        names = [f"10.1.{k >> 8}.{k & 255}" for k in range(1, n + 1)]
    elif isinstance(servers, Sequence) and not isinstance(servers, str | bytes) and servers:
        names = []
        for k, s in enumerate(servers):
            try:
                names.append(format_ip(ip_to_bytes(s)))
            except (ValueError, AttributeError):
                raise ParameterError(
                    f"servers[{k}]", s, "an IPv4 or IPv6 address as text"
                ) from None
    else:
        raise ParameterError("servers", servers, "a non-empty list of addresses or a count >= 1")
    seed = check_int("seed", seed, -(2**63), 2**63 - 1)
    return NF(
        packet_ns=PACKET_NS,
        byte_ps=BYTE_PS,
        name="lb",
        process=process_nb,
        twin=process_twin,
        state_width=WIDTH,
        state_bytes=default_state_bytes(WIDTH),
        needs_payload=False,
        bidirectional=True,
        config=LBConfig(len(names), seed),
        params={"servers": names, "seed": seed},
        outputs=("server", "packets"),
    )


__all__ = ["LBConfig", "make", "process_nb", "process_twin"]
