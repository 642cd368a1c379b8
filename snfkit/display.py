"""Tables for people: addresses as text, times in seconds (or datetimes), durations in µs, NF
outputs as addresses and ports. Everything here is a polars expression or a function of a frame
(no Python loop over rows); the stored tables keep their exact integer columns.

- :func:`ip_text`: a 16-byte address column (the packets table's ``src_ip``, ``dst_ip``) as text,
  the same text as :func:`snfkit.traces.format_ip` (dotted quad for IPv4-mapped addresses, RFC 5952
  for IPv6).
- :func:`endpoint_text`: ``10.0.0.1:443`` / ``[2001:db8::1]:443``.
- :func:`readable`: any snfkit table (packets, a ``Results`` table, flows) with addresses as text,
  instants (``ts_ns``, ``open_ns``, ...) as seconds since the trace's first packet (``ts_s``, ...)
  or as UTC datetimes, durations (``latency_ns``, ...) in µs (``latency_us``) and ``proto`` named.
- :func:`nf_output_table`: an NF's per-packet outputs with its own column names, ``action`` as
  forward / drop, the NAT's rewritten address as text, beside the packet's endpoints.
- :func:`format_number`: one number rounded for a printed table (the CLI's tables).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import polars as pl

from snfkit.errors import ParameterError
from snfkit.traces.summary import PROTO_NAMES

ADDRESS_COLUMNS = ("src_ip", "dst_ip")
"""16-byte binary address columns."""

INSTANT_COLUMNS = (
    "ts_ns",
    "start_ns",
    "finish_ns",
    "open_ns",
    "last_ns",
    "end_ns",
    "first_ns",
    "ready_ns",
    "retire_ns",
    "time_ns",
    "arrive_ns",
)
"""Integer-ns columns that are instants on the trace's clock (shown as seconds since ``t0``)."""

DURATION_COLUMNS = (
    "latency_ns",
    "queue_ns",
    "state_wait_ns",
    "service_ns",
    "busy_ns",
    "active_ns",
    "lifetime_ns",
    "duration_ns",
)
"""Integer-ns columns that are durations (shown in µs)."""

Clock = Literal["seconds", "datetime"]

_V4_MAPPED_HEX = "0" * 20 + "ffff"


def _expr(col: str | pl.Expr) -> pl.Expr:
    return pl.col(col) if isinstance(col, str) else col


def _v6_text(hexed: pl.Expr) -> pl.Expr:
    """32 hex digits -> RFC 5952 text: groups without leading zeros, the longest run of two or
    more zero groups (the first of equal runs) written ``::``."""
    groups = [
        hexed.str.slice(4 * k, 4).str.strip_chars_start("0").replace("", "0") for k in range(8)
    ]
    # wrapped in colons, so that a run of zero groups reads ':0:0:' wherever it lies
    wrapped = pl.concat_str([pl.lit(":"), pl.concat_str(groups, separator=":"), pl.lit(":")])
    text = pl.when(pl.lit(False)).then(wrapped)
    for run in range(8, 1, -1):  # the longest run first; replace() takes the leftmost
        pattern = ":" + "0:" * run
        text = text.when(wrapped.str.contains(pattern, literal=True)).then(
            wrapped.str.replace(pattern, "::", literal=True)
        )
    text = text.otherwise(wrapped)
    # drop the wrapping colons, except where they belong to the '::'
    text = pl.when(text.str.starts_with("::")).then(text).otherwise(text.str.strip_prefix(":"))
    return pl.when(text.str.ends_with("::")).then(text).otherwise(text.str.strip_suffix(":"))


def ip_text(col: str | pl.Expr) -> pl.Expr:
    """A 16-byte binary address column as text: ``'10.0.0.1'`` for an IPv4-mapped address,
    RFC 5952 text (``'2001:db8::1'``) for others; null stays null. Equal to
    :func:`snfkit.traces.format_ip` on every address."""
    hexed = _expr(col).bin.encode("hex")
    octets = [
        hexed.str.slice(24 + 2 * k, 2).str.to_integer(base=16).cast(pl.String) for k in range(4)
    ]
    v4 = pl.concat_str(octets, separator=".")
    return pl.when(hexed.str.starts_with(_V4_MAPPED_HEX)).then(v4).otherwise(_v6_text(hexed))


