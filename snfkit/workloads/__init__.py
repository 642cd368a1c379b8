"""Synthetic workloads: measured flow-size CDFs, a packet-level synthesizer, presets, attacks.

- :mod:`~snfkit.workloads.cdf`: :class:`FlowSizeCDF`, the shipped published distributions
  (:func:`list_distributions`, :func:`load_distribution`; citations in ``data/CITATIONS.md``).
- :mod:`~snfkit.workloads.synth`: :func:`synthesize`, Poisson flow arrivals at a target load,
  packetized and sent as trains of packets (:class:`BurstModel`).
- :mod:`~snfkit.workloads.presets`: :func:`paper_trace` (the statistics §9 states for the SNF
  paper's trace, load raised by dividing inter-arrival times), :func:`paper_like` (an earlier
  preset shaped like it: a log-normal law whose flows are 60 % above 10 KB) and :func:`small_demo`.
- :mod:`~snfkit.workloads.adversarial`: :func:`inject_adversarial_flowlets` (paper §9.3).
"""

from snfkit.workloads.adversarial import inject_adversarial_flowlets
from snfkit.workloads.cdf import FlowSizeCDF, list_distributions, load_distribution
from snfkit.workloads.presets import paper_like, paper_trace, small_demo
from snfkit.workloads.synth import BurstModel, synthesize

__all__ = [
    "BurstModel",
    "FlowSizeCDF",
    "inject_adversarial_flowlets",
    "list_distributions",
    "load_distribution",
    "paper_like",
    "paper_trace",
    "small_demo",
    "synthesize",
]
