"""The resource manager's view of a many-controller replay: its units and which holds each lease
(:func:`snfkit.engine.pool_nb.pack_leases_nb`), and each controller's provisioning per epoch."""

from __future__ import annotations

import numpy as np
import polars as pl

from snfkit.engine.pool_nb import RM_UNIT_COLUMNS, SHARE_ONE, pack_leases_nb


def pack_leases(
    units: pl.DataFrame,
    *,
    rtt_ns: int,
    startup_ns: int,
    idle_ns: int,
    prestart_utilization: float,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Run the RM over the controllers' leases: ``units`` is a many-controller units table (one row
    per lease: ``controller``, ``unit``, ``unit_life``, ``share``, ``start_ns``, ``ready_ns``,
    ``retire_ns``). A lease is held from its request (``start_ns``) to its release.

    Returns (leases, rm_units, late): the leases with the RM's unit that held each
    (``rm_unit``), the RM's units (one row per lifetime: ``rm_unit``, ``start_ns``, ``ready_ns``,
    ``retire_ns``, ``peak_share`` in thousandths, ``leases``, ``lifetime_ns``), and how many
    grants found their unit still starting (see the kernel)."""
    leases = units.select(
        "controller", "unit", "unit_life", "share", "start_ns", "ready_ns", "retire_ns"
    ).sort("start_ns", "controller", "unit_life")
    unit_of, rows, late = pack_leases_nb(
        leases["start_ns"].to_numpy().astype(np.int64),
        leases["retire_ns"].to_numpy().astype(np.int64),
        leases["share"].to_numpy().astype(np.int64),
        np.int64(rtt_ns),
        np.int64(startup_ns),
        np.int64(idle_ns),
        float(prestart_utilization),
    )
    leases = leases.with_columns(rm_unit=pl.Series(unit_of, dtype=pl.Int64))
    rm_units = pl.DataFrame(
        {name: rows[:, k] for k, name in enumerate(RM_UNIT_COLUMNS)}
    ).with_columns(lifetime_ns=pl.col("retire_ns") - pl.col("start_ns"))
    return leases, rm_units, int(late)


def controller_epochs(
    epoch_units: pl.DataFrame, epoch_ns: int, capacity_bps: float
) -> pl.DataFrame:
    """Each controller's epochs (paper Fig 6): ``offered_gbps`` (bytes arriving at its units),
    ``mean_units`` (time-weighted units or leases held), ``provisioned_gbps`` (their capacity: a
    lease's share of a unit's), and ``overprovision_gbps`` = provisioned - offered.
    ``epoch_units`` needs ``epoch``, ``controller``, ``bytes``, ``active_ns`` and ``leased_ns``
    (active time x share)."""
    return (
        epoch_units.group_by("controller", "epoch")
        .agg(pl.col("bytes").sum(), pl.col("active_ns").sum(), pl.col("leased_ns").sum())
        .sort("controller", "epoch")
        .select(
            "controller",
            "epoch",
            offered_gbps=pl.col("bytes") * 8.0 / epoch_ns,
            mean_units=pl.col("active_ns") / epoch_ns,
            provisioned_gbps=pl.col("leased_ns") / SHARE_ONE / epoch_ns * capacity_bps / 1e9,
        )
        .with_columns(overprovision_gbps=pl.col("provisioned_gbps") - pl.col("offered_gbps"))
    )
