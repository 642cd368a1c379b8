"""Billing models and cost: what a replay's traffic would cost its user and its provider.

- :mod:`~snfkit.billing.prices`: price tables with a source and date per row (:func:`load_prices`;
  the shipped one is ``data/prices.csv``).
- :mod:`~snfkit.billing.options`: :class:`BillingOptions` (platform, rounding, memory, SNF's mix,
  the VM, the provider's cost share).
- :mod:`~snfkit.billing.usage`: :class:`Usage`, what a :class:`~snfkit.results.Results` used.
- :mod:`~snfkit.billing.models`: the models (:data:`MODELS`, :func:`register_model`).
- :mod:`~snfkit.billing.compare`: :func:`compare` (one row per run and model), :func:`bill`.

docs/billing.md gives every formula. Charts: :mod:`snfkit.charts.billing`.
"""

from snfkit.billing.compare import (
    COLUMNS,
    SCALES,
    bill,
    compare,
    native_bill,
    native_model,
    pivot,
)
from snfkit.billing.models import (
    COMPONENTS,
    GROUPS,
    MODELS,
    NATIVE_MODELS,
    Bill,
    BillingContext,
    register_model,
)
from snfkit.billing.options import BillingOptions
from snfkit.billing.prices import Prices, default_prices_path, load_prices
from snfkit.billing.usage import Usage

__all__ = [
    "COLUMNS",
    "COMPONENTS",
    "GROUPS",
    "MODELS",
    "NATIVE_MODELS",
    "SCALES",
    "Bill",
    "BillingContext",
    "BillingOptions",
    "Prices",
    "Usage",
    "bill",
    "compare",
    "default_prices_path",
    "load_prices",
    "native_bill",
    "native_model",
    "pivot",
    "register_model",
]