def endpoint_text(ip: str | pl.Expr, port: str | pl.Expr) -> pl.Expr:
    """An address and a port as one string: ``'10.0.0.1:443'``, ``'[2001:db8::1]:443'``."""
    text = ip_text(ip)
    host = pl.when(text.str.contains(":", literal=True)).then("[" + text + "]").otherwise(text)
    return pl.concat_str([host, _expr(port).cast(pl.String)], separator=":")


def proto_name(col: str | pl.Expr) -> pl.Expr:
    """IP protocol numbers as names (``tcp``, ``udp``, ...; others as their number)."""
    e = _expr(col)
    return e.replace_strict(PROTO_NAMES, default=e.cast(pl.String), return_dtype=pl.String)


def seconds_since(col: str | pl.Expr, t0: int) -> pl.Expr:
    """An integer-ns instant as Float64 seconds since ``t0`` (ns on the same clock)."""
    return (_expr(col) - t0).cast(pl.Float64) / 1e9


def as_datetime(col: str | pl.Expr) -> pl.Expr:
    """An integer-ns instant (ns since the Unix epoch: a capture's clock) as a UTC datetime."""
    return _expr(col).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")


def micros(col: str | pl.Expr) -> pl.Expr:
    """An integer-ns duration as Float64 µs."""
    return _expr(col).cast(pl.Float64) / 1e3


def first_instant(df: pl.DataFrame) -> int | None:
    """The earliest instant of ``df``'s :data:`INSTANT_COLUMNS` (``ts_ns`` first), or None."""
    cols = [c for c in INSTANT_COLUMNS if c in df.columns]
    if "ts_ns" in cols:
        cols = ["ts_ns"]
    if not cols or df.height == 0:
        return None
    value = df.select(pl.min_horizontal(pl.col(cols).min())).item()
    return None if value is None else int(value)


def readable(
    df: pl.DataFrame,
    *,
    t0: int | None = None,
    clock: Clock = "seconds",
    proto: bool = True,
    nf: Any = None,
) -> pl.DataFrame:
    """``df`` for reading: the address columns as text (same names), instants as seconds since
    ``t0`` (``ts_ns`` -> ``ts_s``; ``t0`` defaults to the earliest instant of ``df``, its first
    packet for a packets table: pass the trace's first ``ts_ns`` to put several tables on one
    clock) or, with ``clock='datetime'``, as UTC datetimes (``ts_ns`` -> ``ts``), durations in µs
    (``latency_ns`` -> ``latency_us``), ``proto`` as a name, a payload as its size
    (``payload_bytes``) and, given the ``nf`` that ran (an NF or a built-in's name), a replay's
    ``nf_out0`` / ``nf_out1`` under the NF's output names (as in :func:`nf_output_table`). Other
    columns, and the order of everything, are kept. Raises ParameterError for an unknown
    ``clock``."""
    if clock not in ("seconds", "datetime"):
        raise ParameterError("clock", clock, "'seconds' or 'datetime'")
    if t0 is None:
        t0 = first_instant(df) or 0
    nf_exprs = []
    if nf is not None and {"nf_out0", "nf_out1"} <= set(df.columns):
        nf_exprs = _nf_output_exprs(_nf_names(nf), "nf_out0", "nf_out1")
    exprs = []
    for name, dtype in df.schema.items():
        if name in ("nf_out0", "nf_out1") and nf_exprs:
            exprs.append(nf_exprs[0 if name == "nf_out0" else 1])
        elif name in ADDRESS_COLUMNS and dtype == pl.Binary:
            exprs.append(ip_text(name).alias(name))
        elif name in INSTANT_COLUMNS and dtype.is_integer():
            if clock == "seconds":
                exprs.append(seconds_since(name, t0).alias(name[: -len("_ns")] + "_s"))
            else:
                exprs.append(as_datetime(name).alias(name[: -len("_ns")]))
        elif name in DURATION_COLUMNS and dtype.is_integer():
            exprs.append(micros(name).alias(name[: -len("_ns")] + "_us"))
        elif name == "proto" and proto and dtype.is_integer():
            exprs.append(proto_name(name).alias(name))
        elif name == "payload" and dtype == pl.Binary:
            exprs.append(pl.col(name).bin.size().alias("payload_bytes"))
        else:
            exprs.append(pl.col(name))
    return df.select(exprs)


