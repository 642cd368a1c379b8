"""Charts that show their point: own y axes where one mode dwarfs the others, zero-based quantities,
labelled zeros, titles naming the trace and the settings, self-contained HTML; and the interactive
views (brush a time window, pick a mode from the legend)."""

from __future__ import annotations

import functools
import re

import numpy as np
import polars as pl
import pytest
from replay_helpers import random_trace

from snfkit import charts, replay
from snfkit import figures as F
from snfkit.charts import titles
from snfkit.errors import ParameterError
from snfkit.workloads import small_demo


@functools.cache
def _fd() -> F.FigureData:
    wl = F.Workload.from_packets(small_demo(0).head(3_000), "demo head")
    return F.compute_figures(wl, small=True)


@functools.cache
def _runs():
    packets = random_trace(2, 3_000, 30, 20_000.0)
    return {m: replay(packets, mode=m, epoch_ns=2_000_000) for m in ("flowlet", "flow", "packet")}


def _spec(chart) -> dict:
    with charts.theme.enabled():
        return chart.to_dict()


def _latency(p50: dict[str, float]) -> pl.DataFrame:
    rows = [
        {"run": r, "percentile": q, "latency_us": v * (1 + i)}
        for r, v in p50.items()
        for i, q in enumerate(charts.PERCENTILE_ORDER)
    ]
    return pl.DataFrame(rows).with_columns(
        latency_us=pl.when(pl.col("percentile") == "p50")
        .then(pl.col("run").replace_strict(p50, return_dtype=pl.Float64))
        .otherwise(pl.col("latency_us"))
    )


def test_apart_runs():
    assert charts.apart_runs(_latency({"flowlet": 5.0, "flow": 9.0, "packet": 4_000.0})) == [
        "packet"
    ]
    assert charts.apart_runs(_latency({"a": 5.0, "b": 40.0, "c": 300.0})) == []  # no 10x gap
    assert charts.apart_runs(_latency({"a": 1.0, "b": 2.0, "c": 50.0, "d": 60.0})) == ["c", "d"]
    assert charts.apart_runs(_latency({"only": 3.0})) == []


def test_a_slow_mode_gets_its_own_axis():
    d = _latency({"flowlet": 5.0, "flow": 9.0, "packet": 4_000.0})
    spec = _spec(charts.latency_percentiles_chart(d, subtitle="trace x"))
    assert spec["resolve"]["scale"]["y"] == "independent"
    main, side = spec["hconcat"]
    assert {r["run"] for r in _values(spec, main)} == {"flowlet", "flow"}
    assert {r["run"] for r in _values(spec, side)} == {"packet"}
    assert "µs" in main["encoding"]["y"]["title"]
    assert spec["title"]["subtitle"] == "trace x"
    # nothing stands out: one panel
    flat = _spec(charts.latency_percentiles_chart(_latency({"a": 5.0, "b": 9.0})))
    assert "hconcat" not in flat


def _params(spec) -> list[dict]:
    """Every selection parameter of a spec, wherever altair put it."""
    if isinstance(spec, dict):
        own = [p for p in spec.get("params", []) if "select" in p]
        return own + [p for k, v in spec.items() if k != "params" for p in _params(v)]
    if isinstance(spec, list):
        return [p for v in spec for p in _params(v)]
    return []


def _values(spec: dict, view: dict) -> list[dict]:
    name = view["data"]["name"]
    return spec["datasets"][name]


def test_provisioning_panels_have_their_own_zero_based_axis():
    spec = _spec(charts.provisioning_chart(charts.provisioning_data(_runs()), subtitle="s"))
    assert spec["resolve"]["scale"]["y"] == "independent"
    assert spec["spec"]["encoding"]["y"]["scale"]["zero"] is True
    assert spec["facet"]["sort"] == ["flowlet", "flow", "packet"]


def test_quantities_start_at_zero_and_shares_at_zero_percent():
    assert charts.metric_scale("mean_active_units").to_dict() == {"zero": True}
    assert charts.metric_scale("replication_mbps").to_dict() == {"zero": True}
    assert charts.metric_scale("seamless_share").to_dict() == {"domain": [0, 1]}
    assert charts.metric_scale("p99_latency_us").to_dict() == {"type": "log"}
    spec = _spec(charts.k_alpha_chart(charts.k_alpha_data(_fd().runs["k_alpha"])))
    scales = [p["encoding"]["y"]["scale"] for p in spec["hconcat"]]
    assert scales == [{"type": "log"}, {"zero": True}, {"domain": [0, 1]}]


def test_seamless_zeros_are_labelled():
    data = pl.DataFrame(
        {"nf": ["nat"] * 3, "state_mode": ["external", "reactive", "proactive"]}
    ).with_columns(
        seamless_share=pl.Series([0.0, 0.0, 0.7]),
        moved=pl.lit(10),
        replication_mbps=pl.lit(None, pl.Float64),
    )
    svg = charts.to_svg(charts.seamless_chart(data))
    labels = re.findall(r'aria-roledescription="text mark"[^>]*>([^<]*)</text>', svg)
    assert labels == ["0%", "0%", "70%"]


