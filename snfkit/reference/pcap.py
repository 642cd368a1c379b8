"""Plain-Python twin of :mod:`snfkit.engine.pcap_nb`: the same capture reader, written for clarity.

It reads the whole capture in one pass with :mod:`struct` and follows the rules documented in
:mod:`snfkit.traces.pcap` (fragments, truncation, SPB timestamps, lenient skipping). Tests require
its :class:`~snfkit.traces.result.IngestResult` (table, skipped, notes) or its error to equal the
kernel's on generated and on mutated captures. Slow: for tests and for reading the rules.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snfkit.engine.pcap_nb import COUNT_NAMES, MAX_CAPLEN, MAX_INTERFACES, Err
from snfkit.traces.pcap import capture_error, counts_to_dicts
from snfkit.traces.result import IngestResult
from snfkit.traces.table import packets_from_arrays

V4_PREFIX = bytes(10) + b"\xff\xff"
VLAN_TYPES = (0x8100, 0x88A8, 0x9100, 0x9200)
IPV6_FAMILIES = (24, 28, 30)
MASK64 = (1 << 64) - 1


def to_int64(x: int) -> int:
    """Wrap an integer to int64, as the kernel's fixed-width arithmetic does."""
    x &= MASK64
    return x - (1 << 64) if x >= 1 << 63 else x


def pcapng_ts_ns(t: int, resol: int, offset_s: int) -> int | None:
    """Same rule as :func:`snfkit.engine.pcap_nb.pcapng_ts_ns`; None when the time does not fit
    int64 ns. ``offset_s`` is the signed if_tsoffset."""
    if resol & 0x80 == 0:
        if resol <= 9:
            ns = t * 10 ** (9 - resol)
        elif resol - 9 <= 19:
            ns = t // 10 ** (resol - 9)
        else:
            ns = 0
    else:
        e = resol & 0x7F
        whole, frac = t >> e, t & ((1 << e) - 1)
        if e > 34:
            frac >>= e - 34
            e = 34
        ns = whole * 10**9 + ((frac * 10**9) >> e)
    total = ns + offset_s * 10**9
    return total if -(2**63) <= total < 2**63 else None


def odd_lengths(caplen: int, origlen: int, snaplen: int) -> tuple[str, ...]:
    """Notes for a record header whose lengths contradict each other (the packet is kept)."""
    notes = ()
    if snaplen > 0 and caplen > snaplen:
        notes += ("caplen_over_snaplen",)
    if origlen < caplen:
        notes += ("origlen_below_caplen",)
    return notes


