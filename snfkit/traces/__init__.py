"""Trace ingest, the packets table and trace transforms."""

from snfkit.traces.ingest import load_trace, read_trace
from snfkit.traces.result import IngestResult
from snfkit.traces.schema import FIVE_TUPLE, PACKETS_SCHEMA
from snfkit.traces.table import format_ip, ip_to_bytes, packets_from_arrays, validate_packets

__all__ = [
    "FIVE_TUPLE",
    "PACKETS_SCHEMA",
    "IngestResult",
    "format_ip",
    "ip_to_bytes",
    "load_trace",
    "packets_from_arrays",
    "read_trace",
    "validate_packets",
]
