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

import math
from functools import cache
from statistics import NormalDist

import numpy as np
import polars as pl

from snfkit.arguments import check_number
from snfkit.errors import ParameterError
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


PAPER_BIG_FLOW_BYTES = 10_000
PAPER_BIG_FLOW_SHARE = 0.05
"""§9.1: "5% of the flows in our trace have a size greater than 10KB"."""
PAPER_TRACE_LOAD_GBPS = 5.0
PAPER_TRACE_NATIVE_GBPS = 1.0
PAPER_TRACE_MICE_MEDIAN_BYTES = 700.0
PAPER_TRACE_MICE_SIGMA = 1.3
PAPER_TRACE_MIN_FLOW_BYTES = 40.0
PAPER_TRACE_MAX_FLOW_BYTES = 30e6


def _paper_trace_points(tail_index: float, n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """CDF points of :func:`paper_trace_cdf` for a given elephant tail index."""
    nd = NormalDist()
    lo, knee, top = PAPER_TRACE_MIN_FLOW_BYTES, PAPER_BIG_FLOW_BYTES, PAPER_TRACE_MAX_FLOW_BYTES
    mice = np.geomspace(lo, knee, n)
    z = np.log(mice / PAPER_TRACE_MICE_MEDIAN_BYTES) / PAPER_TRACE_MICE_SIGMA
    f = np.array([nd.cdf(v) for v in z])
    f = (f - f[0]) / (f[-1] - f[0]) * (1.0 - PAPER_BIG_FLOW_SHARE)
    big = np.geomspace(knee, top, n)[1:]
    cut = (knee / top) ** tail_index
    tail = PAPER_BIG_FLOW_SHARE * ((knee / big) ** tail_index - cut) / (1.0 - cut)
    return np.concatenate([mice, big]), np.concatenate([f, 1.0 - tail])


def _packets_per_flow(cdf: FlowSizeCDF) -> float:
    return cdf.expect(lambda s: np.maximum(1, -(-s // PAPER_MEDIAN_PACKET_BYTES)).astype(float))


@cache
def paper_trace_cdf() -> FlowSizeCDF:
    """The flow-size law of :func:`paper_trace`: 95 % of flows at most 10 KB, 5 % above, and
    6.4M / 199K = 32.2 packets per flow (1434-B packets).

    - Flows up to 10 KB (the mice, 95 %): log-normal with median 700 B and sigma 1.3, truncated to
      40 B - 10 KB.
    - Flows above 10 KB (the 5 %): a Pareto tail ``P(size > x | > 10 KB) ~ (10 KB / x) ** a``,
      truncated at 30 MB, with the tail index ``a`` solved (bisection) so that the mean number of
      packets per flow is exactly 6.4M / 199K. The paper's statistics force a heavy tail: the 5 %
      must carry about 91 % of the packets, about 600 packets (860 KB) each on average
      (``a`` is about 0.39).
    """
    target = PAPER_PACKETS / PAPER_FLOWS
    lo, hi = 1e-3, 3.0
    for _ in range(50):  # packets per flow fall as the tail index rises
        a = (lo + hi) / 2
        sizes, probs = _paper_trace_points(a)
        if _packets_per_flow(FlowSizeCDF.from_points(sizes, probs)) > target:
            lo = a
        else:
            hi = a
    a = (lo + hi) / 2
    sizes, probs = _paper_trace_points(a)
    return FlowSizeCDF.from_points(sizes, probs, name=f"paper_trace (tail index {a:.3f})")


def paper_trace(
    seed: int = 0,
    scale: float = 1.0,
    *,
    load_gbps: float = PAPER_TRACE_LOAD_GBPS,
    native_gbps: float = PAPER_TRACE_NATIVE_GBPS,
    burst: BurstModel | None = None,
) -> pl.DataFrame:
    """A workload with the statistics §9 states for the paper's trace, at ``scale``.

    What the paper states (§9, §9.1), and how this preset meets each (``tests/test_workloads.py``
    checks them at a small scale, ``benchmarks/bench_paper_trace.py`` at full scale):

    - 6.4M packets and 199K connections: ``round(199,000 * scale)`` flows, one per connection (the
      reverse direction of a connection is not modelled, so connections = flows), with
      :func:`paper_trace_cdf`'s 32.2 packets per flow (stratified sampling: the packet count is
      within a few % of 6.4M x scale).
    - median packet 1434 B: packets are cut at ``mtu = 1434`` B; 91 % of them belong to the flows
      above 10 KB and are full-size.
    - 5 % of flows above 10 KB: :func:`paper_trace_cdf`.
    - "we scale the trace files by reducing the packet inter-arrival times": the trace is made at
      ``native_gbps`` (default 1 Gbps: "the load of the collected traces was not high"), flows in
      trains of :class:`~snfkit.workloads.BurstModel` (``burst``, default ``BurstModel()``), then
      every inter-arrival time is divided by ``load_gbps / native_gbps``
      (:func:`snfkit.traces.transforms.speedup`), so gaps inside flows shrink with the load as in
      the paper's replay. ``load_gbps`` (default 5) is the mean offered load.

    What the paper does not state and this preset chooses: the shape of the flow sizes on either
    side of 10 KB (:func:`paper_trace_cdf`), the native rate and the trains (the defaults of
    :class:`BurstModel`), 10 % UDP flows, IPv4 addresses.
    """
    from snfkit.traces.transforms import speedup

    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
        raise ParameterError("scale", scale, "a number > 0")
    for name, v in (("load_gbps", load_gbps), ("native_gbps", native_gbps)):
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise ParameterError(name, v, "a finite number > 0")
    native = synthesize(
        paper_trace_cdf(),
        n_flows=max(1, round(PAPER_FLOWS * scale)),
        load_gbps=native_gbps,
        seed=seed,
        mtu=PAPER_MEDIAN_PACKET_BYTES,
        burst=BurstModel() if burst is None else burst,
        udp_fraction=0.1,
        stratified=True,
    )
    return speedup(native, load_gbps / native_gbps)


def small_demo(seed: int = 0) -> pl.DataFrame:
    """A small paper-like workload for the demo and notebooks: 3,100 flows, ~100K packets, 2.5 Gbps.

    Same shape as :func:`paper_like` (scale 3,100 / 199,000), at half its load so that the trace
    lasts about 0.45 s: four or five 100-ms epochs with two or three 1-Gbps units busy.
    """
    return paper_like(seed, 3_100 / PAPER_FLOWS, load_gbps=2.5)


__all__ = ["paper_like", "paper_like_cdf", "paper_trace", "paper_trace_cdf", "small_demo"]
