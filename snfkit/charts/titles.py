"""Chart titles that say what was run: the trace and the settings that differ from the defaults, so
that two figures made with different settings (Fig 7's 500-Mbps units, Fig 8's 1-Gbps ones) do not
look like they contradict each other.

:func:`figure_subtitle` reads the settings off the runs themselves (``Results.params``): those equal
in every run of the figure and different from :class:`snfkit.ReplayParams`' defaults, plus the NF
and, always, the unit capacity (units are counted in it). Parameters that vary between the runs
are the figure's axes and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snfkit.results import Results

NOT_SETTINGS = ("keep_packets", "state_bytes", "load_buckets", "load_bucket_ns")
"""Parameters that are bookkeeping, or follow from another (an NF sets ``state_bytes``)."""

ALWAYS = ("unit_capacity_bps",)
"""Settings named even at their default: every unit count is in these units."""

SEPARATOR = " · "


def duration_text(ns: float) -> str:
    """``500_000`` -> ``'500 µs'``, ``1e8`` -> ``'100 ms'``, ``2e9`` -> ``'2 s'``, ``300`` -> ``'300 ns'``."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(ns) >= scale:
            return f"{ns / scale:g} {unit}"
    return f"{ns:g} ns"


def rate_text(bps: float) -> str:
    """``5e8`` -> ``'500 Mbps'``, ``1e9`` -> ``'1 Gbps'``."""
    for unit, scale in (("Tbps", 1e12), ("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3)):
        if abs(bps) >= scale:
            return f"{bps / scale:g} {unit}"
    return f"{bps:g} bps"


def setting_text(name: str, value: Any) -> str:
    """One setting as a reader would say it (``T = 100 µs``, ``K = 5``, ``500-Mbps units``)."""
    if name == "timeout_ns":
        return f"T = {duration_text(value)}"
    if name == "size_bytes":
        return "no size threshold" if value == 0 else f"B = {value / 1000:g} KB"
    if name == "replicas":
        return f"K = {value}"
    if name == "unit_capacity_bps":
        return f"{rate_text(value).replace(' ', '-')} units"
    if name == "max_units":
        return f"at most {value} units"
    if name == "epoch_ns":
        return f"epoch {duration_text(value)}"
    if name == "mode":
        return f"{value} mode"
    if name == "state_mode":
        return f"{value} state"
    if name == "nf":
        return str(value).upper() if len(str(value)) <= 3 else str(value)
    if name.endswith("_ns") and isinstance(value, int | float):
        return f"{name[:-3]} = {duration_text(value)}"
    return f"{name} = {value:g}" if isinstance(value, float) else f"{name} = {value}"


def _defaults() -> dict[str, Any]:
    from snfkit.params import ReplayParams

    return ReplayParams().flat()


def common_settings(runs: Mapping[Any, Results]) -> dict[str, Any]:
    """The settings every run shares that differ from the defaults (and :data:`ALWAYS`), with
    ``nf`` when every run ran the same NF; in the order of ``Results.params``."""
    results = list(runs.values())
    if not results:
        return {}
    defaults = _defaults()
    first = results[0].params
    out: dict[str, Any] = {}
    nfs = {(r.summary.get("nf") or {}).get("name") for r in results}
    if len(nfs) == 1 and None not in nfs:
        out["nf"] = nfs.pop()
    for name, value in first.items():
        if name in NOT_SETTINGS or any(r.params.get(name) != value for r in results[1:]):
            continue
        if name in ALWAYS or defaults.get(name, object()) != value:
            out[name] = value
    return out


def settings_text(settings: Mapping[str, Any]) -> str:
    """Settings as one line: ``'NAT · 500-Mbps units · at most 15 units · epoch 1 ms'``."""
    return SEPARATOR.join(setting_text(k, v) for k, v in settings.items())


def figure_subtitle(trace: str, runs: Mapping[Any, Results] | None = None) -> str:
    """``'<trace> · <settings>'``: the trace's description and :func:`common_settings`."""
    parts = [trace] if trace else []
    if runs:
        text = settings_text(common_settings(runs))
        if text:
            parts.append(text)
    return SEPARATOR.join(parts)


def title(text: str, subtitle: str | None = None):
    """An ``alt.Title`` with an optional subtitle (in the theme's subtitle style)."""
    import altair as alt

    return alt.Title(text, subtitle=subtitle) if subtitle else alt.Title(text)
