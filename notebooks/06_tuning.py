# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Tuning SNF: latency against compute units
#
# SNF's controller has a few knobs that the paper fixes by hand (§9: T = 500 us, B = 15 KB,
# alpha = 0.25, K = 3):
#
# - **T** (`timeout_ns`): a flow idle for longer than T starts a new flowlet, which may go to
#   another unit. Small T = more allocation opportunities, and more state moves.
# - **B** (`size_bytes`): a flowlet that would grow past B bytes is split there. Small B = the
#   packer can spread even a long burst over units, but every split is a new placement.
# - **alpha**: the weight of "this unit already holds the flow's state" in the placement score.
# - **K** (`replicas`): how many units a flow's state is pushed to once the flow goes idle
#   (proactive state, SNF's), so that its next flowlet can start on one of them without waiting
#   for a state pull.
#
# This notebook lets Optuna search them for the two things an operator pays for: tail latency
# (p99) and compute (the time-weighted mean of active units). It uses the CAIDA backbone excerpt
# from `../shared/traces` when it is there, and a small synthetic paper-like trace otherwise.
# `SMALL` (`SNFKIT_NOTEBOOK_SMALL=1`) makes it a quick run (CI does).

# %% tags=["parameters"]
import os

SMALL = os.environ.get("SNFKIT_NOTEBOOK_SMALL") == "1"  # 12 trials instead of TRIALS
TRIALS = 120  # complete trials of the study

# %%
import tempfile

import polars as pl

from snfkit import workbench
from snfkit.sweeps import best_table, charts, run_study, trials_table
from snfkit.sweeps.dashboard import dashboard_command
from snfkit.sweeps.presets import tuning_config

workbench.notebook_setup()
workdir = tempfile.mkdtemp(prefix="snfkit-06-")  # the study's SQLite file goes here
config = tuning_config(n_trials=12 if SMALL else TRIALS, base_dir=workdir)
print("trace:", config.trace.describe())
print("searching:", ", ".join(p.name for p in config.search), "| trials:", config.n_trials)

# %% [markdown]
# ## Run the study
#
# NSGA-II, two objectives, both minimized. Every trial replays the whole trace with its
# parameters (`keep_packets=False`); the study lives in an SQLite file, so `snfkit sweep` could
# resume it, and optuna-dashboard could open it (docs/sweeps.md).

# %%
run = run_study(config)  # a process per core; ~5 s for 120 trials on CAIDA on 2 cores
print(f"{run.complete} complete, {run.failed} failed trials in {run.elapsed_s:.1f} s")
print("to browse it:", dashboard_command(run.storage))
table = trials_table(run.study)
table.select("number", "timeout_ns", "size_bytes", "alpha", "replicas", "p99_latency_us",
             "mean_active_units", "overprovision_gbps", "replay_s").head(8)  # fmt: skip

# %% [markdown]
# ## The Pareto front
#
# Each point is a trial; the red ones are not beaten on both objectives by any other trial.
# Point at one to see its parameters.

# %%
front = charts.pareto_front_data(table, "p99_latency_us", "mean_active_units")
charts.pareto_front_chart(front, log_x=True)

# %%
best = best_table(run.study).select(
    "number", "p99_latency_us", "mean_active_units", "timeout_ns", "size_bytes", "alpha", "replicas"
)
best  # noqa: B018

# %% [markdown]
# A front has two ends and a knee. The knee is where buying lower latency starts to cost many
# units: here, the fewest units among the front's trials whose p99 is within 1.5x of the best p99.

# %%
fastest = best.sort("p99_latency_us").head(1)
leanest = best.sort("mean_active_units").head(1)
knee = (
    best.filter(pl.col("p99_latency_us") <= 1.5 * best["p99_latency_us"].min())
    .sort("mean_active_units")
    .head(1)
)
pl.concat([
    fastest.with_columns(point=pl.lit("lowest p99")),
    knee.with_columns(point=pl.lit("knee")),
    leanest.with_columns(point=pl.lit("fewest units")),
]).select("point", pl.exclude("point"))  # fmt: skip

# %% [markdown]
# ## Which knob moves what
#
# Each parameter against each objective (log axes for T and B), and the parameters' importance
# (PED-ANOVA: how much a parameter's value separates the best trials from the rest).

# %%
log_params = ["timeout_ns", "size_bytes"]
knobs = ["timeout_ns", "size_bytes", "alpha", "replicas"]
charts.slice_chart(charts.slice_data(table, "p99_latency_us", knobs), log_params)

# %%
charts.slice_chart(charts.slice_data(table, "mean_active_units", knobs), log_params)

# %%
importance = charts.importance_data(run.study)
charts.importance_chart(importance) if importance.height else "too few trials for importance"

# %% [markdown]
# ## The trade-off
#
# On the CAIDA excerpt (10,000 packets in 24 ms, about 3 Gbps over 1-Gbps units), the full run
# (`snfkit sweep sweeps/caida_pareto.toml --workers 1 --out sweeps/out-caida`: 120 trials, seed 0,
# in one process, so that the same seed gives the same trials; the medians below are over its
# `trials.parquet`) found the following; the tables above come from the run you just did (one
# process per core, so its trials differ from run to run), and a small or synthetic run shows the
# same shape with other numbers.
#
# - **B sets how many units.** A B of one to three packets (<= 5 KB) cuts every burst into many
#   flowlets and the packer fills units closely (median 4.7 units, p99 1.4 ms). The middle,
#   20-100 KB, was the worst for units (median 18.6): a burst's first flowlets are placed on a demand
#   estimate that the burst then overruns, and the pool grows. From 100 KB up (on this trace that is
#   almost never splitting by size) the median trial ran 7.0 units at 1.12 ms p99.
# - **T, given a large B**: T <= 100 us re-places flows so often that the pool grew (median 17.4
#   units); T from 0.3 ms up kept it at 6.2.
# - **K trades state pulls for replication.** Without replicas (K = 0) every flowlet that moves
#   waits for a state pull (median 891 pulls per run) and the median trial ran 9.6 units; with
#   K = 1-5 the median was 227-300 pulls.
# - **alpha** matters through K: with replicas on other units, a high alpha keeps a flow where its
#   state already is. How much depends on the region of T and B (the importance chart above).
#
# The front runs from 0.89 ms p99 with 5.6 units (T = 118 us, B = 4.0 KB, alpha = 0.53, K = 5) to
# 4.2 units at 2.9 ms (T = 2.6 ms, B = 2.3 KB). Its knee, 4.4 units at 1.02 ms (T = 1.0 ms,
# B = 3.6 KB, alpha = 0.27, K = 3), needs 45 % fewer units than the paper's setting at the same p99
# (T = 500 us, B = 15 KB, alpha = 0.25, K = 3: 8.0 units at 1.04 ms, `snfkit replay
# ../shared/traces/caida-nyc-2018-10k.pcap -p unit_idle_ns=10_000_000 --json`). Its small B splits
# bursts into many flowlets; on a trace whose load shifts more than this 24 ms excerpt's that may
# cost more: take the knee as a starting point to check on longer traces, not as a new default.
