"""Chart data functions return the tidy frames that are drawn; the charts render to HTML."""

from __future__ import annotations

import functools

import polars as pl
import pytest
from replay_helpers import random_trace

from snfkit import replay
from snfkit.charts import (
    PERCENTILE_ORDER,
    UTILIZATION_BANDS,
    k_alpha_chart,
    k_alpha_data,
    latency_percentiles_chart,
    latency_percentiles_data,
    moved_flowlets,
    opportunities_chart,
    opportunities_data,
    provisioning_chart,
    provisioning_data,
    save_chart,
    size_threshold_chart,
    size_threshold_data,
    state_latency_chart,
    state_latency_data,
    state_sources_data,
    theme,
    to_svg,
    utilization_bands_chart,
    utilization_bands_data,
    utilization_box_data,
    utilization_chart,
    utilization_data,
)


@functools.cache
def _runs():
    packets = random_trace(1, 2_000, 20, 20_000.0)
    return {m: replay(packets, mode=m, epoch_ns=5_000_000) for m in ("flowlet", "flow")}


def test_latency_data_matches_summaries(tmp_path):
    runs = _runs()
    d = latency_percentiles_data(runs)
    assert d.height == 2 * len(PERCENTILE_ORDER)
    for label, res in runs.items():
        got = d.filter(run=label).sort("percentile")["latency_us"].to_list()
        want = [res.summary["latency_us"][q] for q in sorted(PERCENTILE_ORDER)]
        assert got == want
    latency_percentiles_chart(d).save(tmp_path / "lat.html")
    assert "latency" in (tmp_path / "lat.html").read_text()


def test_provisioning_data_is_the_epochs(tmp_path):
    runs = _runs()
    d = provisioning_data(runs)
    for label, res in runs.items():
        rows = d.filter(run=label)
        demand = rows.filter(series="demand")["gbps"].to_list()
        assert demand == res.epochs["offered_gbps"].to_list()
        prov = rows.filter(series="provisioned")["gbps"].to_list()
        assert prov == res.epochs["provisioned_gbps"].to_list()
    provisioning_chart(d).save(tmp_path / "prov.html")
    assert (tmp_path / "prov.html").stat().st_size > 1000


def test_utilization_data_is_the_epoch_units(tmp_path):
    runs = _runs()
    d = utilization_data(runs)
    for label, res in runs.items():
        want = res.epoch_units.filter(pl.col("utilization").is_not_null())
        got = d.filter(run=label)
        assert got["utilization"].to_list() == want["utilization"].to_list()
        assert got["unit"].to_list() == want["unit"].to_list()
    over = d.filter(pl.col("utilization") > 1.0)
    assert (over["band"].cast(pl.String) == "over (>100%)").all()
    idle = d.filter(pl.col("utilization") < 0.1)
    assert (idle["band"].cast(pl.String) == "idle (<10%)").all()
    bands = utilization_bands_data(d)
    assert bands.height == len(runs) * len(UTILIZATION_BANDS)  # zeros kept
    for label in runs:
        rows = bands.filter(run=label)
        assert rows["unit_epochs"].sum() == d.filter(run=label).height
        assert abs(rows["share"].sum() - 1.0) < 1e-12
    box = utilization_box_data(d)
    for row in box.iter_rows(named=True):
        vals = d.filter(run=row["run"], epoch=row["epoch"])["utilization"]
        assert row["units"] == vals.len()
        assert row["min"] == vals.min() and row["max"] == vals.max()
        assert row["median"] == vals.median()
        assert row["min"] <= row["q1"] <= row["median"] <= row["q3"] <= row["max"]
    utilization_chart(box).save(tmp_path / "util.html")
    utilization_bands_chart(bands).save(tmp_path / "bands.html")


def test_opportunities_ratio_to_baseline(tmp_path):
    runs = _runs()
    d = opportunities_data(runs, baseline="flow")
    flow = runs["flow"].summary["opportunities"]
    row = d.filter(run="flowlet").row(0, named=True)
    assert row["opportunities"] == runs["flowlet"].summary["opportunities"]
    assert row["ratio"] == pytest.approx(row["opportunities"] / flow)
    assert d.filter(run="flow")["ratio"].to_list() == [1.0]
    assert opportunities_data(runs, baseline="nope")["ratio"].null_count() == 2
    opportunities_chart(d).save(tmp_path / "opp.html")


