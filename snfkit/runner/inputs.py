"""What :func:`snfkit.replay` accepts, normalised: chunks of a packets table, and an NF with the
table it needs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import Any

import polars as pl

from snfkit.errors import ParameterError
from snfkit.prepared import REQUIRED, PreparedTrace


def check_chunk_size(chunk_size: Any) -> int:
    """``chunk_size`` if it is an integer >= 1 (a ParameterError otherwise)."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ParameterError("chunk_size", chunk_size, "an integer >= 1")
    return chunk_size


def chunks_of(packets: Any, chunk_size: int) -> tuple[Iterator[pl.DataFrame], int | None]:
    """The input as an iterator of DataFrames and a total packet count (or None): a DataFrame or
    LazyFrame, a trace path (parquet read by row group; any other format through
    :func:`snfkit.traces.load_trace`), or an iterable of DataFrames."""
    if isinstance(packets, pl.DataFrame):
        return packets.iter_slices(chunk_size), packets.height
    if isinstance(packets, pl.LazyFrame):
        df = packets.collect()
        return df.iter_slices(chunk_size), df.height
    if isinstance(packets, str | PathLike):
        path = Path(packets)
        with open(path, "rb") as fh:
            is_parquet = fh.read(4) == b"PAR1"
        if is_parquet:
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            cols = [c for c in REQUIRED if c in pf.schema_arrow.names]
            it = (
                pl.from_arrow(batch)
                for batch in pf.iter_batches(batch_size=chunk_size, columns=cols)
            )
            return it, pf.metadata.num_rows
        from snfkit.traces import load_trace

        df = load_trace(path)
        return df.iter_slices(chunk_size), df.height
    if isinstance(packets, Iterable):
        return iter(packets), None
    raise ParameterError(
        "packets",
        type(packets).__name__,
        "a polars DataFrame, an iterable of DataFrames, or a trace path",
    )


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
    """The arrays the NF reads (:func:`snfkit.nf.prepare`; a PreparedTrace keeps them)."""
    from snfkit.nf import prepare

    if isinstance(packets, PreparedTrace):
        return packets.nf_inputs(nf)
    return prepare(nf, packets)
