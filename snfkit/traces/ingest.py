"""Open a trace file of any supported format and return its packets table.

The format is sniffed from the content (magic numbers), never from the file name; gzip, xz and zstd
compression are undone first (also sniffed). See :mod:`snfkit.traces.schema` for the table.
"""

from __future__ import annotations

import warnings
from os import PathLike
from pathlib import Path

import polars as pl

from snfkit.errors import ParameterError, SkippedPacketsWarning, TraceFormatError, format_skips
from snfkit.progress import ProgressCallback
from snfkit.traces.result import IngestResult
from snfkit.traces.sniff import open_trace_bytes


def read_trace(
    path: str | PathLike[str],
    *,
    strict: bool = True,
    payload_bytes: int = 0,
    progress: bool | ProgressCallback = False,
) -> IngestResult:
    """Read a pcap, pcapng, parquet or CSV trace (optionally gzip/xz/zstd compressed).

    strict: when True (default) any malformed record raises :class:`TraceFormatError` naming the file,
        byte offset and what was expected; when False malformed records are skipped and counted in
        ``IngestResult.skipped`` by reason.
    payload_bytes: keep up to this many bytes of each packet's L4 payload in a ``payload`` column
        (0: no payload column).
    progress: True draws a progress bar; a callable gets ``(bytes_done, bytes_total)``.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such trace file")
    if payload_bytes < 0:
        raise ParameterError("payload_bytes", payload_bytes, "an integer >= 0")
    with open_trace_bytes(p) as src:
        # The readers are imported on first use: they load the pcap kernels and pyarrow.parquet,
        # about 50 ms that `import snfkit` need not pay.
        if src.format in ("pcap", "pcapng"):
            from snfkit.traces.pcap import read_capture

            return read_capture(src, strict=strict, payload_bytes=payload_bytes, progress=progress)
        if src.format in ("parquet", "csv"):
            from snfkit.traces.tabular import read_table_trace

            return read_table_trace(src, strict=strict, payload_bytes=payload_bytes)
    raise TraceFormatError(p, 0, "a pcap, pcapng, parquet or CSV trace", src.format)


def load_trace(
    path: str | PathLike[str],
    *,
    strict: bool = True,
    payload_bytes: int = 0,
    progress: bool | ProgressCallback = False,
) -> pl.DataFrame:
    """Read a trace and return its packets table (schema: :mod:`snfkit.traces.schema`).

    Same options as :func:`read_trace`. Skipped records are reported by a
    :class:`~snfkit.errors.SkippedPacketsWarning` listing the count per reason; use
    :func:`read_trace` to get the counts as a dict.
    """
    result = read_trace(path, strict=strict, payload_bytes=payload_bytes, progress=progress)
    if any(result.skipped.values()):
        warnings.warn(
            f"{result.path}: skipped {sum(result.skipped.values())} of {result.records} records "
            f"({format_skips(result.skipped)})",
            SkippedPacketsWarning,
            stacklevel=2,
        )
    return result.packets


__all__ = ["IngestResult", "load_trace", "read_trace"]
