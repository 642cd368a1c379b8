"""Malformed captures: strict mode raises TraceFormatError at the exact byte offset, lenient mode
skips and counts by reason; the plain-Python twin agrees on every case."""

from __future__ import annotations

import struct

import pytest
from captures import (
    EPB,
    Iface,
    Pkt,
    Rec,
    Section,
    block,
    ip_packet,
    link_frame,
    pcap_bytes,
    pcapng_bytes,
)
from test_pcap_reader import assert_same_as_twin, read_bytes

from snfkit.errors import TraceFormatError
from snfkit.traces import read_trace

GOOD = [Rec(1000 * i, link_frame(ip_packet(Pkt(4, sport=i)), 1)) for i in range(3)]
REC_LEN = 16 + len(GOOD[0].frame)  # each pcap record in GOOD


def pcap_good(**kw) -> bytes:
    return pcap_bytes(GOOD, 1, **kw)


def ng_good(link: int = 1) -> tuple[bytes, list[int]]:
    """A one-interface pcapng file and the byte offsets of its EPBs."""
    frames = [r.frame if link == 1 else r.frame[14:] for r in GOOD]
    data = pcapng_bytes(
        [Section(False, [Iface(link)], [EPB(0, i, f) for i, f in enumerate(frames)])]
    )
    head = len(pcapng_bytes([Section(False, [Iface(link)], [])]))
    epb_len = (len(data) - head) // 3
    return data, [head + i * epb_len for i in range(3)]


def strict_error(data: bytes, fmt: str | None = None) -> TraceFormatError:
    with pytest.raises(TraceFormatError) as info:
        read_bytes(data, fmt)
    assert_same_as_twin(data, fmt or "pcap", True, 0) if fmt else None
    return info.value


def lenient(data: bytes, fmt: str = "pcap"):
    res = assert_same_as_twin(data, fmt, False, 0)
    assert res is not None
    return res


# ---- file level --------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    for strict in (True, False):
        with pytest.raises(TraceFormatError, match=r"empty\.pcap.*empty file"):
            read_trace(path, strict=strict)
    with pytest.raises(TraceFormatError, match="empty file"):
        read_bytes(b"", "pcap")


@pytest.mark.parametrize("strict", [True, False])
def test_truncated_file_header(strict):
    with pytest.raises(TraceFormatError) as info:
        read_bytes(pcap_good()[:10], "pcap", strict=strict)
    assert info.value.offset == 0
    assert "24-byte pcap file header" in info.value.expected
    assert info.value.found == "10 bytes"


@pytest.mark.parametrize("strict", [True, False])
def test_wrong_magic(strict, tmp_path):
    with pytest.raises(TraceFormatError) as info:
        read_bytes(b"\x00\x01\x02\x03" + pcap_good()[4:], "pcap", strict=strict)
    assert (info.value.offset, info.value.found) == (0, "bytes 00010203")
    path = tmp_path / "junk.pcap"
    path.write_bytes(b"\x00\x01\x02\x03" + pcap_good()[4:])
    with pytest.raises(TraceFormatError, match=r"junk\.pcap: byte offset 0"):
        read_trace(path, strict=strict)


def test_pcapng_bad_first_block():
    data, _ = ng_good()
    bad_bom = data[:8] + b"\x00\x00\x00\x00" + data[12:]
    err = strict_error(bad_bom, "pcapng")
    assert err.offset == 0 and "byte-order" in err.expected
    with pytest.raises(TraceFormatError):
        read_bytes(bad_bom, "pcapng", strict=False)
    v2 = data[:12] + struct.pack("<H", 2) + data[14:]
    assert strict_error(v2, "pcapng").found == "version 2"


# ---- pcap records ------------------------------------------------------------------------------


def test_truncated_record_header():
    data = pcap_good() + b"\x00" * 10
    err = strict_error(data, "pcap")
    assert err.offset == 24 + 3 * REC_LEN
    assert err.found == "10 bytes before end of file"
    res = lenient(data)
    assert res.packets.height == 3
    assert res.skipped == {"truncated_record": 1}
    assert res.notes["unread_bytes"] == 10


def test_truncated_record_data():
    data = pcap_good()[:-5]
    err = strict_error(data, "pcap")
    assert err.offset == 24 + 2 * REC_LEN
    assert err.expected == f"{len(GOOD[2].frame)} bytes of packet data (caplen)"
    res = lenient(data)
    assert (res.packets.height, res.skipped) == (2, {"truncated_record": 1})


