"""Read classic pcap and pcapng captures into the packets table (:mod:`snfkit.traces.schema`).

The parsing is the numba kernel :func:`snfkit.engine.pcap_nb.read_capture_chunk_nb`, run over the
memory-mapped file in chunks of at most ``chunk_records`` records, so progress is reported and
Ctrl-C is honoured between chunks. Its plain-Python twin is :mod:`snfkit.reference.pcap`.

Formats: pcap with microsecond or nanosecond magic in either byte order; pcapng with any number of
sections (either byte order) and interfaces (``if_tsresol`` powers of 10 or 2, ``if_tsoffset``),
Enhanced, Simple and obsolete Packet Blocks; other block types are skipped by their length.

Link types: Ethernet (1) with any stack of 802.1Q/802.1ad/QinQ tags (0x8100, 0x88a8, 0x9100,
0x9200); raw IP (12, 101; version from the first nibble), raw IPv4 (228), raw IPv6 (229); Linux
SLL (113) and SLL2 (276); BSD null (0, family in either byte order) and loop (108, network order).

Rules where the formats leave a choice:

- ``wire_len`` is the IP-layer size from the IP header (IPv4 total length; IPv6 40 + payload
  length). An IPv4 total length of 0 (TSO captures) falls back to the captured IP bytes.
- IPv6 extension headers (hop-by-hop 0, routing 43, fragment 44, destination options 60, AH 51)
  are walked to the upper-layer protocol; after a Fragment header with a non-zero offset the walk
  stops (the rest is fragment data) and ``proto`` is that header's next-header value.
- IP fragments (IPv4 MF or non-zero offset; IPv6 any Fragment header) get ports 0 and their payload
  starts right after the IP header (incl. extension headers); counted in ``notes['fragments']``.
- A packet whose link or IP header (IPv4 options and IPv6 extension headers included) is not fully
  captured is malformed (``truncated_headers``). If the IP header is complete but the 4 port bytes
  of TCP/UDP are not, the packet is kept with ports 0 and counted in ``notes['l4_truncated']``.
- A Simple Packet Block has no timestamp: it gets the timestamp of the last packet kept before it
  (0 if none), belongs to interface 0, and is counted in ``notes['spb_timestamps']``.
- Non-IP frames (ARP, LLC, unknown ethertypes or null families) are always skipped and counted as
  ``non_ip``, in strict and lenient mode alike.
- An unknown link type is reported at the first packet that uses it (strict: error at the byte
  offset of the pcap file header or of the interface's IDB); lenient: each of its packets is
  skipped as ``unknown_linktype``.
- A pcapng timestamp that is not representable in int64 ns once ``if_tsresol`` and
  ``if_tsoffset`` are applied (before 1677 or after 2262) is malformed (``bad_timestamp``): strict
  raises at its block, lenient skips it; nothing wraps around.
- A record header whose captured length exceeds the snap length (pcap file header or the
  interface's ``if_snaplen``; 0 means none) or its own original length is kept and counted in
  ``notes['caplen_over_snaplen']`` / ``notes['origlen_below_caplen']``.
- Timestamps going backwards (checked over kept packets only): strict raises at the record;
  lenient keeps the packet, counts it in ``notes['reordered']`` (packets whose time is below an
  earlier packet's) and stable-sorts the table by time at the end.
- Lenient mode skips damaged records whose framing is intact (``truncated_headers``,
  ``bad_ip_header``, ``unknown_interface``, ``record_too_long`` in pcapng, ``bad_block`` for a
  block too short for its own fields, ``bad_timestamp``) and continues. Framing errors (record cut by the end of the
  file, pcap caplen over 256 KiB, bad block length or trailer) end the read: the record is counted
  (``truncated_record``, ``record_too_long``, ``bad_block``) and the bytes left unread in
  ``notes['unread_bytes']``. Errors in the file header / first section header raise in both modes.
  ``skipped`` counts packet records plus damaged blocks of any type.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from snfkit.arguments import check_bool, check_int, check_progress
from snfkit.engine.pcap_nb import (
    COUNT_NAMES,
    MAX_CAPLEN,
    N_SKIP_REASONS,
    CaptureFormat,
    CaptureState,
    ChunkStatus,
    Count,
    Err,
    PacketColumns,
    Slot,
    gather_payload_nb,
    new_capture_state,
    new_packet_columns,
    read_capture_chunk_nb,
)
from snfkit.errors import TraceFormatError
from snfkit.progress import ProgressCallback, progress_reporter
from snfkit.traces.result import MAX_PAYLOAD_BYTES, IngestResult
from snfkit.traces.sniff import TraceBytes
from snfkit.traces.table import packets_from_arrays

CHUNK_RECORDS = 1 << 20
"""Records per kernel call (one chunk)."""

FIRST_RECORDS = 1 << 16
"""Records of the first kernel call, whose bytes per packet size the columns for the rest."""

LINK_TYPES = "0, 1, 12, 101, 108, 113, 228, 229 or 276"


def capture_error(path: object, code: int, offset: int, a: int, b: int) -> TraceFormatError:
    """The :class:`TraceFormatError` for kernel error ``code`` (an ``Err`` value) at ``offset``."""
    expected, found = {
        Err.FILE_HEADER_SHORT: ("a 24-byte pcap file header", f"{a} bytes"),
        Err.BAD_MAGIC: (
            "a pcap magic (a1b2c3d4 or a1b23c4d, either byte order) or a pcapng section header "
            "block (0a0d0d0a)",
            f"bytes {a:08x}",
        ),
        Err.RECORD_HEADER_SHORT: ("a 16-byte pcap record header", f"{a} bytes before end of file"),
        Err.RECORD_DATA_SHORT: (
            f"{a} bytes of packet data (caplen)",
            f"{b} bytes before end of file",
        ),
        Err.RECORD_TOO_LONG: (f"a captured length <= {MAX_CAPLEN} (256 KiB)", f"caplen {a}"),
        Err.UNKNOWN_LINKTYPE: (f"a supported link type ({LINK_TYPES})", f"link type {a}"),
        Err.BLOCK_HEADER_SHORT: ("a pcapng block header", f"{a} bytes before end of file"),
        Err.BLOCK_LENGTH: ("a pcapng block length that is a multiple of 4 and >= 12", f"{a}"),
        Err.BLOCK_BEYOND_EOF: (
            f"a pcapng block of {a} bytes",
            f"{b} bytes before end of file",
        ),
        Err.BLOCK_TRAILER: (f"a trailing block length equal to the leading one ({a})", f"{b}"),
        Err.BAD_BYTE_ORDER: ("a pcapng byte-order magic 1a2b3c4d", f"{a:08x}"),
        Err.SHB_VERSION: ("pcapng major version 1", f"version {a}"),
        Err.BLOCK_CONTENT: (
            f"a pcapng block of type {a} long enough for its fields and data",
            f"block length {b}",
        ),
        Err.UNKNOWN_INTERFACE: (
            f"an interface id below {b} (interfaces defined in this section)",
            f"interface {a}",
        ),
        Err.TOO_MANY_INTERFACES: (f"at most {a} interfaces per section", "more"),
        Err.TS_BACKWARDS: ("non-decreasing timestamps", f"{a} ns after {b} ns"),
        Err.TRUNCATED_HEADERS: (
            "a captured link-layer and IP header (incl. options / extension headers)",
            f"{a} captured bytes (link type {b})",
        ),
        Err.BAD_IP_HEADER: (
            "a valid IP header (version 4 or 6, IHL >= 5, total length >= header length)",
            f"an invalid one in {a} captured bytes (link type {b})",
        ),
        Err.TS_OVERFLOW: (
            "a timestamp representable in int64 ns (years 1677-2262)",
            f"{a & (2**64 - 1)} units on interface {b}, beyond it with the interface's "
            "if_tsresol and if_tsoffset",
        ),
    }.get(code, ("a readable capture", f"error code {code}"))
    return TraceFormatError(path, offset, expected, found)


def counts_to_dicts(counts: np.ndarray) -> tuple[dict[str, int], dict[str, int]]:
    """Kernel counters -> (``skipped`` by reason, ``notes``), both without zero entries."""
    skipped = {COUNT_NAMES[i]: int(counts[i]) for i in range(N_SKIP_REASONS) if counts[i] != 0}
    notes = {
        COUNT_NAMES[i]: int(counts[i])
        for i in range(N_SKIP_REASONS, len(COUNT_NAMES))
        if counts[i] != 0 and i != Count.RECORDS
    }
    return skipped, notes


def payload_series(buf: np.ndarray, pay_off: np.ndarray, pay_len: np.ndarray) -> pl.Series:
    """A Binary ``payload`` column holding ``buf[off:off+len]`` per row."""
    offsets, data = gather_payload_nb(buf, pay_off, pay_len)
    arr = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(pay_off), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return pl.Series("payload", pl.from_arrow(arr), dtype=pl.Binary)


def read_capture_columns(
    src: TraceBytes,
    *,
    strict: bool = True,
    payload_bytes: int = 0,
    progress: bool | ProgressCallback = False,
    chunk_records: int = CHUNK_RECORDS,
) -> tuple[PacketColumns, CaptureState]:
    """Run the kernel over ``src`` chunk by chunk; return the raw columns (file order, not yet
    sorted; the payload columns empty unless ``payload_bytes > 0``) and the final reader state
    (its ``counts`` include ``Count.RECORDS``, the packet records and damaged blocks seen). Same
    options as :func:`read_capture`."""
    strict = check_bool("strict", strict)
    payload_bytes = min(check_int("payload_bytes", payload_bytes, 0), MAX_PAYLOAD_BYTES)
    chunk_records = check_int("chunk_records", chunk_records, 1)  # 0 would never advance
    progress = check_progress("progress", progress)
    buf = src.buf
    size = int(buf.shape[0])
    if size == 0:
        raise TraceFormatError(src.path, 0, "a non-empty trace", "an empty file")
    fmt = CaptureFormat.PCAPNG if src.format == "pcapng" else CaptureFormat.PCAP
    state = new_capture_state()
    keep_payload = payload_bytes > 0
    # A record takes at least 16 bytes (pcap header, SPB): that bounds the packets in the file.
    most = size // 16 + 1
    # The first call reads a sample; the columns then grow once to what the sample's bytes per
    # packet predict for the whole file (+10 %), so that little is copied.
    cols = new_packet_columns(min(chunk_records, most, FIRST_RECORDS), keep_payload)
    total = 0
    pos = 0
    with progress_reporter(progress, size, "ingest") as reporter:
        while True:
            if total == cols.ts.shape[0]:
                # Full: grow to the size the bytes per packet so far predict (+10%).
                rest = int((size - pos) / max(pos, 1) * total * 1.1) + 1024
                grown = new_packet_columns(
                    min(total + max(rest, chunk_records // 8), most), keep_payload
                )
                for old, new in zip(cols, grown, strict=True):
                    new[:total] = old[:total]
                cols = grown
            room = min(chunk_records, cols.ts.shape[0] - total)
            view = PacketColumns(*(a[total : total + room] if a.shape[0] else a for a in cols))
            n, nxt, status, detail = read_capture_chunk_nb(
                buf, pos, fmt, bool(strict), int(payload_bytes), state, view
            )
            if status == ChunkStatus.ERROR:
                st = state.st
                a, b = int(st[Slot.ERR_A]), int(st[Slot.ERR_B])
                raise capture_error(src.path, int(detail), int(st[Slot.ERR_OFF]), a, b)
            total += int(n)
            reporter.advance(int(nxt) - pos)
            pos = int(nxt)
            if status == ChunkStatus.DONE:
                break
    return PacketColumns(*(a[:total] if a.shape[0] else a for a in cols)), state


def read_capture(
    src: TraceBytes,
    *,
    strict: bool = True,
    payload_bytes: int = 0,
    progress: bool | ProgressCallback = False,
    chunk_records: int = CHUNK_RECORDS,
) -> IngestResult:
    """Parse the pcap or pcapng bytes of ``src`` into an :class:`IngestResult`.

    strict: raise :class:`TraceFormatError` (file, byte offset of the bad record / block, what was
        expected, what was found) on the first malformed record; when False skip and count it.
    payload_bytes: > 0 adds a ``payload`` column with up to that many captured L4 payload bytes.
    progress: False, True (progress bar) or a ``(bytes_done, bytes_total)`` callback.
    chunk_records: records per kernel call (bounds memory per chunk and the Ctrl-C latency).
    The rules for fragments, truncation, SPB timestamps etc. are in this module's docstring.
    Arguments of the wrong type or range raise :class:`~snfkit.errors.ParameterError`.
    """
    payload_bytes = min(check_int("payload_bytes", payload_bytes, 0), MAX_PAYLOAD_BYTES)
    cols, state = read_capture_columns(
        src,
        strict=strict,
        payload_bytes=payload_bytes,
        progress=progress,
        chunk_records=chunk_records,
    )
    if state.counts[Count.REORDERED]:
        order = np.argsort(cols.ts, kind="stable")
        cols = PacketColumns(*(a[order] if a.shape[0] else a for a in cols))
    payload = payload_series(src.buf, cols.pay_off, cols.pay_len) if payload_bytes > 0 else None
    table = packets_from_arrays(
        cols.ts, cols.src, cols.dst, cols.sport, cols.dport, cols.proto, cols.wire_len, payload
    )
    skipped, notes = counts_to_dicts(state.counts)
    return IngestResult(table, str(src.path), src.format, src.compression, skipped, notes)
