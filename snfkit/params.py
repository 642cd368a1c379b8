"""Validated, frozen parameter objects, one per mechanism.

Each is a frozen dataclass whose fields carry the paper's defaults (SoCC '20 §9: T = 500 us,
B = 15 KB, alpha = 0.25, K = 3, BW_max = 1 Gbps, load buckets 500 us x 200, epoch 100 ms, prestart
at 90 %). Construction checks every field and raises :class:`~snfkit.errors.ParameterError` naming the
parameter, the value and the allowed range. :meth:`ReplayParams.kernel_record` flattens them into the
one-record array that the replay kernel takes (field names: the flat parameter names).

Times are integer nanoseconds (``*_ns``), rates bits per second (``*_bps``), sizes bytes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from snfkit.engine.enums import (
    ENUMS,
    AllocationMode,
    LoadEstimator,
    Placement,
    RecoveryLaunch,
    RecoveryStrategy,
    ReplicationPolicy,
    StateMode,
    code,
    names,
)
from snfkit.engine.replay_nb import PARAMS_DTYPE
from snfkit.errors import ParameterError

MODES = names(AllocationMode)
"""Allocation modes: SNF (``flowlet``) and the paper's baselines."""

STATE_MODES = names(StateMode)
"""Where a flow's state is when its next flowlet starts (DESIGN.md "State"): ``proactive`` (SNF:
replicas pushed after T/2 idle), ``reactive`` (pulled from the previous unit), ``external`` (read from
a store), ``local`` (free everywhere: a bound)."""

REPLICATION_POLICIES = names(ReplicationPolicy)
"""Which units receive a proactive push: K distinct active units drawn with weight 1/(ID+1)
(``weighted``, seeded), the K lowest IDs (``first_k``), every active unit (``broadcast``), none."""

MAX_UNITS_PROACTIVE = 4096
"""Pool size limit with proactive state (each flow keeps a bit per unit slot for two pushes)."""

RECOVERY_STRATEGIES = names(RecoveryStrategy)
"""How a failed unit's state comes back: SNF's output logger, CHC's store, FTMB's checkpoints."""

LOAD_ESTIMATORS = names(LoadEstimator)
"""``measured``: the paper's drained-rate window. ``committed`` (default): also counts demand assigned
to the unit that the window has not measured yet (see docs/model.md)."""

PLACEMENTS = names(Placement)
"""How the work assigner picks among the units with room: ``score`` (default, Pseudocode 1: the
highest utilization + alpha * has_state, i.e. the fullest unit with room, best fit) or
``first_fit`` (§4.2's prose, "the smallest ID unit with room is chosen": the utilization term
becomes the unit's place in ID order, ``1 - k / n`` for the k-th of n active units, so that at
alpha = 0 the smallest ID with room wins and alpha trades ID order for state as it trades
utilization in ``score``)."""


MAX_TIME_PARAM_NS = 2**50
"""The largest value of any time parameter (``*_ns``): about 13 days. With the trace's span
(at most 2**60 ns) it keeps every time the replay kernel forms below its 2**62 "no event" mark
(:data:`snfkit.engine.replay_nb.TIME_LIMIT`)."""

MAX_LOAD_CELLS = 2**25
"""The most load-bucket cells (``max_units`` x ``load_buckets``) a replay keeps: 256 MiB."""

MAX_STATE_BYTES = 2**32
"""The largest ``state_bytes``: 4 GiB of state per flow (byte counts of transfers stay in int64)."""


def _check_time(name: str, value: Any, lo: int) -> None:
    _check_int(name, value, lo, MAX_TIME_PARAM_NS)


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(
            name, value, f"an integer in [{lo}, {hi if hi is not None else 'inf'}]"
        )
    if value < lo or (hi is not None and value > hi):
        raise ParameterError(
            name, value, f"an integer in [{lo}, {hi if hi is not None else 'inf'}]"
        )