@pytest.mark.parametrize("caplen", [300_000, 2**32 - 1])
def test_record_longer_than_256k_or_file(caplen):
    data = bytearray(pcap_good(big=True))
    struct.pack_into(">I", data, 24 + REC_LEN + 8, caplen)
    data += bytes(300_000)
    err = strict_error(bytes(data), "pcap")
    assert (err.offset, err.found) == (24 + REC_LEN, f"caplen {caplen}")
    res = lenient(bytes(data))
    assert (res.packets.height, res.skipped) == (1, {"record_too_long": 1})
    assert res.notes["unread_bytes"] == len(data) - 24 - REC_LEN


def test_caplen_beyond_eof_below_256k():
    data = bytearray(pcap_good())
    struct.pack_into("<I", data, 24 + 8, 5000)
    err = strict_error(bytes(data), "pcap")
    assert err.offset == 24 and "5000 bytes of packet data" in err.expected


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_unknown_link_type(fmt):
    if fmt == "pcap":
        data, where = pcap_bytes(GOOD, 147), 0
    else:
        data, _ = ng_good(147)
        where = len(pcapng_bytes([Section(False, [], [])]))  # the IDB follows the SHB
    err = strict_error(data, fmt)
    assert (err.offset, err.found) == (where, "link type 147")
    assert "mem.pcap" in str(err) and "supported link type" in err.expected
    res = lenient(data, fmt)
    assert (res.packets.height, res.skipped) == (0, {"unknown_linktype": 3})


def test_non_monotonic_timestamps():
    recs = [GOOD[1], Rec(0, GOOD[0].frame), GOOD[2]]
    data = pcap_bytes(recs, 1)
    err = strict_error(data, "pcap")
    assert (err.offset, err.found) == (24 + REC_LEN, "0 ns after 1000 ns")
    assert err.expected == "non-decreasing timestamps"
    res = lenient(data)
    assert res.packets["ts_ns"].to_list() == [0, 1000, 2000]
    assert res.notes["reordered"] == 1


def test_non_monotonic_timestamps_ns():
    recs = [Rec(7000, GOOD[0].frame), Rec(6999, GOOD[1].frame), GOOD[2]]
    err = strict_error(pcap_bytes(recs, 1, nano=True), "pcap")
    assert (err.offset, err.found) == (24 + REC_LEN, "6999 ns after 7000 ns")
    res = lenient(pcap_bytes(recs, 1, nano=True))
    assert res.notes["reordered"] == 2
    assert res.packets["ts_ns"].to_list() == [2000, 6999, 7000]


# ---- headers inside packets --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "link", "reason"),
    [
        (link_frame(ip_packet(Pkt(4)), 1)[: 14 + 19], 1, "truncated_headers"),  # IPv4 < 20 bytes
        (
            link_frame(ip_packet(Pkt(4, proto=17, options=b"\x01" * 8)), 1)[: 14 + 24],
            1,
            "truncated_headers",
        ),  # options cut
        (
            link_frame(ip_packet(Pkt(6, src=bytes(16), dst=bytes(16))), 1)[: 14 + 39],
            1,
            "truncated_headers",
        ),
        (
            link_frame(ip_packet(Pkt(6, src=bytes(16), dst=bytes(16), ext=(0, 60))), 1)[: 14 + 44],
            1,
            "truncated_headers",
        ),  # extension header cut
        (link_frame(ip_packet(Pkt(4)), 1)[:13], 1, "truncated_headers"),  # Ethernet header cut
        (link_frame(ip_packet(Pkt(4)), 1, tags=(0x8100,))[:16], 1, "truncated_headers"),
        (link_frame(ip_packet(Pkt(4)), 113)[:15], 113, "truncated_headers"),
        (link_frame(ip_packet(Pkt(4)), 276)[:19], 276, "truncated_headers"),
        (link_frame(ip_packet(Pkt(4)), 0)[:3], 0, "truncated_headers"),
        (b"", 101, "truncated_headers"),
        (b"\x50" + bytes(30), 101, "bad_ip_header"),  # version 5
        (bytes(12) + b"\x08\x00\x44" + bytes(30), 1, "bad_ip_header"),  # IHL 4
        (link_frame(ip_packet(Pkt(6, src=bytes(16), dst=bytes(16))), 228), 228, "bad_ip_header"),
        (struct.pack("<I", 7) + ip_packet(Pkt(4)), 0, "non_ip"),  # unknown null family
    ],
)
def test_bad_packet_headers(frame, link, reason):
    data = pcap_bytes([GOOD[0], Rec(5000, frame)] if link == 1 else [Rec(5000, frame)], link)
    rec = 24 + (REC_LEN if link == 1 else 0)
    if reason == "non_ip":  # never an error: skipped in both modes
        res = read_bytes(data)
        assert res.skipped == {"non_ip": 1}
    else:
        err = strict_error(data, "pcap")
        assert err.offset == rec
        assert f"{len(frame)} captured bytes" in err.found
    res = lenient(data)
    assert res.skipped == {reason: 1}
    assert res.packets.height == (1 if link == 1 else 0)


