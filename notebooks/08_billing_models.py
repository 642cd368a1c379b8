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
# # 08 · Billing models: what each allocation mode would cost its user and its provider
#
# The paper (§2, §3 "Idea 1") argues that per-packet serverless bills exactly for the work but
# performs badly, that per-flow serverless bills the idle time a function busy-waits for a flow's
# next packet, and that SNF, which tracks packets and flowlets, "enables billing structures that
# are competitive compared to using alternative compute substrates (e.g., VMs)". The billing
# comparison itself is in the tech report, which we could not read; this notebook makes the check
# with today's list prices (`snfkit/billing/data/prices.csv`, each row with its source and date).
#
# | model | the user pays for |
# |---|---|
# | `per_packet` | an invocation per packet, its busy time (service + store wait) rounded up to 1 ms |
# | `per_flow` | an invocation per flow, from its first packet to its close, idle gaps included |
# | `per_flowlet` | an invocation per flowlet, from its first packet to its close |
# | `snf` | busy time at Lambda's GB-second price + a per-flowlet charge (default: Lambda's request fee) |
# | `vm`, `vm_autoscaled` | c5.large instances carrying the peak (or following each epoch), per second, 60 s minimum |
# | `managed_*` | AWS NAT Gateway, Network Firewall, Gateway Load Balancer (+ appliance VMs) |
#
# Every formula is in docs/billing.md. Bills are extrapolated to a month at each trace's rate
# (`scale_to="month"`): a 0.7 s trace would otherwise be all VM minimums.
# `SMALL` (`SNFKIT_NOTEBOOK_SMALL=1`) shrinks every trace.

# %% tags=["parameters"]
import os

SMALL = os.environ.get("SNFKIT_NOTEBOOK_SMALL") == "1"  # a quick run on tiny traces

# %%
import polars as pl

from snfkit import charts, figures, workbench
from snfkit.billing import compare, load_prices
from snfkit.billing.report import (
    break_even_allocation_usd,
    cheapest,
    load_runs,
    mode_runs,
    rounding_table,
)
from snfkit.workloads import paper_like

workbench.notebook_setup()
scale = 0.002 if SMALL else 0.05
traces = {f"paper_like({scale})": paper_like(0, scale)}
for name in ("caida-nyc-2018-10k.pcap", "auckland-2000-31k.pcap"):
    path = figures.shared_traces() / name
    if path.is_file():
        traces[name.split("-")[0]] = figures.workload(
            path, max_packets=3_000 if SMALL else None
        ).packets
for name, packets in traces.items():
    print(figures.Workload.from_packets(packets, name).describe())

# %% [markdown]
# The prices, with their sources (us-east-1; free tiers not applied):

# %%
load_prices().table.select("item", "price", "unit", "date", "source")

# %% [markdown]
# ## Which model is cheapest, per mode?
#
# Each trace is replayed in the four allocation modes (per-packet rows kept: the per-packet model
# reads each packet's busy time), and each replay is billed under every model. The VM and managed
# bills do not depend on the mode (they carry the offered traffic); the serverless bills do, through
# the replay's timings, and the provider's cost is the replay's unit-seconds at the c5.large price.

# %%
runs = {name: mode_runs(packets) for name, packets in traces.items()}
tables = {name: compare(r, scale_to="month") for name, r in runs.items()}
for name, table in tables.items():
    print(name)
    display(cheapest(table))  # noqa: F821

# %% [markdown]
# On every trace with real load the cheapest bill, for the user and for the provider, is the
# autoscaled VM fleet: a c5.large costs $62 a month, while SNF's default per-flowlet charge (one
# Lambda request, $0.20 per million) on hundreds of thousands of flowlets a second costs tens of
# thousands. On the 1-Mbps Auckland trace the NAT Gateway is cheapest for the user (its hourly
# fee is below one VM's) and every model runs on one unit for the provider.
#
# The bill of each model for the paper-like trace, by component:

