"""The paper's claims, each beside what a trace gives: the rows of docs/REPRODUCTION.md and
``claims.csv``.

:data:`CLAIMS` is the list of claims (SoCC '20, §9): a stable key, what is claimed, the paper's
number as text and as a value (the headline number a ratio is taken against; None where the paper
states a direction only), and the direction the paper states. :func:`claims_table` measures each
on the runs of a :class:`~snfkit.figures.FigureData`:

- ``measured``: text with units and the detail behind the headline number;
- ``measured_value``: the headline number, in the unit of ``paper_value``;
- ``agrees``: whether the measured numbers show the direction the paper states (None where it
  states none, e.g. an absolute latency, and where the trace shows no effect either way: the
  numbers compared are equal, e.g. the same tail at alpha 0 and 0.75 on a trace where no flowlet
  moves);
- ``ratio``: ``measured_value / paper_value`` where both exist (a factor of 2 either way is
  "within 2x").

A claim whose runs are not in the figure data (a reduced grid without the point it needs) is left
out; one the trace cannot show (e.g. no flowlet moved) has ``measured`` "-" and null numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from snfkit.results import Results


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: ``key``, ``claim`` (what is claimed), ``paper`` (its number as
    text), ``paper_value`` (the headline number, or None), ``direction`` (the comparison the
    paper states, in words; "" when none), ``where`` (the section or figure)."""

    key: str
    claim: str
    paper: str
    paper_value: float | None
    direction: str
    where: str


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "opportunities",
        "allocation opportunities, flowlets / flows",
        "3.36x",
        3.36,
        "flowlets give more opportunities than flows",
        "§9.1",
    ),
    Claim(
        "opportunities_T100",
        "allocation opportunities at T = 100 us, over flows",
        "5.18x",
        5.18,
        "more than flows, and more than at T = 500 us",
        "§9.6",
    ),
    Claim(
        "opportunities_T500",
        "allocation opportunities at T = 500 us, over flows",
        "4.66x",
        4.66,
        "more than flows",
        "§9.6",
    ),
    Claim(
        "p75_flow",
        "p75 latency, vanilla flow over flowlet",
        "19.6K x (275.4 ms vs ~14 us)",
        19_600.0,
        "flow mode slower than flowlets",
        "§9.1, Fig 2",
    ),
    Claim(
        "p75_smart100",
        "p75 latency, smart flow (100 ms) over flowlet",
        "4.6K x (64.5 ms)",
        4_600.0,
        "smart flow slower than flowlets",
        "§9.1, Fig 2",
    ),
    Claim(
        "p75_smart50",
        "p75 latency, smart flow (50 ms) over flowlet",
        "2.9K x (41.1 ms)",
        2_900.0,
        "slower than flowlets, faster than smart flow (100 ms)",
        "§9.1, Fig 2",
    ),
    Claim(
        "p75_flow_measured",
        "p75 latency, vanilla flow over flowlet, paper's measured load estimator",
        "19.6K x",
        19_600.0,
        "flow mode slower than flowlets",
        "§9.1, §8",
    ),
    Claim(
        "p75_smart100_measured",
        "p75 latency, smart flow (100 ms) over flowlet, measured estimator",
        "4.6K x",
        4_600.0,
        "smart flow slower than flowlets",
        "§9.1, §8",
    ),
    Claim("flowlet_p50", "flowlet mode p50 latency (NAT)", "5 us", 5.0, "", "§9.1"),
    Claim(
        "flowlet_p99",
        "flowlet mode p99 latency (NAT)",
        "2.8 ms",
        2_800.0,
        "far above the median (micro-bursts)",
        "§9.1",
    ),
    Claim("nat_p50_external", "NAT p50 latency, external store", "0.67 us", 0.67, "", "Fig 4"),
    Claim("nat_p50_reactive", "NAT p50 latency, reactive", "0.61 us", 0.61, "", "Fig 4"),
    Claim(
        "nat_p50_proactive",
        "NAT p50 latency, proactive",
        "0.44 us",
        0.44,
        "no higher than reactive and external",
        "Fig 4",
    ),
    Claim(
        "nat_p99_external",
        "NAT p99 latency, external store",
        "168.18 us",
        168.18,
        "above reactive",
        "Fig 4",
    ),
    Claim(
        "nat_p99_reactive",
        "NAT p99 latency, reactive",
        "132.74 us",
        132.74,
        "above proactive",
        "Fig 4",
    ),
    Claim(
        "nat_p99_proactive",
        "NAT p99 latency, proactive",
        "11.01 us",
        11.01,
        "the lowest of the three",
        "Fig 4",
    ),
    Claim(
        "seamless",
        "moved flowlets that ran seamlessly (proactive, K = 3, mean over NFs)",
        "90.43 %",
        90.43,
        "most moved flowlets run at once",
        "§9.2",
    ),
    Claim(
        "seamless_reason",
        "seamless share of moved flowlets opened by the timeout / by the size threshold (NAT)",
        "replication cannot help size splits",
        None,
        "after a gap above after a size split",
        "§5.2",
    ),
    Claim(
        "replication",
        "replication traffic at K = 3, pushes after T/2 = 250 us idle (NAT)",
        "3.62 Mbps (LB 4.13, IDS 3.12, whitelist 2.9, QoS 4.8)",
        3.62,
        "",
        "§9.7",
    ),
    Claim(
        "replication_periodic",
        "replication traffic at K = 3 read as a push every 250 us by every active flow (NAT)",
        "3.62 Mbps",
        3.62,
        "",
        "§9.7",
    ),
    Claim(
        "adversarial_100",
        "p99 with bursts in 1 in 100 flows, timeout + size (timeout alone)",
        "504.4 us (677.9 us)",
        504.4,
        "lower than with the timeout alone",
        "§9.3, Fig 5",
    ),
    Claim(
        "adversarial_50",
        "p99 with bursts in 1 in 50 flows, timeout + size (timeout alone)",
        "702.4 us (1.5 ms)",
        702.4,
        "lower than with the timeout alone",
        "§9.3, Fig 5",
    ),
    Claim(
        "adversarial_10",
        "p99 with bursts in 1 in 10 flows, timeout + size (timeout alone)",
        "756.2 us (5.2 ms)",
        756.2,
        "lower than with the timeout alone",
        "§9.3, Fig 5",
    ),
    Claim(
        "adversarial_10_timeout",
        "p99 with bursts in 1 in 10 flows, timeout alone",
        "5.2 ms",
        5_200.0,
        "above timeout + size",
        "§9.3, Fig 5",
    ),
    Claim(
        "alpha",
        "p99 at K = 3, alpha 0 over alpha 0.75 (500-Mbps units, <= 15)",
        "15.7x (107 -> 6.8 us)",
        107 / 6.8,
        "alpha lowers the tail",
        "§9.6, Fig 7",
    ),
    Claim(
        "alpha_K",
        "p99 at alpha = 0.75, K 9 over K 3",
        "2.24x (6.8 -> 15.2 us)",
        15.2 / 6.8,
        "more replicas raise the tail",
        "§9.6, Fig 7",
    ),
    Claim(
        "size",
        "B 1.5 KB -> 120 KB: p99 latency, mean units",
        "latency falls, units rise",
        None,
        "latency falls and units rise as B grows",
        "§9.6, Fig 8",
    ),
    Claim(
        "recovery_snf",
        "recovery time of a failed NAT unit at 50 % load, SNF (launched at once)",
        "0.14 ms",
        140.0,
        "SNF recovers faster than CHC, and CHC faster than FTMB",
        "§9.4",
    ),
    Claim(
        "recovery_chc",
        "recovery time of a failed NAT unit, CHC",
        "3.2 ms",
        3_200.0,
        "CHC recovers faster than FTMB",
        "§9.4",
    ),
    Claim(
        "recovery_ftmb",
        "recovery time of a failed NAT unit, FTMB (50 ms checkpoints)",
        "25.7 ms",
        25_700.0,
        "FTMB recovers slowest",
        "§9.4",
    ),
    Claim(
        "controllers_rm",
        "10 controllers at 93.5 Gbps: over-provisioning per controller-epoch, resource manager vs "
        "independent (mean, Gbps)",
        "minimal with the RM",
        None,
        "the RM over-provisions less than independent controllers",
        "§9.5, Fig 6",
    ),
)
"""Every claim :func:`claims_table` measures, in table order."""