def _check_float(
    name: str, value: Any, lo: float, hi: float | None = None, *, lo_open: bool = False
) -> None:
    rng = f"{'(' if lo_open else '['}{lo}, {hi if hi is not None else 'inf'}]"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParameterError(name, value, f"a finite number in {rng}")
    if value < lo or (lo_open and value == lo) or (hi is not None and value > hi):
        raise ParameterError(name, value, f"a number in {rng}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ParameterError(name, value, "one of " + ", ".join(repr(c) for c in choices))


@dataclass(frozen=True)
class FlowletParams:
    """Flowlet detection (paper §4.1).

    timeout_ns: inactivity timeout T; a gap strictly greater opens a new flowlet (paper: 500 us).
    size_bytes: size threshold B; a flowlet whose bytes plus the next packet's would exceed B is split
        there (paper: 15 KB = 15,000 bytes). 0 disables the size rule (timeout only, paper §9.3).
    """

    timeout_ns: int = 500_000
    size_bytes: int = 15_000

    def __post_init__(self) -> None:
        _check_time("timeout_ns", self.timeout_ns, 1)
        _check_int("size_bytes", self.size_bytes, 0, 2**62)


@dataclass(frozen=True)
class AssignmentParams:
    """Work assignment (paper §4.2, Pseudocode 1) and the unit load estimate.

    alpha: state-affinity weight in the score ``utilization + alpha * has_state`` (paper: 0.25).
    unit_capacity_bps: planning capacity BW_max that the packer fills (paper: 1 Gbps).
    load_bucket_ns, load_buckets: the drained-rate window (paper: 500 us x 200 = 100 ms).
    load_estimator: 'committed' (default) or 'measured' (the paper's); see :data:`LOAD_ESTIMATORS`.
    ewma_weight: weight of the previous flowlet's measured rate in a flow's demand estimate.
    initial_estimate_bps: demand estimate of a first flowlet before any flowlet has closed.
    placement: 'score' (default, Pseudocode 1) or 'first_fit' (§4.2's prose); see
        :data:`PLACEMENTS`.
    decision_ns: the controller's time to assign one item (§9.7: "adds a latency of 1 us" per
        flowlet). The item's first packet reaches its unit this much after its arrival (it counts
        in the packet's queueing time); the item's later packets queue behind it as usual. Applies
        to every item in every mode (packet mode: each packet). Default 0 (no cost).
    """

    alpha: float = 0.25
    unit_capacity_bps: float = 1e9
    load_bucket_ns: int = 500_000
    load_buckets: int = 200
    load_estimator: str = "committed"
    ewma_weight: float = 0.5
    initial_estimate_bps: float = 1e7
    placement: str = "score"
    decision_ns: int = 0

    def __post_init__(self) -> None:
        _check_float("alpha", self.alpha, 0.0, 1.0)
        _check_float("unit_capacity_bps", self.unit_capacity_bps, 0.0, lo_open=True)
        _check_time("load_bucket_ns", self.load_bucket_ns, 1)
        _check_int("load_buckets", self.load_buckets, 1, 100_000)
        _check_choice("load_estimator", self.load_estimator, LOAD_ESTIMATORS)
        _check_float("ewma_weight", self.ewma_weight, 0.0, 1.0)
        _check_float("initial_estimate_bps", self.initial_estimate_bps, 0.0)
        _check_choice("placement", self.placement, PLACEMENTS)
        _check_time("decision_ns", self.decision_ns, 0)


@dataclass(frozen=True)
class UnitParams:
    """Compute units: the service model and the lifecycle.

    per_packet_ns, per_byte_ps: a unit is busy ``per_packet_ns + wire_len * per_byte_ps / 1000`` ns
        per packet (integer division; 1 <= per_packet_ns <= 1e12, so no service is empty, and
        per_byte_ps <= 1e9, so a service fits int64). Defaults 500 ns + 5,000 ps/B (5 ns/B): a
        1434 B packet takes 7.67 us, so a
        unit saturates near 1.5 Gbps at the paper's median size, above its 1 Gbps planning capacity.
    unit_startup_ns: time from starting a unit to its first possible packet (default 1 ms).
    unit_idle_ns: a unit that received no packet for this long (and has no open work) retires
        (default 100 ms).
    prestart_utilization: start one unit ahead of need when every active unit is above it (0.9).
    max_units: the most units that may be active at once (the pool's size).
    nf_cost: add the NF's own processing cost (``nf_packet_ns``, ``nf_byte_ps``) to
        ``per_packet_ns`` and ``per_byte_ps``, so that NFs differ in service time as in the
        paper's Fig 4 (default False: every NF costs the same, ``per_packet_ns`` and
        ``per_byte_ps`` alone; the unit's runtime is then all of the cost).
    nf_packet_ns, nf_byte_ps: the NF's processing cost per packet (ns) and per byte (ps), used
        when ``nf_cost``. :func:`snfkit.replay` with an NF sets them from the NF's declaration
        (:attr:`snfkit.nf.NF.packet_ns`, :attr:`~snfkit.nf.NF.byte_ps`) unless given. With
        ``nf_cost`` the sums stay within the bounds of ``per_packet_ns`` and ``per_byte_ps``.
    unit_drain_bps: the rate a unit sustains (§9: "each compute unit is configured to process
        packets at BW_max = 1 Gbps"), as a shaper in front of its service: a unit serves a burst of
        up to ``unit_burst_bytes`` at its service speed (``per_packet_ns``, ``per_byte_ps``: the
        paper's sub-microsecond medians), and beyond that at most ``unit_drain_bps`` (GCRA virtual
        scheduling, :func:`snfkit.engine.calendar_nb.drain_shape`; the wait counts as queueing).
        0 (default): no shaper, a unit drains at its service speed. Else in [1e6, 8e12] bps.
    unit_burst_bytes: the shaper's burst tolerance in bytes (default 15,000, the size threshold B).
    """

    per_packet_ns: int = 500
    per_byte_ps: int = 5_000
    unit_startup_ns: int = 1_000_000
    unit_idle_ns: int = 100_000_000
    prestart_utilization: float = 0.9
    max_units: int = 256
    nf_cost: bool = False
    nf_packet_ns: int = 0
    nf_byte_ps: int = 0
    unit_drain_bps: float = 0.0
    unit_burst_bytes: int = 15_000

    def __post_init__(self) -> None:
        # >= 1 so that every service takes time: a unit's busy intervals are never empty
        # bounded so that a service time (wire_len < 2**32) and the times it adds to stay in int64
        _check_int("per_packet_ns", self.per_packet_ns, 1, 10**12)
        _check_int("per_byte_ps", self.per_byte_ps, 0, 10**9)
        _check_time("unit_startup_ns", self.unit_startup_ns, 0)
        _check_time("unit_idle_ns", self.unit_idle_ns, 1)
        _check_float("prestart_utilization", self.prestart_utilization, 0.0, lo_open=True)
        _check_int("max_units", self.max_units, 1, 1_000_000)
        if not isinstance(self.nf_cost, bool):
            raise ParameterError("nf_cost", self.nf_cost, "True or False")
        _check_int("nf_packet_ns", self.nf_packet_ns, 0, 10**12 - self.per_packet_ns)
        _check_int("nf_byte_ps", self.nf_byte_ps, 0, 10**9 - self.per_byte_ps)
        drain = self.unit_drain_bps
        if drain != 0:
            _check_float("unit_drain_bps", drain, 1e6, 8e12)
        _check_int("unit_burst_bytes", self.unit_burst_bytes, 0, 2**40)
        if self.drain_shaper()[1] > MAX_TIME_PARAM_NS:
            raise ParameterError(
                "unit_burst_bytes",
                self.unit_burst_bytes,
                f"a burst the drain rate works off within {MAX_TIME_PARAM_NS} ns",
            )

    def drain_shaper(self) -> tuple[int, int]:
        """(ps per byte, burst tolerance in ns) of the drain shaper; (0, 0) without one."""
        if self.unit_drain_bps == 0:
            return 0, 0
        ps = max(1, round(8e12 / self.unit_drain_bps))
        return ps, self.unit_burst_bytes * ps // 1000

    def service_costs(self) -> tuple[int, int]:
        """(ns per packet, ps per byte) a unit spends: ``per_packet_ns``, ``per_byte_ps``, plus
        the NF's cost when ``nf_cost``."""
        if self.nf_cost:
            return self.per_packet_ns + self.nf_packet_ns, self.per_byte_ps + self.nf_byte_ps
        return self.per_packet_ns, self.per_byte_ps


@dataclass(frozen=True)
class ModeParams:
    """Allocation mode and the baselines' own knobs.

    mode: 'flowlet' (SNF), 'flow' (vanilla), 'smart_flow' (flow + periodic reallocation), 'packet'.
    flow_timeout_ns: in the flow modes, a flow idle this long has ended; its next packet is a new flow
        assignment (default 100 ms).
    smart_interval_ns: smart_flow's reallocation period X (paper: 50 or 100 ms).
    consolidate_below: smart_flow empties a unit whose load is below this share of capacity when its
        flows fit elsewhere (default 0.3).
    """

    mode: str = "flowlet"
    flow_timeout_ns: int = 100_000_000
    smart_interval_ns: int = 100_000_000
    consolidate_below: float = 0.3

    def __post_init__(self) -> None:
        _check_choice("mode", self.mode, MODES)
        _check_time("flow_timeout_ns", self.flow_timeout_ns, 1)
        _check_time("smart_interval_ns", self.smart_interval_ns, 1)
        _check_float("consolidate_below", self.consolidate_below, 0.0, 1.0)


@dataclass(frozen=True)
class StateParams:
    """Per-flow state (paper §5, DESIGN.md "State").

    state_mode: one of :data:`STATE_MODES` (default 'proactive', SNF). 'packet' mode always reads
        the external store per packet, whatever this says.
    replicas: K, how many units receive a proactive push (paper: 3).
    replication_policy: one of :data:`REPLICATION_POLICIES` (default 'weighted').
    replicate_after: a push happens once the flow has been idle this share of the close timeout
        (T in flowlet mode; paper: T/2) and its last packet is processed.
    state_transfer_ns: fixed time of one transfer between units: a push, and a pull unless
        ``pull_transfer_ns`` says otherwise (paper §9.6: replicating "takes about 160 us").
    store_rtt_ns: round trip to the external store; a write lands half of it after the packet.
    state_bytes: bytes of one flow's state on the wire (replication traffic); an NF given to
        :func:`snfkit.replay` sets it from the NF unless given.
    seed: seed of the weighted replica draw.
    clock_check: compare a replica's logical clock before using it (True). False is fault
        injection for tests: a stale replica is used as if fresh, so NF output can go wrong.
    pull_transfer_ns: fixed time of a reactive pull (a request to the previous unit and its
        reply), -1 (default) for ``state_transfer_ns``. The paper's 160 us is a push to K units
        (§9.6) while its reactive NAT p99 is 133 us (Fig 4): the two need not be equal.
    transfer_bps: bandwidth of a state transfer; each push copy and each pull then also takes
        ``state_bytes * 8 / transfer_bps`` s (rounded down to ns), so a larger state moves more
        slowly. 0 (default): no per-byte term (the fixed times alone).
    push_unit_ns: time the *sending* unit spends on each copy of a push (serializing and sending
        it): a push of k copies books ``k * push_unit_ns`` on the sending unit's calendar at the
        earliest gap from the push time, delays that unit's later packets, and the copies leave
        when it ends. 0 (default): pushes cost the sender nothing. Counted in the unit's
        ``busy_ns``, not in the epochs' (which count packet service).
    store_read_on_move: ``external`` mode reads the store only when an item opens on another unit
        than its flow's previous item (that unit still holds the state it wrote: §9.2, "state for
        most flowlets is eventually locally available in all the three models"). False (default):
        every item's first packet reads the store.
    """

    state_mode: str = "proactive"
    replicas: int = 3
    replication_policy: str = "weighted"
    replicate_after: float = 0.5
    state_transfer_ns: int = 160_000
    store_rtt_ns: int = 160_000
    state_bytes: int = 256
    seed: int = 0
    clock_check: bool = True
    pull_transfer_ns: int = -1
    transfer_bps: float = 0.0
    push_unit_ns: int = 0
    store_read_on_move: bool = False

    def __post_init__(self) -> None:
        _check_choice("state_mode", self.state_mode, STATE_MODES)
        _check_int("replicas", self.replicas, 0, MAX_UNITS_PROACTIVE)
        _check_choice("replication_policy", self.replication_policy, REPLICATION_POLICIES)
        _check_float("replicate_after", self.replicate_after, 0.0, 1.0, lo_open=True)
        _check_time("state_transfer_ns", self.state_transfer_ns, 0)
        _check_time("store_rtt_ns", self.store_rtt_ns, 0)
        _check_int("state_bytes", self.state_bytes, 0, MAX_STATE_BYTES)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        if not isinstance(self.clock_check, bool):
            raise ParameterError("clock_check", self.clock_check, "True or False")
        pull = self.pull_transfer_ns
        if not (
            isinstance(pull, int) and not isinstance(pull, bool) and -1 <= pull <= MAX_TIME_PARAM_NS
        ):
            raise ParameterError(
                "pull_transfer_ns",
                pull,
                f"-1 (state_transfer_ns) or an integer in [0, {MAX_TIME_PARAM_NS}]",
            )
        _check_float("transfer_bps", self.transfer_bps, 0.0)
        _check_time("push_unit_ns", self.push_unit_ns, 0)
        if not isinstance(self.store_read_on_move, bool):
            raise ParameterError("store_read_on_move", self.store_read_on_move, "True or False")
        for name, ns in zip(
            ("state_transfer_ns", "pull_transfer_ns"), self.transfer_times(), strict=True
        ):
            if ns > MAX_TIME_PARAM_NS:
                raise ParameterError(
                    "transfer_bps", self.transfer_bps,
                    f"a bandwidth that moves state_bytes ({self.state_bytes}) within "
                    f"{MAX_TIME_PARAM_NS} ns including {name}",
                )  # fmt: skip

    def transfer_times(self) -> tuple[int, int]:
        """(push, pull) time of one transfer, ns: the fixed time (``state_transfer_ns``,
        ``pull_transfer_ns``) plus ``state_bytes * 8e9 // transfer_bps`` when a bandwidth is set."""
        per_byte = 0
        if self.transfer_bps > 0:
            per_byte = int(self.state_bytes * 8e9 // self.transfer_bps)
        pull = self.state_transfer_ns if self.pull_transfer_ns == -1 else self.pull_transfer_ns
        return self.state_transfer_ns + per_byte, pull + per_byte


@dataclass(frozen=True)
class ReportParams:
    """What a run reports. epoch_ns: epoch length (paper: 100 ms).

    keep_packets: what is kept per packet and per state transfer.

    - ``'auto'`` (the default): the kernel keeps the per-packet columns it cannot derive (unit,
      item, start, state wait, latency, wait cause, reordered; 38 bytes a packet), and
      ``Results.packets`` is built from them on first access (the same table as with True);
      latency percentiles are exact. No transfers table (``Results.transfers`` is None; the
      summary has the transfer counts and bytes).
    - True: the same per-packet columns, the packets table built at once, and a row per state
      transfer (``Results.transfers``).
    - False: aggregates only; latency percentiles then come from a log histogram with < 1 %
      relative error, and memory does not grow with the trace.
    """

    epoch_ns: int = 100_000_000
    keep_packets: bool | str = "auto"

    def __post_init__(self) -> None:
        _check_time("epoch_ns", self.epoch_ns, 1)
        if not isinstance(self.keep_packets, bool) and self.keep_packets != "auto":
            raise ParameterError("keep_packets", self.keep_packets, "True, False or 'auto'")


@dataclass(frozen=True)
class FaultParams:
    """Output loggers, failure detection and recovery (paper §6, §9.4; :mod:`snfkit.engine.faults_nb`).

    ol_hop_ns: from a unit finishing a packet to its output logger (OL) releasing it (the packet and
        its state delta cross to the OL, which applies the delta first). Default 0: the paper's
        latencies leave the OL out; a datacenter hop is some 5-50 us.
    units_per_ol: units that share one OL (unit slot u logs to OL u // units_per_ol).
    detect_ns: from a fail-stop failure to its detection (default 0, as the paper assumes).
    recovery: how a failed unit's state comes back: 'snf' (pulled from its OL), 'chc' (read from
        the external store, in-transit packets replayed) or 'ftmb' (the last checkpoint loaded and
        the packets since it replayed).
    recovery_launch: 'startup' (a recovery unit or OL takes ``unit_startup_ns``, the lifecycle) or
        'immediate' (as §9.4 assumes).
    recovery_fixed_ns, recovery_bandwidth_bps: a recovery transfer of b bytes takes
        ``recovery_fixed_ns + b * 8 / recovery_bandwidth_bps`` (chc: ``store_rtt_ns`` instead of the
        fixed part). Defaults 20 us and 10 Gbps.
    checkpoint_interval_ns: FTMB's checkpoint period (§9.4: 50 ms).
    controller_query_ns: a recovering controller queries each active unit in turn for its flows'
        clocks and mappings; arrivals wait meanwhile (default 10 us a unit).
    recovery_from_ol: True. False is fault injection for tests: a recovery unit bootstraps each
        flow from its latest replica instead of the OL, so NF output can go wrong.
    """

    ol_hop_ns: int = 0
    units_per_ol: int = 1
    detect_ns: int = 0
    recovery: str = "snf"
    recovery_launch: str = "startup"
    recovery_fixed_ns: int = 20_000
    recovery_bandwidth_bps: float = 10e9
    checkpoint_interval_ns: int = 50_000_000
    controller_query_ns: int = 10_000
    recovery_from_ol: bool = True

    def __post_init__(self) -> None:
        _check_time("ol_hop_ns", self.ol_hop_ns, 0)
        _check_int("units_per_ol", self.units_per_ol, 1, 1_000_000)
        _check_time("detect_ns", self.detect_ns, 0)
        _check_choice("recovery", self.recovery, RECOVERY_STRATEGIES)
        _check_choice("recovery_launch", self.recovery_launch, names(RecoveryLaunch))
        _check_time("recovery_fixed_ns", self.recovery_fixed_ns, 0)
        _check_float("recovery_bandwidth_bps", self.recovery_bandwidth_bps, 1.0, 1e15)
        _check_time("checkpoint_interval_ns", self.checkpoint_interval_ns, 1)
        _check_time("controller_query_ns", self.controller_query_ns, 0)
        if not isinstance(self.recovery_from_ol, bool):
            raise ParameterError("recovery_from_ol", self.recovery_from_ol, "True or False")


@dataclass(frozen=True)
class ControllerParams:
    """Many controllers and the resource manager (paper §7, §9.5), and the controller's decision rate
    (§9.7; its per-decision latency is ``decision_ns``). See docs/controllers.md.

    controllers: controllers that split the flows among them (each flow to one, by a seeded hash of
        its flow id, or by the table's ``ingress`` column); each runs the whole algorithm on its
        share. 1 (default): the single-controller replay.
    resource_manager: False (default): each controller starts and retires whole units of its own
        (the baseline of Fig 6). True: its units are leases of fractional capacity from a resource
        manager (RM) that packs every controller's leases onto shared units.
    rm_headroom: at each epoch a controller asks for last epoch's load x (1 + rm_headroom)
        (default 0.1: the room the 90 % prestart threshold leaves).
    rm_grain: epoch requests are rounded up to multiples of this many units (default 0.1).
    rm_increment: units asked for on demand, when every lease is above ``prestart_utilization``
        (default 1: a whole unit); a flowlet no lease has room for goes to the least loaded one.
    rm_rtt_ns: a lease request's round trip to the RM (default 100 us; the paper gives none). The
        RM keeps units ready, so a lease is usable after this.
    controller_rate: decisions a controller makes per second (each takes 1 / rate of its time, so
        new items arriving faster queue for it); 0 (default): no limit.
    """

    controllers: int = 1
    resource_manager: bool = False
    rm_headroom: float = 0.1
    rm_grain: float = 0.1
    rm_increment: float = 1.0
    rm_rtt_ns: int = 100_000
    controller_rate: float = 0.0

    def __post_init__(self) -> None:
        _check_int("controllers", self.controllers, 1, 1_000_000)
        if not isinstance(self.resource_manager, bool):
            raise ParameterError("resource_manager", self.resource_manager, "True or False")
        _check_float("rm_headroom", self.rm_headroom, 0.0, 100.0)
        _check_float("rm_grain", self.rm_grain, 0.001, 1.0)
        _check_float("rm_increment", self.rm_increment, 0.001, 1.0)
        _check_time("rm_rtt_ns", self.rm_rtt_ns, 0)
        if self.controller_rate != 0:
            _check_float("controller_rate", self.controller_rate, 1e-3, 1e12)

    def shares(self) -> tuple[int, int]:
        """(rm_increment, rm_grain) in the thousandths of a unit that leases are counted in."""
        return max(1, round(self.rm_increment * 1000)), max(1, round(self.rm_grain * 1000))


_GROUPS = {
    "flowlets": FlowletParams,
    "assignment": AssignmentParams,
    "units": UnitParams,
    "modes": ModeParams,
    "state": StateParams,
    "report": ReportParams,
    "faults": FaultParams,
    "controllers": ControllerParams,
}


@dataclass(frozen=True)
class ReplayParams:
    """All parameters of one replay, grouped by mechanism."""

    flowlets: FlowletParams = field(default_factory=FlowletParams)
    assignment: AssignmentParams = field(default_factory=AssignmentParams)
    units: UnitParams = field(default_factory=UnitParams)
    modes: ModeParams = field(default_factory=ModeParams)
    state: StateParams = field(default_factory=StateParams)
    report: ReportParams = field(default_factory=ReportParams)
    faults: FaultParams = field(default_factory=FaultParams)
    controllers: ControllerParams = field(default_factory=ControllerParams)

    def __post_init__(self) -> None:
        cells = self.units.max_units * self.assignment.load_buckets
        if cells > MAX_LOAD_CELLS:
            raise ParameterError(
                "max_units x load_buckets",
                f"{self.units.max_units} x {self.assignment.load_buckets}",
                f"at most {MAX_LOAD_CELLS:,} (each unit slot keeps a ring of load buckets)",
            )
        idle = self.units.unit_idle_ns
        if self.close_after_ns > idle:
            name = "flow_timeout_ns" if self.modes.mode in ("flow", "smart_flow") else "timeout_ns"
            raise ParameterError(name, self.close_after_ns, f"<= unit_idle_ns ({idle})")
        if self.controllers.resource_manager and self.modes.mode == "packet":
            raise ParameterError(
                "resource_manager", True, "False with mode 'packet' (leases are packed by load)"
            )
        if self.state.state_mode == "proactive" and self.units.max_units > MAX_UNITS_PROACTIVE:
            raise ParameterError(
                "max_units", self.units.max_units,
                f"<= {MAX_UNITS_PROACTIVE} with state_mode 'proactive'",
            )  # fmt: skip

    @classmethod
    def from_flat(cls, **values: Any) -> ReplayParams:
        """Build from flat keyword names (``timeout_ns=100_000, alpha=0.5, mode='flow'``)."""
        groups: dict[str, dict[str, Any]] = {g: {} for g in _GROUPS}
        owner = {f.name: g for g, c in _GROUPS.items() for f in fields(c)}
        for key, value in values.items():
            if key not in owner:
                raise ParameterError(key, value, "a known parameter: " + ", ".join(sorted(owner)))
            groups[owner[key]][key] = value
        return cls(**{g: _GROUPS[g](**kw) for g, kw in groups.items()})

    def flat(self) -> dict[str, Any]:
        """All parameters as one flat dict (the inverse of :meth:`from_flat`)."""
        out: dict[str, Any] = {}
        for g in _GROUPS:
            out.update(dataclasses.asdict(getattr(self, g)))
        return out

    def replace(self, **values: Any) -> ReplayParams:
        return ReplayParams.from_flat(**{**self.flat(), **values})

    @property
    def close_after_ns(self) -> int:
        if self.modes.mode in ("flow", "smart_flow"):
            return self.modes.flow_timeout_ns
        return self.flowlets.timeout_ns

    def kernel_settings(
        self, *, keep_src: bool = False, faults: bool = False, ol_faults: bool = False
    ) -> dict[str, Any]:
        """The values the kernel needs that are not parameters themselves, derived here and
        nowhere else (the plain-Python twin derives them from the paper's rules on its own):

        - ``close_after_ns``: an item is open until its flow has been idle this long; T
          (``timeout_ns``) in modes flowlet and packet, ``flow_timeout_ns`` in the flow modes.
        - ``push_after_ns``: a proactive push happens after ``replicate_after`` of that idle time
          (paper: T/2), at least 1 ns.
        - ``split_bytes``: the size threshold B in mode flowlet; 0 (no size rule) otherwise.
        - ``mask_words``: uint64 words of a bit mask over ``max_units`` unit slots.
        - ``push_ns``, ``pull_ns``: the time of one push copy and of one pull
          (:meth:`StateParams.transfer_times`).
        - ``drain_ps_per_byte``, ``drain_burst_ns``: the drain shaper
          (:meth:`UnitParams.drain_shaper`).
        - ``per_packet_ns``, ``per_byte_ps``: the kernel's fields hold the service costs
          (:meth:`UnitParams.service_costs`: the NF's cost added when ``nf_cost``).
        - ``keep_rows``: per-packet outputs, unless ``keep_packets`` is False;
          ``record_transfers``: a row per transfer, when ``keep_packets`` is True or with
          ``keep_src`` (each packet's state source, for an NF pass: the pushed packets).
        - ``rm``, ``rm_increment``, ``rm_grain``: ``resource_manager`` and the lease sizes in
          thousandths of a unit (:meth:`ControllerParams.shares`); ``decide_gap_ns``: the
          controller's time per decision, 1e9 / ``controller_rate`` (0: no limit).
        - ``faults``: failures are scheduled (the kernel keeps each unit's in-flight packets);
          ``ol_rows``: per-packet rows get the output logger's share and a lost flag where
          these can differ from ``ol_hop_ns`` and False: with failures of an OL (``ol_faults``:
          kinds ol, ol+controller, unit+ol). The packets table has both columns with any failure
          or an OL hop (:mod:`snfkit.runner.tables` fills them when the kernel does not).
        """
        close_after = self.close_after_ns
        keep = self.report.keep_packets is not False  # True or 'auto'
        push_ns, pull_ns = self.state.transfer_times()
        per_packet, per_byte = self.units.service_costs()
        drain_ps, drain_burst = self.units.drain_shaper()
        ctl = self.controllers
        increment, grain = ctl.shares()
        return {
            "rm": ctl.resource_manager,
            "rm_increment": increment,
            "rm_grain": grain,
            "decide_gap_ns": round(1e9 / ctl.controller_rate) if ctl.controller_rate else 0,
            "drain_ps_per_byte": drain_ps,
            "drain_burst_ns": drain_burst,
            "per_packet_ns": per_packet,
            "per_byte_ps": per_byte,
            "close_after_ns": close_after,
            "push_after_ns": max(1, int(self.state.replicate_after * close_after)),
            "split_bytes": self.flowlets.size_bytes if self.modes.mode == "flowlet" else 0,
            "mask_words": (self.units.max_units + 63) // 64,
            "record_transfers": self.report.keep_packets is True or keep_src,
            "keep_rows": keep,
            "keep_src": keep_src,
            "faults": faults,
            "ol_rows": keep and ol_faults,
            "push_ns": push_ns,
            "pull_ns": pull_ns,
        }

    def kernel_record(
        self, *, keep_src: bool = False, faults: bool = False, ol_faults: bool = False
    ) -> np.ndarray:
        """The parameters as the replay kernel takes them: a one-record array of
        :data:`~snfkit.engine.replay_nb.PARAMS_DTYPE`, whose fields are the flat parameter names
        (choices as their :mod:`snfkit.engine.enums` codes) and the values of
        :meth:`kernel_settings`."""
        settings = self.kernel_settings(keep_src=keep_src, faults=faults, ol_faults=ol_faults)
        values = {**self.flat(), **settings}
        rec = np.zeros(1, PARAMS_DTYPE)
        for name in PARAMS_DTYPE.names:
            v = values[name]
            rec[name] = code(ENUMS[name], v) if name in ENUMS else v
        return rec
