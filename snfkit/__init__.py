"""snfkit: replay packet traces through SNF (serverless network functions) and its baselines.

Public entry points: :func:`load_trace` (packets table from pcap/pcapng/parquet/CSV),
:mod:`snfkit.workloads` (synthetic traces from published flow-size distributions),
and :func:`replay` (the controller and its baselines).
"""

from snfkit.traces import load_trace, read_trace

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "load_trace", "read_trace"]
