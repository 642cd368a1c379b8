"""Write small synthetic pcap / pcapng captures for tests (bytes built with struct, no dpkt).

Packets are described by :class:`Pkt` (IP version, addresses, protocol, ports, payload, IPv4
options, IPv6 extension headers, fragment kind); :func:`ip_packet` builds the IP bytes and
:func:`link_frame` wraps them in a link-layer header. :func:`pcap_bytes` and :func:`pcapng_bytes`
lay out files; hypothesis strategies for random captures are at the end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from hypothesis import strategies as st

V4_PREFIX = bytes(10) + b"\xff\xff"

# Link types the reader supports, and how the writer frames IP for each.
LINK_ETHERNET, LINK_NULL, LINK_RAW, LINK_RAW_BSD, LINK_LOOP = 1, 0, 12, 101, 108
LINK_SLL, LINK_IPV4, LINK_IPV6, LINK_SLL2 = 113, 228, 229, 276
LINKS = (0, 1, 12, 101, 108, 113, 228, 229, 276)
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)


@dataclass(frozen=True)
class Pkt:
    """One IP packet. ``frag``: None, 'first' (IPv4 MF, offset 0 / IPv6 fragment header offset
    0 with M) or 'later' (non-zero offset). ``ext``: IPv6 extension header types to insert."""

    version: int = 4
    src: bytes = b"\x0a\x00\x00\x01"
    dst: bytes = b"\x0a\x00\x00\x02"
    proto: int = 6
    sport: int = 1234
    dport: int = 80
    payload: bytes = b""
    options: bytes = b""  # IPv4 options (multiple of 4 bytes)
    tcp_options: bytes = b""  # multiple of 4 bytes
    ext: tuple[int, ...] = ()
    frag: str | None = None

    def l4(self) -> bytes:
        if self.frag == "later":
            return self.payload
        if self.proto == 6:
            off = (20 + len(self.tcp_options)) // 4
            hdr = struct.pack(">HHIIBBHHH", self.sport, self.dport, 1, 0, off << 4, 0x10, 9, 0, 0)
            return hdr + self.tcp_options + self.payload
        if self.proto == 17:
            return struct.pack(">HHHH", self.sport, self.dport, 8 + len(self.payload), 0) + (
                self.payload
            )
        return self.payload

    def expected_ports(self) -> tuple[int, int]:
        if self.frag is not None or self.proto not in (6, 17):
            return 0, 0
        return self.sport, self.dport

    def expected_addrs(self) -> tuple[bytes, bytes]:
        if self.version == 4:
            return V4_PREFIX + self.src, V4_PREFIX + self.dst
        return self.src, self.dst

    def expected_payload(self) -> bytes:
        if self.frag is not None:
            return self.l4()
        return self.payload


def ipv6_ext(kind: int, nxt: int, *, frag_offset: int = 0, more: bool = False) -> bytes:
    if kind == 44:
        return struct.pack(">BBHI", nxt, 0, (frag_offset << 3) | int(more), 0x1234)
    if kind == 51:  # AH: length in 4-octet units minus 2; 12 fixed + 12 ICV = 24 bytes
        return struct.pack(">BBHII", nxt, 4, 0, 0x100, 1) + bytes(12)
    return struct.pack(">BB", nxt, 0) + bytes(6)  # hop-by-hop / routing / dst-opts: 8 bytes


def ip_packet(p: Pkt) -> bytes:
    """IP header(s) + L4 bytes of ``p``."""
    body = p.l4()
    if p.version == 4:
        opts = p.options
        hl = 20 + len(opts)
        flags = {None: 0, "first": 0x2000, "later": 0x00B9}[p.frag]
        hdr = struct.pack(
            ">BBHHHBBH4s4s",
            0x40 | hl // 4,
            0,
            hl + len(body),
            7,
            flags,
            64,
            p.proto,
            0,
            p.src,
            p.dst,
        )
        return hdr + opts + body
    kinds = list(p.ext)
    if p.frag is not None and 44 not in kinds:
        kinds.append(44)
    chain = b""
    for i, kind in enumerate(kinds):
        nxt = kinds[i + 1] if i + 1 < len(kinds) else p.proto
        later = p.frag == "later"
        chain += ipv6_ext(kind, nxt, frag_offset=185 if later else 0, more=not later)
    plen = len(chain) + len(body)
    first = kinds[0] if kinds else p.proto
    hdr = struct.pack(">IHBB16s16s", 0x60000000, plen, first, 64, p.src, p.dst)
    return hdr + chain + body


def v4_options(n_words: int) -> bytes:
    """IPv4 options: NOPs ending with an end-of-list byte."""
    return b"\x01" * (4 * n_words - 1) + b"\x00" if n_words else b""


def link_frame(ip: bytes, link: int, *, tags: tuple[int, ...] = (), null_order: str = "<") -> bytes:
    """Wrap IP bytes for ``link``; ``tags`` are VLAN TPIDs (Ethernet, SLL, SLL2 only)."""
    version = ip[0] >> 4
    ethertype = 0x0800 if version == 4 else 0x86DD
    vlan = b"".join(struct.pack(">HH", tpid, 100 + i) for i, tpid in enumerate(tags))
    if tags:  # the header's type field holds the first TPID; each tag carries the next type
        types = [*tags[1:], ethertype]
        vlan = b"".join(struct.pack(">HH", 100 + i, t) for i, t in enumerate(types))
        outer = tags[0]
    else:
        outer = ethertype
    if link == LINK_ETHERNET:
        return (
            b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"
            + struct.pack(">H", outer)
            + (vlan + ip)
        )
    if link == LINK_SLL:
        return struct.pack(">HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00", outer) + (
            vlan + ip
        )
    if link == LINK_SLL2:
        return struct.pack(
            ">HHIHBB8s", outer, 0, 2, 1, 0, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00"
        ) + (vlan + ip)
    if link == LINK_NULL:
        fam = 2 if version == 4 else 30
        return struct.pack(null_order + "I", fam) + ip
    if link == LINK_LOOP:
        return struct.pack(">I", 2 if version == 4 else 24) + ip
    if link in (LINK_RAW, LINK_RAW_BSD, LINK_IPV4, LINK_IPV6):
        return ip
    raise ValueError(f"no writer for link type {link}")


def arp_frame() -> bytes:
    """An Ethernet ARP request (non-IP)."""
    arp = struct.pack(
        ">HHBBH6s4s6s4s",
        1,
        0x0800,
        6,
        4,
        1,
        b"\x02" * 6,
        b"\x0a\x00\x00\x01",
        bytes(6),
        b"\x0a\x00\x00\x02",
    )
    return b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x06" + arp


# ---- file layouts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rec:
    """A pcap record: ``frame`` captured up to ``caplen`` bytes (None: all of it)."""

    ts_ns: int
    frame: bytes
    caplen: int | None = None


def pcap_bytes(
    records: list[Rec], link: int, *, nano: bool = False, big: bool = False, snaplen: int = 65535
) -> bytes:
    """A classic pcap file; with ``nano`` False timestamps are written in µs (floored)."""
    o = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(o + "IHHiIII", magic, 2, 4, 0, 0, snaplen, link)]
    for r in records:
        cap = r.frame if r.caplen is None else r.frame[: r.caplen]
        sec, frac = divmod(r.ts_ns, 10**9)
        if not nano:
            frac //= 1000
        out.append(struct.pack(o + "IIII", sec, frac, len(cap), len(r.frame)) + cap)
    return b"".join(out)


@dataclass(frozen=True)
class Iface:
    link: int
    tsresol: int | None = None  # raw if_tsresol byte; None: option absent (µs)
    tsoffset: int = 0  # seconds; 0: option absent
    snaplen: int = 0


@dataclass(frozen=True)
class EPB:
    iface: int
    ts_units: int
    frame: bytes
    caplen: int | None = None
    obsolete: bool = False  # write an obsolete Packet Block (type 2) instead


@dataclass(frozen=True)
class SPB:
    frame: bytes


@dataclass(frozen=True)
class Other:
    """Any other block (NRB 4, ISB 5, custom 0xBAD, ...) with an opaque body."""

    btype: int
    body: bytes = b""


@dataclass
class Section:
    big: bool = False
    interfaces: list[Iface] = field(default_factory=list)
    blocks: list = field(default_factory=list)  # EPB / SPB / Other, after the IDBs
    idb_first: bool = True


def _pad4(b: bytes) -> bytes:
    return b + bytes(-len(b) % 4)


def block(btype: int, body: bytes, o: str) -> bytes:
    """One pcapng block with its leading and trailing length."""
    body = _pad4(body)
    n = 12 + len(body)
    return struct.pack(o + "II", btype, n) + body + struct.pack(o + "I", n)


def _opt(code: int, value: bytes, o: str) -> bytes:
    return struct.pack(o + "HH", code, len(value)) + _pad4(value)


def idb_bytes(ifc: Iface, o: str) -> bytes:
    opts = b""
    if ifc.tsresol is not None:
        opts += _opt(9, bytes([ifc.tsresol]), o)
    if ifc.tsoffset:
        opts += _opt(14, struct.pack(o + "q", ifc.tsoffset), o)
    if opts:
        opts += struct.pack(o + "HH", 0, 0)
    return block(1, struct.pack(o + "HHI", ifc.link, 0, ifc.snaplen) + opts, o)


def pcapng_bytes(sections: list[Section]) -> bytes:
    out = []
    for sec in sections:
        o = ">" if sec.big else "<"
        shb = struct.pack(o + "IHHq", 0x1A2B3C4D, 1, 0, -1) + _opt(4, b"snfkit tests", o)
        shb += struct.pack(o + "HH", 0, 0)
        out.append(block(0x0A0D0D0A, shb, o))
        for ifc in sec.interfaces:
            out.append(idb_bytes(ifc, o))
        for b in sec.blocks:
            if isinstance(b, EPB):
                cap = b.frame if b.caplen is None else b.frame[: b.caplen]
                hi, lo = b.ts_units >> 32, b.ts_units & 0xFFFFFFFF
                if b.obsolete:
                    head = struct.pack(o + "HHIIII", b.iface, 0, hi, lo, len(cap), len(b.frame))
                    out.append(block(2, head + _pad4(cap), o))
                else:
                    head = struct.pack(o + "IIIII", b.iface, hi, lo, len(cap), len(b.frame))
                    out.append(block(6, head + _pad4(cap) + _opt(1, b"c", o) + bytes(4), o))
            elif isinstance(b, SPB):
                out.append(block(3, struct.pack(o + "I", len(b.frame)) + b.frame, o))
            else:
                out.append(block(b.btype, b.body, o))
    return b"".join(out)


def units_to_ns(units: int, resol: int | None, offset_s: int = 0) -> int:
    """Exact ns of a pcapng timestamp (floor), independent of the reader's implementation."""
    r = 6 if resol is None else resol
    if r & 0x80:
        ns = units * 10**9 >> (r & 0x7F)
    else:
        ns = units * 10**9 // 10**r
    return ns + offset_s * 10**9


