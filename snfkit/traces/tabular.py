"""CSV and parquet traces: read them into a packets table, and write packets tables out.

Input columns (names are exact; other columns are ignored; a CSV may start with a UTF-8 byte-order
mark):

- ``ts_ns``: arrival time, integer nanoseconds (CSV text; parquet any integer type, or text).
- ``ts``: used only when ``ts_ns`` is absent: float seconds, converted to ``round(ts * 1e9)`` ns.
  A float64 holds about 16 significant digits, so epoch-scale seconds keep only ~0.1-1 us.
- ``src_ip``, ``dst_ip``: IPv4 dotted quad or IPv6 text; in parquet also 16-byte binary (network
  order, IPv4 as ``::ffff:a.b.c.d``, the packets-table representation).
- ``src_port``, ``dst_port`` (0-65535), ``proto`` (0-255), ``wire_len`` (IP bytes,
  0-4294967295): integers (CSV text; parquet any integer type, or text).
- ``payload`` (optional): hex text in CSV (empty = no payload); binary (or hex text) in parquet.
- ``flow_id``: ignored; flow ids are always recomputed from the 5-tuple (dense, first-seen order).

Errors: a missing column or a column of the wrong type (e.g. float ports in parquet) always raises
:class:`~snfkit.errors.SchemaError`. A bad value (empty/null, unparsable, out of range) raises
``SchemaError`` with ``where='row R, column C'`` when ``strict=True``; R is the 0-based *data* row
(the header is not counted; for CSV the message also gives the 1-based file line, ``R + 2`` when
no field spans lines). With ``strict=False`` bad rows are skipped and counted in
``IngestResult.skipped`` under ``missing_value``, ``unparsable`` or ``out_of_range`` (a row with
several bad fields counts once, under its first bad column in the order of the list above).

Timestamps out of order: strict raises naming the first row whose ts is below its predecessor's;
lenient sorts the rows stably by ts and counts in ``notes['reordered']`` the rows that arrived late
(ts below the maximum ts of the rows before them).
"""

from __future__ import annotations

import gzip
import io
import ipaddress
import lzma
from os import PathLike
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from snfkit.arguments import check_bool, check_int
from snfkit.errors import ParameterError, SchemaError, TraceFormatError
from snfkit.traces.result import MAX_PAYLOAD_BYTES, IngestResult
from snfkit.traces.sniff import UTF8_BOM, TraceBytes
from snfkit.traces.table import address_rows, packets_from_arrays, validate_packets

_INT_COLUMNS: dict[str, tuple[int, int, str]] = {
    "src_port": (0, 65535, "an integer port 0-65535"),
    "dst_port": (0, 65535, "an integer port 0-65535"),
    "proto": (0, 255, "an integer IP protocol number 0-255"),
    "wire_len": (0, 2**32 - 1, "an integer length in bytes 0-4294967295"),
}
_REQUIRED = ("src_ip", "dst_ip", "src_port", "dst_port", "proto", "wire_len")
_REASONS = ("missing_value", "unparsable", "out_of_range")  # codes 1, 2, 3 (0 = ok)
_OK, _MISSING, _UNPARSABLE, _RANGE = 0, 1, 2, 3
_IPV4_RE = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"
_V4_PREFIX = bytes(10) + b"\xff\xff"


class _Column:
    """One parsed input column: values (numpy or polars) and a per-row code (0 ok, else reason)."""

    __slots__ = ("code", "expected", "name", "values")

    def __init__(self, name: str, values: object, code: np.ndarray, expected: str) -> None:
        self.name = name
        self.values = values
        self.code = code
        self.expected = expected


def _codes(missing: pl.Series, unparsable: pl.Series, out_of_range: pl.Series | None) -> np.ndarray:
    code = np.zeros(len(missing), np.int8)
    if out_of_range is not None:
        code[out_of_range.fill_null(False).to_numpy()] = _RANGE
    code[unparsable.fill_null(False).to_numpy()] = _UNPARSABLE
    code[missing.fill_null(True).to_numpy()] = _MISSING
    return code


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String


def _mistyped(path: Path, name: str, expected: str, dtype: pl.DataType) -> SchemaError:
    return SchemaError(
        path, None, f"{expected} (column type)", str(dtype), where=f"column {name!r}"
    )


def _int_column(path: Path, s: pl.Series, lo: int, hi: int, expected: str) -> _Column:
    if _is_text(s.dtype):
        text = s.str.strip_chars()
        missing = text.is_null() | (text == "")
        # Parse as Int128 so that values beyond int64 are 'out of range', not 'unparsable'.
        v = text.cast(pl.Int128, strict=False)
        unparsable = ~missing & v.is_null()
    elif s.dtype.is_integer():
        missing = s.is_null()
        v = s.cast(pl.Int128)
        unparsable = pl.Series([False] * len(s))
    else:
        raise _mistyped(path, s.name, expected, s.dtype)
    oor = (v < lo) | (v > hi)
    code = _codes(missing, unparsable, oor)
    vals = v.fill_null(0).clip(lo, hi).cast(pl.Int64).to_numpy()
    return _Column(s.name, vals, code, expected)


