"""The knobs of the billing models, validated once (docs/billing.md has every formula)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from snfkit.errors import ParameterError


@dataclass(frozen=True)
class BillingOptions:
    """What the models assume besides the prices. Every field is checked on construction.

    platform: the function platform of ``per_packet``, ``per_flow``, ``per_flowlet`` and ``snf``:
        a service of the price table with ``.request`` and ``.duration`` rows (and optionally
        ``.vcpu``, ``.granularity``, ``.minimum``). Default ``aws_lambda_x86`` (1 ms rounding);
        ``aws_lambda_x86_2019`` is the same at 100 ms, Lambda's rounding before 2020-12-01.
    granularity_ms: billed durations round up to this (> 0); None: the platform's
        ``.granularity`` row (1 ms if it has none).
    memory_mb: the function's memory (> 0). Default 1,769 MB, where Lambda gives a whole vCPU (the
        replay's service times are one core's). GB-s = memory_mb / 1024 x seconds.
    vcpus: vCPUs billed per second where the platform prices them (``.vcpu`` row; Cloud Run).
    snf_busy_share: SNF's compute charge in [0, 1]: this share by busy time, the rest by bytes.
    snf_allocation_usd: SNF's per-flowlet charge for each work allocation (>= 0); None: the
        platform's per-request price.
    instance: the VM service (``.hour``, ``.granularity``, ``.minimum`` rows); one instance carries
        one unit (``unit_capacity_bps`` of the replay), and the provider's cost of a unit is derived
        from its price.
    unit_cost_share: the provider's cost of a unit-second as a share of the instance's list price
        per second (>= 0). No sourced figure: 1.0 (a unit costs the provider what the VM costs a
        user) is the default, so margins read as markups over renting the same machine.
    vm_hold_s: the autoscaled VM fleet keeps an instance at least this long once started (>= 0);
        None: the instance's billing minimum (it is paid for anyway).
    """

    platform: str = "aws_lambda_x86"
    granularity_ms: float | None = None
    memory_mb: float = 1769.0
    vcpus: float = 1.0
    snf_busy_share: float = 1.0
    snf_allocation_usd: float | None = None
    instance: str = "ec2_c5_large"
    unit_cost_share: float = 1.0
    vm_hold_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("platform", "instance"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v:
                raise ParameterError(name, v, "a service name of the price table")
        _number("granularity_ms", self.granularity_ms, low=0.0, strict=True, optional=True)
        _number("memory_mb", self.memory_mb, low=0.0, strict=True)
        _number("vcpus", self.vcpus, low=0.0)
        _number("snf_busy_share", self.snf_busy_share, low=0.0, high=1.0)
        _number("snf_allocation_usd", self.snf_allocation_usd, low=0.0, optional=True)
        _number("unit_cost_share", self.unit_cost_share, low=0.0)
        _number("vm_hold_s", self.vm_hold_s, low=0.0, optional=True)

    def with_changes(self, **changes: Any) -> BillingOptions:
        names = {f.name for f in fields(self)}
        for key in changes:
            if key not in names:
                raise ParameterError(key, changes[key], f"a billing option: {', '.join(names)}")
        return replace(self, **changes)


def billing_options(
    options: BillingOptions | Mapping[str, Any] | None = None, **changes: Any
) -> BillingOptions:
    """Options from a :class:`BillingOptions`, a dict of its fields, or None, plus ``changes``."""
    if options is None:
        base = BillingOptions()
    elif isinstance(options, BillingOptions):
        base = options
    elif isinstance(options, Mapping):
        base = BillingOptions().with_changes(**options)
    else:
        raise ParameterError("options", options, "a BillingOptions, a dict of its fields or None")
    return base.with_changes(**changes) if changes else base


def _number(
    name: str,
    value: Any,
    *,
    low: float,
    high: float | None = None,
    strict: bool = False,
    optional: bool = False,
) -> None:
    if value is None and optional:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if strict else value >= low) and (high is None or value <= high)
    if not ok:
        rng = f"{'>' if strict else '>='} {low:g}" + (
            f" and <= {high:g}" if high is not None else ""
        )
        raise ParameterError(
            name, value, f"a finite number {rng}" + (" or None" if optional else "")
        )
