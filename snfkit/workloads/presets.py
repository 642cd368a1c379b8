"""Ready-made workloads.

:func:`paper_like` is shaped like the trace the SNF paper evaluates on (§9: "6.4M packets with 199K
connections", median packet size 1434 B, a WAN link between the authors' institution and AWS EC2,
sped up to raise its load). The trace itself is not public, so the preset matches its published
aggregates, and chooses the rest:

- **Flow sizes**: log-normal, median 14,780 B, sigma 1.5 (tabulated between the 1e-5 and 1 - 1e-5
  quantiles, so the largest flow is about 8.9 MB). The median was solved so that the mean number of
  packets per flow after packetization is 6.4M / 199K = 32.2; sigma 1.5 gives a heavy tail (the
  largest 10% of flows carry about two thirds of the bytes) while keeping a 2K-flow sample's packet
  count within a few % of its expectation.
- **Packet size**: ``mtu = 1434`` B, so full-size packets, which are most packets of a heavy-tailed
  mix, are 1434 B and the median is the paper's 1434 B (a WAN path with encapsulation overhead).
- **Load**: 5 Gbps mean (about 14.5 s for the full preset): five 1-Gbps compute units' worth, so
  packing matters. The realized load is exactly 5 Gbps (``n_flows`` mode of
  :func:`~snfkit.workloads.synthesize`).
- **Bursts**: the default :class:`~snfkit.workloads.BurstModel` (8-packet trains, 2 ms median
  gaps). This gives about 4.5-4.9 flowlets per flow at T = 500 us and 5.0-5.4 at T = 100 us (no size
  threshold), near the paper's 4.66x and 5.18x allocation opportunities.
- 10% UDP flows, IPv4 only, sizes drawn by stratified sampling (packet count within ~2% of
  6.4M x scale).
"""

from __future__ import annotations

import polars as pl

from snfkit.arguments import check_number
from snfkit.workloads.cdf import FlowSizeCDF
from snfkit.workloads.synth import MAX_PACKETS, BurstModel, synthesize

PAPER_PACKETS = 6_400_000
PAPER_FLOWS = 199_000
PAPER_MEDIAN_PACKET_BYTES = 1434
PAPER_LIKE_LOAD_GBPS = 5.0
PAPER_LIKE_MEDIAN_FLOW_BYTES = 14_780.0
PAPER_LIKE_SIGMA = 1.5


def paper_like_cdf() -> FlowSizeCDF:
    """The preset's flow-size law: log-normal, median 14,780 B, sigma 1.5 (see module docstring)."""
    return FlowSizeCDF.lognormal(
        PAPER_LIKE_MEDIAN_FLOW_BYTES, PAPER_LIKE_SIGMA, name="paper_like lognormal"
    )


def paper_like(
    seed: int = 0, scale: float = 1.0, *, load_gbps: float = PAPER_LIKE_LOAD_GBPS
) -> pl.DataFrame:
    """A workload shaped like the SNF paper's trace: ~6.4M packets x scale, 199K x scale flows.

    scale: > 0 (usually <= 1; at most 167, :data:`~snfkit.workloads.synth.MAX_PACKETS`); flows = round(199,000 * scale) (at least 1), and the duration
        shrinks with it at the same load (scale 0.01: 1,990 flows, ~64K packets, ~0.14 s). Flows
        longer than a small trace wrap around it (see :mod:`snfkit.workloads.synth`, step 5).
    load_gbps: mean offered load (default 5 Gbps); the duration is the total bits over it.
    Generates the full preset (6.4M packets) in about 8 s on one core.
    """
    scale = check_number("scale", scale, 0, MAX_PACKETS / PAPER_PACKETS, lo_open=True)
    return synthesize(
        paper_like_cdf(),
        n_flows=max(1, round(PAPER_FLOWS * scale)),
        load_gbps=load_gbps,
        seed=seed,
        mtu=PAPER_MEDIAN_PACKET_BYTES,
        burst=BurstModel(),
        udp_fraction=0.1,
        stratified=True,
    )


def small_demo(seed: int = 0) -> pl.DataFrame:
    """A small paper-like workload for the demo and notebooks: 3,100 flows, ~100K packets, 2.5 Gbps.

    Same shape as :func:`paper_like` (scale 3,100 / 199,000), at half its load so that the trace
    lasts about 0.45 s: four or five 100-ms epochs with two or three 1-Gbps units busy.
    """
    return paper_like(seed, 3_100 / PAPER_FLOWS, load_gbps=2.5)


__all__ = ["paper_like", "paper_like_cdf", "small_demo"]
