"""Many controllers (§9.5, Fig 6): over-provisioning per controller and epoch, independent
controllers against a resource manager."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import polars as pl

from snfkit.charts.titles import title
from snfkit.errors import ParameterError
from snfkit.results import Results

SETUPS = ("independent", "resource_manager")
"""Fig 6's two setups: controllers owning whole units, and leasing from a resource manager."""


def overprovision_data(runs: Mapping[str, Results]) -> pl.DataFrame:
    """One row per (setup, controller, epoch): ``setup``, ``controller``, ``epoch``,
    ``offered_gbps``, ``provisioned_gbps``, ``overprovision_gbps`` (provisioned - offered; 0 is
    ideal) from each run's ``controller_epochs`` table."""
    frames = []
    for label, res in runs.items():
        if res.controller_epochs is None:
            raise ParameterError("runs", label, "many-controller replays (controllers=N)")
        frames.append(
            res.controller_epochs.select(
                pl.lit(label).alias("setup"),
                "controller",
                "epoch",
                "offered_gbps",
                "provisioned_gbps",
                "overprovision_gbps",
            )
        )
    return pl.concat(frames)


def overprovision_chart(data: pl.DataFrame, *, subtitle: str | None = None):
    """Fig 6: the distribution of per-controller epoch over-provisioning, one box per setup."""
    return (
        alt.Chart(data)
        .mark_boxplot(extent="min-max")
        .encode(
            x=alt.X("setup:N", title=None, sort=list(SETUPS)),
            y=alt.Y(
                "overprovision_gbps:Q", title="provisioned - offered per controller-epoch (Gbps)"
            ),
            color=alt.Color("setup:N", legend=None, sort=list(SETUPS)),
        )
        .properties(
            title=title("Over-provisioning per controller and epoch (0 is ideal)", subtitle),
            width=260,
            height=240,
        )
    )
