"""Display helpers: addresses as text (equal to format_ip), times in seconds or datetimes, durations
in µs, NF outputs as addresses and ports, rounded numbers."""

from __future__ import annotations

import datetime as dt
import ipaddress

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snfkit.display import (
    endpoint_text,
    format_number,
    ip_text,
    nf_output_table,
    readable,
)
from snfkit.errors import ParameterError
from snfkit.traces import format_ip, ip_to_bytes

V4_MAPPED = bytes(10) + b"\xff\xff"

# addresses with many zero groups, so that every '::' rule is exercised
groups = st.one_of(st.just(0), st.just(0), st.integers(0, 0xFFFF))
v6 = st.lists(groups, min_size=8, max_size=8).map(
    lambda g: b"".join(x.to_bytes(2, "big") for x in g)
)
v4 = st.binary(min_size=4, max_size=4).map(lambda b: V4_MAPPED + b)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(v4, v6), min_size=1, max_size=30))
def test_ip_text_equals_format_ip(addrs):
    df = pl.DataFrame({"a": addrs}, schema={"a": pl.Binary})
    assert df.select(ip_text("a"))["a"].to_list() == [format_ip(a) for a in addrs]


def test_ip_text_known_values_and_null():
    texts = ["10.0.0.1", "2001:db8::1", "::", "1::", "1:0:0:1::1", "fe80::1:0:0:0"]
    df = pl.DataFrame({"a": [ip_to_bytes(t) for t in texts] + [None]}, schema={"a": pl.Binary})
    got = df.select(ip_text(pl.col("a")))["a"].to_list()
    assert got == [str(ipaddress.ip_address(t)) for t in texts] + [None]


def test_endpoint_text():
    df = pl.DataFrame(
        {"ip": [ip_to_bytes("10.0.0.1"), ip_to_bytes("2001:db8::1")], "port": [443, 80]},
        schema={"ip": pl.Binary, "port": pl.UInt16},
    )
    assert df.select(endpoint_text("ip", "port").alias("e"))["e"].to_list() == [
        "10.0.0.1:443",
        "[2001:db8::1]:80",
    ]


def _packets(t0: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts_ns": [t0, t0 + 1_500_000, t0 + 2_000_000_000],
            "src_ip": [ip_to_bytes("192.0.2.1"), ip_to_bytes("2001:db8::2"), ip_to_bytes("::1")],
            "latency_ns": [1_000, 2_500, 0],
            "proto": [6, 17, 253],
            "flow_id": [0, 1, 0],
        },
        schema={
            "ts_ns": pl.Int64,
            "src_ip": pl.Binary,
            "latency_ns": pl.Int64,
            "proto": pl.UInt8,
            "flow_id": pl.Int64,
        },
    )


def test_readable_seconds_durations_addresses_and_names():
    t0 = 1_521_118_773_289_502_000  # a capture's clock (2018-03-15)
    out = readable(_packets(t0))
    assert out.columns == ["ts_s", "src_ip", "latency_us", "proto", "flow_id"]
    assert out["ts_s"].to_list() == [0.0, 1_500_000 / 1e9, 2.0]
    assert out["src_ip"].to_list() == ["192.0.2.1", "2001:db8::2", "::1"]
    assert out["latency_us"].to_list() == [1.0, 2.5, 0.0]
    assert out["proto"].to_list() == ["tcp", "udp", "253"]
    # another origin: the trace's first packet, for a table that starts later
    later = readable(_packets(t0), t0=t0 - 1_000_000_000)
    assert later["ts_s"].to_list() == [1.0, 1.0015, 3.0]


def test_readable_datetimes():
    t0 = 1_521_118_773_289_502_000
    out = readable(_packets(t0), clock="datetime")
    assert out.columns[0] == "ts"
    first = out["ts"][0]
    want = dt.datetime(2018, 3, 15, 12, 59, 33, 289502, tzinfo=dt.UTC)
    assert first == want
    with pytest.raises(ParameterError, match="clock"):
        readable(_packets(0), clock="hours")


NAT_PUBLIC = (0xFFFF << 32) | int(ipaddress.IPv4Address("203.0.113.1"))


def test_nf_output_table_nat_addresses_and_ports():
    out = pl.DataFrame(
        {
            "action": [0, 1, 0],
            "out0": [40_001, -1, 1_234],
            "out1": [NAT_PUBLIC, -1, 0x0001_0002_0003_00AB],
            "delta": [40, 0, 8],
        },
        schema={"action": pl.Int8, "out0": pl.Int64, "out1": pl.Int64, "delta": pl.Int64},
    )
    packets = _packets(0).with_columns(
        dst_ip=pl.col("src_ip"), src_port=pl.lit(5, pl.UInt16), dst_port=pl.lit(80, pl.UInt16)
    )
    table = nf_output_table(out, "nat", packets)
    assert table.columns == ["src", "dst", "action", "port", "address", "delta"]
    assert table["src"].to_list() == ["192.0.2.1:5", "[2001:db8::2]:5", "[::1]:5"]
    assert table["action"].to_list() == ["forward", "drop", "forward"]
    assert table["port"].to_list() == [40_001, None, 1_234]
    assert table["address"].to_list() == ["203.0.113.1", None, "…:1:2:3:ab"]
    # an NF without address outputs keeps its numbers under its own names
    lb = nf_output_table(out.drop("delta"), "lb")
    assert lb.columns == ["action", "server", "packets"]
    with pytest.raises(ParameterError, match="packets"):
        nf_output_table(out, "nat", packets.head(2))


def test_readable_names_a_replays_nf_columns():
    df = pl.DataFrame(
        {"nf_out0": [7, -1], "nf_out1": [NAT_PUBLIC, -1]},
        schema={"nf_out0": pl.Int64, "nf_out1": pl.Int64},
    )
    assert readable(df, nf="nat").to_dicts() == [
        {"port": 7, "address": "203.0.113.1"},
        {"port": None, "address": None},
    ]
    assert readable(df).columns == ["nf_out0", "nf_out1"]  # without the NF: as they are


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (float("nan"), "-"),
        (3, "3"),
        (1_234_567.0, "1,234,567"),
        (1_234.567, "1,235"),
        (12.34567, "12.35"),
        (1.0004, "1"),
        (0.0123456, "0.0123"),
        (-0.5, "-0.5"),
        (True, "True"),
    ],
)
def test_format_number(value, text):
    assert format_number(value) == text
