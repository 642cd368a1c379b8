"""Billing models: what a replay's traffic would cost its user, and what it costs the provider.

Every model is one function ``model(ctx: BillingContext) -> Bill`` registered in :data:`MODELS`
(:func:`register_model` adds one). A :class:`Bill` holds the user's charges by component and the
unit-seconds the provider runs; :func:`snfkit.billing.compare` prices the latter and tabulates both.
docs/billing.md gives every formula; in short (g: the granularity, ceil_g(t): t rounded up to a
multiple of g and at least the platform's minimum; GBs: memory_mb / 1024 x seconds):

- ``per_packet``: an invocation per packet, billed ceil_g(service + state wait): requests x fee +
  sum(billed) x GBs price.
- ``per_flow``: an invocation per flow, billed ceil_g(first arrival -> close), idle gaps included.
- ``per_flowlet``: an invocation per flowlet, billed ceil_g(first arrival -> close).
- ``snf``: busy time x GBs price x ``snf_busy_share`` + bytes x the derived per-GB price x
  (1 - share) + allocations x ``snf_allocation_usd``.
- ``vm`` / ``vm_autoscaled``: instances billed per second with the minimum; peak or autoscaled.
- ``managed_nat_gateway`` / ``managed_network_firewall``: hourly x duration + GB x per-GB price.
- ``managed_gwlb``: GWLB hourly x duration + GLCU-hours x price + an autoscaled appliance fleet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import polars as pl

from snfkit.billing.options import BillingOptions
from snfkit.billing.prices import Prices
from snfkit.billing.usage import Usage
from snfkit.errors import ParameterError

COMPONENTS = ("requests_usd", "duration_usd", "per_flowlet_usd", "hourly_usd", "per_gb_usd")
"""The parts of a user's bill, in the order the comparison table shows them."""


@dataclass(frozen=True)
class Bill:
    """A user's charges by component (USD) and what the provider runs.

    ``provider_unit_s``: unit-seconds the provider runs for this traffic (the replay's unit
    lifetimes, or the VM fleet's instance lifetimes unrounded); ``invocations``: function
    invocations, or VM instances started; ``billed_s``: billed function- or instance-seconds.
    """

    requests_usd: float = 0.0
    duration_usd: float = 0.0
    per_flowlet_usd: float = 0.0
    hourly_usd: float = 0.0
    per_gb_usd: float = 0.0
    provider_unit_s: float = 0.0
    invocations: float = 0.0
    billed_s: float = 0.0

    @property
    def user_usd(self) -> float:
        return sum(getattr(self, c) for c in COMPONENTS)


class BillingContext(NamedTuple):
    """A model's one argument. ``extrapolating``: the bill will be scaled to a longer time, so VM
    instances are billed for their exact lifetimes (a fleet running for a month is not restarted
    at every repetition of the trace, so per-start minimums and rounding do not recur)."""

    usage: Usage
    prices: Prices
    options: BillingOptions
    extrapolating: bool = False


Model = Callable[[BillingContext], Bill]


@dataclass(frozen=True)
class BillingModel:
    name: str
    func: Model
    doc: str


MODELS: dict[str, BillingModel] = {}
"""Name -> :class:`BillingModel`, in the order the comparison table lists them."""

GROUPS = {
    "managed": ("managed_nat_gateway", "managed_network_firewall", "managed_gwlb"),
    "serverless": ("per_packet", "per_flow", "per_flowlet", "snf"),
}
"""Names that select several models at once (``--model managed``)."""

NATIVE_MODELS = {
    "packet": "per_packet",
    "flow": "per_flow",
    "smart_flow": "per_flow",
    "flowlet": "snf",
}
"""The model each allocation mode bills by on a serverless platform (the metrics use it)."""


def register_model(name: str, func: Model, doc: str = "") -> BillingModel:
    """Add (or replace) a billing model; ``func(ctx) -> Bill``."""
    if not name.isidentifier():
        raise ValueError(f"model name {name!r} must be a Python identifier")
    model = BillingModel(name, func, doc or (func.__doc__ or "").strip().split("\n")[0])
    MODELS[name] = model
    return model