# ---- hypothesis strategies ---------------------------------------------------------------------

_v4 = st.sampled_from([b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", b"\xc0\xa8\x01\x07"])
_v6 = st.sampled_from(
    [bytes.fromhex("20010db8" + "00" * 11 + "01"), bytes.fromhex("fe80" + "00" * 13 + "09")]
)


@st.composite
def pkts(draw, version: int | None = None) -> Pkt:
    if version is None:
        version = draw(st.sampled_from([4, 6]))
    addr = _v4 if version == 4 else _v6
    proto = draw(st.sampled_from([6, 17, 1, 58, 47]))
    frag = draw(st.sampled_from([None, None, None, "first", "later"]))
    options = v4_options(draw(st.integers(0, 3))) if version == 4 else b""
    tcp_options = b"\x01" * 4 * draw(st.integers(0, 2))
    ext: tuple[int, ...] = ()
    if version == 6:
        ext = tuple(draw(st.lists(st.sampled_from([0, 43, 60, 51]), max_size=3)))
    return Pkt(
        version=version,
        src=draw(addr),
        dst=draw(addr),
        proto=proto,
        sport=draw(st.integers(0, 65535)),
        dport=draw(st.sampled_from([53, 80, 443, 4789])),
        payload=draw(st.binary(max_size=24)),
        options=options,
        tcp_options=tcp_options,
        ext=ext,
        frag=frag,
    )


@st.composite
def frames(draw, link: int) -> tuple[Pkt | None, bytes]:
    """(packet or None for a non-IP frame, frame bytes) for ``link``."""
    if link == LINK_ETHERNET and draw(st.integers(0, 9)) == 0:
        return None, arp_frame()
    p = draw(pkts({LINK_IPV4: 4, LINK_IPV6: 6}.get(link)))
    tags: tuple[int, ...] = ()
    if link in (LINK_ETHERNET, LINK_SLL, LINK_SLL2):
        tags = tuple(draw(st.lists(st.sampled_from(VLAN_TPIDS), max_size=2)))
    order = draw(st.sampled_from(["<", ">"]))
    return p, link_frame(ip_packet(p), link, tags=tags, null_order=order)


@st.composite
def captures(draw, *, allow_pcapng: bool = True) -> tuple[bytes, str]:
    """A random valid capture: (file bytes, 'pcap' or 'pcapng'), non-decreasing timestamps."""
    kind = draw(st.sampled_from(["pcap", "pcapng"] if allow_pcapng else ["pcap"]))
    ts = draw(st.integers(0, 2**33)) * 1000
    if kind == "pcap":
        link = draw(st.sampled_from(LINKS))
        recs = []
        for _ in range(draw(st.integers(0, 8))):
            _, fr = draw(frames(link))
            ts += draw(st.integers(0, 5_000_000)) * 1000
            cap = draw(st.one_of(st.none(), st.integers(0, len(fr))))
            recs.append(Rec(ts, fr, cap))
        nano, big = draw(st.booleans()), draw(st.booleans())
        return pcap_bytes(recs, link, nano=nano, big=big), kind
    sections = []
    units_ts = 1_000_000
    for _ in range(draw(st.integers(1, 3))):
        ifs = [
            Iface(
                draw(st.sampled_from(LINKS)),
                draw(st.sampled_from([None, 6, 9, 3, 0x80 | 10, 0x80 | 20])),
                draw(st.sampled_from([0, 0, 5])),
            )
            for _ in range(draw(st.integers(1, 3)))
        ]
        blocks: list = []
        for _ in range(draw(st.integers(0, 8))):
            what = draw(st.integers(0, 9))
            if what == 0:
                blocks.append(Other(draw(st.sampled_from([4, 5, 0xBAD, 0x40000BAD])), b"xyzw" * 2))
                continue
            i = draw(st.integers(0, len(ifs) - 1)) if what != 1 else 0
            _, fr = draw(frames(ifs[i].link))
            if what == 1:
                blocks.append(SPB(fr))
                continue
            units_ts += draw(st.integers(0, 10**6))
            cap = draw(st.one_of(st.none(), st.integers(0, len(fr))))
            blocks.append(EPB(i, units_ts, fr, cap, obsolete=what == 2))
        sections.append(Section(draw(st.booleans()), ifs, blocks))
    return pcapng_bytes(sections), kind