# %%
first = next(iter(tables))
components = charts.cost_components_data(tables[first])
charts.cost_components_chart(components, title=f"{first}: a month at the trace's rate")

# %%
serverless = pl.col("model").is_in(["per_packet", "per_flow", "per_flowlet", "snf"])
tables[first].filter(serverless).select(
    "run", "model", "user_usd", "provider_usd", "margin_usd", "usd_per_gb", "usd_per_mpackets"
)

# %% [markdown]
# Per packet is the most expensive serverless bill (a request per packet), per flow the next (each
# flow is billed until its 100 ms idle timeout), per flowlet and SNF far below: the paper's
# ordering. In packet mode every per-flow or per-flowlet bill explodes, because packet-mode
# latencies (store reads on every packet, queueing) stretch every invocation.
#
# ## Where would SNF's bill meet a VM's?
#
# SNF's bill is linear in its per-flowlet charge: `compute + flowlets x fee`. The fee at which it
# equals the VMs' bill, per trace:

# %%
pl.DataFrame(
    {
        "trace": list(runs),
        "break_even_fee_usd": [
            break_even_allocation_usd(r, "vm", scale_to="month") for r in runs.values()
        ],
        "lambda_request_usd": load_prices().value("aws_lambda_x86.request"),
    }
)

# %% [markdown]
# Now one workload at several offered loads (inter-arrival times scaled, as the paper raised its
# traces' load), flowlet mode, against the peak and autoscaled VM fleets. Three SNF variants: the
# default fee, no fee (busy time only) and $1 per billion flowlets.

# %%
loads = [0.5, 5.0] if SMALL else [0.1, 0.5, 1.0, 2.0, 5.0, 10.0]
synth = traces[first]
by_load = load_runs(synth, loads)
variants = [charts.cost_vs_load_data(by_load, ["snf", "vm", "vm_autoscaled"], scale_to="month")]
for label, fee in (("snf_no_fee", 0.0), ("snf_fee_1e-9", 1e-9)):
    v = charts.cost_vs_load_data(by_load, ["snf"], scale_to="month", snf_allocation_usd=fee)
    variants.append(v.with_columns(model=pl.lit(label)))
by_load_table = pl.concat(variants)
charts.cost_vs_load_chart(by_load_table, value="user_usd", title="USD per month against load")

# %%
for model in ("snf", "snf_no_fee", "snf_fee_1e-9"):
    where = charts.crossovers(by_load_table, ("flowlet", model), ("flowlet", "vm"))
    print(f"{model} meets vm at {where or 'no load in this range'} Gbps")
by_load_table.pivot(on="model", index="load_gbps", values="usd_per_gb")

# %% [markdown]
# With Lambda's request fee per flowlet SNF never meets the VMs: it costs 60-110x more at every
# load from 0.1 to 10 Gbps. Without a per-flowlet charge SNF's busy-time bill is below the VMs' at
# every load (it pays for processing only; the VMs for whole instances, at least one). The
# break-even fee is 0.4-3 x 10^-9 USD per flowlet, about 1/200 of a Lambda request: with $1 per
# billion flowlets, SNF is cheaper below about 2 Gbps and the VMs above. So the paper's claim holds
# when the provider's control-plane charge per flowlet is of that order, not at today's
# per-invocation prices.
#
# ## What 1 ms against 100 ms rounding changes
#
# Lambda rounded durations up to 100 ms until 2020-12-01, to 1 ms since (the SNF paper was
# written under 100 ms):

# %%
rounding_table(runs[first], scale_to="month")

# %% [markdown]
# Per packet and per flowlet, whose invocations last microseconds, cost about 13x more at 100 ms
# (each pays 100 ms instead of 1 ms; the request fees do not change); per flow changes less (its
# invocations already last over 100 ms); SNF not at all (it bills busy time as processed). The
# reproduction table with these figures on the real traces is in docs/REPRODUCTION.md
# (`python benchmarks/reproduce_billing.py`).