class Skip(Exception):
    """A packet record that is not kept; ``reason`` is its skip name (see COUNT_NAMES)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


@dataclass
class Packet:
    src: bytes
    dst: bytes
    sport: int
    dport: int
    proto: int
    wire_len: int
    payload: bytes


@dataclass
class Reader:
    data: bytes
    strict: bool
    payload_bytes: int
    path: object
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_NAMES, 0))
    rows: list[tuple[int, Packet]] = field(default_factory=list)
    last_ts: int = 0
    max_ts: int | None = None

    # ---- errors -------------------------------------------------------------------------------

    def fail(self, code: int, offset: int, a: int = 0, b: int = 0) -> Exception:
        return capture_error(self.path, code, offset, a, b)

    # ---- one frame -> Packet ------------------------------------------------------------------

    def decode(self, frame: bytes, link: int) -> Packet:
        """Decode a captured frame; raise Skip(reason) for frames that are not kept."""
        ver, p = 0, 0
        ethertype = None
        if link == 1:
            if len(frame) < 14:
                raise Skip("truncated_headers")
            (ethertype,), p = struct.unpack_from(">H", frame, 12), 14
        elif link in (12, 101):
            if len(frame) < 1:
                raise Skip("truncated_headers")
            ver = frame[0] >> 4
            if ver not in (4, 6):
                raise Skip("bad_ip_header")
        elif link in (228, 229):
            ver = 4 if link == 228 else 6
        elif link == 113:
            if len(frame) < 16:
                raise Skip("truncated_headers")
            (ethertype,), p = struct.unpack_from(">H", frame, 14), 16
        elif link == 276:
            if len(frame) < 20:
                raise Skip("truncated_headers")
            (ethertype,), p = struct.unpack_from(">H", frame, 0), 20
        elif link in (0, 108):
            if len(frame) < 4:
                raise Skip("truncated_headers")
            families = {struct.unpack_from(">I", frame)[0]}
            if link == 0:  # host byte order of the capturing machine: accept both
                families.add(struct.unpack_from("<I", frame)[0])
            if 2 in families:
                ver = 4
            elif families & set(IPV6_FAMILIES):
                ver = 6
            else:
                raise Skip("non_ip")
            p = 4
        else:
            raise Skip("unknown_linktype")
        if ver == 0:
            while ethertype in VLAN_TYPES:
                if len(frame) - p < 4:
                    raise Skip("truncated_headers")
                (ethertype,) = struct.unpack_from(">H", frame, p + 2)
                p += 4
            if ethertype == 0x0800:
                ver = 4
            elif ethertype == 0x86DD:
                ver = 6
            else:
                raise Skip("non_ip")
        ip = frame[p:]
        if ver == 4:
            return self.decode_ipv4(ip)
        return self.decode_ipv6(ip)

    def decode_ipv4(self, ip: bytes) -> Packet:
        if len(ip) < 20:
            raise Skip("truncated_headers")
        hl = (ip[0] & 15) * 4
        (total,) = struct.unpack_from(">H", ip, 2)
        if ip[0] >> 4 != 4 or hl < 20 or (total != 0 and total < hl):
            raise Skip("bad_ip_header")
        if len(ip) < hl:
            raise Skip("truncated_headers")
        (flags_offset,) = struct.unpack_from(">H", ip, 6)
        fragment = flags_offset & 0x3FFF != 0
        wire = total if total else len(ip)
        body = ip[hl:total] if total else ip[hl:]
        return self.upper_layer(
            V4_PREFIX + ip[12:16], V4_PREFIX + ip[16:20], ip[9], wire, body, fragment, len(ip)
        )

    def decode_ipv6(self, ip: bytes) -> Packet:
        if len(ip) < 40:
            raise Skip("truncated_headers")
        if ip[0] >> 4 != 6:
            raise Skip("bad_ip_header")
        (plen,) = struct.unpack_from(">H", ip, 4)
        rest = ip[40 : 40 + plen] if plen else ip[40:]
        nh, fragment = ip[6], False
        while True:
            if nh in (0, 43, 60, 51):
                if len(rest) < 2:
                    raise Skip("truncated_headers")
                hlen = (rest[1] + 2) * 4 if nh == 51 else (rest[1] + 1) * 8
                if len(rest) < hlen:
                    raise Skip("truncated_headers")
                nh, rest = rest[0], rest[hlen:]
            elif nh == 44:
                if len(rest) < 8:
                    raise Skip("truncated_headers")
                fragment = True
                nh, offset = rest[0], struct.unpack_from(">H", rest, 2)[0] & 0xFFF8
                rest = rest[8:]
                if offset:
                    break
            else:
                break
        return self.upper_layer(ip[8:24], ip[24:40], nh, 40 + plen, rest, fragment, len(ip))

    def upper_layer(
        self,
        src: bytes,
        dst: bytes,
        proto: int,
        wire: int,
        body: bytes,
        fragment: bool,
        captured_ip: int,
    ) -> Packet:
        """Ports and payload from the bytes after the IP header (``body``, captured part only)."""
        sport = dport = 0
        payload = body
        if fragment:
            self.counts["fragments"] += 1
        elif proto in (6, 17):
            if len(body) < 4:
                self.counts["l4_truncated"] += 1
            else:
                sport, dport = struct.unpack_from(">HH", body)
            if proto == 17:
                payload = body[8:]
            elif len(body) >= 13:
                payload = body[max((body[12] >> 4) * 4, 20) :]
            else:
                payload = b""
        if captured_ip < wire:
            self.counts["truncated_capture"] += 1
        payload = payload[: self.payload_bytes] if self.payload_bytes > 0 else b""
        return Packet(src, dst, sport, dport, proto, wire & 0xFFFFFFFF, payload)

    # ---- records ------------------------------------------------------------------------------

    def take(
        self, frame: bytes, link: int, link_pos: int, ts: int, rec: int, odd: tuple = ()
    ) -> bool:
        """Decode and keep (True) or count (False) one packet record; raise when strict.
        ``odd``: the record header's contradictory lengths (note names), counted if it is kept."""
        try:
            pkt = self.decode(frame, link)
        except Skip as skip:
            if self.strict and skip.reason != "non_ip":
                if skip.reason == "unknown_linktype":
                    raise self.fail(Err.UNKNOWN_LINKTYPE, link_pos, link) from None
                code = Err.TRUNCATED_HEADERS
                if skip.reason == "bad_ip_header":
                    code = Err.BAD_IP_HEADER
                raise self.fail(code, rec, len(frame), link) from None
            self.counts["records"] += 1
            self.counts[skip.reason] += 1
            return False
        if self.max_ts is not None and ts < self.max_ts:
            if self.strict:
                raise self.fail(Err.TS_BACKWARDS, rec, ts, self.max_ts)
            self.counts["reordered"] += 1
        else:
            self.max_ts = ts
        self.counts["records"] += 1
        for note in odd:
            self.counts[note] += 1
        self.last_ts = ts
        self.rows.append((ts, pkt))
        return True

    def stop(self, reason: str, rec: int) -> None:
        """Lenient end of reading at a framing error at ``rec``."""
        self.counts["records"] += 1
        self.counts[reason] += 1
        self.counts["unread_bytes"] += len(self.data) - rec

    def read_pcap(self) -> None:
        data = self.data
        if len(data) < 24:
            raise self.fail(Err.FILE_HEADER_SHORT, 0, len(data))
        magic = data[:4].hex()
        if magic in ("a1b2c3d4", "a1b23c4d"):
            order = ">"
        elif magic in ("d4c3b2a1", "4d3cb2a1"):
            order = "<"
        else:
            raise self.fail(Err.BAD_MAGIC, 0, int(magic, 16))
        nano = magic in ("a1b23c4d", "4d3cb2a1")
        snap, link = struct.unpack_from(order + "II", data, 16)
        pos = 24
        while pos < len(data):
            rec = pos
            left = len(data) - pos
            if left < 16:
                if self.strict:
                    raise self.fail(Err.RECORD_HEADER_SHORT, rec, left)
                return self.stop("truncated_record", rec)
            sec, frac, caplen, orig = struct.unpack_from(order + "IIII", data, pos)
            if caplen > MAX_CAPLEN:
                if self.strict:
                    raise self.fail(Err.RECORD_TOO_LONG, rec, caplen)
                return self.stop("record_too_long", rec)
            if caplen > left - 16:
                if self.strict:
                    raise self.fail(Err.RECORD_DATA_SHORT, rec, caplen, left - 16)
                return self.stop("truncated_record", rec)
            ts = sec * 10**9 + (frac if nano else frac * 1000)
            frame = data[pos + 16 : pos + 16 + caplen]
            pos += 16 + caplen
            self.take(frame, link, 0, ts, rec, odd_lengths(caplen, orig, snap))
        return None

    def read_pcapng(self) -> None:
        data = self.data
        order = "<"
        interfaces: list[dict[str, int]] = []
        pos = 0
        while pos < len(data):
            rec = pos
            left = len(data) - pos
            is_shb = data[pos : pos + 4] == b"\x0a\x0d\x0d\x0a"
            err: tuple[int, ...] | None = None
            block_order = order
            if is_shb:
                if left < 12:
                    err = (Err.BLOCK_HEADER_SHORT, left)
                else:
                    bom = data[pos + 8 : pos + 12].hex()
                    if bom == "1a2b3c4d":
                        block_order = ">"
                    elif bom == "4d3c2b1a":
                        block_order = "<"
                    else:
                        err = (Err.BAD_BYTE_ORDER, int(bom, 16))
                if err is not None and rec == 0:
                    raise self.fail(err[0], 0, *err[1:])
            elif rec == 0:
                raise self.fail(Err.BAD_MAGIC, 0, int(data[:4].hex(), 16) if left >= 4 else 0)
            elif left < 8:
                err = (Err.BLOCK_HEADER_SHORT, left)
            if err is None:
                btype, blen = struct.unpack_from(block_order + "II", data, pos)
                if blen < 12 or blen % 4:
                    err = (Err.BLOCK_LENGTH, blen)
                elif blen > left:
                    err = (Err.BLOCK_BEYOND_EOF, blen, left)
                else:
                    (trailer,) = struct.unpack_from(block_order + "I", data, pos + blen - 4)
                    if trailer != blen:
                        err = (Err.BLOCK_TRAILER, blen, trailer)
            if err is not None:
                if self.strict or rec == 0:
                    raise self.fail(err[0], rec, *err[1:])
                short = err[0] in (Err.BLOCK_HEADER_SHORT, Err.BLOCK_BEYOND_EOF)
                return self.stop("truncated_record" if short else "bad_block", rec)
            body = data[pos + 8 : pos + blen - 4]
            if is_shb:
                if blen < 28:
                    err = (Err.BLOCK_CONTENT, btype, blen)
                elif struct.unpack_from(block_order + "H", body, 4)[0] != 1:
                    err = (Err.SHB_VERSION, struct.unpack_from(block_order + "H", body, 4)[0])
                if err is not None:
                    if self.strict or rec == 0:
                        raise self.fail(err[0], rec, *err[1:])
                    return self.stop("bad_block", rec)
                order = block_order
                interfaces = []
                self.counts["sections"] += 1
            elif btype == 1:
                self.read_idb(body, rec, btype, blen, order, interfaces)
            elif btype in (2, 3, 6):
                self.read_packet_block(body, rec, btype, blen, order, interfaces)
            pos += blen
        return None

    def read_idb(self, body: bytes, rec: int, btype: int, blen: int, order: str, ifs: list) -> None:
        err = None
        if blen < 20:
            err = (Err.BLOCK_CONTENT, btype, blen)
        elif len(ifs) >= MAX_INTERFACES:
            err = (Err.TOO_MANY_INTERFACES, MAX_INTERFACES)
        else:
            link, _reserved, snap = struct.unpack_from(order + "HHI", body)
            resol, offset = 6, 0
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack_from(order + "HH", body, o)
                if code == 0:
                    break
                if o + 4 + olen > len(body):
                    err = (Err.BLOCK_CONTENT, btype, blen)
                    break
                if code == 9 and olen >= 1:
                    resol = body[o + 4]
                elif code == 14 and olen >= 8:
                    offset = struct.unpack_from(order + "q", body, o + 4)[0]
                o += 4 + (olen + 3) // 4 * 4
            ifs.append({"link": link, "snap": snap, "resol": resol, "offset": offset, "pos": rec})
            self.counts["interfaces"] += 1
        if err is not None:
            if self.strict:
                raise self.fail(err[0], rec, *err[1:])
            self.counts["records"] += 1
            self.counts["bad_block"] += 1

    def read_packet_block(
        self, body: bytes, rec: int, btype: int, blen: int, order: str, ifs: list
    ) -> None:
        err = None
        simple = btype == 3
        need = 16 if simple else 32
        if blen >= need and not simple:
            iface = struct.unpack_from(order + ("I" if btype == 6 else "H"), body)[0]
        else:
            iface = 0
        if blen < need:
            err = (Err.BLOCK_CONTENT, btype, blen)
        elif iface >= len(ifs):
            err = (Err.UNKNOWN_INTERFACE, iface, len(ifs))
        else:
            odd: tuple = ()
            units = 0
            if simple:
                caplen = min(struct.unpack_from(order + "I", body)[0], blen - 16)
                if ifs[0]["snap"] > 0:
                    caplen = min(caplen, ifs[0]["snap"])
                start, ts = 4, self.last_ts
            else:
                ts_hi, ts_lo, caplen, orig = struct.unpack_from(order + "IIII", body, 4)
                start = 20
                ifc = ifs[iface]
                units = (ts_hi << 32) | ts_lo
                ts = pcapng_ts_ns(units, ifc["resol"], ifc["offset"])
                odd = odd_lengths(caplen, orig, ifc["snap"])
            if caplen > MAX_CAPLEN:
                err = (Err.RECORD_TOO_LONG, caplen)
            elif start + caplen > len(body):
                err = (Err.BLOCK_CONTENT, btype, blen)
            elif ts is None:
                err = (Err.TS_OVERFLOW, to_int64(units), iface)
            else:
                ifc = ifs[iface]
                frame = body[start : start + caplen]
                kept = self.take(frame, ifc["link"], ifc["pos"], ts, rec, odd)
                if kept and simple:
                    self.counts["spb_timestamps"] += 1
        if err is not None:
            if self.strict:
                raise self.fail(err[0], rec, *err[1:])
            self.counts["records"] += 1
            reason = {
                Err.UNKNOWN_INTERFACE: "unknown_interface",
                Err.RECORD_TOO_LONG: "record_too_long",
                Err.TS_OVERFLOW: "bad_timestamp",
            }.get(err[0], "bad_block")
            self.counts[reason] += 1


