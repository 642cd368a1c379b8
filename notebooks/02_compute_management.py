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
# # 02 · Compute management: flowlets against flows and packets (paper §9.1, Figs 1-3)
#
# The paper's first question: can SNF provision compute that follows the demand at fine time
# scales, without paying for it in latency? It compares SNF's flowlet placement with three
# baselines on one trace:
#
# | mode | placement | what it stands for |
# |---|---|---|
# | `flowlet` | each new flowlet, on a unit with room for its estimated rate | SNF |
# | `flow` | each flow once, at its first packet | VM / container NFs |
# | `smart_flow (X ms)` | `flow`, plus moving flows off overloaded units every X ms | NFs with state migration |
# | `packet` | each packet, state read from an external store | today's serverless |
#
# and shows (Fig 1) provisioned capacity against demand over time, (Fig 2) latency percentiles,
# (Fig 3) how loaded the active units were in each epoch.
#
# The trace here is synthetic, `paper_like(seed=0, scale=0.05)`: shaped like the paper's (heavy-
# tailed flow sizes, 1434-B median packets, bursts) at 5 Gbps for about 0.65 s, long enough for
# the units to come and go. The real traces follow at the end. The parameters cell below sets
# the scale; `SMALL` (`SNFKIT_NOTEBOOK_SMALL=1`) uses 0.002 instead.

# %% tags=["parameters"]
import os

SMALL = os.environ.get("SNFKIT_NOTEBOOK_SMALL") == "1"  # a quick run on a tiny trace
SCALE = 0.05  # paper_like(seed=0, scale=SCALE): 0.05 is about 5 Gbps for 0.65 s
SEED = 0

# %%
import polars as pl

import snfkit
from snfkit import charts, figures, workbench
from snfkit.traces.transforms import connections
from snfkit.workloads import paper_like

workbench.notebook_setup()
scale = 0.002 if SMALL else SCALE
wl = figures.Workload.from_packets(
    paper_like(SEED, scale), f"paper_like(seed={SEED}, scale={scale})"
)
epoch_ns = figures.epoch_for(wl.duration_ns)
print(wl.describe(), f"| epoch {epoch_ns / 1e6:g} ms")

# %% [markdown]
# `figures.compute_runs` replays the trace once per mode, with the paper's parameters (T = 500 us,
# B = 15 KB, 1-Gbps units, proactive state with K = 3 replicas) and the NAT. The epoch
# only changes the reports: 100 ms in the paper, shorter here because the trace is (the largest
# value giving 20 epochs). The runs keep their packets tables, for the latency over time below.

# %%
runs = figures.compute_runs(wl, {"epoch_ns": epoch_ns, "keep_packets": True})
subtitle = charts.figure_subtitle(wl.describe(), runs)
table = figures.runs_table(runs)
table.select(
    "run",
    "p50_us",
    "p75_us",
    "p99_us",
    "mean_active_units",
    "max_active_units",
    "opportunities",
    "overflow",
)

# %% [markdown]
# ## Fig 1 · Provisioned capacity against demand
#
# Provisioned = mean active units in the epoch x 1 Gbps. A mode that packs well keeps the blue
# line just above the grey one. Flowlet placement can react at every new flowlet; flow placement
# only when a flow starts (and smart_flow every X ms). `packet` mode scales on concurrency: every
# packet holds a unit for a store round trip, so it needs far more units than its bytes suggest:
# each panel has its own y axis, so read the numbers on it.

# %%
prov_data = charts.provisioning_data(runs)
charts.provisioning_chart(prov_data, subtitle=subtitle)

# %% [markdown]
# The same over the latency: drag across the top chart to pick a time window, and the bottom
# one, the p99 latency of the packets arriving then, zooms to it. Click a mode in the legend to
# keep only it (shift-click for more); both axes follow.

# %%
charts.provisioning_latency_chart(
    prov_data, charts.latency_over_time_data(runs, bins=200), subtitle=subtitle
)

# %%
prov = charts.provisioning_data(runs).pivot(on="series", index=["run", "time_s"], values="gbps")
prov.group_by("run", maintain_order=True).agg(
    mean_demand_gbps=pl.col("demand").mean(),
    mean_provisioned_gbps=pl.col("provisioned").mean(),
    overprovision_gbps=(pl.col("provisioned") - pl.col("demand")).mean(),
)

# %% [markdown]
# ## Fig 2 · Latency
#
# The paper's NAT: flowlet p50 5 us and p99 2.8 ms; vanilla flow 19.6K x worse at p75, smart flow
# 4.6K x (100 ms) and 2.9K x (50 ms). The ratios below are this run's.

# %%
charts.latency_percentiles_chart(charts.latency_percentiles_data(runs), subtitle=subtitle)