# ---- pcapng blocks -----------------------------------------------------------------------------


def test_block_length_not_multiple_of_4():
    data, offs = ng_good()
    bad = bytearray(data)
    struct.pack_into("<I", bad, offs[1] + 4, 62)
    err = strict_error(bytes(bad), "pcapng")
    assert (err.offset, err.found) == (offs[1], "62")
    res = lenient(bytes(bad), "pcapng")
    assert (res.packets.height, res.skipped) == (1, {"bad_block": 1})
    assert res.notes["unread_bytes"] == len(data) - offs[1]


def test_block_trailer_mismatch():
    data, offs = ng_good()
    bad = bytearray(data)
    struct.pack_into("<I", bad, offs[2] - 4, 12)  # trailer of EPB 1
    err = strict_error(bytes(bad), "pcapng")
    assert err.offset == offs[1] and err.found == "12"
    assert lenient(bytes(bad), "pcapng").skipped == {"bad_block": 1}


def test_block_beyond_eof_and_header_cut():
    data, offs = ng_good()
    err = strict_error(data[:-4], "pcapng")
    assert err.offset == offs[2] and "before end of file" in err.found
    assert lenient(data[:-4], "pcapng").skipped == {"truncated_record": 1}
    err = strict_error(data[: offs[2] + 6], "pcapng")
    assert (err.offset, err.found) == (offs[2], "6 bytes before end of file")


def test_epb_too_short_unknown_interface_and_oversized_caplen():
    o = "<"
    frame = GOOD[0].frame
    ok, offs = ng_good()
    head = ok[: offs[0]]
    short = block(6, struct.pack(o + "I", 0), o)  # EPB without its fixed fields
    epb = struct.pack(o + "IIIII", 3, 0, 1, len(frame), len(frame)) + frame + bytes(-len(frame) % 4)
    unknown_if = block(6, epb, o)
    huge = block(6, struct.pack(o + "IIIII", 0, 0, 2, 300_000, 300_000) + bytes(300_000), o)
    data = head + short + unknown_if + huge + ok[offs[0] :]
    err = strict_error(data, "pcapng")
    assert err.offset == offs[0] and "block of type 6" in err.expected
    res = lenient(data, "pcapng")
    assert res.skipped == {"bad_block": 1, "unknown_interface": 1, "record_too_long": 1}
    assert res.packets.height == 3
    err = strict_error(head + unknown_if, "pcapng")
    assert (err.offset, err.found) == (offs[0], "interface 3")
    err = strict_error(head + huge, "pcapng")
    assert (err.offset, err.found) == (offs[0], "caplen 300000")


def test_packet_before_any_interface():
    frame = GOOD[0].frame
    shb = pcapng_bytes([Section(False, [], [])])
    epb = block(6, struct.pack("<IIIII", 0, 0, 1, len(frame), len(frame)) + frame, "<")
    err = strict_error(shb + epb, "pcapng")
    assert (err.offset, err.found) == (len(shb), "interface 0")


def test_lenient_accounts_for_every_record():
    data = pcap_bytes(
        [GOOD[0], Rec(10, b"\x60"), Rec(20, GOOD[1].frame[:20]), GOOD[2], Rec(3000, b"\x00" * 14)],
        1,
    )
    res = lenient(data)
    assert res.packets.height == 2
    assert res.skipped == {"truncated_headers": 2, "non_ip": 1}
    assert res.records == 5
