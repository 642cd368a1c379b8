"""The trace a study replays: a file or a synthetic workload, loaded and prepared once.

:func:`load_packets` reads a :class:`TraceSpec` into a packets table with only the columns the
replay needs (``ts_ns``, ``flow_id``, ``wire_len``). :func:`prepare` turns it into what
:func:`run_replay` takes, and :func:`run_replay` is the single place where a trial calls the
engine, always with ``keep_packets=False``.

Worker processes do not load or prepare the trace again: the starting process writes its prepared
arrays once (:func:`share`, ``.npy`` files in a temporary folder) and each worker maps them
read-only (:func:`open_shared`). The operating system keeps one copy of the mapped pages for all
workers, and a worker starts without reading, checking or converting anything.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import snfkit
from snfkit.errors import ConfigError, SnfkitError
from snfkit.results import Results

REPLAY_COLUMNS = ("ts_ns", "flow_id", "wire_len")


def workloads() -> dict[str, Any]:
    """Synthetic workloads a config may name (``trace.workload``): the presets of
    :mod:`snfkit.workloads.presets`."""
    from snfkit.workloads import presets

    return {
        "paper_like": presets.paper_like,
        "paper_trace": presets.paper_trace,
        "small_demo": presets.small_demo,
    }


@dataclass(frozen=True)
class TraceSpec:
    """Where a study's packets come from: ``path`` (any format :func:`snfkit.load_trace` reads) or
    ``workload`` (a preset name) with ``options`` (its keyword arguments, e.g. seed and scale).
    ``max_packets`` keeps only the first packets (flow ids stay dense)."""

    path: Path | None = None
    workload: str | None = None
    options: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    max_packets: int | None = None

    def describe(self) -> str:
        if self.path is not None:
            what = str(self.path)
        else:
            args = ", ".join(f"{k}={v!r}" for k, v in self.options)
            what = f"{self.workload}({args})"
        return what if self.max_packets is None else f"{what}[:{self.max_packets}]"


def check_workload(name: str, options: dict[str, Any], source: Any) -> None:
    """Raise :class:`ConfigError` if ``name`` is no known workload or ``options`` do not fit it."""
    known = workloads()
    if name not in known:
        raise ConfigError(source, "trace.workload", f"{name!r} is not one of {sorted(known)}")
    sig = inspect.signature(known[name])
    for key in options:
        if key not in sig.parameters:
            allowed = ", ".join(sig.parameters)
            raise ConfigError(
                source, f"trace.{key}", f"{name} takes no option {key!r} (it takes: {allowed})"
            )


def load_packets(spec: TraceSpec, *, source: Any = None) -> pl.DataFrame:
    """The packets table of ``spec`` (replay columns only). Unreadable or malformed files raise
    :class:`ConfigError` naming ``trace.path``."""
    if spec.path is not None:
        try:
            packets = snfkit.load_trace(spec.path)
        except (OSError, SnfkitError) as exc:
            raise ConfigError(source, "trace.path", f"cannot read the trace: {exc}") from None
    else:
        assert spec.workload is not None
        try:
            packets = workloads()[spec.workload](**dict(spec.options))
        except SnfkitError as exc:
            raise ConfigError(source, "trace", f"{spec.describe()}: {exc}") from None
    if spec.max_packets is not None:
        packets = packets.head(spec.max_packets)
    return packets.select(REPLAY_COLUMNS)


CHUNK_PACKETS = 100_000
"""Packets per kernel call in a trial. Results do not depend on it; the kernel holds the GIL, so
this bounds how long the trial's heartbeat thread can be kept from beating (see
:data:`snfkit.sweeps.study.GRACE_S`)."""


def prepare(packets: pl.DataFrame) -> snfkit.PreparedTrace:
    """What trials share: the checked replay arrays, and flowlet detection cached per (T, B)."""
    return snfkit.prepare_trace(packets)


def run_replay(prepared: snfkit.PreparedTrace, flat: dict[str, Any]) -> Results:
    """Replay one trial's parameters (flat names) without per-packet rows."""
    return snfkit.replay(prepared, chunk_size=CHUNK_PACKETS, **{**flat, "keep_packets": False})


SHARED_ARRAYS = ("ts", "flow", "wire_len")
"""The prepared arrays :func:`share` writes, one ``<name>.npy`` file each; ``relative_ts.npy`` too
when the trace does not start at time 0."""


def share(prepared: snfkit.PreparedTrace, folder: Path) -> list[Path]:
    """Write the prepared trace's checked arrays into ``folder`` for :func:`open_shared`; returns
    the files written."""
    arrays = {name: getattr(prepared, name) for name in SHARED_ARRAYS}
    if prepared.relative_ts is not prepared.ts:
        arrays["relative_ts"] = prepared.relative_ts
    written = []
    for name, array in arrays.items():
        path = Path(folder) / f"{name}.npy"
        np.save(path, array, allow_pickle=False)
        written.append(path)
    return written


def open_shared(folder: Path) -> snfkit.PreparedTrace:
    """The prepared trace that :func:`share` wrote into ``folder``, memory-mapped read-only.

    Nothing is checked or copied again (the writer checked the arrays). Its ``packets`` table holds
    the three replay columns as int64 views of the same memory (sweeps replay no NF, which would
    read more columns).
    """
    folder = Path(folder)

    def mapped(name: str) -> np.ndarray:
        # np.asarray: a plain read-only ndarray view of the map (the map stays open through it)
        return np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False))

    ts, flow, wire_len = (mapped(name) for name in SHARED_ARRAYS)
    packets = pl.DataFrame({"ts_ns": ts, "flow_id": flow, "wire_len": wire_len})
    trace = snfkit.PreparedTrace(ts, flow, wire_len, packets)
    if (folder / "relative_ts.npy").exists():
        # PreparedTrace.relative_ts is a cached_property: its cache is the instance's __dict__
        trace.__dict__["relative_ts"] = mapped("relative_ts")
    return trace
