"""Reader anomalies that used to pass silently (issue 15, item 10).

A truncated zstd stream, a pcapng timestamp beyond int64 ns, a CSV with a byte-order mark or
without a time column, and records whose captured length exceeds the snap length or the original
length: each is now an error, a skip or a note by reason, never a silent prefix or a wrapped
value; the kernel and its plain-Python twin agree on every case.
"""

from __future__ import annotations

import gzip
import lzma
import struct

import numpy as np
import polars as pl
import pytest
import zstandard
from captures import (
    EPB,
    Iface,
    Pkt,
    Rec,
    Section,
    ip_packet,
    link_frame,
    pcap_bytes,
    pcapng_bytes,
    units_to_ns,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pcap_reader import assert_same_as_twin, read_bytes

from snfkit.errors import SchemaError, TraceFormatError
from snfkit.traces import read_trace
from snfkit.traces.tabular import write_packets

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
FRAME = link_frame(ip_packet(Pkt(4, payload=b"0123456789" * 20)), 1)
PCAP = pcap_bytes([Rec(1000 * i, FRAME) for i in range(40)], 1)
INT64_MAX = 2**63 - 1

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


# ---- pcapng timestamps ---------------------------------------------------------------------------


def _ng(units: int, resol: int | None, offset: int = 0) -> tuple[bytes, int, int]:
    """Two EPBs, at 0 units and at ``units``, and their byte offsets."""
    ifc = Iface(1, resol, offset)
    data = pcapng_bytes([Section(False, [ifc], [EPB(0, 0, FRAME), EPB(0, units, FRAME)])])
    zero = len(pcapng_bytes([Section(False, [ifc], [])]))
    one = len(pcapng_bytes([Section(False, [ifc], [EPB(0, 0, FRAME)])]))
    return data, zero, one


@pytest.mark.parametrize(
    ("units", "resol", "offset"),
    [
        (2**64 - 1, 9, 0),  # ns units: above int64
        (2**63, 9, 0),
        (2**60, 6, 0),  # us units: x1000 wraps
        (2**62, 0x80 | 20, 0),  # 2**-20 s units: 2**42 s
        (10, 6, 2**40),  # if_tsoffset 2**40 s
        (2**63 // 1000 - 1, 6, 10**10),  # each part fits, their sum does not
    ],
)
def test_pcapng_timestamp_beyond_int64_is_reported(units, resol, offset):
    data, first, second = _ng(units, resol, offset)
    with pytest.raises(TraceFormatError) as info:
        read_bytes(data)
    assert info.value.offset == (first if offset else second)  # the offset moves both
    assert "a timestamp representable in int64 ns" in info.value.expected
    assert_same_as_twin(data, "pcapng", True, 0)
    res = assert_same_as_twin(data, "pcapng", False, 0)
    assert res is not None
    if offset:  # the first EPB overflows too (same interface offset)
        assert res.skipped == {"bad_timestamp": 2}
    else:
        assert res.skipped == {"bad_timestamp": 1}
        assert res.packets.height == 1


_RESOLS = st.one_of(st.integers(0, 19), st.integers(0x80, 0x80 | 34), st.none())


@PROPS
@given(units=st.integers(0, 2**64 - 1), resol=_RESOLS, offset=st.integers(-(2**34), 2**34))
def test_pcapng_timestamps_are_exact_or_reported(units, resol, offset):
    data, _, _ = _ng(units, resol, offset)
    exact = units_to_ns(units, resol, offset)
    first = units_to_ns(0, resol, offset)
    res = assert_same_as_twin(data, "pcapng", False, 0)
    assert res is not None
    kept = [t for t in (first, exact) if -(2**63) <= t <= INT64_MAX]
    assert sorted(res.packets["ts_ns"].to_list()) == sorted(kept)
    assert res.skipped.get("bad_timestamp", 0) == 2 - len(kept)


# ---- captured length vs snap length and original length -----------------------------------------


def _pcap_record(caplen: int, origlen: int, snaplen: int = 65535) -> bytes:
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)
    return head + struct.pack("<IIII", 0, 0, caplen, origlen) + FRAME[:caplen]


@pytest.mark.parametrize("strict", [True, False])
def test_pcap_caplen_over_snaplen_and_origlen_below_caplen_are_noted(strict):
    n = len(FRAME)
    cases = {
        (n, n, 65535): {},
        (n, n, 100): {"caplen_over_snaplen": 1},
        (n, n, 0): {},  # snap length 0: no limit
        (n, n - 1, 65535): {"origlen_below_caplen": 1},
        (n, 10, 100): {"caplen_over_snaplen": 1, "origlen_below_caplen": 1},
        (100, n, 100): {"truncated_capture": 1},
    }
    for (cap, orig, snap), notes in cases.items():
        res = assert_same_as_twin(_pcap_record(cap, orig, snap), "pcap", strict, 0)
        assert res is not None and res.packets.height == 1
        assert res.notes == notes, (cap, orig, snap)


def _anomalies(notes: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in notes.items() if k not in ("sections", "interfaces")}


def test_pcapng_caplen_over_snaplen_and_origlen_below_caplen_are_noted():
    n = len(FRAME)
    data = pcapng_bytes(
        [Section(False, [Iface(1, snaplen=100), Iface(1)], [EPB(0, 1, FRAME), EPB(1, 2, FRAME)])]
    )
    res = assert_same_as_twin(data, "pcapng", True, 0)
    assert res is not None and _anomalies(res.notes) == {"caplen_over_snaplen": 1}
    # an EPB whose original length is below its captured length
    epb = EPB(0, 3, FRAME)
    sec = pcapng_bytes([Section(False, [Iface(1)], [epb])])
    i = sec.rindex(struct.pack("<II", n, n))
    bad = sec[:i] + struct.pack("<II", n, n - 5) + sec[i + 8 :]
    res = assert_same_as_twin(bad, "pcapng", True, 0)
    assert res is not None and _anomalies(res.notes) == {"origlen_below_caplen": 1}


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
