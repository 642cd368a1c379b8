"""QoS traffic policer (paper §8): a token bucket per flow; out-of-profile packets are dropped.

Configuration (read-only): committed rate ``rate_bps`` (bits per second) and bucket size
``bucket_bytes``. A flow starts with a full bucket. At each packet the bucket refills by the time since
the flow's previous packet times the rate, up to the bucket size; the packet conforms if the bucket
holds at least its ``wire_len`` bytes, which are then taken out; otherwise it is dropped and takes
nothing (a single-rate two-colour policer, RFC 2697 without the excess bucket).

Exact integer arithmetic: tokens are counted in units of 1e-9 bit, so a rate of R bit/s adds exactly
R units per ns and a packet of L bytes costs L * 8e9 units. Limits keep every number below 2**63:
rate_bps <= 1e12, bucket_bytes <= 1e9.

The policed "connection" is a flow in one direction (``bidirectional`` is False): each direction of
a conversation has its own bucket, as a policer on one link sees it.

State row (3 words): tokens used (bucket size minus tokens, in units; 0 = full, so a fresh state is
a full bucket), time of the flow's previous packet (ns), packets dropped so far. Outputs: out0 =
tokens left after the packet in whole bytes, out1 = the flow's dropped packets so far (including
this one). delta: 8 per changed word.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from snfkit.engine.nf_nb import DROP, FORWARD, NFResult
from snfkit.nf.base import NF, check_int, default_state_bytes

WIDTH = 3
UNITS_PER_BYTE = 8_000_000_000  # 8 bits per byte, 1e9 units per bit
MAX_RATE_BPS = 10**12
MAX_BUCKET_BYTES = 10**9


class QoSConfig(NamedTuple):
    rate: int  # units per ns = bits per second
    bucket_bytes: int
    capacity: int  # bucket_bytes * UNITS_PER_BYTE


@nb.njit(cache=True)
def process_nb(pkt, payload, state, row, cfg):
    used0 = state[row, 0]
    last0 = state[row, 1]
    dropped = state[row, 2]
    used = used0
    dt = pkt.ts_ns - last0
    if used > 0 and dt > 0:
        if dt >= (used + cfg.rate - 1) // cfg.rate:
            used = 0
        else:
            used -= dt * cfg.rate
    action = FORWARD
    if pkt.wire_len <= cfg.bucket_bytes and cfg.capacity - used >= pkt.wire_len * UNITS_PER_BYTE:
        used += pkt.wire_len * UNITS_PER_BYTE
    else:
        action = DROP
        dropped += 1
    state[row, 0] = used
    state[row, 1] = pkt.ts_ns
    state[row, 2] = dropped
    delta = 8 * (np.int64(used != used0) + np.int64(pkt.ts_ns != last0) + np.int64(action == DROP))
    return NFResult(action, (cfg.capacity - used) // UNITS_PER_BYTE, dropped, delta)


def process_twin(pkt, payload, row, cfg):
    """Twin of :func:`process_nb`; ``row`` = [tokens used, previous packet time, drops]."""
    old = list(row)
    used, last, dropped = row
    elapsed = pkt.ts_ns - last
    if elapsed > 0:  # refill: rate units per ns, at most back to a full bucket
        used = max(0, used - elapsed * cfg.rate)
    cost = pkt.wire_len * UNITS_PER_BYTE
    if cfg.capacity - used >= cost:
        used += cost
        action = FORWARD
    else:
        action = DROP
        dropped += 1
    row[:] = [used, pkt.ts_ns, dropped]
    delta = 8 * sum(a != b for a, b in zip(old, row, strict=True))
    return NFResult(action, (cfg.capacity - used) // UNITS_PER_BYTE, dropped, delta)


PACKET_NS = 250
"""Processing cost per packet (ns) declared for ``nf_cost=True`` replays: one lookup and token-bucket arithmetic (refill from the elapsed time, then spend).
The paper publishes no per-NF cost; these order the NFs by their work (:data:`snfkit.nf.NF_COSTS`)."""
BYTE_PS = 0
"""Processing cost per byte of ``wire_len`` (ps) declared for ``nf_cost=True`` replays."""


def make(rate_bps: int = 100_000_000, bucket_bytes: int = 30_000) -> NF:
    """A policer at ``rate_bps`` bit/s (1..1e12) with a ``bucket_bytes`` bucket (1..1e9)."""
    if isinstance(rate_bps, float) and rate_bps.is_integer():
        rate_bps = int(rate_bps)
    rate = check_int("rate_bps", rate_bps, 1, MAX_RATE_BPS)
    bucket = check_int("bucket_bytes", bucket_bytes, 1, MAX_BUCKET_BYTES)
    return NF(
        packet_ns=PACKET_NS,
        byte_ps=BYTE_PS,
        name="qos",
        process=process_nb,
        twin=process_twin,
        state_width=WIDTH,
        state_bytes=default_state_bytes(WIDTH),
        needs_payload=False,
        bidirectional=False,
        config=QoSConfig(rate, bucket, bucket * UNITS_PER_BYTE),
        params={"rate_bps": rate, "bucket_bytes": bucket},
        outputs=("tokens_bytes", "dropped"),
    )


__all__ = ["QoSConfig", "make", "process_nb", "process_twin"]
