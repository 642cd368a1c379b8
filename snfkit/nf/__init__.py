"""Network functions: the programming model (:class:`NF`) and the paper's five NFs (§8).

- :class:`NF`: an NF's njit process function, its plain-Python twin, its state layout and its
  read-only configuration. Contract of ``process``: :mod:`snfkit.engine.nf_nb`.
- The built-ins, one module each: :mod:`~snfkit.nf.nat`, :mod:`~snfkit.nf.lb`, :mod:`~snfkit.nf.ids`,
  :mod:`~snfkit.nf.whitelist`, :mod:`~snfkit.nf.qos`; :data:`NFS` maps each name to its factory
  and :func:`get_nf` builds one by name with keyword configuration.
- :func:`apply`: run an NF over a packets table (the sequential reference run, or a given pattern of
  state sources) and get its per-packet outputs; :func:`packet_columns` extracts the arrays a kernel
  reads.

See ``docs/nf.md`` for a worked example of writing your own NF.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from snfkit.errors import ParameterError
from snfkit.nf import ids, lb, nat, qos, whitelist
from snfkit.nf.base import NF, apply, packet_columns, prepare, run

NFS: MappingProxyType[str, Callable[..., NF]] = MappingProxyType(
    {
        "nat": nat.make,
        "lb": lb.make,
        "ids": ids.make,
        "whitelist": whitelist.make,
        "qos": qos.make,
    }
)
"""Name -> factory of each built-in NF; ``NFS[name](**config)`` returns an :class:`NF`."""

NF_COSTS: MappingProxyType[str, tuple[int, int]] = MappingProxyType(
    {
        "nat": (nat.PACKET_NS, nat.BYTE_PS),
        "lb": (lb.PACKET_NS, lb.BYTE_PS),
        "ids": (ids.PACKET_NS, ids.BYTE_PS),
        "whitelist": (whitelist.PACKET_NS, whitelist.BYTE_PS),
        "qos": (qos.PACKET_NS, qos.BYTE_PS),
    }
)
"""Name -> (ns per packet, ps per byte) that each built-in NF declares as its processing cost
(:attr:`NF.packet_ns`, :attr:`NF.byte_ps`), added to a unit's service when a replay sets
``nf_cost=True``. The paper shows in Fig 4 that its NFs differ but publishes no cost; these values
are snfkit's choice, ordered by each NF's work per packet: the whitelist (one set lookup) < the LB
(a hash, a counter) < the NAT (a port pool, a rewrite) < the QoS policer (token arithmetic); the
IDS adds a cost per byte for its automaton over the payload."""


def get_nf(name: str, **config: Any) -> NF:
    """The built-in NF ``name`` (one of :data:`NFS`) with keyword ``config`` (see its ``make``)."""
    if name not in NFS:
        raise ParameterError("name", name, "one of " + ", ".join(repr(k) for k in NFS))
    try:
        return NFS[name](**config)
    except TypeError as e:
        raise ParameterError(
            "config", config, f"keyword arguments of snfkit.nf.{name}.make ({e})"
        ) from None


__all__ = ["NF", "NFS", "NF_COSTS", "apply", "get_nf", "packet_columns", "prepare", "run"]
