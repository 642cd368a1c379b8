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
# # 01 · Quick start: a trace through SNF and its baselines
#
# snfkit replays a packet trace through a model of **SNF** (*Serverless Network Functions*,
# SoCC '20). SNF's controller cuts every flow into **flowlets** (a flow idle for more than T,
# 500 us, or a flowlet that would grow past B, 15 KB, starts a new one), places each new flowlet
# on a 1-Gbps compute unit that has room for its estimated rate, starts and retires units as the
# load moves, and keeps each flow's state where its current flowlet runs.
#
# This notebook loads a trace, replays it once through SNF and once through each baseline of the
# paper, and reads the results. It uses the CAIDA backbone excerpt from `../shared/traces` when it
# is there (the project's real traces are not redistributed), and the synthetic
# `snfkit.workloads.small_demo(seed=0)` otherwise.
#
# The first cell holds the notebook's parameters (tagged `parameters`: papermill's
# `-p TRACE my.pcap` replaces them). `SMALL`, from `SNFKIT_NOTEBOOK_SMALL=1`, keeps only the first
# 3,000 packets (CI runs it that way).

# %% tags=["parameters"]
import os

SMALL = os.environ.get("SNFKIT_NOTEBOOK_SMALL") == "1"  # a quick run on a few packets
TRACE = None  # a trace file (pcap, pcapng, parquet, CSV); None: CAIDA excerpt or small_demo

# %%
import polars as pl

import snfkit
from snfkit import charts, figures, workbench
from snfkit.traces.summary import summary_table, trace_summary

workbench.notebook_setup()  # the snfkit theme; charts carry Vega, so they draw offline
wl = figures.workload(TRACE, max_packets=3_000 if SMALL else None)
packets = wl.packets
print(wl.describe())
snfkit.readable(packets).head()  # addresses as text, time in seconds from the first packet

# %% [markdown]
# ## The trace
#
# Every reader and workload gives the same packets table: arrival time `ts_ns` (integer
# nanoseconds), the 5-tuple (addresses as 16 bytes), `wire_len` (IP bytes) and a dense
# `flow_id`. `snfkit.readable` shows any table with addresses as text, instants in seconds since
# the first packet (`clock="datetime"` for the capture's wall clock) and durations in µs; the
# stored tables keep their exact integers. `trace_summary` counts flows, rates, packet sizes and
# the flowlets at two timeouts; `snfkit info TRACE` prints the same from the shell.

# %%
summary_table(trace_summary(packets, [100_000, 500_000], 15_000))

# %% [markdown]
# ## One replay of SNF
#
# `snfkit.replay` takes the packets table and parameters by name (all have the paper's
# defaults, see `snfkit.ReplayParams`). The result holds tidy polars tables and a summary.

# %%
res = snfkit.replay(packets, mode="flowlet")
res  # noqa: B018

# %%
{k: v for k, v in res.summary.items() if k != "latency_us"} | res.summary["latency_us"]

# %% [markdown]
# Each packet's latency is its queueing at the unit, plus any wait for its flow's state, plus its
# service time. The `packets` table has all three; `flowlets` says where each flowlet ran and why
# it opened; `epochs` what was offered and provisioned per epoch; `units` each unit's lifetime.

# %%
cols = ["ts_ns", "flow_id", "unit", "item", "queue_ns", "state_wait_ns", "service_ns", "latency_ns"]
snfkit.readable(res.packets.select(*cols, "wait_cause")).head()

# %%
res.flowlets.group_by("reason").agg(
    pl.len().alias("flowlets"), pl.col("packets").mean().alias("mean_packets")
).sort("flowlets", descending=True)

# %% [markdown]
# One row per flow, with its 5-tuple, size and duration, the flowlets it was cut into (by the
# reason each opened), the units it visited and its latency percentiles: `snfkit.flows`.

# %%
flows = snfkit.readable(snfkit.flows(packets, res))
flows.sort("bytes", descending=True).head()

# %% [markdown]
# ## SNF against the baselines
#
# The paper compares flowlet placement with a flow placed once and never moved (`flow`, what a
# VM or container platform does), flows moved every 100 or 50 ms off overloaded units
# (`smart_flow`), and today's serverless, one event per packet with state in an external store
# (`packet`). `figures.compute_runs` replays the same trace in each; a
# `PreparedTrace` (`snfkit.prepare_trace`) detects the flowlets once for all of them.

# %%
runs = figures.compute_runs(wl, {"keep_packets": False})
figures.runs_table(runs).select(
    "run",
    "p50_us",
    "p99_us",
    "mean_active_units",
    "max_active_units",
    "opportunities",
    "overflow",
    "reordered",
)

# %%
subtitle = charts.figure_subtitle(wl.describe(), runs)
charts.latency_percentiles_chart(charts.latency_percentiles_data(runs), subtitle=subtitle)

# %% [markdown]
# Reading the table: `opportunities` is how many placement decisions each mode could make
# (flowlets give several per flow); `mean_active_units` the compute it paid for; `packet` mode
# makes a decision per packet but waits for the store on every one of them and reorders packets
# of a flow; it is so much slower that the chart draws it apart, on its own axis (click a mode
# in the legend to pick it). On a trace as short as the CAIDA excerpt (24 ms) the smart_flow
# periods (50 and 100 ms) never come round, so `smart_flow` equals `flow` there;
# `02_compute_management` looks at a longer trace.
#
# ## Keeping results
#
# `Results.save` writes the tables as parquet and the summary as JSON; `Results.load` reads them.

# %%
import tempfile

out = res.save(tempfile.mkdtemp(prefix="snfkit-01-"))
back = snfkit.Results.load(out)
assert back.summary == res.summary
sorted(p.name for p in out.iterdir())

# %% [markdown]
# Next: `02_compute_management` (the paper's Figs 1-3), `03_state_management` (Fig 4),
# `04_sensitivity` (Figs 7, 8), `05_your_own_nf`. From the shell, `snfkit figures --trace TRACE
# --out DIR` draws all of them for any trace.