def test_utilization_boxes_keep_the_run_order():
    util = charts.utilization_data(_runs())
    box = charts.utilization_box_data(util)
    assert box["run"].unique(maintain_order=True).to_list() == ["flowlet", "flow", "packet"]
    spec = _spec(charts.utilization_chart(box))
    assert spec["facet"]["sort"] == ["flowlet", "flow", "packet"]


def test_settings_in_titles():
    assert titles.duration_text(500_000) == "500 µs"
    assert titles.duration_text(100_000_000) == "100 ms"
    assert titles.duration_text(300) == "300 ns"
    assert titles.setting_text("unit_capacity_bps", 5e8) == "500-Mbps units"
    assert titles.setting_text("size_bytes", 0) == "no size threshold"
    packets = random_trace(3, 500, 10, 20_000.0)
    runs = {
        a: replay(packets, alpha=a, unit_capacity_bps=5e8, max_units=15, keep_packets=False)
        for a in (0.0, 0.5)
    }
    common = titles.common_settings(runs)
    assert common == {"unit_capacity_bps": 5e8, "max_units": 15}  # alpha varies: an axis
    one = titles.common_settings({"x": replay(packets, timeout_ns=100_000, keep_packets=False)})
    assert one == {"timeout_ns": 100_000, "unit_capacity_bps": 1e9}  # capacity always named
    assert titles.figure_subtitle("t", runs) == "t · 500-Mbps units · at most 15 units"


def test_saved_figures_are_self_contained_and_name_their_settings(tmp_path):
    fd = _fd()
    F.write_figures(fd, tmp_path, formats=("html",))
    for name in F.FIGURES:
        html = (tmp_path / f"{name}.html").read_text()
        assert not re.search(r"<script[^>]*\bsrc=", html) and "maybeLoadScript" not in html
        assert "demo head" in html, name  # the trace, in the subtitle
    fig1 = (tmp_path / "fig1_provisioning.html").read_text()
    assert '"resolve": {"scale": {"y": "independent"}}' in fig1
    fig7 = (tmp_path / "fig7_k_alpha.html").read_text()
    fig8 = (tmp_path / "fig8_size_threshold.html").read_text()
    assert "500-Mbps units" in fig7 and "at most 15 units" in fig7
    assert "1-Gbps units" in fig8 and "at most 15" not in fig8


def test_latency_over_time_by_hand():
    runs = _runs()
    data = charts.latency_over_time_data(runs, bins=7)
    packets = runs["flow"].packets
    t0 = min(int(r.packets["ts_ns"].min()) for r in runs.values())
    t1 = max(int(r.packets["ts_ns"].max()) for r in runs.values())
    width = -(-(t1 - t0 + 1) // 7)
    ts = packets["ts_ns"].to_numpy()
    lat = packets["latency_ns"].to_numpy() / 1e3
    got = data.filter(run="flow").sort("time_s")
    bins = (ts - t0) // width
    want_bins = sorted(set(bins.tolist()))
    assert got["time_s"].to_list() == pytest.approx([b * width / 1e9 for b in want_bins])
    for row, b in zip(got.iter_rows(named=True), want_bins, strict=True):
        sel = lat[bins == b]
        assert row["packets"] == sel.size
        assert row["p50_us"] == pytest.approx(np.percentile(sel, 50))
        assert row["p99_us"] == pytest.approx(np.percentile(sel, 99))
        assert row["max_us"] == pytest.approx(sel.max())
    no_packets = {"x": replay(random_trace(1, 100, 5, 20_000.0), keep_packets=False)}
    assert charts.latency_over_time_data(no_packets).height == 0
    for bad in (0, 2.5, True):
        with pytest.raises(ParameterError, match="bins"):
            charts.latency_over_time_data(runs, bins=bad)


def test_the_interactive_view_zooms_to_the_brush_and_picks_from_the_legend():
    runs = _runs()
    chart = charts.provisioning_latency_chart(
        charts.provisioning_data(runs), charts.latency_over_time_data(runs)
    )
    spec = _spec(chart)
    _, bottom = spec["vconcat"]
    (brush,) = [p for p in _params(spec) if p["select"]["type"] == "interval"]
    (pick,) = [p for p in _params(spec) if p.get("bind") == "legend"]
    assert brush["select"]["encodings"] == ["x"]
    assert pick["select"]["fields"] == ["run"]
    assert bottom["encoding"]["x"]["scale"]["domain"] == {"param": brush["name"]}
    assert {"filter": {"param": pick["name"]}} in bottom["transform"]


def test_legend_picks_in_the_latency_charts():
    d = charts.latency_percentiles_data(_runs())
    (pick,) = _params(_spec(charts.latency_percentiles_chart(d, apart=[])))
    assert pick["bind"] == "legend" and pick["select"]["fields"] == ["run"]
    st = charts.state_latency_data({("nat", m): _runs()["flow"] for m in ("reactive", "local")})
    (pick,) = _params(_spec(charts.state_latency_chart(st)))
    assert pick["bind"] == "legend" and pick["select"]["fields"] == ["state_mode"]