NFS = ("nat", "lb", "ids", "whitelist", "qos")
STATE_MODES = ("external", "reactive", "proactive")


def _p(res: Results, q: str) -> float:
    return float(res.summary["latency_us"][q])


def _us(v: float) -> str:
    return f"{v:,.1f} us" if v >= 10 else f"{v:,.2f} us"


Measure = tuple[str, float | None, bool | None]
"""(measured text, headline value, direction agrees)."""


def _shown(agrees: bool, *pairs: tuple[float, float]) -> bool | None:
    """``agrees``, or None when every compared pair is equal: the trace shows no effect either
    way (e.g. a trace where no flowlet ever moves has the same tail whatever alpha is)."""
    return None if all(a == b for a, b in pairs) else agrees


def _ratio_runs(runs: dict, label: str, base: str = "flowlet") -> float:
    b = _p(runs[base], "p75")
    return _p(runs[label], "p75") / b if b else float("inf")


def _measures(fd: Any) -> dict[str, Callable[[], Measure | None]]:
    """Per claim key, a function measuring it on ``fd``'s runs (None: runs missing)."""
    runs = fd.runs
    comp, comp_m = runs.get("compute", {}), runs.get("compute_measured", {})
    opp, st = runs.get("opportunities", {}), runs.get("state", {})
    adv, ka, sz = runs.get("adversarial", {}), runs.get("k_alpha", {}), runs.get("size", {})
    nat = {sm: r for (nf, sm), r in st.items() if nf == "nat"}
    pro = {nf: r for (nf, sm), r in st.items() if sm == "proactive"}

    def opportunities() -> Measure | None:
        if not comp:
            return None
        fl, fo = comp["flowlet"].summary["opportunities"], comp["flow"].summary["opportunities"]
        r = fl / max(fo, 1)
        return f"{r:.2f}x ({fl:,} / {fo:,})", r, r > 1

    def opp_t(t_us: int) -> Callable[[], Measure | None]:
        def measure() -> Measure | None:
            key = f"flowlet T={t_us} us"
            if key not in opp or "flow" not in opp:
                return None
            fo = max(opp["flow"].summary["opportunities"], 1)
            r = opp[key].summary["opportunities"] / fo
            agrees = r > 1
            if t_us == 100 and "flowlet T=500 us" in opp:
                agrees = agrees and r > opp["flowlet T=500 us"].summary["opportunities"] / fo
            return f"{r:.2f}x", r, agrees

        return measure

    def p75(label: str, rs: dict, slower_than: str | None = None):
        def measure() -> Measure | None:
            if label not in rs:
                return None
            r = _ratio_runs(rs, label)
            agrees = _shown(r > 1, (r, 1.0))
            if slower_than is not None and agrees is not None:
                agrees = agrees and r <= _ratio_runs(rs, slower_than)
            return (
                f"{r:.3g}x ({_us(_p(rs[label], 'p75'))} vs {_us(_p(rs['flowlet'], 'p75'))})",
                r,
                agrees,
            )

        return measure

    def flowlet(q: str) -> Callable[[], Measure | None]:
        def measure() -> Measure | None:
            if not comp:
                return None
            v = _p(comp["flowlet"], q)
            agrees = None if q == "p50" else v > 10 * _p(comp["flowlet"], "p50")
            return _us(v), v, agrees

        return measure

    def nat_q(q: str, mode: str) -> Callable[[], Measure | None]:
        def measure() -> Measure | None:
            if mode not in nat:
                return None
            v = _p(nat[mode], q)
            agrees: bool | None = None
            if q == "p50" and mode == "proactive" and {"reactive", "external"} <= set(nat):
                agrees = v <= _p(nat["reactive"], q) and v <= _p(nat["external"], q)
            elif q == "p99" and mode == "external" and "reactive" in nat:
                r = _p(nat["reactive"], q)
                agrees = _shown(v > r, (v, r))
            elif q == "p99" and mode == "reactive" and "proactive" in nat:
                p = _p(nat["proactive"], q)
                agrees = _shown(v > p, (v, p))
            elif q == "p99" and mode == "proactive" and {"reactive", "external"} <= set(nat):
                r, e = _p(nat["reactive"], q), _p(nat["external"], q)
                agrees = _shown(v < r and v < e, (v, r))
            return _us(v), v, agrees

        return measure

    def seamless() -> Measure | None:
        shares = {nf: r.summary.get("seamless_share") for nf, r in pro.items()}
        shares = {nf: v for nf, v in shares.items() if isinstance(v, int | float)}
        if not pro:
            return None
        if not shares:
            return "-", None, None
        mean = 100 * sum(shares.values()) / len(shares)
        each = ", ".join(f"{nf} {100 * v:.1f}" for nf, v in shares.items())
        return f"{mean:.1f} % ({each})", mean, mean > 50

    def seamless_reason() -> Measure | None:
        if "nat" not in pro:
            return None
        by = pro["nat"].summary.get("seamless_by_reason") or {}
        t, s = (by.get(k, {}).get("share") for k in ("timeout", "size"))
        if t is None or s is None:
            return "-", None, None
        moved = by["timeout"]["moved"], by["size"]["moved"]
        text = f"{100 * t:.1f} % / {100 * s:.1f} % (of {moved[0]:,} / {moved[1]:,} moved)"
        return text, None, t > s

    def replication() -> Measure | None:
        mbps = {nf: r.summary.get("replication_mbps") for nf, r in pro.items()}
        if "nat" not in mbps or mbps["nat"] is None:
            return None
        each = ", ".join(f"{nf} {v:.2f}" for nf, v in mbps.items() if nf != "nat")
        return f"{mbps['nat']:.2f} Mbps" + (f" ({each})" if each else ""), mbps["nat"], None

    def replication_periodic() -> Measure | None:
        v = runs.get("diagnostics", {}).get("replication_periodic_mbps")
        if v is None:
            return None
        return f"{v:.2f} Mbps", float(v), None

    def adversarial(n: int, timeout_only: bool = False):
        def measure() -> Measure | None:
            if (n, "timeout") not in adv or (n, "timeout + size") not in adv:
                return None
            to, both = _p(adv[(n, "timeout")], "p99"), _p(adv[(n, "timeout + size")], "p99")
            if timeout_only:
                return _us(to), to, _shown(to > both, (to, both))
            return f"{_us(both)} ({_us(to)})", both, _shown(both < to, (both, to))

        return measure

    def alpha() -> Measure | None:
        if (3, 0.0) not in ka or (3, 0.75) not in ka:
            return None
        a, b = _p(ka[(3, 0.0)], "p99"), _p(ka[(3, 0.75)], "p99")
        return f"{a / b:.3g}x ({_us(a)} -> {_us(b)})", a / b, _shown(b < a, (a, b))

    def alpha_k() -> Measure | None:
        if (3, 0.75) not in ka or (9, 0.75) not in ka:
            return None
        a, b = _p(ka[(3, 0.75)], "p99"), _p(ka[(9, 0.75)], "p99")
        return f"{b / a:.3g}x ({_us(a)} -> {_us(b)})", b / a, _shown(b > a, (a, b))

    def size() -> Measure | None:
        if len(sz) < 2:
            return None
        bs = sorted(sz)
        lo, hi = sz[bs[0]], sz[bs[-1]]
        u0, u1 = lo.summary["mean_active_units"], hi.summary["mean_active_units"]
        text = (
            f"B {bs[0] / 1000:g} -> {bs[-1] / 1000:g} KB: p99 {_us(_p(lo, 'p99'))} -> "
            f"{_us(_p(hi, 'p99'))}, units {u0:.2f} -> {u1:.2f}"
        )
        p0, p1 = _p(lo, "p99"), _p(hi, "p99")
        return text, None, _shown(p1 < p0 and u1 > u0, (p0, p1), (u0, u1))

    ft = runs.get("faults", {})
    ctl = runs.get("controllers", {})

    def controllers() -> Measure | None:
        if "independent" not in ctl or "resource_manager" not in ctl:
            return None
        key = "controller_overprovision_gbps"
        ind, rm = ctl["independent"].summary[key], ctl["resource_manager"].summary[key]
        text = (
            f"RM {rm['mean']:.3g} (p95 {rm['p95']:.3g}) vs independent {ind['mean']:.3g} "
            f"(p95 {ind['p95']:.3g}); {ctl['resource_manager'].summary['controllers']} controllers"
        )
        return text, None, _shown(rm["mean"] < ind["mean"], (rm["mean"], ind["mean"]))

    def recovery(strategy: str) -> Callable[[], Measure | None]:
        order = ("snf", "chc", "ftmb")

        def measure() -> Measure | None:
            if strategy not in ft:
                return None
            rec = {k: float(r.failures["recovery_us"][0]) for k, r in ft.items()}
            v = rec[strategy]
            i = order.index(strategy)
            faster = [rec[k] for k in order[i + 1 :] if k in rec]
            slower = [rec[k] for k in order[:i] if k in rec]
            agrees = all(v < x for x in faster) and all(v > x for x in slower)
            return f"{v / 1e3:.3g} ms", v, agrees

        return measure

    return {
        "controllers_rm": controllers,
        "recovery_snf": recovery("snf"),
        "recovery_chc": recovery("chc"),
        "recovery_ftmb": recovery("ftmb"),
        "opportunities": opportunities,
        "opportunities_T100": opp_t(100),
        "opportunities_T500": opp_t(500),
        "p75_flow": p75("flow", comp),
        "p75_smart100": p75("smart_flow (100 ms)", comp),
        "p75_smart50": p75("smart_flow (50 ms)", comp, slower_than="smart_flow (100 ms)"),
        "p75_flow_measured": p75("flow", comp_m),
        "p75_smart100_measured": p75("smart_flow (100 ms)", comp_m),
        "flowlet_p50": flowlet("p50"),
        "flowlet_p99": flowlet("p99"),
        "nat_p50_external": nat_q("p50", "external"),
        "nat_p50_reactive": nat_q("p50", "reactive"),
        "nat_p50_proactive": nat_q("p50", "proactive"),
        "nat_p99_external": nat_q("p99", "external"),
        "nat_p99_reactive": nat_q("p99", "reactive"),
        "nat_p99_proactive": nat_q("p99", "proactive"),
        "seamless": seamless,
        "seamless_reason": seamless_reason,
        "replication": replication,
        "replication_periodic": replication_periodic,
        "adversarial_100": adversarial(100),
        "adversarial_50": adversarial(50),
        "adversarial_10": adversarial(10),
        "adversarial_10_timeout": adversarial(10, timeout_only=True),
        "alpha": alpha,
        "alpha_K": alpha_k,
        "size": size,
    }


