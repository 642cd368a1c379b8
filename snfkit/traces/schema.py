"""The packets table: the one schema every reader, transform, workload and engine shares.

| column     | dtype   | meaning |
|------------|---------|---------|
| ts_ns      | Int64   | arrival time in integer nanoseconds (capture clock, or synthetic clock starting at 0); sorted, non-decreasing |
| src_ip     | Binary  | source address, always 16 bytes in network byte order; IPv4 is stored IPv4-mapped (``::ffff:a.b.c.d``, RFC 4291 §2.5.5.2) |
| dst_ip     | Binary  | destination address, same representation |
| src_port   | UInt16  | TCP/UDP source port; 0 for other protocols and for IP fragments (see below) |
| dst_port   | UInt16  | TCP/UDP destination port; same rule |
| proto      | UInt8   | IP protocol number (IPv6: the upper-layer header after extension headers) |
| wire_len   | UInt32  | bytes of the packet on the wire at the IP layer: the IP total length (IPv4) or 40 + payload length (IPv6), so snap-length captures keep their original size; link-layer headers are not counted |
| flow_id    | Int64   | dense flow id, 0, 1, 2, ... in order of each 5-tuple's first packet |
| payload    | Binary  | optional: the L4 payload (after the TCP/UDP header, or after the IP header for other protocols), at most ``payload_bytes`` bytes, only as much as was captured |

Why 16-byte binary addresses: one column holds IPv4 and IPv6 without a side flag, it is lossless,
compares and sorts in numeric order, stores as parquet FIXED/BINARY, and IPv4 stays recognisable
(the ``::ffff:0:0/96`` prefix). :func:`snfkit.traces.format_ip` turns it into text.

IP fragments: every fragment of a fragmented datagram (more-fragments flag set or a non-zero offset;
IPv6: a Fragment extension header) gets ports 0, so all fragments of one datagram land in the same flow
``(src, dst, 0, 0, proto)``. This is what NIC receive-side scaling does (2-tuple hash for fragments);
the readers count fragments under the ``fragments`` entry of their report (they are kept, not skipped).
"""

from __future__ import annotations

import polars as pl

PACKETS_SCHEMA: dict[str, pl.DataType] = {
    "ts_ns": pl.Int64(),
    "src_ip": pl.Binary(),
    "dst_ip": pl.Binary(),
    "src_port": pl.UInt16(),
    "dst_port": pl.UInt16(),
    "proto": pl.UInt8(),
    "wire_len": pl.UInt32(),
    "flow_id": pl.Int64(),
}
"""Required columns and their dtypes, in order."""

OPTIONAL_COLUMNS: dict[str, pl.DataType] = {"payload": pl.Binary()}
"""Columns that may follow the required ones."""

FIVE_TUPLE = ("src_ip", "dst_ip", "src_port", "dst_port", "proto")
