"""CSV and parquet traces: round trips, every error case (row and column named), lenient skips."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snfkit.errors import ParameterError, SchemaError, TraceFormatError
from snfkit.traces import format_ip, ip_to_bytes, packets_from_arrays, read_trace
from snfkit.traces.table import ipv4_to_rows
from snfkit.traces.tabular import parse_ip_text, write_packets

HEADER = "ts_ns,src_ip,dst_ip,src_port,dst_port,proto,wire_len"
GOOD = [
    "100,10.0.0.1,10.0.0.2,1234,80,6,1500",
    "200,10.0.0.2,10.0.0.1,80,1234,6,40",
    "300,2001:db8::1,2001:db8::2,53,5353,17,120",
]


def synthetic(n: int, seed: int, *, v6: bool = True, payload: bool = False) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    src = ipv4_to_rows(rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32))
    dst = ipv4_to_rows(rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32))
    if v6 and n:
        k = max(1, n // 5)
        dst[:k] = rng.integers(0, 256, (k, 16), dtype=np.uint8)
        dst[:k, 0] = 0x20  # keep them out of ::ffff:0:0/96
    ts = np.sort(rng.integers(0, 10**9, n))
    pay = [rng.bytes(int(rng.integers(0, 20))) for _ in range(n)] if payload else None
    return packets_from_arrays(
        ts,
        src,
        dst,
        rng.integers(0, 65536, n),
        rng.integers(0, 65536, n),
        rng.choice([6, 17, 1], n),
        rng.integers(40, 1501, n),
        pay,
    )


def write_text(tmp_path, text: str, name: str = "t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("comp", ["", ".gz", ".xz", ".zst"])
def test_round_trip(tmp_path, fmt, comp):
    packets = synthetic(500, 1)
    path = write_packets(packets, tmp_path / f"trace.{fmt}{comp}")
    result = read_trace(path)
    assert result.format == fmt
    assert result.compression == {"": None, ".gz": "gzip", ".xz": "xz", ".zst": "zstd"}[comp]
    assert result.packets.equals(packets)
    assert result.skipped == {} and result.notes == {}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_payload(tmp_path, fmt):
    packets = synthetic(200, 2, payload=True)
    path = write_packets(packets, tmp_path / f"trace.{fmt}")
    assert read_trace(path, payload_bytes=64).packets.equals(packets)
    assert "payload" not in read_trace(path).packets.columns
    cut = read_trace(path, payload_bytes=3).packets["payload"]
    assert cut.to_list() == [b[:3] for b in packets["payload"].to_list()]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(0, 40), seed=st.integers(0, 2**16), fmt=st.sampled_from(["csv", "parquet"]))
def test_round_trip_property(tmp_path, n, seed, fmt):
    packets = synthetic(n, seed)
    if n == 0 and fmt == "csv":
        return  # an empty CSV is only a header; covered by test_empty_csv
    path = write_packets(packets, tmp_path / f"p.{fmt}")
    assert read_trace(path).packets.equals(packets)


def test_empty_csv(tmp_path):
    result = read_trace(write_text(tmp_path, HEADER + "\n"))
    assert result.packets.height == 0


def test_write_packets_bad_format(tmp_path):
    with pytest.raises(ParameterError, match="format"):
        write_packets(synthetic(3, 0), tmp_path / "x.json")
    with pytest.raises(ParameterError, match="compression"):
        write_packets(synthetic(3, 0), tmp_path / "x.csv", compression="bz2")


def test_flow_id_column_ignored_and_recomputed(tmp_path):
    text = "flow_id," + HEADER + "\n" + "\n".join(f"99,{r}" for r in GOOD) + "\n"
    packets = read_trace(write_text(tmp_path, text)).packets
    assert packets["flow_id"].to_list() == [0, 1, 2]


def test_ts_seconds_and_parquet_text_columns(tmp_path):
    text = "ts,src_ip,dst_ip,src_port,dst_port,proto,wire_len\n1.5,1.2.3.4,::1,1,2,6,100\n"
    packets = read_trace(write_text(tmp_path, text)).packets
    assert packets["ts_ns"].to_list() == [1_500_000_000]
    assert format_ip(packets["dst_ip"][0]) == "::1"
    # a parquet of text columns (e.g. a CSV converted naively) reads the same way
    frame = pl.read_csv(io.StringIO(HEADER + "\n" + "\n".join(GOOD)), infer_schema=False)
    frame.write_parquet(tmp_path / "t.parquet")
    csv = read_trace(write_text(tmp_path, HEADER + "\n" + "\n".join(GOOD) + "\n")).packets
    assert read_trace(tmp_path / "t.parquet").packets.equals(csv)


def test_parse_ip_text():
    s = pl.Series(
        ["1.2.3.4", " 10.0.0.255 ", "::ffff:1.2.3.4", "2001:db8::1", "1.2.3.256", None, "x"]
    )
    rows, ok = parse_ip_text(s)
    assert ok.tolist() == [True, True, True, True, False, False, False]
    assert rows[0].tobytes() == ip_to_bytes("1.2.3.4") == rows[2].tobytes()
    assert rows[3].tobytes() == ip_to_bytes("2001:db8::1")


# --- errors ------------------------------------------------------------------------------------

BAD_CASES = [
    # (bad row text replacing GOOD[1], column, reason key, message fragment)
    ("200,10.0.0.2,10.0.0.1,70000,1234,6,40", "src_port", "out_of_range", "70000"),
    ("200,10.0.0.2,10.0.0.1,80,-1,6,40", "dst_port", "out_of_range", "-1"),
    ("200,10.0.0.2,10.0.0.1,80,1234,256,40", "proto", "out_of_range", "256"),
    ("200,10.0.0.2,10.0.0.1,80,1234,6,-5", "wire_len", "out_of_range", "-5"),
    ("200,10.0.0.2,10.0.0.1,eighty,1234,6,40", "src_port", "unparsable", "eighty"),
    ("2e2,10.0.0.2,10.0.0.1,80,1234,6,40", "ts_ns", "unparsable", "2e2"),
    ("200,10.0.0.300,10.0.0.1,80,1234,6,40", "src_ip", "unparsable", "10.0.0.300"),
    ("200,10.0.0.2,not-an-ip,80,1234,6,40", "dst_ip", "unparsable", "not-an-ip"),
    ("200,10.0.0.2,10.0.0.1,80,,6,40", "dst_port", "missing_value", "missing"),
    ("200,,10.0.0.1,80,1234,6,40", "src_ip", "missing_value", "missing"),
    ("200,10.0.0.2,10.0.0.1,80,1234,6", "wire_len", "missing_value", "missing"),
]


@pytest.mark.parametrize(("row", "column", "reason", "fragment"), BAD_CASES)
def test_bad_value_strict_names_row_and_column(tmp_path, row, column, reason, fragment):
    text = "\n".join([HEADER, GOOD[0], row, GOOD[2]]) + "\n"
    path = write_text(tmp_path, text)
    with pytest.raises(SchemaError) as info:
        read_trace(path)
    msg = str(info.value)
    assert f"row 1 (line 3), column '{column}'" in msg
    assert fragment in msg
    assert info.value.path == str(path)


@pytest.mark.parametrize(("row", "column", "reason", "fragment"), BAD_CASES)
def test_bad_value_lenient_skips_and_counts(tmp_path, row, column, reason, fragment):
    text = "\n".join([HEADER, GOOD[0], row, GOOD[2], row]) + "\n"
    result = read_trace(write_text(tmp_path, text), strict=False)
    assert result.skipped == {reason: 2}
    assert result.packets["ts_ns"].to_list() == [100, 300]
    assert result.records == 4


def test_lenient_counts_each_row_once_by_first_bad_column(tmp_path):
    rows = [
        "x,10.0.0.2,10.0.0.1,99999,1234,6,40",  # ts unparsable (first) and port out of range
        "200,10.0.0.2,10.0.0.1,99999,1234,6,-1",  # port out of range (first), wire_len too
        "200,10.0.0.2,10.0.0.1,80,1234,6,",  # wire_len missing
    ]
    result = read_trace(
        write_text(tmp_path, "\n".join([HEADER, *GOOD, *rows]) + "\n"), strict=False
    )
    assert result.skipped == {"unparsable": 1, "out_of_range": 1, "missing_value": 1}
    assert result.packets.height == 3


@pytest.mark.parametrize("missing", ["ts_ns", "src_ip", "dst_ip", "src_port", "dst_port", "proto"])
@pytest.mark.parametrize("strict", [True, False])
def test_missing_column_is_always_an_error(tmp_path, missing, strict):
    frame = pl.read_csv(io.StringIO(HEADER + "\n" + "\n".join(GOOD)), infer_schema=False)
    frame = frame.drop(missing)
    if missing == "ts_ns":
        frame = frame.with_columns(pl.lit("1").alias("ts_nanos"))
    frame.write_parquet(tmp_path / "t.parquet")
    with pytest.raises(SchemaError, match=f"column '{missing}'"):
        read_trace(tmp_path / "t.parquet", strict=strict)


def test_mistyped_parquet_column(tmp_path):
    frame = pl.DataFrame(
        {
            "ts_ns": [1, 2],
            "src_ip": ["1.2.3.4", "1.2.3.5"],
            "dst_ip": ["1.2.3.4", "1.2.3.5"],
            "src_port": [1.5, 2.0],
            "dst_port": [1, 2],
            "proto": [6, 6],
            "wire_len": [100, 100],
        }
    )
    frame.write_parquet(tmp_path / "t.parquet")
    for strict in (True, False):
        with pytest.raises(SchemaError, match=r"column 'src_port'.*found Float64"):
            read_trace(tmp_path / "t.parquet", strict=strict)


def test_parquet_binary_addresses_and_nulls(tmp_path):
    good = ip_to_bytes("10.0.0.1")
    frame = pl.DataFrame(
        {
            "ts_ns": [1, 2, 3, None],
            "src_ip": [good, good[:4], good, good],
            "dst_ip": [good, good, good, good],
            "src_port": [1, 2, 3, 4],
            "dst_port": [1, 2, 3, 4],
            "proto": pl.Series([6, 6, 6, 6], dtype=pl.UInt8),
            "wire_len": pl.Series([100, 100, 2**32, 100], dtype=pl.Int64),
        }
    )
    frame.write_parquet(tmp_path / "t.parquet")
    with pytest.raises(SchemaError, match=r"row 1, column 'src_ip'"):
        read_trace(tmp_path / "t.parquet")
    result = read_trace(tmp_path / "t.parquet", strict=False)
    assert result.skipped == {"unparsable": 1, "out_of_range": 1, "missing_value": 1}
    assert result.packets.height == 1


def test_unsorted_timestamps(tmp_path):
    text = "\n".join([HEADER, GOOD[0], GOOD[2], GOOD[1]]) + "\n"
    path = write_text(tmp_path, text)
    with pytest.raises(SchemaError, match=r"row 2 \(line 4\), column 'ts_ns'.*200 ns after 300 ns"):
        read_trace(path)
    result = read_trace(path, strict=False)
    assert result.notes == {"reordered": 1}
    assert result.packets["ts_ns"].to_list() == [100, 200, 300]


def test_unsorted_equal_timestamps_stay_stable(tmp_path):
    rows = ["5,1.1.1.1,2.2.2.2,1,1,6,1", "5,1.1.1.1,2.2.2.2,2,2,6,2", "1,1.1.1.1,2.2.2.2,3,3,6,3"]
    result = read_trace(write_text(tmp_path, "\n".join([HEADER, *rows]) + "\n"), strict=False)
    assert result.packets["wire_len"].to_list() == [3, 1, 2]


def test_bad_payload_hex(tmp_path):
    text = HEADER + ",payload\n" + GOOD[0] + ",00ff\n" + GOOD[1] + ",zz\n"
    path = write_text(tmp_path, text)
    with pytest.raises(SchemaError, match=r"row 1 \(line 3\), column 'payload'"):
        read_trace(path, payload_bytes=10)
    assert read_trace(path).packets.height == 2  # payload not requested: not parsed
    result = read_trace(path, payload_bytes=10, strict=False)
    assert result.skipped == {"unparsable": 1}
    assert result.packets["payload"].to_list() == [b"\x00\xff"]


def test_ragged_csv_line(tmp_path):
    text = "\n".join([HEADER, GOOD[0], GOOD[1] + ",9", GOOD[2]]) + "\n"
    with pytest.raises(TraceFormatError, match="line 3: expected 7 comma-separated fields"):
        read_trace(write_text(tmp_path, text))
