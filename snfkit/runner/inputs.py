"""What :func:`snfkit.replay` accepts, normalised: chunks of a packets table, and an NF with the
table it needs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import Any

import polars as pl

from snfkit.errors import ParameterError
from snfkit.prepared import PreparedTrace


def check_chunk_size(chunk_size: Any) -> int:
    """``chunk_size`` if it is an integer >= 1 (a ParameterError otherwise)."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ParameterError("chunk_size", chunk_size, "an integer >= 1")
    return chunk_size


def chunks_of(packets: Any, chunk_size: int) -> tuple[Iterator[pl.DataFrame], int | None]:
    """The input as an iterator of DataFrames and a total packet count (or None): a DataFrame or
    LazyFrame, a trace path (any format, read by :func:`snfkit.traces.load_trace`, which recomputes
    ``flow_id`` from the 5-tuple: one rule for every way in; a parquet file in the packets table's
    types is read ``chunk_size`` rows at a time by :func:`snfkit.traces.stream.parquet_chunks`,
    with the same ids and checks), or an iterable of DataFrames (checked one by one as they
    come)."""
    if isinstance(packets, pl.DataFrame):
        return packets.iter_slices(chunk_size), packets.height
    if isinstance(packets, pl.LazyFrame):
        df = packets.collect()
        return df.iter_slices(chunk_size), df.height
    if isinstance(packets, str | PathLike):
        from snfkit.traces.stream import parquet_chunks, parquet_rows, streamable

        if streamable(packets):  # read a slice at a time (the flow ids load_trace would give)
            return parquet_chunks(packets, chunk_size), parquet_rows(packets)
        from snfkit.traces import load_trace

        df = load_trace(Path(packets))
        return df.iter_slices(chunk_size), df.height
    if isinstance(packets, Iterable) and not isinstance(packets, bytes | bytearray | dict):
        return _tables(packets), None
    raise ParameterError(
        "packets",
        type(packets).__name__,
        "a polars DataFrame, an iterable of DataFrames, or a trace path",
    )


def _tables(chunks: Iterable) -> Iterator[pl.DataFrame]:
    """The chunks of an iterable, each a packets DataFrame (a ParameterError names the first that
    is not)."""
    for k, chunk in enumerate(chunks):
        if isinstance(chunk, pl.LazyFrame):
            chunk = chunk.collect()
        if not isinstance(chunk, pl.DataFrame):
            raise ParameterError(
                "packets",
                f"chunk {k} of type {type(chunk).__name__}",
                "a polars DataFrame of packets",
            )
        yield chunk


def nf_setup(nf: Any, packets: Any) -> tuple[Any, Any]:
    """Resolve ``nf`` (an NF or a built-in NF's name) and key a bidirectional NF's flows by
    connection; returns the NF and the packets to replay."""
    from snfkit.nf import NF, get_nf
    from snfkit.nf.base import check_nf_columns

    nf_obj = get_nf(nf) if isinstance(nf, str) else nf
    if not isinstance(nf_obj, NF):
        raise ParameterError("nf", type(nf).__name__, "an snfkit.nf.NF or a built-in NF's name")
    table = packets.packets if isinstance(packets, PreparedTrace) else packets
    if not isinstance(table, pl.DataFrame):
        raise ParameterError(
            "packets", type(packets).__name__, "a packets DataFrame or a PreparedTrace with an NF"
        )
    check_nf_columns(table)
    if nf_obj.bidirectional and "direction" not in table.columns:
        if isinstance(packets, PreparedTrace):
            raise ParameterError(
                "packets",
                "a PreparedTrace without 'direction'",
                f"prepare_trace(connections(packets)) for the bidirectional NF {nf_obj.name!r}",
            )
        from snfkit.traces.transforms import connections

        packets = connections(packets)
    return nf_obj, packets


def nf_inputs(nf: Any, packets: Any) -> tuple:
    """The arrays the NF reads (:func:`snfkit.nf.prepare`; a PreparedTrace keeps them), from
    packets :func:`nf_setup` has checked."""
    from snfkit.nf import prepare

    if isinstance(packets, PreparedTrace):
        return packets.nf_inputs(nf)
    return prepare(nf, packets, checked=True)
