"""Packet-level workload synthesis: flows from a size CDF, Poisson arrivals, trains of packets.

The model, step by step (all draws from ``numpy.random.default_rng(seed)``, in a fixed order):

1. **Flow sizes** (bytes at the IP layer) are drawn from the flow-size CDF
   (:class:`~snfkit.workloads.cdf.FlowSizeCDF`).
2. **Packetization**: a flow of S bytes becomes ``k = max(1, ceil(S / mtu))`` packets: ``k - 1`` of
   ``mtu`` bytes and a last one of ``S - (k - 1) * mtu`` bytes, raised to ``min_packet`` if smaller
   (so a flow's bytes are its size, rounded up to ``min_packet`` for its last packet).
   ``wire_len`` is that IP size.
3. **Arrivals**: flows arrive as a Poisson process. With ``duration_s`` the number of flows is
   Poisson(rate * duration) at ``rate = load / E[packetized flow bytes]`` (so the *expected* offered
   load is ``load_gbps``) and arrival times are uniform on [0, duration). With ``n_flows`` there are
   exactly that many flows, uniform on [0, D) (a Poisson process conditioned on its count) with
   ``D = (their total bytes * 8) / load``, so the *realized* mean load is exactly ``load_gbps``.
4. **Trains** (the burst model, :class:`BurstModel`): each flow sends its packets in trains. Each
   packet after a flow's first starts a new train with probability ``1 / train_packets_mean``
   (geometric train lengths). Inside a train, the gap before a packet is its serialization time at
   the flow's own rate (log-uniform in ``flow_rate_gbps``) times U[1 - jitter, 1 + jitter]; between
   trains the gap is log-normal with median ``train_gap_median_us`` and shape ``train_gap_sigma``.
   With the defaults, gaps inside trains stay below 100 us (packets up to 1500 B) and about 92% of
   the gaps between trains exceed 500 us, so flowlets at T = 100-500 us are mostly the trains (as
   in TCP traffic, whose windows leave a flow in bursts about one RTT apart).
5. **Wrap-around** (``wrap=True``, default): packets that fall at or after the end D are moved back
   by multiples of D (``ts mod D``), as if the trace were one period of a stationary process: every
   flow's bytes stay inside [0, D), the load is flat over the whole trace (no ramp-up at the start,
   no drain tail at the end), and long flows appear to be in progress when the trace starts. With
   ``wrap=False`` flows run to completion after D (the trace is longer than D and its load drops at
   the end).
6. **Addresses**: IPv4 addresses are uniform 32-bit values; a fraction ``ipv6_fraction`` of flows
   uses random addresses in 2001:db8::/32. Source ports are uniform in 1024-65535; destination ports
   are 443 (60%), 80 (20%) or uniform in 1-65535. A fraction ``udp_fraction`` of flows is UDP (17),
   the rest TCP (6). 5-tuples are distinct (duplicates are re-drawn), so flows = distinct 5-tuples.

The table is sorted by ``ts_ns`` (stable) and built with
:func:`snfkit.traces.table.packets_from_arrays` (flow ids in first-packet order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from os import PathLike

import numpy as np
import polars as pl

from snfkit.arguments import check_bool, check_int, check_number, check_seed
from snfkit.engine.flowkeys_nb import factorize_rows_nb
from snfkit.errors import ParameterError
from snfkit.traces.table import flow_keys, ipv4_to_rows, packets_from_arrays
from snfkit.workloads.cdf import FlowSizeCDF, load_distribution

TCP, UDP = 6, 17

MAX_PACKETS = 2**30
"""Most packets a synthetic workload may have (expected count; about 60 GB as a packets table): a
guard against a mistyped size (``scale=1e6``, ``duration_s=1e9``), which would otherwise end in a
MemoryError or the OOM killer after minutes."""
MAX_TS_NS = 2**62
"""Timestamps of a synthetic trace stay below this (146 years); burst models whose gaps would pass
it are refused rather than wrapped around int64."""


@dataclass(frozen=True)
class BurstModel:
    """How a flow spreads its packets in time (see the module docstring, step 4).

    train_packets_mean: mean packets per train (geometric), >= 1.
    train_gap_median_us: median gap between trains of one flow, microseconds (log-normal).
    train_gap_sigma: log-normal shape of the gaps between trains (>= 0; 0 = constant gap).
    flow_rate_gbps: (low, high) bounds of a flow's sending rate inside a train, Gbps, drawn
        log-uniform per flow; the gap before a packet is ``wire_len * 8 / rate`` ns (jittered).
    gap_jitter: the serialization gap is multiplied by U[1 - gap_jitter, 1 + gap_jitter], in [0, 1).

    Bounds that keep timestamps in int64: ``train_gap_median_us`` <= 1e9 (1,000 s),
    ``train_gap_sigma`` <= 10, flow rates in [1e-6, 1e6] Gbps.
    """

    train_packets_mean: float = 8.0
    train_gap_median_us: float = 2000.0
    train_gap_sigma: float = 1.0
    flow_rate_gbps: tuple[float, float] = (0.2, 2.0)
    gap_jitter: float = 0.5

    def __post_init__(self) -> None:
        checked = {
            "train_packets_mean": check_number("train_packets_mean", self.train_packets_mean, 1),
            "train_gap_median_us": check_number(
                "train_gap_median_us", self.train_gap_median_us, 0, 1e9, lo_open=True
            ),
            "train_gap_sigma": check_number("train_gap_sigma", self.train_gap_sigma, 0, 10),
            "gap_jitter": check_number("gap_jitter", self.gap_jitter, 0, 1, hi_open=True),
        }
        rates = self.flow_rate_gbps
        expected = "(low, high) Gbps, 1e-06 <= low <= high <= 1e+06"
        if isinstance(rates, str) or not hasattr(rates, "__len__") or len(rates) != 2:
            raise ParameterError("flow_rate_gbps", rates, expected)
        lo, hi = (check_number("flow_rate_gbps", r, 1e-6, 1e6) for r in rates)
        if lo > hi:
            raise ParameterError("flow_rate_gbps", rates, expected)
        checked["flow_rate_gbps"] = (lo, hi)
        for name, value in checked.items():  # plain floats, whatever numeric type was given
            object.__setattr__(self, name, value)


def packetize(
    flow_bytes: np.ndarray, mtu: int, min_packet: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split flows into packets: returns ``(packets_per_flow int64[F], flow_of_packet int64[P],
    wire_len int64[P])`` with packets of each flow contiguous and in order (step 2 of the model)."""
    s = np.asarray(flow_bytes, np.int64)
    k = np.maximum(1, -(-s // mtu))
    fidx = np.repeat(np.arange(s.size), k)
    wire = np.full(fidx.size, mtu, np.int64)
    last = np.cumsum(k) - 1
    wire[last] = np.maximum(s - (k - 1) * mtu, min_packet)
    return k, fidx, wire


def packetized_bytes(flow_bytes: np.ndarray, mtu: int, min_packet: int) -> np.ndarray:
    """Bytes a flow of ``flow_bytes`` puts on the wire after :func:`packetize` (vectorized)."""
    s = np.asarray(flow_bytes, np.int64)
    k = np.maximum(1, -(-s // mtu))
    return (k - 1) * mtu + np.maximum(s - (k - 1) * mtu, min_packet)


def _resolve(distribution: str | PathLike[str] | FlowSizeCDF) -> FlowSizeCDF:
    if isinstance(distribution, FlowSizeCDF):
        return distribution
    if not isinstance(distribution, str | PathLike):
        raise ParameterError(
            "distribution", distribution, "a shipped name, a CDF file path or a FlowSizeCDF"
        )
    return load_distribution(distribution)


def _check_packets(name: str, value: object, expected_packets: float) -> None:
    if not expected_packets <= MAX_PACKETS:
        raise ParameterError(
            name,
            value,
            f"a workload of at most {MAX_PACKETS:,} packets (this one: about "
            f"{expected_packets:.3g})",
        )


def _addresses(
    n: int, rng: np.random.Generator, ipv6_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    src = ipv4_to_rows(rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32))
    dst = ipv4_to_rows(rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32))
    v6 = np.flatnonzero(rng.random(n) < ipv6_fraction)
    if v6.size:
        for rows in (src, dst):
            rows[v6] = rng.integers(0, 256, (v6.size, 16), dtype=np.uint8)
            rows[v6, :4] = (0x20, 0x01, 0x0D, 0xB8)  # 2001:db8::/32 (documentation prefix)
    return src, dst


def _flow_tuples(n: int, rng: np.random.Generator, udp_fraction: float, ipv6_fraction: float):
    src, dst = _addresses(n, rng, ipv6_fraction)
    sport = rng.integers(1024, 65536, n)
    pick = rng.random(n)
    dport = np.where(pick < 0.6, 443, np.where(pick < 0.8, 80, rng.integers(1, 65536, n)))
    proto = np.where(rng.random(n) < udp_fraction, UDP, TCP)
    for _ in range(100):  # re-draw source ports of duplicate 5-tuples (rare)
        ids, first = factorize_rows_nb(flow_keys(src, dst, sport, dport, proto))
        dup = np.flatnonzero(first[ids] != np.arange(n))
        if dup.size == 0:
            break
        sport[dup] = rng.integers(1024, 65536, dup.size)
    else:  # pragma: no cover - needs astronomically many flows
        raise RuntimeError("could not draw distinct 5-tuples")
    return src, dst, sport.astype(np.uint16), dport.astype(np.uint16), proto.astype(np.uint8)


def synthesize(
    distribution: str | PathLike[str] | FlowSizeCDF,
    *,
    load_gbps: float,
    seed: int,
    duration_s: float | None = None,
    n_flows: int | None = None,
    mtu: int = 1500,
    min_packet: int = 64,
    burst: BurstModel | None = None,
    udp_fraction: float = 0.1,
    ipv6_fraction: float = 0.0,
    stratified: bool = False,
    wrap: bool = True,
) -> pl.DataFrame:
    """Synthesize a packets table (see the module docstring for the model).

    distribution: a shipped name (:func:`~snfkit.workloads.list_distributions`), a CDF file path,
        or a :class:`FlowSizeCDF`; flow sizes in bytes at the IP layer.
    load_gbps: mean offered load, Gbps (sum of wire_len * 8 over the duration).
    seed: seed of ``numpy.random.default_rng``; the same arguments give an identical table.
    duration_s / n_flows: exactly one of them: the arrival window in seconds (Poisson number of
        flows, expected load = target), or the number of flows (window chosen so that the realized
        load = target).
    mtu: largest packet, bytes at the IP layer (default 1500). min_packet: smallest packet, bytes.
    burst: the train model (:class:`BurstModel`; default ``BurstModel()``).
    udp_fraction / ipv6_fraction: share of flows that are UDP / IPv6, in [0, 1].
    stratified: stratified sampling of flow sizes (:meth:`FlowSizeCDF.sample`), which makes the
        packet count and load of a small workload follow the CDF closely.
    wrap: fold packets beyond the window back into it (step 5); False lets flows run past it.

    Every argument is checked (type and range) and a bad one raises
    :class:`~snfkit.errors.ParameterError` naming it; so does a workload expected to exceed
    :data:`MAX_PACKETS` packets, or one whose timestamps would pass :data:`MAX_TS_NS`.
    """
    cdf = _resolve(distribution)
    if burst is None:
        burst = BurstModel()
    elif not isinstance(burst, BurstModel):
        raise ParameterError("burst", burst, "a snfkit.workloads.BurstModel or None")
    if (duration_s is None) == (n_flows is None):
        raise ParameterError("duration_s/n_flows", (duration_s, n_flows), "exactly one of the two")
    load_gbps = check_number("load_gbps", load_gbps, 0, lo_open=True)
    seed = check_seed("seed", seed)
    mtu = check_int("mtu", mtu, 64, 65535)
    min_packet = check_int("min_packet", min_packet, 1, mtu)
    udp_fraction = check_number("udp_fraction", udp_fraction, 0, 1)
    ipv6_fraction = check_number("ipv6_fraction", ipv6_fraction, 0, 1)
    stratified = check_bool("stratified", stratified)
    wrap = check_bool("wrap", wrap)
    rng = np.random.default_rng(seed)

    def packets_per_flow(s: np.ndarray) -> np.ndarray:
        return np.maximum(1, -(-s // mtu))

    if n_flows is not None:
        n_flows = check_int("n_flows", n_flows, 1, MAX_PACKETS)
        _check_packets("n_flows", n_flows, n_flows * cdf.expect(packets_per_flow))
        sizes = cdf.sample(n_flows, rng, stratified=stratified)
        total = int(packetized_bytes(sizes, mtu, min_packet).sum())
        window_ns = total * 8.0 / load_gbps
    else:
        duration_s = check_number("duration_s", duration_s, 0, lo_open=True)
        window_ns = duration_s * 1e9
        mean_bytes = cdf.expect(lambda s: packetized_bytes(s, mtu, min_packet))
        lam = load_gbps * window_ns / (8.0 * mean_bytes)
        _check_packets("duration_s", duration_s, lam * cdf.expect(packets_per_flow))
        n = int(rng.poisson(lam))
        sizes = cdf.sample(n, rng, stratified=stratified)
    if not window_ns < MAX_TS_NS:
        name, value = ("load_gbps", load_gbps) if duration_s is None else ("duration_s", duration_s)
        raise ParameterError(name, value, f"an arrival window below {MAX_TS_NS} ns (146 years)")
    n = sizes.size
    arrivals = rng.uniform(0.0, window_ns, n)

    k, fidx, wire = packetize(sizes, mtu, min_packet)
    p_total = fidx.size
    first = np.cumsum(k) - k  # index of each flow's first packet
    lo, hi = burst.flow_rate_gbps
    rate = np.exp(rng.uniform(math.log(lo), math.log(hi), n))  # Gbps = bits per ns
    jitter = rng.uniform(1.0 - burst.gap_jitter, 1.0 + burst.gap_jitter, p_total)
    gaps = wire * 8.0 / rate[fidx] * jitter  # ns, serialization at the flow's rate
    new_train = rng.random(p_total) < 1.0 / burst.train_packets_mean
    new_train[first] = False
    n_trains = int(new_train.sum())
    gaps[new_train] = rng.lognormal(
        math.log(burst.train_gap_median_us * 1e3), burst.train_gap_sigma, n_trains
    )
    gaps[first] = 0.0
    span = float(np.max(arrivals, initial=0.0)) + float(np.sum(gaps))
    if not span < MAX_TS_NS:  # a flow's gaps add up; their sum over all flows bounds each one
        raise ParameterError(
            "burst", burst, f"gaps that keep timestamps below {MAX_TS_NS} ns (146 years)"
        )
    steps = np.rint(gaps).astype(np.int64)
    csum = np.cumsum(steps)
    offsets = csum - csum[first][fidx]
    ts = np.rint(arrivals).astype(np.int64)[fidx] + offsets
    if wrap:
        period = max(math.ceil(window_ns), 1)
        ts %= period

    src, dst, sport, dport, proto = _flow_tuples(n, rng, udp_fraction, ipv6_fraction)
    order = np.argsort(ts, kind="stable")
    f = fidx[order]
    return packets_from_arrays(ts[order], src[f], dst[f], sport[f], dport[f], proto[f], wire[order])


__all__ = ["BurstModel", "packetize", "packetized_bytes", "synthesize"]