# %%
p75 = table.select("run", "p75_us")
p75.with_columns(times_flowlet=pl.col("p75_us") / p75.filter(run="flowlet")["p75_us"].item())

# %% [markdown]
# Where a flowlet run's latency comes from, flow by flow (`snfkit.flows`: the slowest flows, the
# flowlets they were cut into and the units they visited). The NAT keys flows by connection, so
# the flows are the trace's connections:

# %%
flows = snfkit.flows(connections(wl.packets), runs["flowlet"])
snfkit.readable(flows).sort("latency_p99_us", descending=True).head()

# %% [markdown]
# Where a flowlet run's latency comes from: a flowlet that lands on a unit other than its flow's
# previous one may wait for the flow's state (a pull of about 160 us in the `reactive` mode; the
# `proactive` mode pushes copies ahead of time, see `03_state_management`), and bursts that
# arrive faster than the estimates predicted queue at the unit.
#
# ## Fig 3 · Utilization of the active units
#
# Per epoch, each active unit's offered load over its planned capacity (above 1: the plan was
# exceeded and a queue builds). Flows are large, long-lived work items: a unit that received one
# that later speeds up is overloaded until the flow ends (or smart_flow moves it), and a unit
# holding a slow one is under-used. Flowlets are small, so the packer can fill units evenly.

# %%
util = charts.utilization_data(runs)  # one row per (mode, epoch, unit)
charts.utilization_chart(charts.utilization_box_data(util), subtitle=subtitle)

# %%
bands = charts.utilization_bands_data(util)
charts.utilization_bands_chart(bands, subtitle=subtitle)

# %%
bands.with_columns(pl.col("band").cast(pl.String)).pivot(on="band", index="run", values="share")

# %% [markdown]
# ## Allocation opportunities (§9.1, §9.6)
#
# The paper: flowlets give 3.36x more placement decisions than flows; 5.18x at T = 100 us and
# 4.66x at T = 500 us.

# %%
opp = figures.opportunity_runs(wl, {"epoch_ns": epoch_ns, "keep_packets": False})
opp_data = charts.opportunities_data(opp, baseline="flow")
charts.opportunities_chart(opp_data, subtitle=charts.figure_subtitle(wl.describe(), opp))

# %% [markdown]
# ## Many controllers and the resource manager (§7, §9.5, Fig 6)
#
# One controller cannot take 100 Gbps, so the paper splits the flows among 10 controllers. Each
# either owns whole units (independent) or leases fractional capacity from a resource manager
# that packs every controller's leases onto shared units (2.5 units = two whole ones and half of
# a third). Fig 6 plots provisioned minus offered capacity per controller and epoch: near zero
# with the resource manager. Here the same trace is sped up to the paper's 93.5 Gbps
# (docs/controllers.md has the model and its choices).

# %%
fast = figures.Workload.from_packets(
    paper_like(seed=0, scale=0.005 if SMALL else 0.05, load_gbps=93.5), "paper_like at 93.5 Gbps"
)
ctl_runs = figures.controller_runs(fast)
over = charts.overprovision_data(ctl_runs)
charts.overprovision_chart(over, subtitle=charts.figure_subtitle(fast.describe(), ctl_runs))

# %%
figures.runs_table(ctl_runs).select("run", "p99_us", "mean_active_units").with_columns(
    overprovision_mean_gbps=pl.Series(
        [r.summary["controller_overprovision_gbps"]["mean"] for r in ctl_runs.values()]
    )
)

# %% [markdown]
# ## The same on the real traces
#
# When `../shared/traces` is there, the same replays on the CAIDA backbone excerpt (10,000
# packets, 24 ms, about 3 Gbps) and the Auckland access trace (31,249 packets over 87 s, about
# 1 Mbps: one unit is plenty, so every mode looks alike). `snfkit figures --trace FILE --out DIR`
# draws every figure for either. docs/REPRODUCTION.md sets the numbers beside the paper's.

# %%
real = {}
for name in ("caida-nyc-2018-10k.pcap", "auckland-2000-31k.pcap"):
    path = figures.shared_traces() / name
    if path.is_file():
        rwl = figures.workload(path, max_packets=3_000 if SMALL else None)
        rruns = figures.compute_runs(
            rwl, {"epoch_ns": figures.epoch_for(rwl.duration_ns), "keep_packets": False}
        )
        real[name] = figures.runs_table(rruns).select(
            "run", "p50_us", "p75_us", "p99_us", "mean_active_units", "opportunities"
        )
        print(rwl.describe())
        display(real[name])  # noqa: F821
if not real:
    print("../shared/traces is not here: only the synthetic trace above")
