"""Price tables: prices are data, each row with its source and date.

A table has one row per price, columns ``item, price, unit, source, date`` (required, non-empty) and
``note`` (optional). ``item`` is ``<service>.<dimension>``; the dimension fixes the units a price may
be given in (:data:`DIMENSIONS`), and :class:`Prices` stores every price converted to the
dimension's canonical unit (``value``), so models never convert units themselves.

The shipped table is ``snfkit/billing/data/prices.csv`` (see the README beside it). A user's table
(:func:`load_prices` with a path or a polars DataFrame) is checked the same way: a missing column, an
empty required field, a duplicate item, an unknown dimension or unit, a price that is not a finite
number >= 0 (a granularity must be > 0), or a malformed date raises
:class:`~snfkit.errors.PriceTableError` naming the line (or row), the item and the field.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path

import polars as pl

from snfkit.errors import ParameterError, PriceTableError

COLUMNS = ("item", "price", "unit", "source", "date", "note")
REQUIRED = ("item", "price", "unit", "source", "date")

HOUR_S = 3600.0

DIMENSIONS: dict[str, tuple[str, dict[str, float]]] = {
    "request": ("USD/request", {"USD/request": 1.0, "USD/M requests": 1e-6}),
    "duration": ("USD/GB-s", {"USD/GB-s": 1.0, "USD/GiB-s": 1.0}),
    "vcpu": ("USD/vCPU-s", {"USD/vCPU-s": 1.0, "USD/vCPU-hour": 1 / HOUR_S}),
    "granularity": ("s", {"s": 1.0, "ms": 1e-3}),
    "minimum": ("s", {"s": 1.0, "ms": 1e-3}),
    "hour": ("USD/s", {"USD/hour": 1 / HOUR_S, "USD/s": 1.0}),
    "data": ("USD/GB", {"USD/GB": 1.0}),
    "capacity_unit": ("USD/capacity-unit-s", {"USD/GLCU-hour": 1 / HOUR_S}),
    "capacity_unit_gb": ("GB/s", {"GB/hour": 1 / HOUR_S}),
    "capacity_unit_connections": ("connections/s", {"connections/s": 1.0}),
}
"""Dimension -> (canonical unit, {accepted unit: factor to the canonical unit}). ``GB`` in
``GB-s`` is memory in MB / 1024, as AWS and Google count it, so ``USD/GiB-s`` is the same unit."""

POSITIVE = ("granularity", "capacity_unit_gb", "capacity_unit_connections")
"""Dimensions whose value must be > 0 (they divide); every other price must be >= 0."""

_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_ITEM = re.compile(r"[A-Za-z0-9_]+\.[A-Za-z0-9_]+")

DEFAULT_TABLE = "prices.csv"


@dataclass(frozen=True)
class Prices:
    """A validated price table. ``table`` has the input columns plus ``dimension`` and ``value``
    (the price in the dimension's canonical unit); ``source`` names where it came from."""

    table: pl.DataFrame
    source: str

    def __post_init__(self) -> None:
        values = dict(zip(self.table["item"], self.table["value"], strict=True))
        object.__setattr__(self, "_values", values)

    def has(self, item: str) -> bool:
        return item in self._values  # type: ignore[attr-defined]

    def value(self, item: str, needed_by: str = "") -> float:
        """The price of ``item`` in its canonical unit; a clear error when the table lacks it."""
        try:
            return self._values[item]  # type: ignore[attr-defined]
        except KeyError:
            who = f" (needed by {needed_by})" if needed_by else ""
            raise ParameterError(
                "prices", self.source, f"a price table with a row for {item!r}{who}"
            ) from None

    def get(self, item: str, default: float) -> float:
        return self._values.get(item, default)  # type: ignore[attr-defined]

    def services(self) -> list[str]:
        """Service names (the part of ``item`` before the dot), in table order."""
        return list(dict.fromkeys(i.split(".", 1)[0] for i in self.table["item"]))

    def __repr__(self) -> str:
        return f"Prices({self.source!r}, {self.table.height} rows)"


def default_prices_path() -> Path:
    """Path of the shipped table, ``snfkit/billing/data/prices.csv``."""
    return Path(str(resources.files("snfkit.billing") / "data" / DEFAULT_TABLE))


def load_prices(prices: str | PathLike[str] | pl.DataFrame | Prices | None = None) -> Prices:
    """A validated :class:`Prices`: the shipped table (None), a CSV file, or a DataFrame with the
    same columns. A :class:`Prices` is returned as is."""
    if isinstance(prices, Prices):
        return prices
    if prices is None:
        return _load_csv(default_prices_path())
    if isinstance(prices, pl.DataFrame):
        rows = [{k: None if v is None else str(v) for k, v in r.items()} for r in prices.to_dicts()]
        return _validate(prices.columns, rows, "<table>", first_row=1, row_word="row")
    if isinstance(prices, str | PathLike):
        return _load_csv(Path(prices))
    raise ParameterError(
        "prices", type(prices).__name__, "None, a CSV path, a polars DataFrame or a Prices"
    )


def _load_csv(path: Path) -> Prices:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise PriceTableError(path, "<file>", f"cannot read it as UTF-8 text: {why}") from None
    reader = csv.reader(io.StringIO(text))
    lines = [row for row in reader if any(cell.strip() for cell in row)]
    if not lines:
        raise PriceTableError(path, "<file>", f"empty; expected a header {','.join(COLUMNS)}")
    header = [c.strip() for c in lines[0]]
    rows = []
    for i, cells in enumerate(lines[1:]):
        if len(cells) > len(header):
            raise PriceTableError(
                path, f"line {i + 2}", f"{len(cells)} fields for {len(header)} columns"
            )
        rows.append(dict(zip(header, cells, strict=False)))
    return _validate(header, rows, str(path), first_row=2, row_word="line")


def _validate(
    columns: list[str], rows: list[dict], source: str, *, first_row: int, row_word: str
) -> Prices:
    for col in REQUIRED:
        if col not in columns:
            raise PriceTableError(
                source, f"column {col}", f"missing; a price table has columns {', '.join(COLUMNS)}"
            )
    extra = [c for c in columns if c not in COLUMNS]
    if extra:
        raise PriceTableError(
            source, f"column {extra[0]}", f"unknown; expected only {', '.join(COLUMNS)}"
        )
    seen: dict[str, int] = {}
    out = []
    for i, row in enumerate(rows):
        where = f"{row_word} {i + first_row}"
        item = (row.get("item") or "").strip()
        label = f"{where} ({item})" if item else where
        for col in REQUIRED:
            if not (row.get(col) or "").strip():
                raise PriceTableError(source, f"{label}.{col}", "empty; every row needs it")
        if not _ITEM.fullmatch(item):
            raise PriceTableError(
                source, f"{where}.item", f"{item!r}: expected <service>.<dimension>"
            )
        if item in seen:
            raise PriceTableError(
                source, f"{label}.item", f"appears twice (also {row_word} {seen[item]})"
            )
        seen[item] = i + first_row
        dimension = item.split(".", 1)[1]
        if dimension not in DIMENSIONS:
            raise PriceTableError(
                source,
                f"{label}.item",
                f"unknown price dimension {dimension!r}; expected one of {', '.join(DIMENSIONS)}",
            )
        canonical, units = DIMENSIONS[dimension]
        unit = row["unit"].strip()
        if unit not in units:
            raise PriceTableError(
                source,
                f"{label}.unit",
                f"unknown unit {unit!r} for a {dimension} price; expected one of "
                f"{', '.join(units)}",
            )
        raw = row["price"].strip()
        try:
            price = float(raw)
        except ValueError:
            price = math.nan
        floor = "> 0" if dimension in POSITIVE else ">= 0"
        bad = not math.isfinite(price) or price < 0 or (dimension in POSITIVE and price == 0)
        if bad:
            raise PriceTableError(source, f"{label}.price", f"{raw!r}: expected a number {floor}")
        date = row["date"].strip()
        if not _DATE.fullmatch(date):
            raise PriceTableError(
                source, f"{label}.date", f"{date!r}: expected YYYY, YYYY-MM or YYYY-MM-DD"
            )
        out.append(
            {
                "item": item,
                "price": price,
                "unit": unit,
                "source": row["source"].strip(),
                "date": date,
                "note": (row.get("note") or "").strip(),
                "dimension": dimension,
                "value": price * units[unit],
                "value_unit": canonical,
            }
        )
    schema = {
        "item": pl.String,
        "price": pl.Float64,
        "unit": pl.String,
        "source": pl.String,
        "date": pl.String,
        "note": pl.String,
        "dimension": pl.String,
        "value": pl.Float64,
        "value_unit": pl.String,
    }
    return Prices(pl.DataFrame(out, schema=schema), source)
