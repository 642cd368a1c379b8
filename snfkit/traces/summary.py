"""What a trace looks like, in numbers: size, rate, packet and flow sizes, flowlets, protocols.

:func:`trace_summary` returns a JSON-ready dict (the CLI's ``snfkit info --json`` prints it);
:func:`summary_table` flattens it into a two-column polars table for printing and saving.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from snfkit.errors import ParameterError

QUANTILES = (1, 25, 50, 75, 99)
"""Percentiles reported for packet and flow sizes (numpy's default ``linear`` interpolation)."""

PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 58: "icmpv6", 132: "sctp"}
"""IP protocol numbers with a name in the protocol mix; others appear as ``proto_<number>``."""


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    if values.shape[0] == 0:
        return {f"p{q}": None for q in QUANTILES}
    qs = np.percentile(values.astype(np.float64), QUANTILES)
    return {f"p{q}": float(v) for q, v in zip(QUANTILES, qs, strict=True)}


def _timeout_label(timeout_ns: int) -> str:
    return f"{timeout_ns / 1000:g}us"


def trace_summary(
    packets: pl.DataFrame,
    timeouts_ns: Sequence[int] = (100_000, 500_000),
    size_bytes: int = 15_000,
) -> dict:
    """Summarize a packets table (schema: :mod:`snfkit.traces.schema`).

    Returns a dict (every value an int, float, None, str, list or dict, so ``json.dumps`` works):

    - ``packets``, ``flows`` (distinct 5-tuples, one direction), ``bytes`` (sum of ``wire_len``);
    - ``duration_s``: last minus first ``ts_ns``, in seconds (0.0 for fewer than two packets);
    - ``rate_pps`` and ``rate_gbps``: packets and wire bits per second over ``duration_s``
      (``packets / duration_s``, ``8 * bytes / duration_s / 1e9``); None when the duration is 0;
    - ``packet_size_bytes``: percentiles ``p1, p25, p50, p75, p99`` of ``wire_len``;
    - ``flow_size_packets`` and ``flow_size_bytes``: the same percentiles over flows;
    - ``flowlets``: one entry per timeout T in ``timeouts_ns`` (in the given order), each
      ``{"timeout_ns", "size_bytes", "flowlets", "per_flow", "new_flow", "timeout", "size"}``:
      the number of flowlets under :func:`snfkit.engine.flowlets_nb.detect_flowlets_nb` with
      inactivity timeout T and size threshold ``size_bytes`` (<= 0: no size rule), flowlets per
      flow (the paper's "allocation opportunities" ratio of flowlets to flows) and the count of
      flowlets by the reason they opened;
    - ``protocols``: flows per IP protocol, keyed by name (``tcp``, ``udp``, ``icmp``, ... or
      ``proto_<n>``), most flows first.

    Percentiles use numpy's default (``linear``) interpolation; they are None for an empty trace.
    Raises :class:`~snfkit.errors.SchemaError` for a table that does not follow the schema and
    :class:`~snfkit.errors.ParameterError` for a negative timeout.
    """
    from snfkit.engine.flowlets_nb import REASON_NAMES, detect_flowlets_nb
    from snfkit.traces.table import validate_packets

    timeouts = [int(t) for t in timeouts_ns]
    for t in timeouts:
        if t < 0:
            raise ParameterError("timeouts_ns", t, "timeouts >= 0 nanoseconds")
    packets = validate_packets(packets, "packets")

    ts = packets["ts_ns"].to_numpy()
    flow = packets["flow_id"].to_numpy()
    wire = packets["wire_len"].to_numpy()
    n = int(ts.shape[0])
    n_flows = int(flow.max()) + 1 if n else 0
    total_bytes = int(wire.sum(dtype=np.int64))
    duration_ns = int(ts[-1] - ts[0]) if n else 0
    duration_s = duration_ns / 1e9

    flow_pkts = np.bincount(flow, minlength=n_flows)
    flow_bytes = np.bincount(flow, weights=wire, minlength=n_flows).astype(np.int64)

    flowlets = []
    for t in timeouts:
        _, fl_flow, _, fl_reason = detect_flowlets_nb(ts, flow, wire, t, size_bytes)
        by_reason = np.bincount(fl_reason.astype(np.int64), minlength=len(REASON_NAMES))
        entry = {
            "timeout_ns": t,
            "size_bytes": int(size_bytes),
            "flowlets": int(fl_flow.shape[0]),
            "per_flow": fl_flow.shape[0] / n_flows if n_flows else None,
        }
        entry.update({name: int(c) for name, c in zip(REASON_NAMES, by_reason, strict=True)})
        flowlets.append(entry)

    protocols: dict[str, int] = {}
    if n:
        first_row = np.unique(flow, return_index=True)[1]
        protos, counts = np.unique(packets["proto"].to_numpy()[first_row], return_counts=True)
        for i in np.lexsort((protos, -counts)):
            p = int(protos[i])
            protocols[PROTO_NAMES.get(p, f"proto_{p}")] = int(counts[i])

    return {
        "packets": n,
        "flows": n_flows,
        "bytes": total_bytes,
        "duration_s": duration_s,
        "rate_pps": n / duration_s if duration_ns else None,
        "rate_gbps": 8 * total_bytes / duration_ns if duration_ns else None,
        "packet_size_bytes": _quantiles(wire),
        "flow_size_packets": _quantiles(flow_pkts),
        "flow_size_bytes": _quantiles(flow_bytes),
        "flowlets": flowlets,
        "protocols": protocols,
    }


def summary_table(d: dict) -> pl.DataFrame:
    """Flatten a :func:`trace_summary` dict into a table with columns ``metric`` (String) and
    ``value`` (Float64; null where the summary has None).

    Nested keys are joined with ``.``; each flowlet entry becomes ``flowlets@<T>us.<field>``
    (e.g. ``flowlets@500us.flowlets``, ``flowlets@500us.timeout``); the protocol mix becomes
    ``protocols.<name>`` (flows). Rows keep the summary's order.
    """
    rows: list[tuple[str, float | None]] = []

    def add(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                add(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list):
            for entry in value:
                label = f"{prefix}@{_timeout_label(entry['timeout_ns'])}"
                add(label, {k: v for k, v in entry.items() if k != "timeout_ns"})
        else:
            rows.append((prefix, None if value is None else float(value)))

    add("", d)
    return pl.DataFrame(
        {"metric": [r[0] for r in rows], "value": [r[1] for r in rows]},
        schema={"metric": pl.String(), "value": pl.Float64()},
    )


__all__ = ["PROTO_NAMES", "QUANTILES", "summary_table", "trace_summary"]
