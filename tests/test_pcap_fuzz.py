"""Fuzz the capture reader: mutated captures give a valid table or a TraceFormatError, nothing else;
lenient mode accounts for every record; the kernel and its plain-Python twin agree byte for byte."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from captures import captures
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pcap_reader import read_bytes

from snfkit.engine.pcap_nb import Count
from snfkit.errors import TraceFormatError
from snfkit.reference.pcap import read_capture_reference
from snfkit.traces.pcap import read_capture_columns
from snfkit.traces.sniff import TraceBytes
from snfkit.traces.table import validate_packets

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def mutated(draw) -> tuple[bytes, str]:
    data, fmt = draw(captures())
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip", "set", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(buf) - 1, 0)))
        if kind == "flip" and buf:
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and buf:
            buf[pos] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x04, 0x45, 0x60]))
        elif kind == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del buf[pos : pos + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del buf[pos:]
    return bytes(buf), fmt


def records_seen(data: bytes, fmt: str) -> int:
    src = TraceBytes(Path("mem.pcap"), np.frombuffer(data, np.uint8), fmt, None)
    _, state = read_capture_columns(src, strict=False)
    return int(state.counts[Count.RECORDS])


@FUZZ
@given(mutated())
def test_mutated_captures_table_or_format_error(case):
    data, fmt = case
    if not data:
        return
    for strict in (True, False):
        try:
            want, seen = read_capture_reference(data, fmt, strict=strict, payload_bytes=4)
        except TraceFormatError as exc:
            try:
                read_bytes(data, fmt, strict=strict, payload_bytes=4)
            except TraceFormatError as got:
                assert (got.offset, got.expected, got.found) == (
                    exc.offset,
                    exc.expected,
                    exc.found,
                )
            else:
                raise AssertionError("the kernel accepted what the twin rejects") from exc
            continue
        res = read_bytes(data, fmt, strict=strict, payload_bytes=4)
        validate_packets(res.packets)
        assert res.packets.equals(want.packets)
        assert (res.skipped, res.notes) == (want.skipped, want.notes)
        if not strict:
            assert res.records == seen == records_seen(data, fmt)


def record_spans(data: bytes, fmt: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_packet_record) of each record / block of a valid capture."""
    spans = []
    if fmt == "pcap":
        o = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        pos = 24
        while pos < len(data):
            caplen = struct.unpack_from(o + "I", data, pos + 8)[0]
            spans.append((pos, pos + 16 + caplen, True))
            pos += 16 + caplen
        return spans
    pos, o = 0, "<"
    while pos < len(data):
        if data[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            o = ">" if data[pos + 8 : pos + 12] == b"\x1a\x2b\x3c\x4d" else "<"
        btype, blen = struct.unpack_from(o + "II", data, pos)
        spans.append((pos, pos + blen, btype in (2, 3, 6)))
        pos += blen
    return spans


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(captures(), st.floats(0, 1))
def test_truncated_capture_counts_every_record(cap, where):
    """Cutting a valid file anywhere past its header: lenient mode keeps or skips each record that
    starts before the cut, and counts the cut one (if any) as truncated."""
    data, fmt = cap
    spans = record_spans(data, fmt)
    first = 24 if fmt == "pcap" else spans[0][1]
    cut = first + int(where * (len(data) - first))
    cut_data = data[:cut]
    try:
        res = read_bytes(cut_data, fmt, strict=False)
    except TraceFormatError:
        raise AssertionError("a cut after the file header must be readable leniently") from None
    whole = sum(1 for s, e, pkt in spans if pkt and e <= cut)
    partial = any(s < cut < e for s, e, _ in spans)
    assert res.records == whole + partial
    assert res.skipped.get("truncated_record", 0) == partial
