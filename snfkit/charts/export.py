"""Export charts to PNG and SVG (vl-convert, no browser) and standalone HTML.

Every export renders with the snfkit theme (:mod:`snfkit.charts.theme`), whichever theme is active.
HTML files are self-contained by default: Vega's JavaScript (about 0.9 MB, from vl-convert) is
inlined, so they open offline and on cluster nodes. ``inline=False`` writes a few-KB page that
loads Vega from a CDN instead. PNG, SVG and inlined HTML need the ``export`` extra
(vl-convert-python); :class:`~snfkit.errors.MissingExtraError` says so when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike
from pathlib import Path

from snfkit.extras import require

FORMATS = ("png", "svg", "html")


def _spec(chart) -> dict:
    from snfkit.charts.theme import enabled

    with enabled():
        return chart.to_dict()


def to_png(chart, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes; ``scale`` multiplies the pixel size (2 for sharp figures)."""
    vlc = require("vl_convert", "export", "PNG export")
    return vlc.vegalite_to_png(_spec(chart), scale=scale)


def to_svg(chart) -> str:
    """The chart as an SVG document."""
    vlc = require("vl_convert", "export", "SVG export")
    return vlc.vegalite_to_svg(_spec(chart))


def to_html(chart, *, inline: bool = True, title: str | None = None) -> str:
    """The chart as a standalone HTML page; ``inline`` (the default) bundles Vega's JavaScript
    into it so that it renders offline."""
    import io

    from snfkit.charts.theme import enabled

    if inline:
        require("vl_convert", "export", "self-contained HTML charts")
    buf = io.StringIO()
    with enabled():
        chart.save(buf, format="html", inline=inline)
    html = buf.getvalue()
    if title:
        html = html.replace("<head>", f"<head>\n  <title>{title}</title>", 1)
    return html


def save_chart(
    chart,
    path: str | PathLike[str],
    formats: Iterable[str] = FORMATS,
    *,
    scale: float = 2.0,
    inline: bool = True,
) -> list[Path]:
    """Write ``path`` with each suffix in ``formats`` (``fig1.png``, ``fig1.svg``, ``fig1.html``);
    ``path``'s own suffix, if any, is replaced. Returns the files written."""
    base = Path(path)
    if base.suffix.lower().lstrip(".") in FORMATS:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        fmt = fmt.lower().lstrip(".")
        target = base.with_name(f"{base.name}.{fmt}")
        if fmt == "png":
            target.write_bytes(to_png(chart, scale))
        elif fmt == "svg":
            target.write_text(to_svg(chart))
        elif fmt == "html":
            target.write_text(to_html(chart, inline=inline, title=base.name))
        else:
            raise ValueError(f"unknown chart format {fmt!r}: expected one of {', '.join(FORMATS)}")
        written.append(target)
    return written
