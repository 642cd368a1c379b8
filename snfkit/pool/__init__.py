"""The unit pool shared by many controllers: which controller gets each flow, and the resource
manager (RM) that leases fractional units to them (paper §7, §9.5; docs/controllers.md).

- :func:`~snfkit.pool.split.controller_of` splits a trace's flows among controllers
  (:func:`~snfkit.pool.split.flow_owners`: the same, per flow id).
- :func:`~snfkit.pool.rm.pack_leases` runs the RM over every controller's leases: which unit holds
  each lease, and the RM's units.
- :func:`~snfkit.pool.rm.controller_epochs` is each controller's provisioning against its load per
  epoch (the over-provisioning of the paper's Fig 6).

A controller's own units (whole ones, or leases under an RM) are the engine's
(:mod:`snfkit.engine.pool_nb`, which holds the RM's packing kernel too);
:func:`snfkit.replay` with ``controllers=N`` runs them (:mod:`snfkit.runner.many`).
"""

from snfkit.pool.rm import controller_epochs, pack_leases
from snfkit.pool.split import controller_of, flow_owners

__all__ = ["controller_epochs", "controller_of", "flow_owners", "pack_leases"]