def read_capture_reference(
    data: bytes,
    fmt: str,
    *,
    strict: bool = True,
    payload_bytes: int = 0,
    path: str | Path = "<memory>",
) -> tuple[IngestResult, int]:
    """Read capture bytes (``fmt`` 'pcap' or 'pcapng') like :func:`snfkit.traces.pcap.read_capture`.

    Returns ``(result, records_seen)`` where records_seen counts packet records and damaged blocks.
    Raises the same :class:`~snfkit.errors.TraceFormatError` as the kernel on malformed input.
    """
    from snfkit.errors import TraceFormatError

    if len(data) == 0:
        raise TraceFormatError(path, 0, "a non-empty trace", "an empty file")
    reader = Reader(bytes(data), strict, payload_bytes, path)
    if fmt == "pcapng":
        reader.read_pcapng()
    else:
        reader.read_pcap()
    rows = sorted(reader.rows, key=lambda r: r[0])  # stable: equal times keep file order
    n = len(rows)
    addr = np.zeros((2, n, 16), np.uint8)
    for i, (_, p) in enumerate(rows):
        addr[0, i] = np.frombuffer(p.src, np.uint8)
        addr[1, i] = np.frombuffer(p.dst, np.uint8)
    table = packets_from_arrays(
        np.array([r[0] for r in rows], np.int64),
        addr[0],
        addr[1],
        np.array([p.sport for _, p in rows], np.uint16),
        np.array([p.dport for _, p in rows], np.uint16),
        np.array([p.proto for _, p in rows], np.uint8),
        np.array([p.wire_len for _, p in rows], np.uint32),
        [p.payload for _, p in rows] if payload_bytes > 0 else None,
    )
    counts = np.array([reader.counts[k] for k in COUNT_NAMES], np.int64)
    skipped, notes = counts_to_dicts(counts)
    fmt_name = "pcapng" if fmt == "pcapng" else "pcap"
    return IngestResult(table, str(path), fmt_name, None, skipped, notes), reader.counts["records"]