CLAIMS_SCHEMA = {
    "key": pl.String,
    "claim": pl.String,
    "paper": pl.String,
    "measured": pl.String,
    "paper_value": pl.Float64,
    "measured_value": pl.Float64,
    "agrees": pl.Boolean,
    "ratio": pl.Float64,
}
"""The columns of :func:`claims_table`."""


def claims_table(fd: Any) -> pl.DataFrame:
    """One row per claim of :data:`CLAIMS` that ``fd`` (a :class:`~snfkit.figures.FigureData`)
    has the runs for, in that order; columns :data:`CLAIMS_SCHEMA` (see the module docstring)."""
    measures = _measures(fd)
    rows = []
    for c in CLAIMS:
        got = measures[c.key]()
        if got is None:
            continue
        text, value, agrees = got
        ratio = value / c.paper_value if value is not None and c.paper_value else None
        rows.append(
            {
                "key": c.key,
                "claim": c.claim,
                "paper": c.paper,
                "measured": text,
                "paper_value": c.paper_value,
                "measured_value": value,
                "agrees": agrees if c.direction else None,
                "ratio": ratio,
            }
        )
    return pl.DataFrame(rows, schema=CLAIMS_SCHEMA)


def claims_markdown(table: pl.DataFrame, workload_name: str = "") -> str:
    """A claims table as a markdown table (claim | paper | measured)."""
    lines = []
    if workload_name:
        lines.append(f"Trace: {workload_name}\n")
    lines.append("| claim | paper | measured |")
    lines.append("|---|---|---|")
    for row in table.iter_rows(named=True):
        lines.append(f"| {row['claim']} | {row['paper']} | {row['measured']} |")
    return "\n".join(lines)


__all__ = ["CLAIMS", "CLAIMS_SCHEMA", "Claim", "claims_markdown", "claims_table"]