def _address_from_low_half(col: str | pl.Expr) -> pl.Expr:
    """The low 64 bits of a 16-byte address (an int64, the bits of the big-endian low half) as
    text: a dotted quad when they are IPv4-mapped (``0000:ffff:a.b.c.d``), else the four groups
    behind ``…:``; -1 (the NF's 'no address') is null."""
    e = _expr(col)
    bits = e.cast(pl.UInt64, wrap_numerical=True)
    v4 = pl.concat_str(
        [((bits // (1 << (8 * (3 - k)))) % 256).cast(pl.String) for k in range(4)], separator="."
    )
    groups = [((bits // (1 << (16 * (3 - k)))) % 65536) for k in range(4)]
    v6 = pl.concat_str([pl.lit("…:"), pl.concat_str([_hex(g) for g in groups], separator=":")])
    is_v4 = (bits // (1 << 32)) == 0xFFFF
    return pl.when(e == -1).then(None).when(is_v4).then(v4).otherwise(v6)


def _hex(value: pl.Expr) -> pl.Expr:
    """A 16-bit integer expression as lower-case hex without leading zeros."""
    names = dict(enumerate("0123456789abcdef"))
    digits = [
        ((value // (16**k)) % 16).replace_strict(names, return_dtype=pl.String)
        for k in (3, 2, 1, 0)
    ]
    return pl.concat_str(digits).str.strip_chars_start("0").replace("", "0")


ADDRESS_OUTPUTS = ("address_lo",)
"""NF output names that hold the low half of an address (shown as text by
:func:`nf_output_table`)."""


def _nf_names(nf: Any) -> tuple[str, str]:
    if isinstance(nf, str):
        from snfkit.nf import get_nf

        nf = get_nf(nf)
    names = tuple(getattr(nf, "outputs", ("out0", "out1")))
    if len(names) != 2:
        raise ParameterError("nf.outputs", names, "two output names")
    return names  # type: ignore[return-value]


def _nf_output_exprs(names: tuple[str, str], out0: str, out1: str) -> list[pl.Expr]:
    """The two NF output columns under the NF's names, -1 as null, an address output as text."""
    exprs = []
    for raw, name in zip((out0, out1), names, strict=True):
        if name in ADDRESS_OUTPUTS:
            exprs.append(_address_from_low_half(raw).alias("address"))
        else:
            exprs.append(pl.when(pl.col(raw) == -1).then(None).otherwise(pl.col(raw)).alias(name))
    return exprs


def nf_output_table(nf_output: pl.DataFrame, nf: Any, packets: pl.DataFrame | None = None):
    """An NF's per-packet outputs (``Results.nf_output`` or :func:`snfkit.nf.apply`) for reading:
    ``action`` as ``forward`` / ``drop``, ``out0`` / ``out1`` renamed to the NF's output names
    (``nf.outputs``; ``nf`` is an :class:`~snfkit.nf.NF` or a built-in's name), an address output
    (the NAT's ``address_lo``) as text in ``address``, and -1 ('none': a dropped packet) as null.
    With ``packets`` (the replayed table, same rows in the same order) the packet's ``src`` and
    ``dst`` endpoints (``10.0.0.1:443``) come first."""
    names = _nf_names(nf)
    if packets is not None and packets.height != nf_output.height:
        raise ParameterError(
            "packets", f"{packets.height} rows", f"the NF output's {nf_output.height} rows"
        )
    cols = [
        pl.col("action").replace_strict({0: "forward", 1: "drop"}, return_dtype=pl.String),
        *_nf_output_exprs(names, "out0", "out1"),
    ]
    extra = [c for c in nf_output.columns if c not in ("action", "out0", "out1")]
    out = nf_output.select(*cols, *extra)
    if packets is not None:
        ends = packets.select(
            endpoint_text("src_ip", "src_port").alias("src"),
            endpoint_text("dst_ip", "dst_port").alias("dst"),
        )
        out = pl.concat([ends, out], how="horizontal")
    return out


def format_number(value: float | int | None) -> str:
    """One number for a printed table, rounded to what a reader can use: ``-`` for None or NaN,
    integers with thousands separators, ``1,234`` from 1,000 on, four significant digits from 1
    (``12.35``), three below (``0.0123``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return str(value)
    v = float(value)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.4g}"
    return f"{v:.3g}"
