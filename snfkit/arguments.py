"""Checks of the public API's arguments: the right type and range, or a ParameterError.

Integers accept Python and numpy integers; numbers also accept floats. A bool is refused wherever
a number is expected (``True`` is an ``int`` to Python, never a count to snfkit), and so are
strings, None and non-finite numbers. A flag takes only ``True`` or ``False`` (``strict="no"``
would otherwise be true). Each check returns the value as a plain Python int, float or bool, so
that a numpy scalar or a huge int never reaches numpy or a kernel unchecked.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from snfkit.errors import ParameterError


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" {'>' if lo_open else '>='} {lo:,}"
    if lo is None:
        return f" {'<' if hi_open else '<='} {hi:,}"
    return f" in {'(' if lo_open else '['}{lo:,}, {hi:,}{')' if hi_open else ']'}"


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int in [lo, hi] (either bound may be None: unbounded)."""
    expected = "an integer" + _interval(lo, hi, False, False)
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ParameterError(name, value, expected)
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ParameterError(name, value, expected)
    return v


def check_number(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """``value`` as a finite float in the interval from lo to hi (open ends where asked)."""
    expected = "a finite number" + _interval(lo, hi, lo_open, hi_open)
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise ParameterError(name, value, expected)
    try:
        v = float(value)
    except OverflowError:  # an int beyond float range
        raise ParameterError(name, value, expected) from None
    if not math.isfinite(v):
        raise ParameterError(name, value, expected)
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ParameterError(name, value, expected)
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise ParameterError(name, value, expected)
    return v


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool; only ``True`` / ``False`` (or numpy's) are accepted."""
    if not isinstance(value, bool | np.bool_):
        raise ParameterError(name, value, "True or False")
    return bool(value)


def check_seed(name: str, value: Any) -> int:
    """A seed for ``numpy.random.default_rng``: an integer >= 0 (any size)."""
    return check_int(name, value, 0)


def check_progress(name: str, value: Any) -> Any:
    """A ``progress`` argument: False / None (silent), True (a bar) or a ``(done, total)`` callable."""
    if value is None or isinstance(value, bool | np.bool_):
        return bool(value)
    if callable(value):
        return value
    raise ParameterError(name, value, "True, False or a callable (done, total)")


__all__ = ["check_bool", "check_int", "check_number", "check_progress", "check_seed"]
