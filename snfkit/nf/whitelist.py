"""UDP whitelister (paper §8): remember clients that sent a UDP request, drop unsolicited responses.

It protects the clients behind it from UDP reflection/amplification floods (spoofed requests to
DNS, NTP, memcached, ... servers whose large responses hit the victim). Only UDP (proto 17) is
inspected; every other packet is forwarded untouched. With ``S`` the configured service ports:

- a **request** is a UDP packet whose destination port is in S (a client asking a service);
- a **response** is a UDP packet whose source port is in S and whose destination port is not (a
  service answering a client's ephemeral port);
- any other UDP packet (neither, e.g. both ports in S as in NTP 123 -> 123, which counts as a
  request, or neither port in S) is *other*, and forwarded.

A request records its direction in the connection's state and is forwarded. A response is forwarded
only if the connection has seen a request in the opposite direction (the client asked this server,
from this port), and dropped otherwise (unsolicited). The memory is per connection (client address
and port, server address and port), which is stricter than remembering the client alone. Flows must
be connections (``bidirectional``).

State row (2 words): bit mask of the directions that sent a request (bit d for direction d),
requests seen. Outputs: out0 = the packet's class (0 other or not UDP, 1 request, 2 response),
out1 = requests seen on the connection so far. delta: 8 per changed word.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numba as nb
import numpy as np

from snfkit.engine.nf_nb import DROP, FORWARD, NFResult
from snfkit.errors import ParameterError
from snfkit.nf.base import NF, check_int, default_state_bytes

WIDTH = 2
UDP = 17

DEFAULT_SERVICE_PORTS = (19, 53, 69, 111, 123, 137, 161, 389, 1900, 3702, 5353, 11211)
"""UDP services abused for reflection/amplification (chargen, DNS, TFTP, portmap, NTP, NetBIOS,
SNMP, CLDAP, SSDP, WS-Discovery, mDNS, memcached; US-CERT alert TA14-017A and later additions)."""


class WhitelistConfig(NamedTuple):
    service: np.ndarray  # uint8[65536], 1 for a service port


@nb.njit(cache=True)
def process_nb(pkt, payload, state, row, cfg):
    if pkt.proto != UDP:
        return NFResult(FORWARD, 0, state[row, 1], 0)
    if cfg.service[pkt.dport]:
        bit = np.int64(1) << pkt.direction
        mask = state[row, 0]
        delta = 8
        if mask & bit == 0:
            state[row, 0] = mask | bit
            delta = 16
        state[row, 1] += 1
        return NFResult(FORWARD, 1, state[row, 1], delta)
    if cfg.service[pkt.sport]:
        other = np.int64(1) << (1 - pkt.direction)
        if state[row, 0] & other:
            return NFResult(FORWARD, 2, state[row, 1], 0)
        return NFResult(DROP, 2, state[row, 1], 0)
    return NFResult(FORWARD, 0, state[row, 1], 0)


def process_twin(pkt, payload, row, cfg):
    """Twin of :func:`process_nb`; ``row`` = [request direction mask, requests]."""
    if pkt.proto != UDP:
        return NFResult(FORWARD, 0, row[1], 0)
    is_service = cfg.service
    if is_service[pkt.dport]:  # a request: remember who asked, in which direction
        old = row[0]
        row[0] |= 1 << pkt.direction
        row[1] += 1
        return NFResult(FORWARD, 1, row[1], 8 + (8 if row[0] != old else 0))
    if is_service[pkt.sport]:  # a response: solicited iff the other direction asked
        solicited = row[0] & (1 << (1 - pkt.direction))
        return NFResult(FORWARD if solicited else DROP, 2, row[1], 0)
    return NFResult(FORWARD, 0, row[1], 0)


PACKET_NS = 100
"""Processing cost per packet (ns) declared for ``nf_cost=True`` replays: one set lookup (and an insert for a request).
The paper publishes no per-NF cost; these order the NFs by their work (:data:`snfkit.nf.NF_COSTS`)."""
BYTE_PS = 0
"""Processing cost per byte of ``wire_len`` (ps) declared for ``nf_cost=True`` replays."""


def make(service_ports: Iterable[int] = DEFAULT_SERVICE_PORTS) -> NF:
    """A UDP whitelister for the services on ``service_ports`` (UDP ports 1-65535)."""
    if isinstance(service_ports, str | bytes) or not isinstance(service_ports, Iterable):
        raise ParameterError("service_ports", service_ports, "an iterable of ports in [1, 65535]")
    ports = sorted({check_int("service_ports", p, 1, 65535) for p in service_ports})
    if not ports:
        raise ParameterError("service_ports", service_ports, "at least one port in [1, 65535]")
    service = np.zeros(65536, np.uint8)
    service[ports] = 1
    return NF(
        packet_ns=PACKET_NS,
        byte_ps=BYTE_PS,
        name="whitelist",
        process=process_nb,
        twin=process_twin,
        state_width=WIDTH,
        state_bytes=default_state_bytes(WIDTH),
        needs_payload=False,
        bidirectional=True,
        config=WhitelistConfig(service),
        params={"service_ports": ports},
        outputs=("class", "requests"),
    )


__all__ = ["DEFAULT_SERVICE_PORTS", "WhitelistConfig", "make", "process_nb", "process_twin"]