def test_sweep_data_long_format(tmp_path):
    runs = _runs()
    ka = {(k, a): runs["flowlet"] for k in (1, 3) for a in (0.0, 0.5)}
    d = k_alpha_data(ka)
    assert d.height == 4 * 3
    assert set(d["metric"]) == {"p99_latency_us", "mean_active_units", "seamless_share"}
    p99 = d.filter(metric="p99_latency_us", K=3, alpha=0.5)["value"].item()
    assert p99 == runs["flowlet"].summary["latency_us"]["p99"]
    units = d.filter(metric="mean_active_units")["value"].unique().to_list()
    assert units == [runs["flowlet"].summary["mean_active_units"]]
    k_alpha_chart(d).save(tmp_path / "ka.html")
    b = size_threshold_data({3_000: runs["flowlet"], 15_000: runs["flow"]})
    assert b["size_kb"].unique().sort().to_list() == [3.0, 15.0]
    got = b.filter(metric="p50_latency_us", size_bytes=15_000)["value"].item()
    assert got == runs["flow"].summary["latency_us"]["p50"]
    size_threshold_chart(b).save(tmp_path / "b.html")


def test_state_data_and_moved_flowlets(tmp_path):
    runs = _runs()
    st = {(nf, sm): runs["flowlet"] for nf in ("nat", "lb") for sm in ("reactive", "local")}
    lat = state_latency_data(st)
    assert lat.height == 4 * len(PERCENTILE_ORDER)
    assert set(lat["nf"]) == {"nat", "lb"}
    src = state_sources_data(st)
    f = runs["flowlet"].flowlets.sort("item")
    # moved = flowlets whose unit (lifetime) differs from the flow's previous flowlet's
    last: dict[int, tuple[int, int]] = {}
    moved = 0
    for flow, unit, life in f.select("flow_id", "unit", "unit_life").iter_rows():
        if flow in last and last[flow] != (unit, life):
            moved += 1
        last[flow] = (unit, life)
    assert src["moved"].to_list() == [moved] * 4
    assert moved_flowlets(runs["flow"]) == 0  # flows never move
    state_latency_chart(lat).save(tmp_path / "st.html")


def test_theme_and_exports(tmp_path):
    import altair as alt

    d = latency_percentiles_data(_runs())
    chart = latency_percentiles_chart(d)
    with theme.enabled():
        spec = chart.to_dict()
    assert spec["config"]["font"] == theme.FONT
    files = save_chart(chart, tmp_path / "lat.png")  # the suffix is replaced per format
    assert [p.name for p in files] == ["lat.png", "lat.svg", "lat.html"]
    assert files[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in files[1].read_text()[:500]
    assert "vega" in files[2].read_text()
    assert "<title>lat</title>" in files[2].read_text()
    with pytest.raises(ValueError, match="unknown chart format"):
        save_chart(chart, tmp_path / "x", ["pdf"])
    # exports are themed even when another theme is active
    alt.theme.enable("default") if hasattr(alt, "theme") else alt.themes.enable("default")
    try:
        assert theme.FONT.split(",")[0] in to_svg(chart)
    finally:
        theme.register(enable=True)


def test_color_scale_fixed_and_spare():
    s = theme.color_scale(["flow", "mine", "flowlet", "mine"])
    assert s["domain"] == ["flow", "mine", "flowlet"]
    assert s["range"][0] == theme.KNOWN_COLORS["flow"]
    assert s["range"][2] == theme.KNOWN_COLORS["flowlet"]
    assert s["range"][1] not in (s["range"][0], s["range"][2])


def test_log_bars_have_height():
    import re

    d = latency_percentiles_data(_runs())
    assert theme.log_floor([7.6, 2000.0, 0.0, None]) == 1.0
    assert theme.log_floor([0.5, 3.0]) == 0.1
    assert theme.log_floor([]) == 1.0
    for svg in (
        to_svg(latency_percentiles_chart(d)),
        to_svg(state_latency_chart(state_latency_data({("nat", "reactive"): _runs()["flow"]}))),
    ):
        heights = re.findall(r'aria-roledescription="bar" d="M[^,]+,[^h]+h[^v]+v([^h]+)h', svg)
        assert heights and all(float(x) > 0 for x in heights)
