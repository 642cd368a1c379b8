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
# # 05 · Writing your own NF
#
# SNF's programming model (paper §3.1): an NF is a function of one packet and its flow's state.
# It reads read-only configuration, updates the state, and says what to do with the packet. The
# platform decides where the state lives; the NF never knows. snfkit compiles NFs with numba and
# runs them inside the replay, each packet against the copy of the state that its unit holds.
#
# This notebook writes a small NF, checks it against a plain-Python twin, and replays it through
# SNF with each state mode, checking the property that makes SNF correct: every packet's output
# equals that of one sequential run with all state in one place. docs/nf.md has the full contract
# and the five built-in NFs.

# %% tags=["parameters"]
import os

SMALL = os.environ.get("SNFKIT_NOTEBOOK_SMALL") == "1"  # 5,000 packets instead of 50,000
PACKETS = 50_000  # packets of small_demo(seed=0) to use

# %%
from typing import NamedTuple

import numba as nb
import polars as pl

import snfkit
from snfkit import figures, workbench
from snfkit.display import nf_output_table
from snfkit.engine.nf_nb import DROP, FORWARD, NFResult, sequential_sources
from snfkit.nf import NF, apply, prepare
from snfkit.nf.base import default_state_bytes
from snfkit.reference.nf import run_nf
from snfkit.workloads import small_demo

workbench.notebook_setup()
packets = small_demo(seed=0).head(5_000 if SMALL else PACKETS)
print(figures.Workload.from_packets(packets, "small_demo(seed=0)").describe())

# %% [markdown]
# ## A per-flow packet budget
#
# The NF counts each flow's packets and bytes and drops a flow's packets beyond the first
# `max_packets`. Its state is two int64 words per flow (`state[row]`); a new flow's row is all
# zeros, so zero must be the right initial value. It returns an `NFResult`: the action, two output
# fields (here the counts) and `delta`, the bytes of state the packet changed.


# %%
class BudgetConfig(NamedTuple):
    max_packets: int  # a flow's packets after this many are dropped


@nb.njit  # no cache=True in a notebook: there is no file to cache into
def budget(pkt, payload, state, row, cfg):
    n = state[row, 0] + 1  # word 0: packets so far
    state[row, 0] = n
    state[row, 1] += pkt.wire_len  # word 1: bytes so far
    action = FORWARD if n <= cfg.max_packets else DROP
    return NFResult(action, n, state[row, 1], 16)  # two words changed: 16 bytes


def budget_twin(pkt, payload, row, cfg):
    """The same in plain Python (row is a list, updated in place), for tests."""
    row[0] += 1
    row[1] += pkt.wire_len
    return NFResult(FORWARD if row[0] <= cfg.max_packets else DROP, row[0], row[1], 16)


nf = NF(
    name="budget",
    process=budget,
    twin=budget_twin,
    state_width=2,
    state_bytes=default_state_bytes(2),
    needs_payload=False,
    bidirectional=False,
    config=BudgetConfig(max_packets=100),
    outputs=("packets", "bytes"),
)
nf  # noqa: B018

# %% [markdown]
# ## Run it sequentially
#
# `snfkit.nf.apply` runs the NF over the whole table in arrival order with all state in one
# place: the reference that every distributed replay must reproduce.

# %%
sequential = apply(nf, packets)
sequential.group_by("action").len().with_columns(
    pl.col("action").replace_strict({0: "forward", 1: "drop"}, return_dtype=pl.String)
)

# %% [markdown]
# `nf_output_table` shows the outputs under the names the NF gave them (`outputs=`), beside each
# packet's endpoints:

# %%
nf_output_table(sequential, nf, packets).filter(pl.col("action") == "drop").head()

# %% [markdown]
# The compiled kernel and the plain-Python twin must agree packet for packet (the built-in NFs
# have this test in `tests/`):

# %%
cols, flow, n_flows = prepare(nf, packets)
src, snap = sequential_sources(flow)
twin_out = run_nf(nf.twin, nf.config, cols, flow, src, snap, nf.state_width, n_flows)
assert (twin_out.action == sequential["action"].to_numpy()).all()
assert (twin_out.out0 == sequential["out0"].to_numpy()).all()
"kernel and twin agree on every packet"

# %% [markdown]
# ## Replay it through SNF
#
# `snfkit.replay(packets, nf=nf, ...)` places flowlets on units as usual and runs the NF on each
# packet against its unit's copy of the flow's state. With the state modes of
# `03_state_management`, the copy arrives in different ways and at different times; the output
# must not change. A bug in the clock protocol (a flowlet starting on a stale replica) would show
# up here as a packet counted twice or dropped too early.
#
# `keep_state_sources=True` runs the NF over each unit's own version of the state, after the
# replay. Without it, the replay counts the flowlets that started from a version older than the
# flow's latest (`stale_state_used`, 0 while the clock check is on) and, when that count is 0,
# uses the NF's sequential run, computed on a second thread meanwhile: the same output, faster.

# %%
rows = []
for mode in ("proactive", "reactive", "external", "local"):
    res = snfkit.replay(packets, nf=nf, state_mode=mode, keep_state_sources=True)
    same = res.nf_output.select("action", "out0", "out1").equals(
        sequential.select("action", "out0", "out1")
    )
    s = res.summary
    rows.append(
        {
            "state_mode": mode,
            "same_as_sequential": same,
            "stale_state_used": s["stale_state_used"],
            "packets_dropped": s["packets_dropped"],
            "p99_us": s["latency_us"]["p99"],
            "seamless_share": s.get("seamless_share"),
            "replication_mbps": s.get("replication_mbps"),
        }
    )
pl.DataFrame(rows)

# %% [markdown]
# The replay's packets table carries the NF's decision next to the timing, so you can ask, for
# example, how long the dropped packets waited:

# %%
res = snfkit.replay(packets, nf=nf)
res.packets.group_by("nf_action").agg(
    pl.len().alias("packets"),
    (pl.col("latency_ns").median() / 1e3).alias("p50_us"),
    (pl.col("state_wait_ns") > 0).mean().alias("waited_for_state"),
)

# %% [markdown]
# ## State size and replication traffic
#
# `state_bytes` is what one flow's state costs on the wire when it is pushed or pulled. The
# replay takes it from the NF; replication traffic grows with it, and with K.

# %%
pl.DataFrame(
    [
        {
            "state_bytes": b,
            "K": k,
            "replication_mbps": snfkit.replay(
                packets, nf=nf, state_bytes=b, replicas=k, keep_packets=False
            ).summary["replication_mbps"],
        }
        for b in (nf.state_bytes, 1_000, 4_000)
        for k in (1, 3)
    ]
)

# %% [markdown]
# To use your NF from the shell, put it in a module and pass the object to `snfkit.replay` from
# a script; the built-ins (`nat`, `lb`, `ids`, `whitelist`, `qos`) also work by name, for
# example `snfkit.replay(packets, nf="nat")`.