def resolve_models(models: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Model names (groups expanded, order kept, duplicates dropped); None: every model."""
    if models is None:
        return list(MODELS)
    names = [models] if isinstance(models, str) else list(models)
    out: list[str] = []
    for name in names:
        for n in GROUPS.get(name, (name,)):
            if n not in MODELS:
                known = ", ".join([*MODELS, *GROUPS])
                raise ParameterError("models", name, f"one of {known}")
            if n not in out:
                out.append(n)
    return out


# -- the function platform ---------------------------------------------------------------------


class Platform(NamedTuple):
    """A function platform's prices in canonical units, and its rounding in ns."""

    name: str
    request_usd: float
    second_usd: float  # per second of one invocation at the configured memory and vCPUs
    granularity_ns: int
    minimum_ns: int


def platform(ctx: BillingContext) -> Platform:
    """The configured function platform (``options.platform``) from the price table."""
    prices, opts = ctx.prices, ctx.options
    name = opts.platform
    who = f"the function platform {name!r}"
    request = prices.value(f"{name}.request", who)
    gbs = prices.value(f"{name}.duration", who)
    per_second = gbs * opts.memory_mb / 1024 + prices.get(f"{name}.vcpu", 0.0) * opts.vcpus
    g_s = (
        opts.granularity_ms / 1e3
        if opts.granularity_ms is not None
        else prices.get(f"{name}.granularity", 1e-3)
    )
    granularity_ns = max(1, round(g_s * 1e9))
    minimum_ns = round(prices.get(f"{name}.minimum", 0.0) * 1e9)
    return Platform(name, request, per_second, granularity_ns, minimum_ns)


def billed_total_ns(durations_ns: np.ndarray, p: Platform) -> int:
    """The sum of the durations each rounded up to the granularity (a duration <= 0 to none) and
    at least the platform's minimum. Durations within one granule, most of them, bill one granule
    without a division (numpy's integer division is slow)."""
    g, least = p.granularity_ns, p.minimum_ns
    small = durations_ns <= g
    big = durations_ns[~small]
    zeros = int(np.count_nonzero(durations_ns <= 0))
    ones = int(np.count_nonzero(small)) - zeros
    rest = int(np.maximum((big + (g - 1)) // g * g, least).sum())
    return ones * max(g, least) + zeros * least + rest


def replay_unit_s(ctx: BillingContext) -> float:
    """Unit-seconds of the replay's units: whole lifetimes, or, when extrapolating, their part
    within the trace (the trace repeats back to back, so units alive after its last arrival are
    the next repetition's)."""
    u = ctx.usage
    return u.unit_s_in_trace if ctx.extrapolating else u.unit_s


def _invocations(ctx: BillingContext, durations_ns: np.ndarray) -> Bill:
    """A function invocation per entry of ``durations_ns``, each billed rounded up."""
    p = platform(ctx)
    billed_ns = billed_total_ns(durations_ns, p)
    n = durations_ns.shape[0]
    return Bill(
        requests_usd=n * p.request_usd,
        duration_usd=billed_ns / 1e9 * p.second_usd,
        provider_unit_s=replay_unit_s(ctx),
        invocations=n,
        billed_s=billed_ns / 1e9,
    )


# -- the models --------------------------------------------------------------------------------


def per_packet(ctx: BillingContext) -> Bill:
    """A function invocation per packet, billed for its busy time (service + state wait)."""
    busy = ctx.usage.packet_busy_ns()
    if busy is not None:
        return _invocations(ctx, busy)
    # Without per-packet rows: exact when no packet can round to more than one granule. A packet's
    # busy time is > 0 (service >= 1 ns) and <= its latency, so a largest latency within one
    # granule means every packet bills exactly one granule (or the minimum).
    p = platform(ctx)
    u = ctx.usage
    if u.max_latency_ns > p.granularity_ns:
        raise ParameterError(
            "keep_packets",
            False,
            f"True for per_packet billing at {p.granularity_ns / 1e6:g} ms rounding: the replay's "
            f"largest latency ({u.max_latency_ns / 1e3:g} us) exceeds one granule, so each "
            "packet's billed duration needs its per-packet row (service_ns, state_wait_ns)",
        )
    each_ns = max(p.granularity_ns, p.minimum_ns)
    return Bill(
        requests_usd=u.packets * p.request_usd,
        duration_usd=u.packets * each_ns / 1e9 * p.second_usd,
        provider_unit_s=replay_unit_s(ctx),
        invocations=u.packets,
        billed_s=u.packets * each_ns / 1e9,
    )


def per_flow(ctx: BillingContext) -> Bill:
    """A function invocation per flow, billed from its first packet to its close (idle included)."""
    return _invocations(ctx, ctx.usage.flow_invocations["duration_ns"].to_numpy())


def per_flowlet(ctx: BillingContext) -> Bill:
    """A function invocation per flowlet, billed from its first packet to its close."""
    return _invocations(ctx, ctx.usage.flowlet_invocations["duration_ns"].to_numpy())


def snf(ctx: BillingContext) -> Bill:
    """SNF: packet processing (by busy time and/or bytes) + a charge per work allocation."""
    p = platform(ctx)
    u, opts = ctx.usage, ctx.options
    share = opts.snf_busy_share
    per_gb = p.second_usd / (u.capacity_bps / 8e9)  # a unit busy at capacity pays per GB
    fee = p.request_usd if opts.snf_allocation_usd is None else opts.snf_allocation_usd
    return Bill(
        duration_usd=share * u.busy_s * p.second_usd,
        per_gb_usd=(1.0 - share) * u.gigabytes * per_gb,
        per_flowlet_usd=u.allocations * fee,
        provider_unit_s=replay_unit_s(ctx),
        invocations=u.allocations,
        billed_s=u.busy_s,
    )


class Instance(NamedTuple):
    name: str
    second_usd: float
    granularity_s: float
    minimum_s: float


def instance(ctx: BillingContext) -> Instance:
    """The configured VM (``options.instance``): its price per second and billing rounding."""
    name = ctx.options.instance
    who = f"the instance {name!r}"
    return Instance(
        name,
        ctx.prices.value(f"{name}.hour", who),
        ctx.prices.get(f"{name}.granularity", 1.0),
        ctx.prices.get(f"{name}.minimum", 0.0),
    )


def _fleet(ctx: BillingContext, lifetimes_s: pl.Series) -> Bill:
    """VM instances with these lifetimes, billed per started granule with the minimum (or for
    their exact lifetimes when extrapolating)."""
    vm = instance(ctx)
    exact = float(lifetimes_s.sum())
    if ctx.extrapolating:
        billed = exact
    else:
        g = vm.granularity_s
        billed = float(
            pl.select(
                pl.max_horizontal((lifetimes_s / g - 1e-9).ceil() * g, pl.lit(vm.minimum_s)).sum()
            ).item()
        )
    return Bill(
        hourly_usd=billed * vm.second_usd,
        provider_unit_s=exact,
        invocations=lifetimes_s.len(),
        billed_s=billed,
    )


def _hold_ns(ctx: BillingContext) -> int:
    hold = ctx.options.vm_hold_s
    return round((instance(ctx).minimum_s if hold is None else hold) * 1e9)


def vm(ctx: BillingContext) -> Bill:
    """VMs that carry the replay's peak epoch for the whole trace."""
    peak, _ = ctx.usage.vm_fleet(_hold_ns(ctx))
    return _fleet(ctx, pl.Series([ctx.usage.duration_s] * peak, dtype=pl.Float64))


def vm_autoscaled(ctx: BillingContext) -> Bill:
    """VMs that follow each epoch's offered load, kept at least their minimum once started."""
    _, lives = ctx.usage.vm_fleet(_hold_ns(ctx))
    return _fleet(ctx, lives["lifetime_ns"].cast(pl.Float64) / 1e9)


def _managed(service: str) -> Model:
    def model(ctx: BillingContext) -> Bill:
        u = ctx.usage
        who = f"the managed service {service!r}"
        return Bill(
            hourly_usd=ctx.prices.value(f"{service}.hour", who) * u.duration_s,
            per_gb_usd=ctx.prices.value(f"{service}.data", who) * u.gigabytes,
            provider_unit_s=replay_unit_s(ctx),
        )

    return model


def managed_gwlb(ctx: BillingContext) -> Bill:
    """AWS Gateway Load Balancer in front of an autoscaled appliance fleet (the NF runs on VMs)."""
    u, prices = ctx.usage, ctx.prices
    who = "the managed service 'aws_gwlb'"
    gb_per_s = prices.value("aws_gwlb.capacity_unit_gb", who)
    conn_per_s = prices.value("aws_gwlb.capacity_unit_connections", who)
    flows = u.flow_invocations.height
    # A GLCU-second per (1 GLCU's GB per second) of bytes, or per (its connections per second)
    # of new flows; the larger dimension is billed. Over the trace this does not depend on its
    # duration: GLCU-seconds = max(GB / gb_per_s, flows / conn_per_s).
    glcu_s = max(u.gigabytes / gb_per_s, flows / conn_per_s) if u.packets else 0.0
    fleet = vm_autoscaled(ctx)
    return Bill(
        hourly_usd=prices.value("aws_gwlb.hour", who) * u.duration_s + fleet.hourly_usd,
        per_gb_usd=prices.value("aws_gwlb.capacity_unit", who) * glcu_s,
        provider_unit_s=fleet.provider_unit_s,
        invocations=fleet.invocations,
        billed_s=fleet.billed_s,
    )


register_model("per_packet", per_packet)
register_model("per_flow", per_flow)
register_model("per_flowlet", per_flowlet)
register_model("snf", snf)
register_model("vm", vm)
register_model("vm_autoscaled", vm_autoscaled)
register_model(
    "managed_nat_gateway", _managed("aws_nat_gateway"), "AWS NAT Gateway: hourly + per GB"
)
register_model(
    "managed_network_firewall",
    _managed("aws_network_firewall"),
    "AWS Network Firewall: endpoint-hours + per GB",
)
register_model("managed_gwlb", managed_gwlb)

__all__ = [
    "COMPONENTS",
    "GROUPS",
    "MODELS",
    "NATIVE_MODELS",
    "Bill",
    "BillingContext",
    "BillingModel",
    "register_model",
    "resolve_models",
]
