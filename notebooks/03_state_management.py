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
# # 03 · State management: proactive replication (paper §5, §9.2, Fig 4)
#
# Flowlets let SNF move a flow between units at every idle gap; the price is that the flow's
# state (a NAT mapping, an IDS automaton position, a token bucket) must be where the next flowlet
# runs. The paper compares three ways to get it there:
#
# - **external**: state is written to an external store as it changes and read at each
#   flowlet's start (one store round trip; longer if the write has not landed yet);
# - **reactive**: a flowlet on a new unit pulls the state from the previous unit (about 160 us);
# - **proactive** (SNF): once a flow has been idle for T/2, its unit pushes the state to K = 3
#   units chosen with weight inversely proportional to their ID, tagged with the flow's logical
#   clock. A new flowlet that lands on a unit holding an up-to-date copy starts at once
#   (*seamless*); a stale or missing copy falls back to a pull.
#
# plus **local** (state free everywhere), the unreachable bound. The paper's NAT: p99 168 us
# (external), 133 us (reactive), 11 us (proactive); medians 0.4-0.7 us in all three; 90.4 % of
# moved flowlets seamless (mean over its five NFs).
#
# The trace is the synthetic `paper_like(seed=0, scale=0.05)` (0.7 s at 5 Gbps), where flows move
# between units thousands of times; `SMALL` (`SNFKIT_NOTEBOOK_SMALL=1`) uses scale 0.002 and the
# NAT only.

# %% tags=["parameters"]
import os

SMALL = os.environ.get("SNFKIT_NOTEBOOK_SMALL") == "1"  # a quick run on a tiny trace
SCALE = 0.05  # paper_like(seed=0, scale=SCALE)
NFS = ("nat", "lb", "ids", "whitelist", "qos")  # the NFs of Fig 4

# %%
import polars as pl

import snfkit
from snfkit import charts, figures, workbench
from snfkit.display import nf_output_table
from snfkit.nf import apply, get_nf
from snfkit.traces.transforms import connections
from snfkit.workloads import paper_like

workbench.notebook_setup()
scale = 0.002 if SMALL else SCALE
wl = figures.Workload.from_packets(paper_like(0, scale), f"paper_like(seed=0, scale={scale})")
params = {"epoch_ns": figures.epoch_for(wl.duration_ns), "keep_packets": False}
nfs = ("nat",) if SMALL else NFS
print(wl.describe())

# %% [markdown]
# ## Fig 4 · Latency per state mode, for each NF
#
# `figures.state_runs` replays the trace in flowlet mode once per (NF, state mode). Each replay
# runs the NF for real: every packet is processed against the copy of its flow's state that its
# unit holds.

# %%
runs = figures.state_runs(wl, params, nfs=nfs, state_modes=(*figures.STATE_MODES, "local"))
subtitle = charts.figure_subtitle(wl.describe(), runs)
charts.state_latency_chart(charts.state_latency_data(runs), subtitle=subtitle)

# %%
lat = charts.state_latency_data(runs).pivot(
    on="percentile", index=["nf", "state_mode"], values="latency_us"
)
lat.filter(nf="nat")

# %% [markdown]
# The latency of a packet does not depend on which NF runs (the service model is the same for
# all: 500 ns + 5 ps/B), so the panels differ only through the NFs' state sizes, which set the
# replication traffic below. What moves the tail is how often a flowlet waits for its state.
#
# ## Where moved flowlets found their state
#
# `seamless_share` is the share of moved flowlets (those on a unit other than their flow's
# previous one) that started without waiting. `wait_packets` counts packets that waited for
# state, whatever the cause.

# %%
sources = charts.state_sources_data(runs)
sources.select(
    "nf",
    "state_mode",
    "moved",
    "seamless_share",
    "state_pulls",
    "wait_packets",
    "wait_mean_us",
    "replication_mbps",
    "state_bytes",
)

# %%
charts.seamless_chart(sources, subtitle=subtitle)

# %% [markdown]
# Each flowlet records where its state came from (`state_source` in the flowlets table):

# %%
pl.concat(
    [
        r.flowlets.group_by("state_source").len().with_columns(state_mode=pl.lit(sm))
        for (nf, sm), r in runs.items()
        if nf == "nat"
    ]
).with_columns(pl.col("state_source").cast(pl.String)).pivot(
    on="state_mode", index="state_source", values="len"
).fill_null(0)

# %% [markdown]
# ## Replication traffic
#
# The paper measured 2.9-4.8 Mbps of pushes per NF at K = 3. Replication traffic is pushes x K x
# state bytes over the trace's duration, so it grows with the rate at which flowlets end: on a
# 5-Gbps trace with tens of thousands of flowlets per second it is far above the paper's figure
# (docs/REPRODUCTION.md discusses the difference).

# %%
sources.filter(state_mode="proactive").select("nf", "state_bytes", "replication_mbps")

# %% [markdown]
# ## The NF's output does not depend on where its state lived
#
# The defining property of the engine: whatever the state mode, every packet's NF output equals
# that of the same NF run sequentially over the whole trace with all state in one place. Checked
# here for the NAT on the first 20,000 packets (3,000 in small mode), keeping the per-packet output.

# %%
head = wl.packets.head(3_000 if SMALL else 20_000)
nat = get_nf("nat")
sequential = apply(nat, connections(head))
for mode in figures.STATE_MODES:
    res = snfkit.replay(head, nf=nat, state_mode=mode)
    same = res.nf_output.select("action", "out0", "out1").equals(
        sequential.select("action", "out0", "out1")
    )
    print(f"{mode:>9}: NF output equal to the sequential run: {same}")

# %% [markdown]
# What the NAT did to the last replay's packets, as addresses and ports: each connection's
# initiator (`src`) leaves as the public address and its mapped port; replies come back to the
# initiator (`nf_output_table` names the NF's outputs and shows -1, "none", as null).

# %%
nf_output_table(res.nf_output, nat, connections(head)).head(8)

# %% [markdown]
# Next, `04_sensitivity`: how K and alpha trade these waits against compute units (Fig 7), and
# how the size threshold B does (Fig 8).
