"""snfkit: replay packet traces through SNF (serverless network functions) and its baselines.

Public entry points: :func:`load_trace` (packets table from pcap/pcapng/parquet/CSV),
:mod:`snfkit.workloads` (synthetic traces from published flow-size distributions),
:func:`replay` (the controller and its baselines) returning :class:`Results`,
:func:`prepare_trace` (a trace checked once, for many replays),
:class:`ReplayParams` (validated parameters, the paper's defaults), :class:`Failure` and
:func:`random_failures` (failures to inject, :mod:`snfkit.faults`), :func:`flows` (one row per
flow, with its replay's flowlets, units and latencies) and :func:`readable` (any table with
addresses as text, times in seconds and µs; :mod:`snfkit.display`).
"""

from snfkit.display import readable
from snfkit.faults import Failure, random_failures
from snfkit.flow_table import flows
from snfkit.params import ReplayParams
from snfkit.prepared import PreparedTrace, prepare_trace
from snfkit.results import Results
from snfkit.runner import replay
from snfkit.traces import load_trace, read_trace

__version__ = "0.1.0.dev0"

__all__ = [
    "Failure",
    "PreparedTrace",
    "ReplayParams",
    "Results",
    "__version__",
    "flows",
    "load_trace",
    "prepare_trace",
    "random_failures",
    "read_trace",
    "readable",
    "replay",
]
