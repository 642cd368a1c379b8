"""The pcap/pcapng reader against dpkt (oracle) and against its plain-Python twin."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import dpkt
import numpy as np
import polars as pl
import pytest
from captures import (
    EPB,
    LINKS,
    SPB,
    V4_PREFIX,
    Iface,
    Other,
    Pkt,
    Rec,
    Section,
    arp_frame,
    captures,
    ip_packet,
    link_frame,
    pcap_bytes,
    pcapng_bytes,
    units_to_ns,
    v4_options,
)
from conftest import shared_trace
from hypothesis import HealthCheck, given, settings

from snfkit.engine.pcap_nb import Count
from snfkit.errors import TraceFormatError
from snfkit.reference.pcap import read_capture_reference
from snfkit.traces import read_trace
from snfkit.traces.pcap import read_capture, read_capture_columns
from snfkit.traces.result import IngestResult
from snfkit.traces.schema import PACKETS_SCHEMA
from snfkit.traces.sniff import TraceBytes
from snfkit.traces.table import validate_packets


def read_bytes(data: bytes, fmt: str | None = None, **kw) -> IngestResult:
    fmt = fmt or ("pcapng" if data[:4] == b"\x0a\x0d\x0d\x0a" else "pcap")
    src = TraceBytes(Path("mem.pcap"), np.frombuffer(data, np.uint8), fmt, None)
    return read_capture(src, **kw)


VLAN_TAGS = {struct.pack(">H", t) for t in (0x8100, 0x88A8, 0x9100, 0x9200)}


# ---- dpkt oracle --------------------------------------------------------------------------------


def dpkt_fields(frame: bytes, link: int) -> tuple | None:
    """(src16, dst16, sport, dport, proto, wire_len, l4_payload or None) by dpkt; None if non-IP.

    dpkt decodes the link and IP layers; the schema's rules are applied here on top: fragments get
    ports 0, wire_len is the IP total length (IPv4) or 40 + payload length (IPv6).
    """
    if link == 1:
        ip = dpkt.ethernet.Ethernet(frame).data
    elif link in (12, 101):
        ip = dpkt.ip.IP(frame) if frame[0] >> 4 == 4 else dpkt.ip6.IP6(frame)
    elif link == 228:
        ip = dpkt.ip.IP(frame)
    elif link == 229:
        ip = dpkt.ip6.IP6(frame)
    elif link == 113:
        ip = dpkt.sll.SLL(frame).data
        if frame[14:16] in VLAN_TAGS:  # dpkt's SLL does not unwrap VLAN tags; its Ethernet does
            ip = dpkt.ethernet.Ethernet(bytes(12) + frame[14:]).data
    elif link == 276:
        ip = dpkt.sll2.SLL2(frame).data
        if frame[0:2] in VLAN_TAGS:
            ip = dpkt.ethernet.Ethernet(bytes(12) + frame[0:2] + frame[20:]).data
    elif link in (0, 108):
        ip = dpkt.loopback.Loopback(frame).data
    else:
        raise AssertionError(link)
    if isinstance(ip, dpkt.ip.IP):
        src, dst = V4_PREFIX + ip.src, V4_PREFIX + ip.dst
        fragment = bool(ip.mf or ip.offset)
        wire = ip.len
    elif isinstance(ip, dpkt.ip6.IP6):
        src, dst = ip.src, ip.dst
        fragment = any(isinstance(h, dpkt.ip6.IP6FragmentHeader) for h in ip.all_extension_headers)
        wire = 40 + ip.plen
    else:
        return None
    sport = dport = 0
    payload = None
    l4 = ip.data
    if not fragment and ip.p in (6, 17):
        if isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP):
            sport, dport, payload = l4.sport, l4.dport, bytes(l4.data)
        elif len(l4) >= 4:  # header cut by the snap length: dpkt keeps raw bytes
            sport, dport = struct.unpack(">HH", bytes(l4)[:4])
    return src, dst, sport, dport, ip.p, wire, payload


def assert_rows_match(table: pl.DataFrame, ts: list[int], fields: list[tuple], check_payload=False):
    assert table.height == len(fields)
    assert table["ts_ns"].to_list() == ts
    cols = ("src_ip", "dst_ip", "src_port", "dst_port", "proto", "wire_len")
    got = list(zip(*(table[c].to_list() for c in cols), strict=True))
    assert got == [f[:6] for f in fields]
    if check_payload:
        for i, f in enumerate(fields):
            if f[6] is not None:
                assert table["payload"][i] == f[6][: len(table["payload"][i])], i


# ---- the shared real traces ---------------------------------------------------------------------


@pytest.mark.shared
def test_caida_matches_dpkt():
    path = shared_trace("caida-nyc-2018-10k.pcap")
    res = read_trace(path)
    assert res.format == "pcapng"  # sniffed from the magic, not the .pcap name
    ts, fields = [], []
    with open(path, "rb") as fh:
        reader = dpkt.pcapng.Reader(fh)
        assert reader.datalink() == 101
        for t, buf in reader:
            ts.append(round(t * 1e6) * 1000)  # µs resolution; float is exact to the µs here
            fields.append(dpkt_fields(buf, 101))
    assert_rows_match(res.packets, ts, fields)
    assert res.packets.height == 10_000
    # SOURCES.md counts 3,149 distinct 5-tuples with dpkt's ports on first fragments; the schema's
    # fragment rule (ports 0 for every fragment) merges 2 of them: 3,147 flows.
    assert len({f[:5] for f in fields}) == 3_147
    assert res.packets["flow_id"].max() + 1 == 3_147
    assert res.notes["fragments"] == 24
    assert res.skipped == {}


@pytest.mark.shared
def test_auckland_matches_dpkt():
    path = shared_trace("auckland-2000-31k.pcap")
    res = read_trace(path, payload_bytes=16)
    ts, fields = [], []
    with open(path, "rb") as fh:
        reader = dpkt.pcap.Reader(fh)
        assert reader.datalink() == 12
        for t, buf in reader:  # ns magic: dpkt returns an exact Decimal
            ts.append(int(t * 10**9))
            fields.append(dpkt_fields(buf, 12))
    assert_rows_match(res.packets, ts, fields, check_payload=True)
    assert res.packets.height == 31_249
    assert res.packets["flow_id"].max() + 1 == 2_580
    assert res.skipped == {}
    validate_packets(res.packets)


@pytest.mark.shared
def test_caida_stats_without_fragment_rule_match_sources():
    path = shared_trace("caida-nyc-2018-10k.pcap")
    with open(path, "rb") as fh:
        flows = set()
        for _, buf in dpkt.pcapng.Reader(fh):
            ip = dpkt.ip.IP(buf)
            ports = (ip.data.sport, ip.data.dport) if hasattr(ip.data, "sport") else (0, 0)
            flows.add((ip.src, ip.dst, *ports, ip.p))
    assert len(flows) == 3_149


# ---- generated captures: every link type, IP version, tag case ---------------------------------

PKTS = [
    Pkt(4, proto=6, sport=1111, dport=80, payload=b"hello tcp", tcp_options=b"\x01" * 8),
    Pkt(4, proto=17, sport=53, dport=5353, payload=b"udp!", options=v4_options(2)),
    Pkt(4, proto=1, payload=b"\x08\x00ping"),
    Pkt(4, proto=6, sport=7, dport=8, payload=b"frag-first", frag="first"),
    Pkt(4, proto=17, payload=b"frag-later-data", frag="later"),
    Pkt(
        6,
        src=bytes(15) + b"\x01",
        dst=bytes(15) + b"\x02",
        proto=6,
        sport=2,
        dport=3,
        payload=b"v6tcp",
    ),
    Pkt(
        6,
        src=bytes(15) + b"\x01",
        dst=bytes(15) + b"\x02",
        proto=17,
        sport=4,
        dport=5,
        payload=b"v6 ext",
        ext=(0, 43, 60),
    ),
    Pkt(
        6,
        src=bytes(15) + b"\x03",
        dst=bytes(15) + b"\x02",
        proto=6,
        sport=9,
        dport=10,
        payload=b"ah",
        ext=(51,),
    ),
    Pkt(
        6,
        src=bytes(15) + b"\x03",
        dst=bytes(15) + b"\x04",
        proto=17,
        payload=b"6frag1",
        frag="first",
    ),
    Pkt(
        6,
        src=bytes(15) + b"\x03",
        dst=bytes(15) + b"\x04",
        proto=17,
        payload=b"6frag2",
        frag="later",
        ext=(0,),
    ),
    Pkt(6, src=bytes(15) + b"\x05", dst=bytes(15) + b"\x04", proto=58, payload=b"icmp6"),
]


def link_cases():
    for link in LINKS:
        versions = {228: (4,), 229: (6,)}.get(link, (4, 6))
        tag_sets = (
            [(), (0x8100,), (0x88A8, 0x8100), (0x9100, 0x9100)] if link in (1, 113, 276) else [()]
        )
        for tags in tag_sets:
            yield link, versions, tags


@pytest.mark.parametrize(("link", "versions", "tags"), list(link_cases()))
def test_generated_link_types_match_dpkt(link, versions, tags):
    pk = [p for p in PKTS if p.version in versions]
    frames = [link_frame(ip_packet(p), link, tags=tags) for p in pk]
    if link == 1:
        frames.insert(1, arp_frame())
    if link == 0:  # BSD null: family in the capturing host's order, either one
        frames.append(link_frame(ip_packet(PKTS[0]), 0, null_order=">"))
    recs = [Rec(1_000_000_000 + 1000 * i, f) for i, f in enumerate(frames)]
    res = read_bytes(pcap_bytes(recs, link), payload_bytes=64)
    expected = [(r.ts_ns, dpkt_fields(r.frame, link)) for r in recs]
    kept = [(t, f) for t, f in expected if f is not None]
    assert_rows_match(res.packets, [t for t, _ in kept], [f for _, f in kept], check_payload=True)
    # and against the writer's own description of the packets
    by_spec = pk + ([PKTS[0]] if link == 0 else [])
    assert res.packets["payload"].to_list() == [p.expected_payload() for p in by_spec]
    assert res.packets["src_port"].to_list() == [p.expected_ports()[0] for p in by_spec]
    n_frag = sum(p.frag is not None for p in by_spec)
    assert res.notes.get("fragments", 0) == n_frag
    assert res.skipped == ({"non_ip": 1} if link == 1 else {})


@pytest.mark.parametrize("nano", [False, True])
@pytest.mark.parametrize("big", [False, True])
def test_pcap_flavours(nano, big):
    frames = [link_frame(ip_packet(p), 1) for p in PKTS]
    ts = [1_521_118_773_289_502_123 + 1_234_567 * i for i in range(len(frames))]
    data = pcap_bytes([Rec(t, f) for t, f in zip(ts, frames, strict=True)], 1, nano=nano, big=big)
    res = read_bytes(data)
    want = ts if nano else [t // 1000 * 1000 for t in ts]
    assert res.packets["ts_ns"].to_list() == want
    assert_rows_match(res.packets, want, [dpkt_fields(f, 1) for f in frames])
    # dpkt reads the written file with the same timestamps
    got = [
        int(t * 10**9) if nano else round(t * 1e6) * 1000
        for t, _ in dpkt.pcap.Reader(io.BytesIO(data))
    ]
    assert got == want


def test_pcapng_single_interface_matches_dpkt_reader(tmp_path):
    frames = [link_frame(ip_packet(p), 1, tags=(0x8100,)) for p in PKTS]
    blocks = [EPB(0, 1_521_118_773_289_502 + 7 * i, f) for i, f in enumerate(frames)]
    data = pcapng_bytes([Section(False, [Iface(1, 6)], blocks)])
    path = tmp_path / "one.pcapng"
    path.write_bytes(data)
    res = read_trace(path)
    with open(path, "rb") as fh:
        rows = [(round(t * 1e6) * 1000, dpkt_fields(buf, 1)) for t, buf in dpkt.pcapng.Reader(fh)]
    assert_rows_match(res.packets, [t for t, _ in rows], [f for _, f in rows])


def test_pcapng_interfaces_sections_resolutions_offsets():
    """Several sections (both byte orders), interfaces with if_tsresol 10^-k / 2^-k and offsets;
    other blocks skipped; dpkt decodes each frame, timestamps follow the pcapng spec exactly."""
    ifs1 = [Iface(1, None), Iface(101, 9, 0), Iface(113, 0x80 | 20, 3), Iface(229, 3)]
    ifs2 = [Iface(276, 0x80 | 10, -2), Iface(0, 6, 100), Iface(228, 7)]
    v4 = [p for p in PKTS if p.version == 4]
    v6 = [p for p in PKTS if p.version == 6]
    expected = []

    def epb(ifaces, i, units, p, **kw):
        ifc = ifaces[i]
        fr = link_frame(ip_packet(p), ifc.link)
        expected.append((units_to_ns(units, ifc.tsresol, ifc.tsoffset), dpkt_fields(fr, ifc.link)))
        return EPB(i, units, fr, **kw)

    s1 = Section(
        False,
        ifs1,
        [
            Other(4, b"\x01\x00\x04\x00\x0a\x00\x00\x01x\x00\x00\x00\x00\x00\x00\x00"),  # NRB
            epb(ifs1, 0, 1_600_000_000_000_000, v4[0]),
            epb(ifs1, 1, 1_600_000_000_000_000_500, v4[1]),
            epb(ifs1, 2, (1_599_999_997 << 20) + 700_000, v6[0]),
            Other(0xBAD, b"custom!!"),
            epb(ifs1, 3, 1_600_000_001_001, v6[1], obsolete=True),
            Other(5, bytes(16)),  # ISB
        ],
    )
    s2 = Section(
        True,
        ifs2,
        [
            epb(ifs2, 0, (1_600_000_003 << 10) + 5, v4[2]),
            epb(ifs2, 1, 1_599_999_904_000_000, v6[2]),
            epb(ifs2, 2, 16_000_000_050_000_000, v4[3]),
        ],
    )
    res = read_bytes(pcapng_bytes([s1, s2]))
    assert_rows_match(res.packets, [e[0] for e in expected], [e[1] for e in expected])
    assert res.notes["sections"] == 2
    assert res.notes["interfaces"] == 7


def test_spb_takes_previous_timestamp_and_interface_0():
    f = [link_frame(ip_packet(p), 1) for p in PKTS[:3]]
    data = pcapng_bytes(
        [
            Section(
                False,
                [Iface(1, 9), Iface(12)],
                [
                    SPB(f[0]),  # before any timestamped packet: 0
                    EPB(0, 5_000, f[1]),
                    SPB(f[2]),
                    EPB(1, 6, link_frame(ip_packet(PKTS[0]), 12)),
                ],
            )
        ]
    )
    res = read_bytes(data)
    assert res.packets["ts_ns"].to_list() == [0, 5_000, 5_000, 6_000]
    assert res.notes["spb_timestamps"] == 2
    assert res.packets["wire_len"][0] == len(ip_packet(PKTS[0]))


def test_snap_length_keeps_wire_len_and_payload_is_captured_part():
    p = Pkt(4, proto=6, payload=b"x" * 1000)
    fr = link_frame(ip_packet(p), 1)
    res = read_bytes(pcap_bytes([Rec(0, fr, 64)], 1), payload_bytes=100)
    row = res.packets.row(0, named=True)
    assert row["wire_len"] == 20 + 20 + 1000
    assert row["payload"] == b"x" * (64 - 14 - 40)
    assert res.notes["truncated_capture"] == 1


def test_ports_cut_off_keeps_packet_with_ports_0():
    fr = link_frame(ip_packet(Pkt(4, proto=17, sport=5, dport=6)), 1)
    res = read_bytes(pcap_bytes([Rec(0, fr, 14 + 20 + 3)], 1))
    assert res.packets["src_port"].to_list() == [0]
    assert res.notes["l4_truncated"] == 1


def test_ethernet_padding_is_not_payload():
    fr = link_frame(ip_packet(Pkt(4, proto=17, payload=b"ab")), 1) + bytes(20)
    res = read_bytes(pcap_bytes([Rec(0, fr)], 1), payload_bytes=100)
    assert res.packets["payload"].to_list() == [b"ab"]


def test_lenient_reorders_backwards_timestamps_stably():
    f = [link_frame(ip_packet(Pkt(4, sport=i)), 1) for i in range(4)]
    data = pcap_bytes([Rec(3000, f[0]), Rec(1000, f[1]), Rec(3000, f[2]), Rec(2000, f[3])], 1)
    with pytest.raises(TraceFormatError):
        read_bytes(data)
    res = read_bytes(data, strict=False)
    assert res.packets["ts_ns"].to_list() == [1000, 2000, 3000, 3000]
    assert res.packets["src_port"].to_list() == [1, 3, 0, 2]
    assert res.notes["reordered"] == 2
    assert res.packets["flow_id"].to_list() == [0, 1, 2, 3]


def test_chunks_and_progress_give_the_same_table():
    frames = [link_frame(ip_packet(p), 1) for p in PKTS] * 5 + [arp_frame()] * 3
    data = pcap_bytes([Rec(i * 1000, f) for i, f in enumerate(frames)], 1)
    calls = []
    whole = read_bytes(data, payload_bytes=8)
    src = TraceBytes(Path("m"), np.frombuffer(data, np.uint8), "pcap", None)
    res = read_capture(
        src, payload_bytes=8, chunk_records=3, progress=lambda d, t: calls.append((d, t))
    )
    assert res.packets.equals(whole.packets)
    assert res.skipped == whole.skipped == {"non_ip": 3}
    assert calls[-1] == (len(data), len(data))
    assert len(calls) > 5
    _, state = read_capture_columns(src, chunk_records=4)
    assert state.counts[Count.RECORDS] == len(frames)


def test_schema_and_empty_capture():
    res = read_bytes(pcap_bytes([], 1))
    assert res.packets.height == 0
    assert dict(res.packets.schema) == PACKETS_SCHEMA
    res = read_bytes(pcap_bytes([Rec(0, link_frame(ip_packet(PKTS[0]), 1))], 1), payload_bytes=4)
    validate_packets(res.packets)
    assert res.packets.columns == [*PACKETS_SCHEMA, "payload"]


# ---- kernel vs plain-Python twin ---------------------------------------------------------------


def assert_same_as_twin(
    data: bytes, fmt: str, strict: bool, payload_bytes: int
) -> IngestResult | None:
    try:
        want, _ = read_capture_reference(
            data, fmt, strict=strict, payload_bytes=payload_bytes, path="mem.pcap"
        )
    except TraceFormatError as exc:
        with pytest.raises(TraceFormatError) as got:
            read_bytes(data, fmt, strict=strict, payload_bytes=payload_bytes)
        assert (got.value.offset, got.value.expected, got.value.found) == (
            exc.offset,
            exc.expected,
            exc.found,
        )
        return None
    res = read_bytes(data, fmt, strict=strict, payload_bytes=payload_bytes)
    assert res.packets.equals(want.packets)
    # chunk boundaries anywhere (pcapng section/interface state carried across calls)
    small = read_bytes(data, fmt, strict=strict, payload_bytes=payload_bytes, chunk_records=2)
    assert small.packets.equals(want.packets)
    assert (small.skipped, small.notes) == (want.skipped, want.notes)
    assert res.skipped == want.skipped
    assert res.notes == want.notes
    return res


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(captures())
def test_kernel_equals_twin_on_random_captures(cap):
    data, fmt = cap
    for strict in (True, False):
        assert_same_as_twin(data, fmt, strict, 8 if strict else 0)
