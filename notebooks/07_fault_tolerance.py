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
# # 07 · Fault tolerance: output loggers and recovery (paper §6, §9.4)
#
# SNF keeps each flow's state on the unit that runs its flowlet, so a unit that fails takes state
# with it. The paper's answer is an **output logger** (OL) per unit on another machine: a processed
# packet and its state delta go to the OL, which applies the delta and only then releases the
# packet. A failed unit's recovery unit pulls the state from its OL; a failed OL rebuilds from its
# unit; a failed controller rebuilds its flow clocks and flowlet map by asking the units.
#
# §9.4 fails one NAT unit at 50 % load and measures recovery: **SNF 0.14 ms**, CHC 3.2 ms (fetch the
# state from a store and replay in-transit packets), FTMB 25.7 ms (load the last of its 50 ms
# checkpoints and replay every packet since). This notebook replays that on a synthetic trace, looks
# at latency around a failure, then fails things at random and checks the property the paper proves:
# every packet's NF output equals a failure-free sequential run (except when a unit and its own OL
# fail together, which the paper does not protect, and which snfkit reports as lost state).
#
# docs/faults.md states the model; `SMALL` (`SNFKIT_NOTEBOOK_SMALL=1`) uses a tiny trace.

# %% tags=["parameters"]
import os

SMALL = os.environ.get("SNFKIT_NOTEBOOK_SMALL") == "1"  # a quick run on a tiny trace
SCALE = 0.1  # paper_like(seed=0, scale=SCALE): 642 K packets at 5 Gbps
RATE_PER_S = 200.0  # random failures per second of trace time

# %%
import polars as pl

import snfkit
from snfkit import charts, figures, workbench
from snfkit.display import readable
from snfkit.faults import KINDS
from snfkit.nf import apply, get_nf
from snfkit.workloads import paper_like

workbench.notebook_setup()
scale = 0.002 if SMALL else SCALE
packets = paper_like(0, scale)
wl = figures.Workload.from_packets(packets, f"paper_like(seed=0, scale={scale})")
wl.describe()

# %% [markdown]
# ## §9.4: one NAT unit fails halfway through the trace
#
# `figures.fault_runs` replays the trace with the NAT three times, once per recovery strategy, and
# fails the same unit (drawn from the replay's seed) at the same moment; the recovery unit is
# launched at once, as §9.4 assumes. The bars are snfkit's recovery times, the ticks the paper's.

# %%
runs = figures.fault_runs(wl, {"epoch_ns": figures.epoch_for(wl.duration_ns)})
recovery = charts.recovery_data(runs)
charts.recovery_chart(recovery)

# %%
recovery.select("strategy", "recovery_us", "paper_us", "flows_affected", "packets_replayed")

# %% [markdown]
# SNF's time is the OL transfer alone (`recovery_fixed_ns` + the affected flows' state at
# `recovery_bandwidth_bps`), CHC adds the store's round trip and the in-transit packets, FTMB the
# replay of its log since the last checkpoint, which grows with the unit's load and the time since
# that checkpoint. The paper gives neither its state sizes nor its transfer costs, so the absolute
# values are snfkit's defaults; the order SNF < CHC < FTMB is the claim.
#
# Latency around the failure, for the failed unit's flows:

# %%
around = charts.latency_around_failure_data(runs, window_ns=max(wl.duration_ns // 4, 1))
charts.latency_around_failure_chart(around)

# %% [markdown]
# ## Random failures of every kind, and the NF output
#
# `snfkit.random_failures(rate, kinds, seed)` draws failure times (a Poisson process over the trace)
# and kinds; each failure's target is a unit active at that moment. The failures table says what each
# cost.

# %%
protected = [k for k in KINDS if k != "unit+ol"]
res = snfkit.replay(
    packets,
    nf="nat",
    failures=snfkit.random_failures(RATE_PER_S, protected, seed=1),
    epoch_ns=figures.epoch_for(wl.duration_ns),
)
readable(res.failures)

# %% [markdown]
# The property of §6: recovered state equals failure-free state, so the NAT's output for every
# packet equals a sequential run over the whole trace with all state in one place.

# %%
from snfkit.traces.transforms import connections

sequential = apply(get_nf("nat"), connections(packets))
assert res.nf_output.equals(sequential), "recovery changed the NAT's output"
print(
    f"{res.summary['failures']} failures, NF output identical to the sequential run; "
    f"recovery p50 / max: {res.summary['recovery_us']} us"
)

# %% [markdown]
# A unit and its own OL failing together is the case the paper leaves open: the state of the unit's
# flows is gone. snfkit restarts those flows from a fresh state and reports what was lost, never
# hiding it; the NAT then gives some flows new ports, and the output differs from the sequential run.

# %%
lost = snfkit.replay(
    packets,
    nf="nat",
    failures=snfkit.random_failures(RATE_PER_S, ["unit+ol"], seed=2),
    epoch_ns=figures.epoch_for(wl.duration_ns),
)
lost.failures.select("time_ns", "unit", "flows_lost", "bytes_lost", "packets_lost")

# %%
print(
    f"packets lost: {lost.summary['packets_lost']}, "
    f"NF output equal to the sequential run: {lost.nf_output.equals(sequential)}"
)

# %% [markdown]
# ## What detection and launch cost
#
# The paper assumes failures are detected at once and the recovery unit is launched at once. With a
# detection delay and a unit start-up of 1 ms (snfkit's default lifecycle), SNF's recovery time is
# dominated by them, not by the state transfer:

# %%
rows = []
for detect_us in (0, 100, 1_000):
    for launch in ("immediate", "startup"):
        r = snfkit.replay(
            packets,
            recovery="snf",
            recovery_launch=launch,
            detect_ns=detect_us * 1_000,
            failures=[snfkit.Failure(wl.duration_ns // 2, "unit")],
            keep_packets=False,
        )
        rows.append(
            {
                "detect_us": detect_us,
                "launch": launch,
                "recovery_us": r.summary["recovery_us"]["max"],
            }
        )
pl.DataFrame(rows)
