"""What a trace reader returns: :class:`IngestResult`."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

MAX_PAYLOAD_BYTES = 2**31 - 1
"""Largest useful ``payload_bytes``: no packet (pcap caplen <= 256 KiB) nor parquet value (< 2 GiB)
holds more, so a larger request keeps whole payloads."""


@dataclass(frozen=True)
class IngestResult:
    """What a reader returns: the packets table and an account of everything not in it.

    ``skipped`` counts records left out, by reason (only when ``strict=False`` for malformed ones;
    non-IP frames such as ARP are always skipped and counted). ``notes`` counts things kept but worth
    knowing (``fragments``, ``reordered`` packets that were re-sorted, ``truncated_capture`` packets
    whose capture length is shorter than their wire length, ``caplen_over_snaplen`` and
    ``origlen_below_caplen`` record headers whose lengths contradict each other).
    """

    packets: pl.DataFrame
    path: str
    format: str
    compression: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def records(self) -> int:
        """Records read from the file: packets kept plus packets skipped."""
        return self.packets.height + sum(self.skipped.values())


__all__ = ["MAX_PAYLOAD_BYTES", "IngestResult"]
