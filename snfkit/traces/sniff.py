"""Undo compression and sniff a trace's format from its first bytes.

Uncompressed files are memory-mapped. Compressed ones (gzip, xz, zstd; sniffed by magic number) are
decompressed in a streaming fashion into a temporary file that is then memory-mapped, so memory does
not grow with the trace. Byte offsets in errors refer to the decompressed stream.
"""

from __future__ import annotations

import gzip
import lzma
import mmap
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snfkit.errors import TraceFormatError

GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "pcap",  # microseconds, little-endian
    b"\xa1\xb2\xc3\xd4": "pcap",  # microseconds, big-endian
    b"\x4d\x3c\xb2\xa1": "pcap",  # nanoseconds, little-endian
    b"\xa1\xb2\x3c\x4d": "pcap",  # nanoseconds, big-endian
    b"\x0a\x0d\x0d\x0a": "pcapng",  # section header block type (same in both byte orders)
}
PARQUET_MAGIC = b"PAR1"
UTF8_BOM = b"\xef\xbb\xbf"
"""A UTF-8 byte-order mark, which spreadsheet programs put before a CSV's header; skipped."""
CSV_COLUMNS = ("ts_ns", "ts", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "wire_len")
"""A text file whose first line has a comma and names one of these is read as a CSV trace, so a
CSV lacking a column gets a :class:`~snfkit.errors.SchemaError` naming it, not 'unknown format'."""


@dataclass
class TraceBytes:
    """A trace's decompressed content as a read-only uint8 array (usually a memory map)."""

    path: Path
    buf: np.ndarray
    format: str
    compression: str | None


def sniff_compression(head: bytes) -> str | None:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def sniff_format(head: bytes, path: Path) -> str:
    """Return 'pcap', 'pcapng', 'parquet' or 'csv'; raise TraceFormatError otherwise."""
    if len(head) == 0:
        raise TraceFormatError(path, 0, "a non-empty trace", "an empty file")
    fmt = PCAP_MAGICS.get(head[:4])
    if fmt is not None:
        return fmt
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    sample = head[:4096].removeprefix(UTF8_BOM)
    if b"\x00" not in sample:
        # errors="ignore": the sample may end inside a multi-byte character
        lines = sample.decode("utf-8", errors="ignore").splitlines()
        first = lines[0] if lines else ""
        names = {c.strip().strip('"') for c in first.split(",")}
        if "," in first and names & set(CSV_COLUMNS):
            return "csv"
    raise TraceFormatError(
        path,
        0,
        "a pcap magic (a1b2c3d4/a1b23c4d, either byte order), a pcapng section header (0a0d0d0a), "
        f"parquet (PAR1) or a CSV header naming packets-table columns ({', '.join(CSV_COLUMNS)})",
        f"bytes {head[:4].hex()}",
    )


def _zstd_copy(fh, out) -> None:
    """Decompress every zstd frame of ``fh`` into ``out``, as gzip does with its members.

    A stream that ends inside a frame is an error (zstandard's ``stream_reader`` returns the
    prefix silently, and stops after the first frame); bytes after a frame that are not a frame
    raise zstandard's error.
    """
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    frame = dctx.decompressobj()
    while chunk := fh.read(1 << 20):
        while chunk:
            if frame.eof:  # the previous frame is complete: the rest is another frame
                frame = dctx.decompressobj()
            out.write(frame.decompress(chunk))
            chunk = frame.unused_data if frame.eof else b""
    if not frame.eof:
        raise EOFError("the compressed stream ends inside a zstd frame")


def _decompress_to(path: Path, kind: str, out) -> None:
    opener = {
        "gzip": lambda: gzip.open(path, "rb"),
        "xz": lambda: lzma.open(path, "rb"),
    }
    try:
        if kind == "zstd":
            with open(path, "rb") as fh:
                _zstd_copy(fh, out)
        else:
            with opener[kind]() as fh:
                shutil.copyfileobj(fh, out, 1 << 20)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        # zstandard.ZstdError subclasses Exception only; catch it by name below.
        raise TraceFormatError(path, None, f"a complete {kind} stream", f"{exc}") from exc
    except Exception as exc:
        if type(exc).__name__ == "ZstdError":
            raise TraceFormatError(path, None, "a complete zstd stream", f"{exc}") from exc
        raise


def _map(path: Path) -> np.ndarray:
    size = path.stat().st_size
    if size == 0:
        return np.zeros(0, np.uint8)
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    return np.frombuffer(mm, np.uint8)


@contextmanager
def open_trace_bytes(path: Path) -> Iterator[TraceBytes]:
    """Yield the decompressed, memory-mapped content of ``path`` with its sniffed format."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    kind = sniff_compression(head)
    if kind is None:
        buf = _map(path)
        yield TraceBytes(path, buf, sniff_format(bytes(buf[:4096]), path), None)
        return
    fd, tmp = tempfile.mkstemp(prefix="snfkit-", suffix=".trace")
    try:
        with os.fdopen(fd, "wb") as out:
            _decompress_to(path, kind, out)
        buf = _map(Path(tmp))
        yield TraceBytes(path, buf, sniff_format(bytes(buf[:4096]), path), kind)
    finally:
        os.unlink(tmp)
