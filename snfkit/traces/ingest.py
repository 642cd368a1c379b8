"""Open a trace file of any supported format and return its packets table.

The format is sniffed from the content (magic numbers), never from the file name; gzip, xz and zstd
compression are undone first (also sniffed). See :mod:`snfkit.traces.schema` for the table.
"""

from __future__ import annotations

import warnings
from os import PathLike
from pathlib import Path

import polars as pl

from snfkit.arguments import check_bool, check_int, check_progress
from snfkit.errors import ParameterError, SkippedPacketsWarning, TraceFormatError, format_skips
from snfkit.progress import ProgressCallback
from snfkit.traces.result import MAX_PAYLOAD_BYTES, IngestResult
from snfkit.traces.sniff import open_trace_bytes


def _trace_path(path: object) -> Path:
    """``path`` as a Path to an existing regular file, or the error that says why it is not."""
    if not isinstance(path, str | PathLike):
        raise ParameterError("path", path, "a file path (str or os.PathLike)")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such trace file")
    if not p.is_file():
        kind = (
            "a directory"
            if p.is_dir()
            else "a FIFO"
            if p.is_fifo()
            else "a device"
            if p.is_char_device() or p.is_block_device()
            else "a socket"
            if p.is_socket()
            else "not a regular file"
        )
        raise TraceFormatError(p, None, "a regular file holding a trace", kind)
    return p


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

    Arguments of the wrong type or range (``payload_bytes="4"``, ``1.5`` or ``-1``, ``strict="no"``)
    raise :class:`~snfkit.errors.ParameterError`; a ``payload_bytes`` above
    :data:`MAX_PAYLOAD_BYTES` keeps whole payloads like that bound does. A missing file raises
    ``FileNotFoundError``; a path that is not a regular file (a directory, a FIFO, a device) raises
    :class:`TraceFormatError` before anything is opened.
    """
    p = _trace_path(path)
    strict = check_bool("strict", strict)
    payload_bytes = min(check_int("payload_bytes", payload_bytes, 0), MAX_PAYLOAD_BYTES)
    progress = check_progress("progress", progress)
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
