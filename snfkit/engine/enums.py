"""Every enumeration of the replay, defined once, by name.

Each is a NamedTuple of ints (the vectorbt pattern): kernels compare against names
(``p.mode == AllocationMode.packet``; numba freezes a module-level tuple into a constant), the
layers above take the names from ``_fields`` in code order (:func:`names`), and integer columns
store the codes (:func:`code`). Parameters (:mod:`snfkit.params`), tables, charts, figures and tests
derive names and codes from here; nothing else lists them.
"""

from __future__ import annotations

from typing import NamedTuple


class AllocationModeT(NamedTuple):
    """How work is assigned (DESIGN.md "Allocation modes"): SNF (``flowlet``) and the baselines."""

    flowlet: int = 0
    flow: int = 1
    smart_flow: int = 2
    packet: int = 3


class StateModeT(NamedTuple):
    """Where a flow's state is when its next item starts (DESIGN.md "State")."""

    proactive: int = 0
    reactive: int = 1
    external: int = 2
    local: int = 3


class ReplicationPolicyT(NamedTuple):
    """Which units receive a proactive push."""

    weighted: int = 0
    first_k: int = 1
    broadcast: int = 2
    none: int = 3


class LoadEstimatorT(NamedTuple):
    """A unit's load: ``committed`` also counts demand assigned but not yet measured; ``measured``
    is the paper's drained-rate window."""

    committed: int = 0
    measured: int = 1


class PlacementT(NamedTuple):
    """How the work assigner picks among the units with room (DESIGN.md "Controller"):
    ``score`` is Pseudocode 1 (utilization + alpha * has_state, the fullest unit with room wins:
    best fit); ``first_fit`` is §4.2's prose (the smallest ID with room; the utilization term
    becomes the unit's place in ID order)."""

    score: int = 0
    first_fit: int = 1


class OpenReasonT(NamedTuple):
    """Why an item opened: a flow's first packet, a gap above the timeout, the size threshold
    (the three of flowlet detection), or packet mode (every packet is an item)."""

    new_flow: int = 0
    timeout: int = 1
    size: int = 2
    packet: int = 3


class StateSourceT(NamedTuple):
    """Where an item's state came from (:mod:`snfkit.engine.state_nb`)."""

    new_flow: int = 0
    same_unit: int = 1
    replica: int = 2
    replica_wait: int = 3
    pull: int = 4
    store: int = 5
    free: int = 6


class WaitCauseT(NamedTuple):
    """Why a packet waited for its state: ``none``, a reactive ``pull`` from the previous unit, an
    external ``store`` read, a proactive ``replica`` still in flight, or a failure's ``recovery``
    (:mod:`snfkit.engine.faults_nb`)."""

    none: int = 0
    pull: int = 1
    store: int = 2
    replica: int = 3
    recovery: int = 4


class TransferKindT(NamedTuple):
    """What moved a flow's state between places."""

    push: int = 0
    pull: int = 1
    store_read: int = 2


class FailureKindT(NamedTuple):
    """What fails (paper §6): a unit, its output logger (OL), the controller, two of them at once;
    ``unit_ol`` (a unit and its OL together) is the case the paper does not protect."""

    unit: int = 0
    ol: int = 1
    controller: int = 2
    unit_controller: int = 3
    ol_controller: int = 4
    unit_ol: int = 5


class RecoveryStrategyT(NamedTuple):
    """How a failed unit's state is rebuilt: SNF (from the OL), CHC (external store), FTMB
    (checkpoint and packet log)."""

    snf: int = 0
    chc: int = 1
    ftmb: int = 2


class RecoveryLaunchT(NamedTuple):
    """A recovery unit or OL starts per the unit lifecycle (``startup``) or at once
    (``immediate``, as §9.4 assumes)."""

    startup: int = 0
    immediate: int = 1


AllocationMode = AllocationModeT()
StateMode = StateModeT()
ReplicationPolicy = ReplicationPolicyT()
LoadEstimator = LoadEstimatorT()
Placement = PlacementT()
OpenReason = OpenReasonT()
StateSource = StateSourceT()
WaitCause = WaitCauseT()
TransferKind = TransferKindT()
FailureKind = FailureKindT()
RecoveryStrategy = RecoveryStrategyT()
RecoveryLaunch = RecoveryLaunchT()

ENUMS: dict[str, NamedTuple] = {
    "mode": AllocationMode,
    "state_mode": StateMode,
    "replication_policy": ReplicationPolicy,
    "load_estimator": LoadEstimator,
    "placement": Placement,
    "reason": OpenReason,
    "state_source": StateSource,
    "wait_cause": WaitCause,
    "kind": TransferKind,
    "failure_kind": FailureKind,
    "recovery": RecoveryStrategy,
    "recovery_launch": RecoveryLaunch,
}
"""Each enumeration by the name of the parameter or column that holds it."""


def names(enum: NamedTuple) -> tuple[str, ...]:
    """The enumeration's names in code order (the categories of its Enum columns)."""
    assert tuple(enum) == tuple(range(len(enum))), "codes are 0..n-1 in field order"
    return enum._fields


def code(enum: NamedTuple, name: str) -> int:
    """The code of ``name``; a KeyError names the unknown value and the known ones."""
    if not isinstance(name, str) or name not in enum._fields:
        raise KeyError(f"{name!r} is not one of {', '.join(enum._fields)}")
    return getattr(enum, name)
