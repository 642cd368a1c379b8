"""One altair theme for every snfkit chart, and fixed colours per allocation mode and state mode.

Importing :mod:`snfkit.charts` registers the theme under :data:`THEME` and enables it (so charts
shown in a notebook look like the exported files); ``alt.theme.enable('default')`` goes back to
altair's own. The export helpers (:mod:`snfkit.charts.export`) always render with it.

Registering also lifts altair's 5,000-row limit of the ``default`` data transformer to
:data:`MAX_ROWS` (a long trace has thousands of epochs per mode), unless another transformer is
active.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

THEME = "snfkit"

MAX_ROWS = 200_000
"""Rows a chart may embed (altair's default transformer stops at 5,000)."""

FONT = "Helvetica Neue, Helvetica, Arial, sans-serif"

PALETTE = ["#1f5aa6", "#e07b00", "#2a9d4b", "#c0392b", "#7b4fa0", "#8c6d31", "#d45087", "#5a6270"]
"""Categorical colours, in order (blue, orange, green, red, purple, brown, pink, grey)."""

KNOWN_COLORS: dict[str, str] = {
    # allocation modes (Figs 1-3)
    "flowlet": "#1f5aa6",
    "flow": "#c0392b",
    "smart_flow": "#e07b00",
    "smart_flow (100 ms)": "#e07b00",
    "smart_flow (50 ms)": "#f2b134",
    "packet": "#7b4fa0",
    # state modes (Fig 4)
    "proactive": "#1f5aa6",
    "reactive": "#e07b00",
    "external": "#c0392b",
    "local": "#2a9d4b",
    # provisioning series (Fig 1)
    "demand": "#5a6270",
    "provisioned": "#1f5aa6",
}
"""Labels that always get the same colour, whichever chart they appear in."""


def color_scale(labels: Iterable[str]) -> dict[str, Any]:
    """``alt.Scale`` keyword arguments (domain, range) that give known labels their fixed colour and
    the others palette colours, in the order given."""
    domain = list(dict.fromkeys(labels))
    spare = [c for c in PALETTE if c not in {KNOWN_COLORS.get(x) for x in domain}]
    rng = []
    for label in domain:
        if label in KNOWN_COLORS:
            rng.append(KNOWN_COLORS[label])
        else:
            rng.append(spare.pop(0) if spare else PALETTE[len(rng) % len(PALETTE)])
    return {"domain": domain, "range": rng}


def theme_config() -> dict[str, Any]:
    """The theme: white background, light grid, one font, readable titles, the palette."""
    return {
        "config": {
            "background": "white",
            "font": FONT,
            "view": {"continuousWidth": 420, "continuousHeight": 260, "stroke": None},
            "title": {"fontSize": 15, "fontWeight": 600, "anchor": "start", "offset": 10},
            "axis": {
                "labelFontSize": 11,
                "titleFontSize": 12,
                "titleFontWeight": 500,
                "gridColor": "#e6e6e6",
                "domainColor": "#888888",
                "tickColor": "#888888",
            },
            "header": {"labelFontSize": 12, "titleFontSize": 12, "labelFontWeight": 600},
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "orient": "right"},
            "range": {"category": PALETTE},
            "line": {"strokeWidth": 2},
            "point": {"size": 50, "filled": True},
            "bar": {"binSpacing": 1},
        }
    }


def register(enable: bool = True) -> None:
    """Register the theme with altair (both the 5.5+ ``alt.theme`` and the older ``alt.themes``
    registries) and enable it when asked."""
    import altair as alt

    if alt.data_transformers.active == "default":
        alt.data_transformers.enable("default", max_rows=MAX_ROWS)
    if hasattr(alt, "theme") and hasattr(alt.theme, "register"):
        alt.theme.register(THEME, enable=enable)(theme_config)
    else:  # altair < 5.5
        alt.themes.register(THEME, theme_config)
        if enable:
            alt.themes.enable(THEME)


def enabled() -> AbstractContextManager:
    """A context manager under which the snfkit theme is active (the previous one after)."""
    import altair as alt

    register(enable=False)
    registry = alt.theme if hasattr(alt, "theme") and hasattr(alt.theme, "enable") else alt.themes
    return registry.enable(THEME)


def log_floor(values, default: float = 1.0) -> float:
    """The power of ten at or below the smallest positive value (``default`` if none): the baseline
    that log-scale bars are drawn from (Vega-Lite draws a log-scale bar with no ``y2`` with zero
    height)."""
    import math

    pos = [float(v) for v in values if v is not None and v > 0 and math.isfinite(v)]
    return 10.0 ** math.floor(math.log10(min(pos))) if pos else default
