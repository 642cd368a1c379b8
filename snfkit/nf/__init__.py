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


__all__ = ["NF", "NFS", "apply", "get_nf", "packet_columns", "prepare", "run"]
