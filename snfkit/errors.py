"""Exceptions and warnings raised by snfkit.

Every error about bad input names *where* (file and byte offset, or row and column, or parameter)
and *what was expected*, so a user can fix the input without reading snfkit's source.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike


class SnfkitError(Exception):
    """Base class of snfkit's own errors."""


class TraceFormatError(SnfkitError, ValueError):
    """A trace file does not have the structure its format requires.

    Attributes: ``path`` (the file), ``offset`` (byte offset in the *decompressed* stream, or None),
    ``expected`` (what the reader expected there), ``found`` (what it found, or None).
    """

    def __init__(
        self,
        path: str | PathLike[str] | None,
        offset: int | None,
        expected: str,
        found: str | None = None,
        *,
        where: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.offset = offset
        self.expected = expected
        self.found = found
        parts = [self.path or "<memory>"]
        if where is not None:
            parts.append(where)
        elif offset is not None:
            parts.append(f"byte offset {offset}")
        msg = ": ".join(parts) + f": expected {expected}"
        if found is not None:
            msg += f", found {found}"
        super().__init__(msg)


class SchemaError(TraceFormatError):
    """A table trace (CSV or parquet) lacks a column or has one of the wrong type.

    ``where`` names the column (and the row, when one row is at fault).
    """


class ParameterError(SnfkitError, ValueError):
    """A parameter is out of its allowed range. Names the parameter, the value and the range."""

    def __init__(self, name: str, value: object, allowed: str) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(f"parameter {name}={value!r} is invalid: expected {allowed}")


class ConfigError(SnfkitError, ValueError):
    """A study configuration (``sweeps/*.toml``) is invalid. Names the file and the key.

    Attributes: ``source`` (the file, or ``<dict>``), ``key`` (dotted, e.g. ``search.alpha.low``),
    ``problem`` (what is wrong and what was expected).
    """

    def __init__(self, source: str | PathLike[str] | None, key: str, problem: str) -> None:
        self.source = "<dict>" if source is None else str(source)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.source}: {key}: {problem}")


class PriceTableError(ConfigError):
    """A price table (``snfkit/billing/data/prices.csv`` or a user's) is invalid.

    ``key`` names the row and the field: ``line 7 (aws_gwlb.hour).unit`` in a CSV file (line 1 is
    the header), ``row 3 (...)`` in a table given in memory, or ``column price`` for a whole column.
    """


class SkippedPacketsWarning(UserWarning):
    """Some records were skipped on ingest; the message lists the count per reason."""


class NoPayloadWarning(UserWarning):
    """An NF that reads payload (the IDS) runs over a packets table without a ``payload`` column."""


def format_skips(skipped: Mapping[str, int]) -> str:
    """``{'non_ip': 3, 'truncated': 1}`` -> ``'non_ip: 3, truncated: 1'`` (zeros left out)."""
    return ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items()) if v)


class MissingExtraError(SnfkitError, ImportError):
    """A feature needs an optional part of snfkit that is not installed. Names the feature, the
    missing module and the extra that installs it (``pip install 'snfkit[export]'``)."""

    def __init__(self, feature: str, module: str, extra: str) -> None:
        self.feature = feature
        self.module = module
        self.extra = extra
        super().__init__(
            f"{feature} needs the {module} package, from snfkit's {extra!r} extra: "
            f"pip install 'snfkit[{extra}]' (or pip install -e '.[{extra}]' in a clone)"
        )
