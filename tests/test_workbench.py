"""The notebook workbench without a browser: the replay panel's runs equal direct replays, its
widget's button runs the sliders' choice, and notebook_setup renders charts offline."""

from __future__ import annotations

import sys

import altair as alt
import pytest
from replay_helpers import random_trace

import snfkit
from snfkit.errors import MissingExtraError, ParameterError
from snfkit.workbench import RENDERER, Knobs, ReplayPanel, notebook_setup


def _packets():
    return random_trace(4, 1_500, 20, 20_000.0)


def test_knobs_to_replay_parameters():
    k = Knobs(timeout_us=100, size_kb=7.5, replicas=5, alpha=0.5)
    assert k.params() == {"timeout_ns": 100_000, "size_bytes": 7_500, "replicas": 5, "alpha": 0.5}
    assert k.label() == "T=100 µs, B=7.5 KB, K=5, alpha=0.5"
    assert Knobs().params() == {
        "timeout_ns": 500_000,
        "size_bytes": 15_000,
        "replicas": 3,
        "alpha": 0.25,
    }


@pytest.mark.parametrize(
    ("choice", "name"),
    [
        ({"timeout_us": 0}, "timeout_us"),
        ({"timeout_us": float("nan")}, "timeout_us"),
        ({"size_kb": -1}, "size_kb"),
        ({"replicas": 1.5}, "replicas"),
        ({"alpha": "high"}, "alpha"),
    ],
)
def test_bad_knobs_name_the_parameter(choice, name):
    with pytest.raises(ParameterError, match=name):
        Knobs(**choice)


def test_panel_runs_equal_direct_replays():
    packets = _packets()
    panel = ReplayPanel(packets, {"epoch_ns": 5_000_000})
    a = panel.run(timeout_us=100, alpha=0.75)
    b = panel.run(Knobs(size_kb=3, replicas=1))
    direct = snfkit.replay(
        packets, epoch_ns=5_000_000, keep_packets=False, timeout_ns=100_000, alpha=0.75
    )
    assert a.summary == direct.summary
    assert b.params["size_bytes"] == 3_000 and b.params["replicas"] == 1
    t = panel.table()
    assert t["run"].to_list() == [
        "T=100 µs, B=15 KB, K=3, alpha=0.75",
        "T=500 µs, B=3 KB, K=1, alpha=0.25",
    ]
    assert t["p99_us"].to_list() == [a.summary["latency_us"]["p99"], b.summary["latency_us"]["p99"]]
    panel.run(timeout_us=100, alpha=0.75)  # the same choice again replaces its run
    assert panel.table().height == 2
    spec = panel.chart().to_dict()
    assert "hconcat" not in spec  # the runs share one axis, to be compared
    # the replay's own range checks still apply, naming its parameter
    with pytest.raises(ParameterError, match="alpha"):
        panel.run(alpha=2.0)


def test_panel_bad_construction():
    with pytest.raises(ParameterError, match="trace"):
        ReplayPanel([1, 2, 3])
    with pytest.raises(ParameterError, match="params"):
        ReplayPanel(_packets(), {"alpha": 0.5})


def test_widget_button_runs_the_sliders_choice():
    pytest.importorskip("ipywidgets")  # CI installs it (the test extra pulls in every extra)
    panel = ReplayPanel(_packets())
    box = panel.widget()
    assert set(panel.sliders) == {"timeout_us", "size_kb", "replicas", "alpha"}
    panel.sliders["timeout_us"].value = 200
    panel.sliders["replicas"].value = 0
    panel.button.click()
    assert list(panel.runs) == ["T=200 µs, B=15 KB, K=0, alpha=0.25"]
    assert panel.runs["T=200 µs, B=15 KB, K=0, alpha=0.25"].params["timeout_ns"] == 200_000
    assert not panel.button.disabled
    assert panel.output in box.children


def test_widget_without_the_notebooks_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(MissingExtraError, match=r"snfkit\[notebooks\]"):
        ReplayPanel(_packets()).widget()


@pytest.fixture
def renderer():
    before = alt.renderers.active
    yield
    alt.renderers.enable(before)


def test_notebook_setup_renders_offline(renderer):
    assert notebook_setup() == RENDERER
    chart = alt.Chart(alt.Data(values=[{"a": 1}])).mark_point().encode(x="a:Q")
    bundle = chart._repr_mimebundle_()
    html = (bundle[0] if isinstance(bundle, tuple) else bundle)["text/html"]
    assert "maybeLoadScript" not in html and "vegaEmbed" in html and len(html) > 300_000


def test_notebook_setup_without_vl_convert(renderer, monkeypatch):
    alt.renderers.enable("default")
    monkeypatch.setitem(sys.modules, "vl_convert", None)
    with pytest.warns(UserWarning, match=r"snfkit\[notebooks\]"):
        assert notebook_setup() == "default"
