"""Price tables: the shipped one is complete and sourced; every kind of bad row is named."""

from __future__ import annotations

import polars as pl
import pytest

from snfkit.billing import MODELS, compare, default_prices_path, load_prices
from snfkit.billing.prices import DIMENSIONS
from snfkit.errors import ParameterError, PriceTableError

HEADER = "item,price,unit,source,date,note\n"
GOOD = "fn.request,0.2,USD/M requests,https://example.org/p,2020-12-01,\n"


def test_shipped_table_rows_have_a_source_and_a_date():
    p = load_prices()
    t = p.table
    assert t.height >= 25
    assert t.filter((pl.col("source") == "") | (pl.col("date") == "")).height == 0
    assert set(t["dimension"]) <= set(DIMENSIONS)
    for service in ("aws_lambda_x86", "aws_lambda_x86_2019", "aws_lambda_arm64"):
        assert p.has(f"{service}.request") and p.has(f"{service}.duration")
    assert p.value("aws_lambda_x86.granularity") == pytest.approx(0.001)
    assert p.value("aws_lambda_x86_2019.granularity") == pytest.approx(0.1)
    assert p.value("aws_lambda_x86.request") == pytest.approx(0.20 / 1e6)
    assert p.value("ec2_c5_large.hour") == pytest.approx(0.085 / 3600)
    assert p.value("ec2_c5_large.minimum") == 60


def test_shipped_table_prices_every_model_on_every_platform():
    import snfkit

    run = snfkit.replay(
        pl.DataFrame({"ts_ns": [0, 1_000, 900_000], "flow_id": [0, 1, 0], "wire_len": [100] * 3})
    )
    for platform in ("aws_lambda_x86", "aws_lambda_arm64", "azure_functions", "google_cloud_run"):
        t = compare({"r": run}, platform=platform)
        assert t["model"].to_list() == list(MODELS)
        assert (t["user_usd"] > 0).all()


def write(tmp_path, body: str, header: str = HEADER):
    path = tmp_path / "p.csv"
    path.write_text(header + body)
    return path


@pytest.mark.parametrize(
    ("body", "key", "needle"),
    [
        ("fn.request,,USD/M requests,s,2020,\n", "line 2 (fn.request).price", "empty"),
        ("fn.request,0.2,USD/M requests,,2020,\n", "line 2 (fn.request).source", "empty"),
        ("fn.request,0.2,USD/M requests,s,,\n", "line 2 (fn.request).date", "empty"),
        ("fn.request,-0.2,USD/M requests,s,2020,\n", "line 2 (fn.request).price", "'-0.2'"),
        ("fn.request,cheap,USD/M requests,s,2020,\n", "line 2 (fn.request).price", ">= 0"),
        ("fn.request,nan,USD/M requests,s,2020,\n", "line 2 (fn.request).price", "number"),
        ("fn.request,inf,USD/M requests,s,2020,\n", "line 2 (fn.request).price", "number"),
        ("fn.granularity,0,ms,s,2020,\n", "line 2 (fn.granularity).price", "> 0"),
        ("fn.request,0.2,EUR/request,s,2020,\n", "line 2 (fn.request).unit", "'EUR/request'"),
        ("fn.request,0.2,USD/GB,s,2020,\n", "line 2 (fn.request).unit", "USD/M requests"),
        ("fn.colour,1,USD/GB,s,2020,\n", "line 2 (fn.colour).item", "dimension 'colour'"),
        ("request,1,USD/request,s,2020,\n", "line 2.item", "<service>.<dimension>"),
        ("fn.request,0.2,USD/request,s,Dec 2020,\n", "line 2 (fn.request).date", "YYYY"),
        (GOOD + GOOD, "line 3 (fn.request).item", "twice (also line 2)"),
        (GOOD + "a,b,c,d,e,f,g\n", "line 3", "7 fields"),
    ],
)
def test_bad_rows_name_the_line_and_the_field(tmp_path, body, key, needle):
    with pytest.raises(PriceTableError) as info:
        load_prices(write(tmp_path, body))
    err = info.value
    assert err.key == key
    assert needle in str(err)
    assert str(tmp_path / "p.csv") in str(err)


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("item,price,unit,source,note\n", "column date"),
        ("item,price,unit,source,date,vendor\n", "column vendor"),
    ],
)
def test_bad_columns_are_named(tmp_path, header, key):
    body = "fn.request,0.2,USD/request,s,2020\n"
    with pytest.raises(PriceTableError) as info:
        load_prices(write(tmp_path, body, header))
    assert info.value.key == key


def test_file_problems(tmp_path):
    with pytest.raises(PriceTableError, match="cannot read"):
        load_prices(tmp_path / "missing.csv")
    with pytest.raises(PriceTableError, match="empty"):
        load_prices(write(tmp_path, "", header=""))
    with pytest.raises(ParameterError, match="prices"):
        load_prices(42)  # type: ignore[arg-type]


def test_units_are_converted_and_a_dataframe_is_checked_by_row():
    t = pl.DataFrame(
        {
            "item": ["fn.request", "fn.granularity", "vm.hour"],
            "price": [0.2, 100.0, 0.36],
            "unit": ["USD/M requests", "ms", "USD/hour"],
            "source": ["s"] * 3,
            "date": ["2020"] * 3,
        }
    )
    p = load_prices(t)
    assert p.value("fn.request") == pytest.approx(2e-7)
    assert p.value("fn.granularity") == pytest.approx(0.1)
    assert p.value("vm.hour") == pytest.approx(1e-4)
    with pytest.raises(PriceTableError) as info:
        load_prices(t.with_columns(price=pl.Series([0.2, -1.0, 0.36])))
    assert info.value.key == "row 2 (fn.granularity).price"
    with pytest.raises(ParameterError, match=r"'fn\.duration'"):
        p.value("fn.duration")


def test_the_shipped_file_is_package_data():
    path = default_prices_path()
    assert path.exists() and path.parent.name == "data"
    from tomllib import loads

    from conftest import REPO

    data = loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "data/*.csv" in data["snfkit.billing"]