def _ts_column(path: Path, frame: pl.DataFrame) -> _Column:
    if "ts_ns" in frame.columns:
        lo, hi = -(2**63), 2**63 - 1
        return _int_column(path, frame["ts_ns"], lo, hi, "an integer timestamp in ns")
    s = frame["ts"]
    expected = "a timestamp in seconds (float)"
    if _is_text(s.dtype):
        text = s.str.strip_chars()
        missing = text.is_null() | (text == "")
        v = text.cast(pl.Float64, strict=False)
        unparsable = ~missing & v.is_null()
    elif s.dtype.is_numeric():
        missing = s.is_null()
        v = s.cast(pl.Float64)
        unparsable = pl.Series([False] * len(s))
    else:
        raise _mistyped(path, "ts", expected, s.dtype)
    unparsable = unparsable | (~v.is_null() & ~v.is_finite())
    ns = v * 1e9
    oor = (ns < -(2.0**63)) | (ns >= 2.0**63)
    code = _codes(missing, unparsable, oor)
    ok = code == _OK
    vals = np.zeros(len(s), np.int64)
    vals[ok] = np.round(ns.to_numpy()[ok]).astype(np.int64)
    return _Column("ts", vals, code, expected)


def parse_ip_text(s: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Text addresses -> (uint8[n, 16] IPv4-mapped rows, ok bool[n]); nulls and junk are not ok.

    IPv4 dotted quads are parsed with vectorized polars string ops; anything else goes through
    :mod:`ipaddress` once per distinct string (IPv6, or ``::ffff:a.b.c.d``).
    """
    n = len(s)
    text = s.str.strip_chars()
    rows = np.zeros((n, 16), np.uint8)
    shaped = text.str.contains(_IPV4_RE).fill_null(False).to_numpy()  # digits and dots only
    parts = text.str.split_exact(".", 3).struct.unnest()
    octets = parts.select(pl.all().cast(pl.UInt16, strict=False).fill_null(999)).to_numpy()
    is_v4 = shaped & (octets <= 255).all(axis=1)
    rows[is_v4, 10:12] = 0xFF
    rows[is_v4, 12:16] = octets[is_v4].astype(np.uint8)
    ok = is_v4.copy()
    rest = ~is_v4 & text.is_not_null().to_numpy()
    if rest.any():
        idx = np.flatnonzero(rest)
        other = text.gather(idx)
        uniq = other.unique()
        parsed: dict[str, bytes] = {}
        for t in uniq.to_list():
            try:
                a = ipaddress.ip_address(t)
            except ValueError:
                continue
            parsed[t] = (_V4_PREFIX + a.packed) if a.version == 4 else a.packed
        for i, t in zip(idx.tolist(), other.to_list(), strict=True):
            b = parsed.get(t)
            if b is not None:
                rows[i] = np.frombuffer(b, np.uint8)
                ok[i] = True
    return rows, ok


def _ip_column(path: Path, s: pl.Series) -> _Column:
    expected = "an IPv4 or IPv6 address (text, or 16 bytes)"
    missing = s.is_null().to_numpy()
    if _is_text(s.dtype):
        missing = missing | (s.str.strip_chars() == "").fill_null(True).to_numpy()
        rows, ok = parse_ip_text(s)
    elif s.dtype in (pl.Binary,) or str(s.dtype).startswith("FixedSizeBinary"):
        b = s.cast(pl.Binary)
        ok = (b.bin.size() == 16).fill_null(False).to_numpy()
        rows = np.zeros((len(s), 16), np.uint8)
        if ok.any():
            good = np.flatnonzero(ok)
            rows[good] = address_rows(b.gather(good))
    else:
        raise _mistyped(path, s.name, expected, s.dtype)
    code = np.where(ok, _OK, _UNPARSABLE).astype(np.int8)
    code[missing] = _MISSING
    return _Column(s.name, rows, code, expected)


def _payload_column(path: Path, s: pl.Series) -> _Column:
    expected = "a payload (hex text in CSV, binary in parquet)"
    if _is_text(s.dtype):
        text = s.str.strip_chars().fill_null("")
        v = text.str.decode("hex", strict=False)
        bad = v.is_null() & (text != "")
        vals = v.fill_null(b"")
    elif s.dtype == pl.Binary:
        bad = pl.Series([False] * len(s))
        vals = s.fill_null(b"")
    else:
        raise _mistyped(path, "payload", expected, s.dtype)
    code = np.where(bad.to_numpy(), _UNPARSABLE, _OK).astype(np.int8)
    return _Column("payload", vals, code, expected)


def _ragged_line(buf: np.ndarray) -> tuple[int, int, int] | None:
    """First CSV line with a field count different from the header's: (line, found, expected)."""
    data = np.asarray(buf)
    nl = np.flatnonzero(data == ord("\n"))
    ends = np.append(nl, data.shape[0])
    commas = np.concatenate([[0], np.cumsum(data == ord(","))])
    starts = np.concatenate([[0], nl + 1])
    per_line = commas[ends] - commas[starts]
    nonempty = ends > starts
    header = per_line[0]
    bad = np.flatnonzero((per_line != header) & nonempty)
    if bad.size == 0:
        return None
    i = int(bad[0])
    return i + 1, int(per_line[i]) + 1, int(header) + 1


def _read_frame(src: TraceBytes) -> pl.DataFrame:
    path = src.path
    if src.format == "parquet":
        try:
            table = pq.read_table(pa.BufferReader(pa.py_buffer(src.buf)))
        except (pa.ArrowException, OSError) as exc:
            raise TraceFormatError(path, None, "a readable parquet file", str(exc)) from exc
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame
    data = memoryview(src.buf)
    if bytes(data[:3]) == UTF8_BOM:  # polars would keep it in the first column's name
        data = data[3:]
    try:
        return pl.read_csv(io.BytesIO(data), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        ragged = _ragged_line(src.buf)
        if ragged is not None:
            line, found, expected = ragged
            raise TraceFormatError(
                path, None, f"{expected} comma-separated fields", f"{found}", where=f"line {line}"
            ) from exc
        raise TraceFormatError(path, None, "a well-formed CSV file", str(exc)) from exc


def read_table_trace(src: TraceBytes, *, strict: bool, payload_bytes: int) -> IngestResult:
    """Read a CSV or parquet trace (already decompressed into ``src.buf``) into a packets table.

    See the module docstring for the accepted columns and error rules. ``payload_bytes`` > 0 keeps
    up to that many bytes of each payload (rows without one, or a file without a ``payload``
    column, get an empty payload, so the column is present exactly when ``payload_bytes`` > 0).
    Rows are 0-based data rows in every message.
    """
    strict = check_bool("strict", strict)
    payload_bytes = min(check_int("payload_bytes", payload_bytes, 0), MAX_PAYLOAD_BYTES)
    path = src.path
    frame = _read_frame(src)
    is_csv = src.format == "csv"
    need = ["ts_ns" if "ts_ns" in frame.columns or "ts" not in frame.columns else "ts", *_REQUIRED]
    for name in need:
        if name not in frame.columns:
            what = (
                "a column 'ts_ns' (integer ns) or 'ts' (float s)"
                if name == "ts_ns"
                else (f"a column {name!r}")
            )
            raise SchemaError(
                path, None, what, f"columns {frame.columns}", where=f"column {name!r}"
            )

    cols: list[_Column] = [_ts_column(path, frame)]
    cols.append(_ip_column(path, frame["src_ip"]))
    cols.append(_ip_column(path, frame["dst_ip"]))
    for name, (lo, hi, expected) in _INT_COLUMNS.items():
        cols.append(_int_column(path, frame[name], lo, hi, expected))
    want_payload = payload_bytes > 0
    if want_payload and "payload" in frame.columns:
        cols.append(_payload_column(path, frame["payload"]))

    n = frame.height
    codes = np.stack([c.code for c in cols], axis=1) if n else np.zeros((0, len(cols)), np.int8)
    bad_any = codes.any(axis=1)
    skipped: dict[str, int] = {}
    if bad_any.any():
        if strict:
            row = int(np.flatnonzero(bad_any)[0])
            j = int(np.flatnonzero(codes[row])[0])
            col = cols[j]
            raw_name = col.name
            raw = frame[raw_name][row]
            if isinstance(raw, bytes):
                raw = raw.hex() if len(raw) <= 32 else raw[:32].hex() + "..."
            reason = _REASONS[codes[row, j] - 1].replace("_", " ")
            line = f" (line {row + 2})" if is_csv else ""
            raise SchemaError(
                path,
                None,
                col.expected,
                f"{raw!r} ({reason})",
                where=f"row {row}{line}, column {raw_name!r}",
            )
        bad_codes = codes[bad_any]
        firsts = np.argmax(bad_codes != 0, axis=1)  # first bad column of each bad row
        reasons = bad_codes[np.arange(firsts.size), firsts]
        for k, name in enumerate(_REASONS, start=1):
            c = int((reasons == k).sum())
            if c:
                skipped[name] = c

    keep = np.flatnonzero(~bad_any)
    ts = cols[0].values[keep]
    notes: dict[str, int] = {}
    order = None
    if ts.size > 1:
        back = np.flatnonzero(ts[1:] < ts[:-1])
        if back.size:
            if strict:
                r = int(keep[back[0] + 1])
                line = f" (line {r + 2})" if is_csv else ""
                raise SchemaError(
                    path,
                    None,
                    "non-decreasing timestamps",
                    f"{ts[back[0] + 1]} ns after {ts[back[0]]} ns",
                    where=f"row {r}{line}, column {cols[0].name!r}",
                )
            late = ts < np.maximum.accumulate(np.concatenate([[ts[0]], ts[:-1]]))
            notes["reordered"] = int(late.sum())
            order = np.argsort(ts, kind="stable")
    sel = keep if order is None else keep[order]

    payload = None
    if want_payload:
        if "payload" in frame.columns:
            ps = cols[-1].values
            assert isinstance(ps, pl.Series)
            payload = ps.gather(sel).bin.head(payload_bytes)
        else:
            payload = pl.Series("payload", [b""] * sel.size, dtype=pl.Binary)
    by_name = {c.name: c.values for c in cols}
    packets = packets_from_arrays(
        by_name[cols[0].name][sel],
        by_name["src_ip"][sel],
        by_name["dst_ip"][sel],
        by_name["src_port"][sel],
        by_name["dst_port"][sel],
        by_name["proto"][sel],
        by_name["wire_len"][sel],
        payload,
    )
    return IngestResult(
        packets=packets,
        path=str(path),
        format=src.format,
        compression=src.compression,
        skipped=skipped,
        notes=notes,
    )


def format_ip_column(col: pl.Series) -> pl.Series:
    """16-byte Binary addresses -> text (IPv4-mapped as dotted quad, others as IPv6), vectorized."""
    rows = address_rows(col)
    is_v4 = (rows[:, :12] == np.frombuffer(_V4_PREFIX, np.uint8)).all(axis=1)
    octets = pl.DataFrame({f"o{k}": rows[:, 12 + k] for k in range(4)})
    v4 = octets.select(
        pl.concat_str([pl.col(f"o{k}").cast(pl.String) for k in range(4)], separator=".")
    ).to_series()
    out = v4.to_numpy().astype(object)
    if not is_v4.all():
        for i in np.flatnonzero(~is_v4).tolist():
            out[i] = str(ipaddress.IPv6Address(rows[i].tobytes()))
    return pl.Series(col.name, out, dtype=pl.String)


_COMPRESS_SUFFIX = {".gz": "gzip", ".xz": "xz", ".zst": "zstd", ".zstd": "zstd"}


def write_packets(
    packets: pl.DataFrame,
    path: str | PathLike[str],
    *,
    format: str | None = None,
    compression: str | None = None,
) -> Path:
    """Save a packets table as parquet or CSV, optionally gzip/xz/zstd compressed; returns the path.

    The format and compression come from the file name (``x.parquet``, ``x.csv``, ``x.csv.gz``,
    ``x.parquet.zst``, ``.xz``) unless given (``format`` 'parquet'/'csv', ``compression``
    'gzip'/'xz'/'zstd'/None). Parquet keeps addresses as 16-byte binary and payloads as binary;
    CSV writes addresses as text (dotted quad for IPv4, RFC 5952 text for IPv6) and payloads as hex.
    ``flow_id`` is written too (readers ignore it and recompute it). Reading the file back with
    :func:`snfkit.traces.read_trace` gives an equal table.
    """
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    if compression is None and suffixes and suffixes[-1] in _COMPRESS_SUFFIX:
        compression = _COMPRESS_SUFFIX[suffixes[-1]]
        suffixes = suffixes[:-1]
    if format is None:
        format = suffixes[-1].lstrip(".") if suffixes else ""
    if format not in ("parquet", "csv"):
        raise ParameterError("format", format, "'parquet' or 'csv' (from the file name or given)")
    if compression not in (None, "gzip", "xz", "zstd"):
        raise ParameterError("compression", compression, "None, 'gzip', 'xz' or 'zstd'")
    packets = validate_packets(packets)
    bio = io.BytesIO()
    if format == "parquet":
        packets.write_parquet(bio)
    else:
        out = packets.with_columns(
            format_ip_column(packets["src_ip"]), format_ip_column(packets["dst_ip"])
        )
        if "payload" in out.columns:
            out = out.with_columns(pl.col("payload").bin.encode("hex"))
        out.write_csv(bio)
    data = bio.getvalue()
    if compression == "gzip":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    elif compression == "xz":
        data = lzma.compress(data)
    elif compression == "zstd":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    p.write_bytes(data)
    return p


__all__ = ["format_ip_column", "parse_ip_text", "read_table_trace", "write_packets"]
