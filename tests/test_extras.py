"""Optional parts (extras): a feature whose extra is missing raises an error naming the extra; HTML
charts are self-contained when it is there."""

from __future__ import annotations

import re
import sys

import altair as alt
import polars as pl
import pytest

from snfkit.charts import save_chart, to_html, to_png, to_svg
from snfkit.errors import MissingExtraError, SnfkitError
from snfkit.extras import EXTRAS, has, require


def _chart():
    return alt.Chart(pl.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_line().encode(x="x", y="y")


@pytest.fixture
def no_vl_convert(monkeypatch):
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # import raises ImportError


def test_require_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(MissingExtraError, match=r"snfkit\[notebooks\]") as err:
        require("ipywidgets", "notebooks", "the replay panel")
    assert err.value.extra == "notebooks" and err.value.module == "ipywidgets"
    assert isinstance(err.value, SnfkitError) and isinstance(err.value, ImportError)
    assert "the replay panel needs the ipywidgets package" in str(err.value)
    with pytest.raises(ValueError, match="not part"):
        require("numpy", "export", "x")


def test_extras_match_pyproject():
    import tomllib

    from conftest import REPO

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert set(EXTRAS) == set(declared["optional-dependencies"]) - {"test"}
    assert has("json") and not has("snfkit_no_such_module")


def test_exports_without_the_export_extra(no_vl_convert, tmp_path):
    chart = _chart()
    for export in (to_png, to_svg, to_html):
        with pytest.raises(MissingExtraError, match=r"'export' extra"):
            export(chart)
    cdn = to_html(chart, inline=False)  # the CDN page needs nothing
    assert "maybeLoadScript" in cdn or re.search(r"<script[^>]*\bsrc=", cdn)
    with pytest.raises(MissingExtraError):
        save_chart(chart, tmp_path / "c", ("html",))


def test_html_is_self_contained(tmp_path):
    (path,) = save_chart(_chart(), tmp_path / "c", ("html",))
    html = path.read_text()
    assert not re.search(r"<script[^>]*\bsrc=", html)  # no script loaded from anywhere
    assert "maybeLoadScript" not in html  # nor fetched at run time (altair's CDN template)
    assert len(html) > 300_000  # Vega, Vega-Lite and vega-embed are in the page
    assert "vegaEmbed" in html


def test_postgres_storage_without_the_driver(monkeypatch):
    from snfkit.sweeps.study import make_storage

    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(MissingExtraError, match=r"snfkit\[postgres\]"):
        make_storage("postgresql+psycopg2://nobody@127.0.0.1:1/none")
