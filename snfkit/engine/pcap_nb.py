"""Parse classic pcap and pcapng captures into packet columns, one bounded chunk at a time.

The kernel walks the memory-mapped file (``uint8[size]``) from a byte offset, fills preallocated
:class:`PacketColumns` up to their capacity and returns ``(filled, next_offset, status, detail)``;
the caller loops until ``status`` is ``DONE`` (or ``ERROR``). Everything that must survive between
chunks (byte order, pcap link type, pcapng interfaces, last timestamp, counters) lives in the small
arrays of :class:`CaptureState`. Every read is bounds-checked against the record it belongs to, so
no input makes the kernel read outside ``buf``. The rules (fragments, SPB timestamps, truncation)
are documented in :mod:`snfkit.traces.pcap`; the plain-Python twin is :mod:`snfkit.reference.pcap`.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numba as nb
import numpy as np


class CaptureFormatT(NamedTuple):
    PCAP: int = 0
    PCAPNG: int = 1


CaptureFormat = CaptureFormatT()


class ChunkStatusT(NamedTuple):
    DONE: int = 0  # end of file (or lenient stop): nothing more to read
    FULL: int = 1  # output capacity reached: call again from next_offset
    ERROR: int = 2  # strict mode: detail is an Err code, state.st[ERR_*] hold offset and values


ChunkStatus = ChunkStatusT()


class ErrT(NamedTuple):
    """Error codes (``detail`` when status is ERROR); values ``a``, ``b`` are in ``st[ERR_A/B]``."""

    FILE_HEADER_SHORT: int = 1  # a = bytes available
    BAD_MAGIC: int = 2  # a = first 4 bytes as a big-endian integer
    RECORD_HEADER_SHORT: int = 3  # a = bytes left
    RECORD_DATA_SHORT: int = 4  # a = caplen, b = bytes left after the record header
    RECORD_TOO_LONG: int = 5  # a = caplen
    UNKNOWN_LINKTYPE: int = 6  # offset = file header / IDB, a = link type
    BLOCK_HEADER_SHORT: int = 7  # a = bytes left
    BLOCK_LENGTH: int = 8  # a = block total length
    BLOCK_BEYOND_EOF: int = 9  # a = block total length, b = bytes left
    BLOCK_TRAILER: int = 10  # a = leading length, b = trailing length
    BAD_BYTE_ORDER: int = 11  # a = byte-order magic as read big-endian
    SHB_VERSION: int = 12  # a = major version
    BLOCK_CONTENT: int = 13  # a = block type, b = block total length
    UNKNOWN_INTERFACE: int = 14  # a = interface id, b = interfaces in the section
    TOO_MANY_INTERFACES: int = 15  # a = limit
    TS_BACKWARDS: int = 16  # a = timestamp (ns), b = largest earlier timestamp (ns)
    TRUNCATED_HEADERS: int = 17  # a = captured bytes, b = link type
    BAD_IP_HEADER: int = 18  # a = captured bytes, b = link type
    TS_OVERFLOW: int = 19  # a = timestamp units (uint64 bits), b = interface id


Err = ErrT()


class CountT(NamedTuple):
    """Indices of ``state.counts``: skip reasons first, then notes."""

    NON_IP: int = 0
    TRUNCATED_HEADERS: int = 1
    BAD_IP_HEADER: int = 2
    UNKNOWN_LINKTYPE: int = 3
    UNKNOWN_INTERFACE: int = 4
    TRUNCATED_RECORD: int = 5
    RECORD_TOO_LONG: int = 6
    BAD_BLOCK: int = 7
    BAD_TIMESTAMP: int = 8
    FRAGMENTS: int = 9
    REORDERED: int = 10
    L4_TRUNCATED: int = 11
    TRUNCATED_CAPTURE: int = 12
    SPB_TIMESTAMPS: int = 13
    CAPLEN_OVER_SNAPLEN: int = 14
    ORIGLEN_BELOW_CAPLEN: int = 15
    UNREAD_BYTES: int = 16
    SECTIONS: int = 17
    INTERFACES: int = 18
    RECORDS: int = 19  # packet records and damaged blocks seen (kept + skipped)


Count = CountT()
N_SKIP_REASONS = 9
COUNT_NAMES = (
    "non_ip",
    "truncated_headers",
    "bad_ip_header",
    "unknown_linktype",
    "unknown_interface",
    "truncated_record",
    "record_too_long",
    "bad_block",
    "bad_timestamp",
    "fragments",
    "reordered",
    "l4_truncated",
    "truncated_capture",
    "spb_timestamps",
    "caplen_over_snaplen",
    "origlen_below_caplen",
    "unread_bytes",
    "sections",
    "interfaces",
    "records",
)


class SlotT(NamedTuple):
    """Indices of ``state.st`` (int64 scalars carried between chunks)."""

    BIG: int = 0  # 1: current file / section is big-endian
    NANO: int = 1  # pcap: fractional field is ns
    LINK: int = 2  # pcap: link type
    SNAP: int = 3  # pcap: snap length
    N_IF: int = 4  # pcapng: interfaces in the current section
    LAST_TS: int = 5  # timestamp of the last kept packet (0 before the first)
    MAX_TS: int = 6  # largest kept timestamp (int64 min before the first)
    ERR_OFF: int = 7
    ERR_A: int = 8
    ERR_B: int = 9


Slot = SlotT()
N_SLOTS = 10
MAX_INTERFACES = 4096
MAX_CAPLEN = 262144  # 256 KiB: larger captured lengths are treated as corruption
INT64_MIN = np.iinfo(np.int64).min
INT64_MAX = np.iinfo(np.int64).max
_MAX_S = 9223372036  # INT64_MAX // 10**9: whole seconds that fit int64 ns


class CaptureState(NamedTuple):
    """Reader state carried between chunks (all arrays, updated in place by the kernel)."""

    st: np.ndarray  # int64[N_SLOTS], see Slot
    if_link: np.ndarray  # int64[MAX_INTERFACES]: link type per pcapng interface
    if_resol: np.ndarray  # int64[..]: raw if_tsresol byte (default 6)
    if_offset: np.ndarray  # int64[..]: if_tsoffset in seconds
    if_snap: np.ndarray  # int64[..]: snap length
    if_pos: np.ndarray  # int64[..]: byte offset of the interface's IDB
    counts: np.ndarray  # int64[len(COUNT_NAMES)], see Count


class PacketColumns(NamedTuple):
    """Preallocated output columns of one chunk (capacity = ``ts.shape[0]``)."""

    ts: np.ndarray  # int64[c] ns
    src: np.ndarray  # uint8[c, 16]
    dst: np.ndarray  # uint8[c, 16]
    sport: np.ndarray  # uint16[c]
    dport: np.ndarray  # uint16[c]
    proto: np.ndarray  # uint8[c]
    wire_len: np.ndarray  # uint32[c]
    pay_off: np.ndarray  # int64[c]: payload start (byte offset in buf); int64[0] if not kept
    pay_len: np.ndarray  # int64[c]: payload bytes kept; int64[0] when payload_bytes == 0


def new_capture_state() -> CaptureState:
    st = np.zeros(N_SLOTS, np.int64)
    st[Slot.MAX_TS] = INT64_MIN
    return CaptureState(
        st,
        np.zeros(MAX_INTERFACES, np.int64),
        np.full(MAX_INTERFACES, 6, np.int64),
        np.zeros(MAX_INTERFACES, np.int64),
        np.zeros(MAX_INTERFACES, np.int64),
        np.zeros(MAX_INTERFACES, np.int64),
        np.zeros(len(COUNT_NAMES), np.int64),
    )


def new_packet_columns(capacity: int, payload: bool = True) -> PacketColumns:
    """Columns for ``capacity`` packets; without ``payload`` the payload columns are empty (the
    kernel writes them only when ``payload_bytes > 0``)."""
    c = max(int(capacity), 1)
    p = c if payload else 0
    return PacketColumns(
        np.empty(c, np.int64),
        np.empty((c, 16), np.uint8),
        np.empty((c, 16), np.uint8),
        np.empty(c, np.uint16),
        np.empty(c, np.uint16),
        np.empty(c, np.uint8),
        np.empty(c, np.uint32),
        np.empty(p, np.int64),
        np.empty(p, np.int64),
    )


# The last 8 bytes of an IPv4-mapped address, ff ff a b c d, as one machine word (written as a
# word: 2 stores per address instead of 16 byte stores; about 10 % of the kernel's time).
_LITTLE_ENDIAN = sys.byteorder == "little"
_V4_MAPPED = np.uint64(0xFFFF0000 if _LITTLE_ENDIAN else 0xFFFF << 32)
_HIGH = np.uint64(32)

# Internal result codes of _parse_packet: KEPT or the Count index of the skip reason.
_KEPT = -1


@nb.njit(cache=True, inline="always")
def _u16(buf, i, big):
    if big:
        return (np.int64(buf[i]) << 8) | np.int64(buf[i + 1])
    return (np.int64(buf[i + 1]) << 8) | np.int64(buf[i])


@nb.njit(cache=True, inline="always")
def _u32(buf, i, big):
    if big:
        return (
            (np.int64(buf[i]) << 24)
            | (np.int64(buf[i + 1]) << 16)
            | (np.int64(buf[i + 2]) << 8)
            | np.int64(buf[i + 3])
        )
    return (
        (np.int64(buf[i + 3]) << 24)
        | (np.int64(buf[i + 2]) << 16)
        | (np.int64(buf[i + 1]) << 8)
        | np.int64(buf[i])
    )


@nb.njit(cache=True)
def pcapng_ts_ns(t, resol, offset_s):
    """pcapng 64-bit timestamp ``t`` in units of ``if_tsresol`` (+ ``if_tsoffset`` s) -> ``(ns, ok)``.

    Power-of-10 resolutions are exact; power-of-2 ones floor ``t * 1e9 / 2**e`` exactly up to
    e = 34 (finer ones drop the fraction bits below 2**-34 s first). ``ok`` is False (and ``ns``
    0) when the time is not representable in int64 ns (before 1677 or after 2262); nothing wraps.
    """
    t = np.uint64(t)
    giga = np.uint64(1000000000)
    top = np.uint64(INT64_MAX)
    if resol & 0x80 == 0:
        e = resol
        if e <= 9:
            m = np.uint64(1)
            for _ in range(9 - e):
                m = m * np.uint64(10)
            if t > top // m:
                return np.int64(0), False
            ns = t * m
        elif e - 9 <= 19:
            d = np.uint64(1)
            for _ in range(e - 9):
                d = d * np.uint64(10)
            ns = t // d
        else:
            ns = np.uint64(0)
    else:
        e = resol & 0x7F
        if e >= 64:
            whole = np.uint64(0)
            frac = t
        else:
            whole = t >> np.uint64(e)
            frac = t & ((np.uint64(1) << np.uint64(e)) - np.uint64(1))
        if e > 34:
            if e - 34 >= 64:
                frac = np.uint64(0)
            else:
                frac = frac >> np.uint64(e - 34)
            e = 34
        if whole > top // giga:
            return np.int64(0), False
        ns = whole * giga + ((frac * giga) >> np.uint64(e))
    if ns > top:
        return np.int64(0), False
    # ns + offset_s * 1e9 exactly: whole seconds and the rest apart, so nothing overflows
    sec = np.int64(ns // giga)
    sub = np.int64(ns % giga)
    off = np.int64(offset_s)
    if off > _MAX_S - sec or off < -_MAX_S - 1 - sec:
        return np.int64(0), False
    total_s = sec + off
    if total_s == _MAX_S:
        if sub > INT64_MAX - _MAX_S * 1000000000:
            return np.int64(0), False
    elif total_s == -_MAX_S - 1:
        # (total_s + 1) s fits; the remainder sub - 1e9 is negative
        if sub - 1000000000 < INT64_MIN + _MAX_S * 1000000000:
            return np.int64(0), False
        return (total_s + 1) * 1000000000 + (sub - 1000000000), True
    return total_s * 1000000000 + sub, True


_F_FRAGMENT = 1
_F_L4_TRUNCATED = 2
_F_TRUNCATED_CAPTURE = 4
_F_CAPLEN_OVER_SNAPLEN = 1
_F_ORIGLEN_BELOW_CAPLEN = 2


@nb.njit(cache=True, inline="always")
def _odd_lengths(caplen, origlen, snaplen):
    """Record-header lengths that contradict each other (kept, counted as notes): a captured
    length above the snap length (0: no limit) or above the original length."""
    odd = 0
    if snaplen > 0 and caplen > snaplen:
        odd |= _F_CAPLEN_OVER_SNAPLEN
    if origlen < caplen:
        odd |= _F_ORIGLEN_BELOW_CAPLEN
    return odd


@nb.njit(cache=True, inline="always")
def _parse_packet(buf, d, end, link, payload_bytes):
    """Decode the frame buf[d:end] of link type ``link``.

    Returns ``(code, ip_version, addr_off, proto, sport, dport, wire_len, pay_off, pay_len,
    flags)``: ``code`` is _KEPT or the Count index of the skip reason; the source address is at
    buf[addr_off:] (4 or 16 bytes) and the destination right after it; flags are _F_* bits.
    """
    ver = 0
    et = -1
    p = d
    if link == 1:  # Ethernet
        if end - d < 14:
            return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
        et = _u16(buf, d + 12, True)
        p = d + 14
    elif link == 12 or link == 101:  # raw IP
        if end - d < 1:
            return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ver = np.int64(buf[d]) >> 4
        if ver != 4 and ver != 6:
            return Count.BAD_IP_HEADER, 0, 0, 0, 0, 0, 0, 0, 0, 0
    elif link == 228:
        ver = 4
    elif link == 229:
        ver = 6
    elif link == 113:  # Linux cooked v1
        if end - d < 16:
            return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
        et = _u16(buf, d + 14, True)
        p = d + 16
    elif link == 276:  # Linux cooked v2
        if end - d < 20:
            return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
        et = _u16(buf, d, True)
        p = d + 20
    elif link == 0 or link == 108:  # BSD null (host order) / OpenBSD loop (network order)
        if end - d < 4:
            return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
        fb = _u32(buf, d, True)
        fl = _u32(buf, d, False) if link == 0 else fb
        if fb == 2 or fl == 2:
            ver = 4
        elif fb == 24 or fb == 28 or fb == 30 or fl == 24 or fl == 28 or fl == 30:
            ver = 6
        else:
            return Count.NON_IP, 0, 0, 0, 0, 0, 0, 0, 0, 0
        p = d + 4
    else:
        return Count.UNKNOWN_LINKTYPE, 0, 0, 0, 0, 0, 0, 0, 0, 0
    if ver == 0:
        while et == 0x8100 or et == 0x88A8 or et == 0x9100 or et == 0x9200:
            if end - p < 4:
                return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
            et = _u16(buf, p + 2, True)
            p += 4
        if et == 0x0800:
            ver = 4
        elif et == 0x86DD:
            ver = 6
        else:
            return Count.NON_IP, 0, 0, 0, 0, 0, 0, 0, 0, 0

    frag = False
    if ver == 4:
        if end - p < 20:
            return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
        vihl = np.int64(buf[p])
        hl = (vihl & 15) * 4
        tot = _u16(buf, p + 2, True)
        if vihl >> 4 != 4 or hl < 20 or (tot != 0 and tot < hl):
            return Count.BAD_IP_HEADER, 0, 0, 0, 0, 0, 0, 0, 0, 0
        if end - p < hl:
            return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
        frag = (_u16(buf, p + 6, True) & 0x3FFF) != 0
        proto = np.int64(buf[p + 9])
        addr = p + 12
        if tot != 0:
            wire = tot
            ip_end = p + tot
        else:  # TSO-style zero length: the captured bytes are all we know
            wire = end - p
            ip_end = end
        l4 = p + hl
    else:
        if end - p < 40:
            return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
        if np.int64(buf[p]) >> 4 != 6:
            return Count.BAD_IP_HEADER, 0, 0, 0, 0, 0, 0, 0, 0, 0
        plen = _u16(buf, p + 4, True)
        wire = 40 + plen
        ip_end = p + 40 + plen if plen != 0 else end
        lim = ip_end if ip_end < end else end
        nh = np.int64(buf[p + 6])
        q = p + 40
        while True:
            if nh == 0 or nh == 43 or nh == 60 or nh == 51:
                if lim - q < 2:
                    return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
                if nh == 51:
                    hlen = (np.int64(buf[q + 1]) + 2) * 4
                else:
                    hlen = (np.int64(buf[q + 1]) + 1) * 8
                if lim - q < hlen:
                    return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
                nh = np.int64(buf[q])
                q += hlen
            elif nh == 44:
                if lim - q < 8:
                    return Count.TRUNCATED_HEADERS, 0, 0, 0, 0, 0, 0, 0, 0, 0
                frag = True
                nh = np.int64(buf[q])
                off = _u16(buf, q + 2, True) & 0xFFF8
                q += 8
                if off != 0:
                    break
            else:
                break
        proto = nh
        addr = p + 8
        l4 = q

    l4_end = ip_end if ip_end < end else end
    flags = 0
    sport = 0
    dport = 0
    pay = l4
    if frag:
        flags |= _F_FRAGMENT
    elif proto == 6 or proto == 17:
        if l4_end - l4 < 4:
            flags |= _F_L4_TRUNCATED
        else:
            sport = _u16(buf, l4, True)
            dport = _u16(buf, l4 + 2, True)
        if payload_bytes == 0:
            pass  # where the payload starts is not needed (about 3 % of the kernel's time)
        elif proto == 17:
            pay = l4 + 8
        elif l4_end - l4 >= 13:
            doff = (np.int64(buf[l4 + 12]) >> 4) * 4
            pay = l4 + (doff if doff > 20 else 20)
        else:
            pay = l4_end
    if end - p < wire:
        flags |= _F_TRUNCATED_CAPTURE
    pay_len = 0
    if payload_bytes > 0 and pay < l4_end:
        pay_len = min(payload_bytes, l4_end - pay)
    else:
        pay = 0
    return _KEPT, ver, addr, proto, sport, dport, wire, pay, pay_len, flags


@nb.njit(cache=True, inline="always")
def _v4_mapped_word(buf, i):
    """The machine word whose bytes are ff ff buf[i] .. buf[i + 3]."""
    if _LITTLE_ENDIAN:
        return _V4_MAPPED | (np.uint64(_u32(buf, i, False)) << _HIGH)
    return _V4_MAPPED | np.uint64(_u32(buf, i, True))


@nb.njit(cache=True, inline="always")
def _fail(st, code, off, a, b):
    st[Slot.ERR_OFF] = off
    st[Slot.ERR_A] = a
    st[Slot.ERR_B] = b
    return code


@nb.njit(cache=True)
def read_capture_chunk_nb(buf, pos, fmt, strict, payload_bytes, state, out):
    """Read records from byte ``pos`` until ``out`` is full, the file ends, or (strict) an error.

    Returns ``(filled, next_pos, status, detail)``; ``detail`` is the Err code when status is ERROR
    (then ``next_pos`` is the offset where reading stopped and ``st[ERR_OFF]`` the bad record).
    In lenient mode (``strict`` False) framing errors stop the read (status DONE, the rest counted
    in ``counts[UNREAD_BYTES]``) and damaged records are skipped and counted.
    """
    st, if_link, if_resol, if_offset, if_snap, if_pos, counts = state
    o_ts, o_src, o_dst, o_sport, o_dport, o_proto, o_wire, o_poff, o_plen = out
    o_src64 = o_src.view(np.uint64)
    o_dst64 = o_dst.view(np.uint64)
    size = buf.shape[0]
    cap = o_ts.shape[0]
    n = 0
    seen = 0
    if fmt == 0 and pos == 0:
        if size < 24:
            return 0, 0, 2, _fail(st, Err.FILE_HEADER_SHORT, 0, size, 0)
        m = _u32(buf, 0, True)
        if m == 0xA1B2C3D4 or m == 0xA1B23C4D:
            st[Slot.BIG] = 1
        elif m == 0xD4C3B2A1 or m == 0x4D3CB2A1:
            st[Slot.BIG] = 0
        else:
            return 0, 0, 2, _fail(st, Err.BAD_MAGIC, 0, m, 0)
        st[Slot.NANO] = 1 if (m == 0xA1B23C4D or m == 0x4D3CB2A1) else 0
        big = st[Slot.BIG] == 1
        st[Slot.SNAP] = _u32(buf, 16, big)
        st[Slot.LINK] = _u32(buf, 20, big)
        pos = 24
    pcap_big = st[Slot.BIG] == 1
    pcap_nano = st[Slot.NANO] == 1
    pcap_link = st[Slot.LINK]
    max_ts = st[Slot.MAX_TS]
    last_ts = st[Slot.LAST_TS]
    err = 0
    while n < cap and seen < cap:
        seen += 1
        rec = pos
        left = size - pos
        if left <= 0:
            pos = size
            break
        err = 0
        # the packet record found in this iteration, if any
        have = False
        d = 0
        end = 0
        link = 0
        link_pos = 0
        ts = np.int64(0)
        simple = False
        odd = 0  # _F_CAPLEN_OVER_SNAPLEN | _F_ORIGLEN_BELOW_CAPLEN of the record header
        t = np.int64(0)  # pcapng timestamp units (uint64 bits)
        ts_ok = True
        if fmt == 0:
            stop = False
            if left < 16:
                err = _fail(st, Err.RECORD_HEADER_SHORT, rec, left, 0)
                counts[Count.TRUNCATED_RECORD] += 1
                stop = True
            else:
                caplen = _u32(buf, pos + 8, pcap_big)
                if caplen > MAX_CAPLEN:
                    err = _fail(st, Err.RECORD_TOO_LONG, rec, caplen, 0)
                    counts[Count.RECORD_TOO_LONG] += 1
                    stop = True
                elif caplen > left - 16:
                    err = _fail(st, Err.RECORD_DATA_SHORT, rec, caplen, left - 16)
                    counts[Count.TRUNCATED_RECORD] += 1
                    stop = True
                else:
                    sec = _u32(buf, pos, pcap_big)
                    frac = _u32(buf, pos + 4, pcap_big)
                    ts = sec * 1000000000 + (frac if pcap_nano else frac * 1000)
                    odd = _odd_lengths(caplen, _u32(buf, pos + 12, pcap_big), st[Slot.SNAP])
                    d = pos + 16
                    end = d + caplen
                    link = pcap_link
                    have = True
                    pos = end
            if stop:
                if strict:
                    pos = rec
                    break
                counts[Count.RECORDS] += 1
                counts[Count.UNREAD_BYTES] += size - rec
                pos = size
                err = 0
                break
        else:
            # pcapng block
            is_shb = left >= 4 and buf[pos] == 0x0A and buf[pos + 1] == 0x0D
            is_shb = is_shb and buf[pos + 2] == 0x0D and buf[pos + 3] == 0x0A
            big = st[Slot.BIG] == 1
            if is_shb:
                if left < 12:
                    err = _fail(st, Err.BLOCK_HEADER_SHORT, rec, left, 0)
                else:
                    bom = _u32(buf, pos + 8, True)
                    if bom == 0x1A2B3C4D:
                        big = True
                    elif bom == 0x4D3C2B1A:
                        big = False
                    else:
                        err = _fail(st, Err.BAD_BYTE_ORDER, rec, bom, 0)
                if err != 0 and rec == 0:
                    return 0, 0, 2, err  # the file's first block: nothing readable
            elif rec == 0:
                m = _u32(buf, 0, True) if left >= 4 else 0
                return 0, 0, 2, _fail(st, Err.BAD_MAGIC, 0, m, 0)
            elif left < 8:
                err = _fail(st, Err.BLOCK_HEADER_SHORT, rec, left, 0)
            btype = 0
            blen = 0
            if err == 0:
                btype = _u32(buf, pos, big)
                blen = _u32(buf, pos + 4, big)
                if blen < 12 or blen % 4 != 0:
                    err = _fail(st, Err.BLOCK_LENGTH, rec, blen, 0)
                elif blen > left:
                    err = _fail(st, Err.BLOCK_BEYOND_EOF, rec, blen, left)
                elif _u32(buf, pos + blen - 4, big) != blen:
                    err = _fail(st, Err.BLOCK_TRAILER, rec, blen, _u32(buf, pos + blen - 4, big))
            if err != 0:  # framing is lost: stop
                if strict or rec == 0:
                    pos = rec
                    break
                counts[Count.RECORDS] += 1
                if err == Err.BLOCK_HEADER_SHORT or err == Err.BLOCK_BEYOND_EOF:
                    counts[Count.TRUNCATED_RECORD] += 1
                else:
                    counts[Count.BAD_BLOCK] += 1
                counts[Count.UNREAD_BYTES] += size - rec
                pos = size
                err = 0
                break
            nxt = pos + blen
            bend = nxt - 4  # end of body
            if is_shb:
                if blen < 28:
                    err = _fail(st, Err.BLOCK_CONTENT, rec, btype, blen)
                elif _u16(buf, pos + 12, big) != 1:
                    err = _fail(st, Err.SHB_VERSION, rec, _u16(buf, pos + 12, big), 0)
                if err != 0:
                    if strict or rec == 0:
                        pos = rec
                        break
                    counts[Count.RECORDS] += 1
                    counts[Count.BAD_BLOCK] += 1
                    counts[Count.UNREAD_BYTES] += size - rec
                    pos = size
                    err = 0
                    break
                st[Slot.BIG] = 1 if big else 0
                st[Slot.N_IF] = 0
                counts[Count.SECTIONS] += 1
            elif btype == 1:  # IDB
                nif = st[Slot.N_IF]
                if blen < 20:
                    err = _fail(st, Err.BLOCK_CONTENT, rec, btype, blen)
                elif nif >= MAX_INTERFACES:
                    err = _fail(st, Err.TOO_MANY_INTERFACES, rec, MAX_INTERFACES, 0)
                else:
                    resol = 6
                    offs = 0
                    o = pos + 16
                    while o + 4 <= bend:
                        code = _u16(buf, o, big)
                        olen = _u16(buf, o + 2, big)
                        if code == 0:
                            break
                        if o + 4 + olen > bend:
                            err = _fail(st, Err.BLOCK_CONTENT, rec, btype, blen)
                            break
                        if code == 9 and olen >= 1:
                            resol = np.int64(buf[o + 4])
                        elif code == 14 and olen >= 8:
                            hi = _u32(buf, o + 4, big)
                            lo = _u32(buf, o + 8, big)
                            offs = (hi << 32) | lo if big else (lo << 32) | hi
                        o += 4 + ((olen + 3) // 4) * 4
                    if_link[nif] = _u16(buf, pos + 8, big)
                    if_snap[nif] = _u32(buf, pos + 12, big)
                    if_resol[nif] = resol
                    if_offset[nif] = offs
                    if_pos[nif] = rec
                    st[Slot.N_IF] = nif + 1
                    counts[Count.INTERFACES] += 1
                if err != 0:
                    if strict:
                        pos = rec
                        break
                    counts[Count.RECORDS] += 1
                    counts[Count.BAD_BLOCK] += 1
                    err = 0
            elif btype == 6 or btype == 2 or btype == 3:  # EPB, obsolete PB, SPB
                nif = st[Slot.N_IF]
                simple = btype == 3
                if simple:
                    hdr = 16
                    iface = 0
                else:
                    hdr = 32
                    iface = _u32(buf, pos + 8, big) if btype == 6 else _u16(buf, pos + 8, big)
                if blen < hdr:
                    err = _fail(st, Err.BLOCK_CONTENT, rec, btype, blen)
                elif iface >= nif:
                    err = _fail(st, Err.UNKNOWN_INTERFACE, rec, iface, nif)
                else:
                    if simple:
                        caplen = _u32(buf, pos + 8, big)
                        if caplen > blen - 16:
                            caplen = blen - 16
                        snap = if_snap[0]
                        if snap > 0 and caplen > snap:
                            caplen = snap
                        d = pos + 12
                        ts = last_ts
                    else:
                        caplen = _u32(buf, pos + 20, big)
                        d = pos + 28
                        t = (_u32(buf, pos + 12, big) << 32) | _u32(buf, pos + 16, big)
                        ts, ts_ok = pcapng_ts_ns(t, if_resol[iface], if_offset[iface])
                        odd = _odd_lengths(caplen, _u32(buf, pos + 24, big), if_snap[iface])
                    if caplen > MAX_CAPLEN:
                        err = _fail(st, Err.RECORD_TOO_LONG, rec, caplen, 0)
                    elif d + caplen > bend:
                        err = _fail(st, Err.BLOCK_CONTENT, rec, btype, blen)
                    elif not simple and not ts_ok:
                        err = _fail(st, Err.TS_OVERFLOW, rec, t, iface)
                    else:
                        end = d + caplen
                        link = if_link[iface]
                        link_pos = if_pos[iface]
                        have = True
                if err != 0:
                    if strict:
                        pos = rec
                        break
                    counts[Count.RECORDS] += 1
                    if err == Err.UNKNOWN_INTERFACE:
                        counts[Count.UNKNOWN_INTERFACE] += 1
                    elif err == Err.RECORD_TOO_LONG:
                        counts[Count.RECORD_TOO_LONG] += 1
                    elif err == Err.TS_OVERFLOW:
                        counts[Count.BAD_TIMESTAMP] += 1
                    else:
                        counts[Count.BAD_BLOCK] += 1
                    err = 0
            pos = nxt
        if not have:
            continue

        # one packet record: decode, then keep it or count it
        r, ver, addr, proto, sport, dport, wire, pay, pay_len, flags = _parse_packet(
            buf, d, end, link, payload_bytes
        )
        if r != _KEPT:
            if strict and r != Count.NON_IP:
                if r == Count.UNKNOWN_LINKTYPE:
                    err = _fail(st, Err.UNKNOWN_LINKTYPE, link_pos, link, 0)
                elif r == Count.TRUNCATED_HEADERS:
                    err = _fail(st, Err.TRUNCATED_HEADERS, rec, end - d, link)
                else:
                    err = _fail(st, Err.BAD_IP_HEADER, rec, end - d, link)
                pos = rec
                break
            counts[Count.RECORDS] += 1
            counts[r] += 1
            continue
        if ts < max_ts:
            if strict:
                err = _fail(st, Err.TS_BACKWARDS, rec, ts, max_ts)
                pos = rec
                break
            counts[Count.REORDERED] += 1
        else:
            max_ts = ts
        last_ts = ts
        if flags != 0:
            if flags & _F_FRAGMENT:
                counts[Count.FRAGMENTS] += 1
            if flags & _F_L4_TRUNCATED:
                counts[Count.L4_TRUNCATED] += 1
            if flags & _F_TRUNCATED_CAPTURE:
                counts[Count.TRUNCATED_CAPTURE] += 1
        if simple:
            counts[Count.SPB_TIMESTAMPS] += 1
        if odd & _F_CAPLEN_OVER_SNAPLEN:
            counts[Count.CAPLEN_OVER_SNAPLEN] += 1
        if odd & _F_ORIGLEN_BELOW_CAPLEN:
            counts[Count.ORIGLEN_BELOW_CAPLEN] += 1
        o_ts[n] = ts
        if ver == 4:
            o_src64[n, 0] = 0
            o_dst64[n, 0] = 0
            o_src64[n, 1] = _v4_mapped_word(buf, addr)
            o_dst64[n, 1] = _v4_mapped_word(buf, addr + 4)
        else:
            for k in range(16):
                o_src[n, k] = buf[addr + k]
                o_dst[n, k] = buf[addr + 16 + k]
        o_sport[n] = sport
        o_dport[n] = dport
        o_proto[n] = proto
        o_wire[n] = wire
        if payload_bytes > 0:
            o_poff[n] = pay
            o_plen[n] = pay_len
        n += 1
    counts[Count.RECORDS] += n  # the kept packets' records (skipped ones counted as they go)
    st[Slot.MAX_TS] = max_ts
    st[Slot.LAST_TS] = last_ts
    if err != 0:
        return n, pos, 2, err
    if pos >= size:
        return n, size, 0, 0
    return n, pos, 1, 0


@nb.njit(cache=True)
def gather_payload_nb(buf, pay_off, pay_len):
    """Concatenate ``buf[pay_off[i] : pay_off[i] + pay_len[i]]`` -> (offsets int64[n+1], data)."""
    n = pay_off.shape[0]
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    for i in range(n):
        offsets[i + 1] = offsets[i] + pay_len[i]
    data = np.empty(offsets[n], np.uint8)
    for i in range(n):
        o = offsets[i]
        s = pay_off[i]
        for k in range(pay_len[i]):
            data[o + k] = buf[s + k]
    return offsets, data
