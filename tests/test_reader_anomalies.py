"""Reader anomalies that used to pass silently (issue 15, item 10).

A truncated zstd stream, a pcapng timestamp beyond int64 ns, a CSV with a byte-order mark or
without a time column, and records whose captured length exceeds the snap length or the original
length: each is now an error, a skip or a note by reason, never a silent prefix or a wrapped
value; the kernel and its plain-Python twin agree on every case.
"""

from __future__ import annotations

import gzip
import lzma

import numpy as np
import polars as pl
import pytest
import zstandard
from captures import Pkt, Rec, ip_packet, link_frame, pcap_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pcap_reader import read_bytes

from snfkit.errors import SchemaError, TraceFormatError
from snfkit.traces import read_trace
from snfkit.traces.tabular import write_packets

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
FRAME = link_frame(ip_packet(Pkt(4, payload=b"0123456789" * 20)), 1)
PCAP = pcap_bytes([Rec(1000 * i, FRAME) for i in range(40)], 1)

COMPRESS = {
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "xz": lzma.compress,
    "zstd": lambda b: zstandard.ZstdCompressor(write_checksum=True).compress(b),
}


# ---- compressed streams ------------------------------------------------------------------------


@PROPS
@given(kind=st.sampled_from(sorted(COMPRESS)), keep=st.floats(0.0, 0.999), strict=st.booleans())
def test_truncated_compressed_stream_is_an_error(tmp_path_factory, kind, keep, strict):
    whole = COMPRESS[kind](PCAP)
    cut = max(6, int(len(whole) * keep))  # past every magic number: sniffed as compressed
    path = tmp_path_factory.mktemp("cut") / "t.pcap.x"
    path.write_bytes(whole[:cut])
    with pytest.raises(TraceFormatError) as info:
        read_trace(path, strict=strict)
    assert str(path) in str(info.value)
    assert f"a complete {kind} stream" in str(info.value)


@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_whole_compressed_stream_reads(tmp_path, kind):
    path = tmp_path / "t.pcap.x"
    path.write_bytes(COMPRESS[kind](PCAP))
    assert read_trace(path).packets.height == 40


def test_zstd_frames_are_all_read(tmp_path):
    # zstd (like gzip) may hold several frames back to back: 'zstd a b -c', pzstd, appends.
    half = 24 + 20 * (16 + len(FRAME))
    path = tmp_path / "two.pcap.zst"
    z = zstandard.ZstdCompressor()
    path.write_bytes(z.compress(PCAP[:half]) + z.compress(PCAP[half:]))
    res = read_trace(path)
    assert res.packets.height == 40
    assert res.compression == "zstd"


def test_zstd_garbage_after_a_frame_is_an_error(tmp_path):
    path = tmp_path / "junk.pcap.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(PCAP) + b"not zstd")
    with pytest.raises(TraceFormatError, match="a complete zstd stream"):
        read_trace(path, strict=False)


# ---- CSV headers ---------------------------------------------------------------------------------

HEADER = ["ts_ns", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "wire_len"]
ROW = {
    "ts_ns": "5",
    "ts": "0.000000005",
    "src_ip": "10.0.0.1",
    "dst_ip": "10.0.0.2",
    "src_port": "1",
    "dst_port": "2",
    "proto": "6",
    "wire_len": "60",
}


def _csv(names: list[str], bom: bool) -> bytes:
    text = ",".join(names) + "\n" + ",".join(ROW.get(n, "x") for n in names) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def test_csv_with_a_byte_order_mark_reads(tmp_path):
    plain, marked = tmp_path / "plain.csv", tmp_path / "bom.csv"
    plain.write_bytes(_csv(HEADER, False))
    marked.write_bytes(_csv(HEADER, True))
    want = read_trace(plain).packets
    assert want.height == 1
    assert read_trace(marked).packets.equals(want)


@pytest.mark.parametrize("bom", [False, True])
def test_csv_without_a_time_column_is_a_column_problem(tmp_path, bom):
    path = tmp_path / "nots.csv"
    path.write_bytes(_csv(HEADER[1:], bom))
    with pytest.raises(SchemaError) as info:
        read_trace(path)
    assert "column 'ts_ns'" in str(info.value) and str(path) in str(info.value)


@PROPS
@given(
    names=st.lists(st.sampled_from([*HEADER, "ts", "flow_id", "note"]), min_size=1, unique=True),
    bom=st.booleans(),
)
def test_csv_header_is_read_or_names_a_missing_column(tmp_path_factory, names, bom):
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_bytes(_csv(names, bom))
    known = set(HEADER) | {"ts"}
    if len(names) == 1 or not known & set(names):
        with pytest.raises(TraceFormatError):  # not recognisably a packets CSV
            read_trace(path)
        return
    missing = [n for n in HEADER[1:] if n not in names]
    if "ts_ns" not in names and "ts" not in names:
        missing.insert(0, "ts_ns")
    if missing:
        with pytest.raises(SchemaError) as info:
            read_trace(path)
        assert f"column {missing[0]!r}" in str(info.value)
    else:
        assert read_trace(path).packets.height == 1


def test_parquet_written_table_still_round_trips(tmp_path):
    # the sniffing change must not move parquet or compressed CSV away from their readers
    table = read_bytes(PCAP).packets
    for name in ("t.parquet", "t.csv", "t.csv.zst"):
        write_packets(table, tmp_path / name)
        assert read_trace(tmp_path / name).packets.equals(table)
    assert isinstance(table, pl.DataFrame) and np.all(table["wire_len"].to_numpy() > 0)
