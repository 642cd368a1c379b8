"""Results of a replay: tidy polars tables and a summary dict; saved and loaded as parquet + JSON.

Tables (every time in integer ns on the trace's clock, rates in Gbps, sizes in bytes):

``packets`` (one row per packet, unless ``keep_packets=False``; with the default
``keep_packets='auto'`` the table is built from the kernel's columns on first access of
``Results.packets``): ``ts_ns`` arrival at the controller,
``flow_id``, ``wire_len``, ``unit`` (unit ID, i.e. slot; IDs are reused after retirement),
``item`` (flowlet id in flowlet mode; flow-assignment id in the flow modes; packet index in packet
mode), ``start_ns``, ``finish_ns``, ``latency_ns`` = finish - arrival = ``queue_ns`` +
``state_wait_ns`` + ``service_ns``, ``wait_cause`` (none / pull: reactive state pull from the previous
unit / store: external store read / replica: a proactive copy still in flight), ``reordered``
(finished before an earlier packet of its flow).

``flowlets`` (one row per assignment item): ``item``, ``flow_id``, ``unit``, ``unit_life`` (which
lifetime of that unit ID), ``open_ns`` (first packet), ``last_ns`` (last packet), ``end_ns`` (last
packet's finish), ``packets``, ``bytes``, ``reason`` (new_flow / timeout / size / packet),
``estimate_gbps`` (demand estimate at assignment), ``measured_gbps`` (the rate rule of
:func:`snfkit.engine.replay_nb.item_rate`), ``overflow`` (no unit had room), ``state_source``
(where the item's state came from: new_flow / same_unit / replica (a fresh copy that had arrived) /
replica_wait (in flight) / pull (from the previous unit) / store (external) / free (local mode);
see :mod:`snfkit.engine.state_nb`), ``moved`` (on another unit than the flow's previous item).

``epochs`` (one row per epoch of ``epoch_ns``, from the first packet): ``epoch``, ``start_ns``,
``offered_gbps`` (bytes arriving), ``processed_gbps`` (bytes whose service started in the epoch),
``mean_active_units`` (time-weighted), ``max_active_units``, ``provisioned_gbps`` (mean active units x
unit capacity), ``overprovision_gbps`` (provisioned - offered).

``epoch_units`` (one row per epoch and unit ID active in it): ``epoch``, ``unit``, ``active_ns``,
``packets``, ``bytes``, ``busy_ns``, ``utilization`` (offered bytes / (capacity x active time); above
1 means the plan was exceeded), ``busy_fraction`` (service time / active time).

``units`` (one row per unit lifetime): ``unit``, ``unit_life``, ``start_ns``, ``ready_ns``,
``retire_ns``, ``packets``, ``bytes``, ``busy_ns``, ``cal_full`` (packets booked after the last busy
interval because the unit's calendar of 16 intervals was full; the idle gap before each is booked
busy, see docs/model.md), ``failed`` (the lifetime ended in a failure; its unreleased packets are
counted on the recovery unit), ``lifetime_ns``.

With failures or an output-logger hop (``ol_hop_ns``), the ``packets`` table has two more columns:
``ol_ns`` (release - finish: the hop to the output logger, and the wait for a failed one to come
back; latency = queue + state wait + service + ol) and ``lost`` (lost with its unit and that unit's
OL: its other columns are where it was when lost). A packet its failed unit had not got released
is processed again on the recovery unit: its row is that second processing, with wait cause
``recovery``.

``failures`` (one row per failure given to :func:`snfkit.replay`; :mod:`snfkit.faults`):
``time_ns`` (on the trace's clock), ``kind``, ``target`` (as given; -1: drawn), ``unit`` (the unit,
or for OL kinds the OL index, that failed; -1 none was active), ``recovery_unit``, ``strategy``,
``recovery_us`` (until a unit holds up-to-date state for every affected flow; for OL failures until
the recovery OL has its state, for the controller until it dispatches again), ``flows_affected``,
``state_bytes_moved``, ``packets_replayed`` (processed or sent to the OL again), ``packets_lost``,
``flows_lost`` and ``bytes_lost`` (``unit+ol`` only).

``transfers`` (one row per state transfer, when ``keep_packets=True``; the summary has the sums):
``time_ns`` (sent), ``arrive_ns``, ``flow_id``,
``from_unit`` (-1: the store), ``to_unit``, ``bytes``, ``kind`` (push: one proactive copy / pull /
store_read), ``clock`` (the flow's logical clock carried), ``packet`` (global index of the packet
whose post-state moved).

``nf_output`` (with an NF; one row per packet, in trace order): ``action`` (0 forward, 1 drop),
``out0``, ``out1`` (the NF's outputs, see its docs), ``delta`` (state bytes changed).

With many controllers (``controllers`` > 1 or ``resource_manager``; :mod:`snfkit.runner.many`),
``packets``, ``flowlets``, ``units``, ``epoch_units`` and ``transfers`` get a ``controller`` column
(``unit`` is that controller's unit ID, ``item`` numbers run on across controllers), and three more
tables: ``controller_epochs`` (one row per controller and epoch: ``offered_gbps``, ``mean_units``
(units or leases held, time-weighted), ``provisioned_gbps`` (their capacity; a lease counts its
share), ``overprovision_gbps`` = provisioned - offered: the paper's Fig 6), and under a resource
manager ``leases`` (one row per lease: ``controller``, ``unit``, ``unit_life``, ``share`` in
thousandths of a unit, ``start_ns`` (asked for), ``ready_ns`` (granted), ``retire_ns`` (given
back), ``rm_unit``: the resource manager's unit that held it) and ``rm_units`` (one row per
lifetime of a resource manager's unit: ``rm_unit``, ``start_ns``, ``ready_ns``, ``retire_ns``,
``peak_share``, ``leases``, ``lifetime_ns``). ``epoch_units`` has ``leased_ns`` (active time x
share / 1000 is the unit-time a lease holds).

``summary``: see :data:`SUMMARY_KEYS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import polars as pl

TABLES = (
    "packets",
    "flowlets",
    "epochs",
    "epoch_units",
    "units",
    "transfers",
    "nf_output",
    "failures",
    "controller_epochs",
    "leases",
    "rm_units",
)

SUMMARY_KEYS = {
    "mode": "allocation mode",
    "packets_in": "packets in the trace",
    "packets_served": "packets the replay kernel served on a unit (counted by the kernel itself)",
    "packets_processed": "packets served and not dropped by the NF (packets_served - packets_dropped)",
    "packets_dropped": "packets the NF dropped (0 without an NF)",
    "latency_us": "latency percentiles p1, p25, p50, p75, p99, p99.9 in microseconds",
    "latency_mean_us": "mean latency in microseconds",
    "latency_max_us": "maximum latency in microseconds",
    "latency_exact": "True when percentiles come from every packet, False from the log histogram",
    "mean_active_units": "time-weighted mean of active units over the trace's duration",
    "max_active_units": "most units active at once",
    "unit_seconds": "sum of unit lifetimes in seconds (what a provider runs)",
    "allocations": "assignment decisions (flowlets, flows or packets)",
    "moves": "smart_flow reallocations",
    "opportunities": "allocations + moves",
    "overflow": "assignments with no unit that had room",
    "prestarts": "units started ahead of need",
    "state_pulls": "reactive state pulls",
    "reordered": "packets that finished before an earlier packet of their flow",
    "duration_s": "trace duration (last - first arrival) in seconds",
    "offered_gbps": "mean offered load in Gbps",
    "state_mode": "proactive, reactive, external or local",
    "state_sources": "items by state source (see the flowlets table)",
    "moved_flowlets": "items on another unit than their flow's previous item",
    "seamless_share": "share of moved items that ran at once (a fresh, arrived replica, or local mode)",
    "seamless_by_reason": "moved items opened by the timeout and by the size threshold: moved, "
    "seamless and their share (None when none moved)",
    "moved_sources": "moved items by state source (sources with none left out)",
    "waits": "per wait cause (pull, store, replica): packets that waited, total and mean wait in us",
    "pushes": "proactive pushes (each to up to K units)",
    "replica_copies": "copies sent by the pushes",
    "stale_copies": "item starts that found a copy with an old clock (and pulled instead)",
    "stale_state_used": "item starts that used a copy older than the flow's latest state "
    "(0 unless clock_check is off: fault injection)",
    "store_reads": "external store reads",
    "store_writes": "external store writes (one per processed packet)",
    "state_bytes": "bytes of one flow's state on the wire",
    "replication_mbps": "proactive push traffic over the trace's duration in Mbps",
    "nf": "with an NF: name, state_width, state_bytes, dropped, state_delta_bytes",
    "failures": "failures applied (see the failures table)",
    "recovery_us": "recovery times of the failures: p50 and max in microseconds (None without)",
    "packets_lost": "packets lost with a unit and its OL (unit+ol failures); in = served + lost",
    "rm_epoch_leases": "leases a controller asked its resource manager for at epoch starts "
    "(resource_manager=True; on-demand leases count as overflow and prestarts)",
    "rm_leases_returned": "idle leases given back at epoch starts (resource_manager=True)",
    "controller": "the controller's decisions; with a controller_rate its utilization (decision "
    "time / duration), the items that queued for it and their mean wait in us",
    "controllers": "controllers the flows were split among (many-controller replays only)",
    "resource_manager": "whether units were leased from a resource manager (many-controller replays)",
    "controller_overprovision_gbps": "per controller and epoch, provisioned - offered capacity: mean "
    "and p95 "
    "(many-controller replays; the paper's Fig 6)",
    "leased_unit_seconds": "under a resource manager: the leases' unit-seconds (share x time)",
    "rm_units": "under a resource manager: lifetimes of its units",
    "rm_late_grants": "under a resource manager: leases granted on a unit still starting (taken as "
    "usable after the round trip; their first packets are optimistic by up to the start-up)",
    "ol_mbps": "traffic to the output loggers: every packet and its state delta (the NF's delta "
    "bytes, else state_bytes a packet), in Mbps over the trace's duration",
}


class LazyTable:
    """A table not built yet: ``build()`` makes it (once; :class:`Results` keeps what it made).
    ``then(fn)`` is the table ``fn(table)`` would be, still not built."""

    def __init__(self, build: Callable[[], pl.DataFrame]) -> None:
        self._build = build

    def build(self) -> pl.DataFrame:
        return self._build()

    def then(self, fn: Callable[[pl.DataFrame], pl.DataFrame]) -> LazyTable:
        build = self._build
        return LazyTable(lambda: fn(build()))


@dataclass
class Results:
    """The outcome of :func:`snfkit.replay`. Tables are polars DataFrames (see module docs);
    ``packets`` and ``flowlets`` may be given as a :class:`LazyTable`, built on first access."""

    summary: dict[str, Any]
    params: dict[str, Any]
    packets: pl.DataFrame | None
    flowlets: pl.DataFrame
    epochs: pl.DataFrame
    epoch_units: pl.DataFrame
    units: pl.DataFrame
    transfers: pl.DataFrame | None = None
    nf_output: pl.DataFrame | None = None
    failures: pl.DataFrame | None = None
    controller_epochs: pl.DataFrame | None = None
    leases: pl.DataFrame | None = None
    rm_units: pl.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, Any]:
        """For pickling (and copying): the tables not built yet are built (their builders are
        closures over the kernel's columns)."""
        return {k: v.build() if isinstance(v, LazyTable) else v for k, v in self.__dict__.items()}

    def map_packets(self, fn: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
        """Replace the packets table by ``fn(packets)``: now if it is built, else when it is (no
        table: nothing to do)."""
        self.map_table("packets", fn)

    def map_table(self, name: str, fn: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
        """Replace table ``name`` (``packets`` or ``flowlets``) by ``fn(table)``, keeping it
        unbuilt if it is."""
        key = "_" + name
        table = self.__dict__[key]
        if isinstance(table, LazyTable):
            self.__dict__[key] = table.then(fn)
        elif table is not None:
            self.__dict__[key] = fn(table)

    def save(self, directory: str | PathLike[str]) -> Path:
        """Write ``summary.json`` (summary + params) and one parquet file per table."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            table = getattr(self, name)
            if table is not None:
                table.write_parquet(out / f"{name}.parquet")
        (out / "summary.json").write_text(
            json.dumps({"summary": self.summary, "params": self.params}, indent=2) + "\n"
        )
        return out

    @classmethod
    def load(cls, directory: str | PathLike[str]) -> Results:
        src = Path(directory)
        meta = json.loads((src / "summary.json").read_text())
        tables = {}
        for name in TABLES:
            path = src / f"{name}.parquet"
            tables[name] = pl.read_parquet(path) if path.exists() else None
        return cls(summary=meta["summary"], params=meta["params"], **tables)

    def __repr__(self) -> str:
        s = self.summary
        lat = s.get("latency_us", {})
        return (
            f"Results(mode={s.get('mode')!r}, packets={s.get('packets_in')}, "
            f"p50={lat.get('p50')} us, p99={lat.get('p99')} us, "
            f"mean_units={s.get('mean_active_units'):.2f}, allocations={s.get('allocations')})"
        )


def _lazy_table(name: str, doc: str) -> property:
    """A table attribute that may hold a :class:`LazyTable`, built when first read."""
    key = "_" + name

    def get(self: Results) -> pl.DataFrame | None:
        table = self.__dict__[key]
        if isinstance(table, LazyTable):
            table = self.__dict__[key] = table.build()
        return table

    def set(self: Results, table: pl.DataFrame | LazyTable | None) -> None:
        self.__dict__[key] = table

    return property(get, set, doc=doc)


Results.packets = _lazy_table(  # type: ignore[assignment]
    "packets",
    "One row per packet (see the module docs); None with keep_packets=False. With "
    "keep_packets='auto' it is built from the kernel's columns on first access.",
)
Results.flowlets = _lazy_table(  # type: ignore[assignment]
    "flowlets",
    "One row per item (see the module docs), built from the kernel's columns on first access.",
)
