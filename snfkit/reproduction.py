"""docs/REPRODUCTION.md, regenerated: the paper's claims beside what snfkit measures, from a run at
the current commit (``benchmarks/reproduce.py`` is the command).

:func:`reproduce` runs every figure of :mod:`snfkit.figures` on the paper-faithful workload under
the calibrated settings (:func:`snfkit.presets.paper_calibrated`: each experiment at its figure's
fitted offered load) and on the real traces in ``../shared/traces`` (their own load, the same
settings), and measures every claim of :data:`snfkit.claims.CLAIMS` on each.
:func:`claims_frame` merges the traces into one wide table, :func:`write_claims_csv` writes
``claims.csv`` (claim, paper value, measured value per trace, direction agrees, ratio to the paper)
and :func:`render_page` fills the page's template (``docs/REPRODUCTION.md.in``): ``{{stamp}}``,
``{{traces}}``, ``{{claims}}``, ``{{calibration}}``, ``{{verdict}}`` and, inside the prose,
``{trace:key}`` (a claim's measured text on a trace) or ``{trace:key:ratio}`` /
``{trace:key:value}``, so that no number on the page is typed by hand.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from snfkit import figures as F
from snfkit.claims import CLAIMS, claims_table

REAL_TRACES = {"caida": "caida-nyc-2018-10k.pcap", "auckland": "auckland-2000-31k.pcap"}
"""Short name -> file in :func:`snfkit.figures.shared_traces`."""

SECTION_LOADS = {
    "compute": "fig2",
    "opportunities": "fig2",
    "size": "fig2",
    "state": "fig4",
    "k_alpha": "fig4",
    "adversarial": "fig5",
    "controllers": "fig6",
}
"""Which fitted load each experiment of :func:`snfkit.figures.compute_figures` runs at: Figs 1-3,
allocation opportunities and Fig 8 at Fig 2's, Fig 4, §9.2, §9.7 and Fig 7 at Fig 4's (Fig 7's
tails, 6.8-107 us, are of Fig 4's order), Fig 5 at its own, Fig 6 at the paper's 93.5 Gbps."""

FIG6_LOAD_GBPS = 93.5
"""§9.5: "the cumulative load is on average 93.5 Gbps" (over 10 controllers): Fig 6 runs the
paper-faithful trace sped up to it (not a fitted load)."""

TEMPLATE = Path(__file__).resolve().parents[1] / "docs" / "REPRODUCTION.md.in"


@dataclass
class TraceRun:
    """One trace's figures: ``short`` name, ``describe`` (packets, flows, span, load), the
    :class:`~snfkit.figures.FigureData` and its claims table, and the seconds it took."""

    short: str
    describe: str
    figures: F.FigureData
    claims: pl.DataFrame
    seconds: float


@dataclass
class Reproduction:
    """A whole run: the traces, the preset's record, the scale, the commit and the date."""

    traces: list[TraceRun]
    preset: Any
    scale: float
    commit: str
    date: str
    notes: dict[str, Any] = field(default_factory=dict)


def current_commit(repo: Path | None = None) -> str:
    """``git rev-parse --short HEAD`` of the repository holding snfkit (``+dirty`` when the tree
    has changes to tracked files), or ``unknown``."""
    root = repo or Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty.strip() else "")


def paper_workloads(scale: float, seed: int = 0, preset: Any = None):
    """The paper-faithful workload at each fitted load: ``(main, sections, preset)``, ``main``
    at Fig 4's load and ``sections`` mapping experiments to the workload at their load
    (:data:`SECTION_LOADS`)."""
    from snfkit.presets import paper_calibrated

    preset = preset or paper_calibrated()
    made: dict[str, F.Workload] = {}
    loads = {**preset.figure_loads, "fig6": FIG6_LOAD_GBPS}
    for fig, load in loads.items():
        name = f"paper_trace(seed={seed}, scale={scale:g}, load_gbps={load:.3g})"
        made[fig] = F.Workload.from_packets(preset.workload(seed, scale, load_gbps=load), name)
    main = made["fig4"]
    sections = {s: made.get(fig, main) for s, fig in SECTION_LOADS.items()}
    return main, sections, preset


def reproduce(
    scale: float = 0.25,
    *,
    small: bool = False,
    real: bool = True,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> Reproduction:
    """Run the figures on the paper-faithful workload (and the real traces when ``real`` and
    present) under :func:`snfkit.presets.paper_calibrated`; ``small`` picks the reduced grids."""
    import time

    say = log or (lambda _m: None)
    main, sections, preset = paper_workloads(scale, seed)
    runs = []
    todo: list[tuple[str, F.Workload, dict]] = []
    if real:
        for short, name in REAL_TRACES.items():
            path = F.shared_traces() / name
            if path.is_file():
                todo.append((short, F.workload(path), {}))
            else:
                say(f"{path}: absent, skipped")
    todo.append(("paper_trace", main, sections))
    for short, wl, secs in todo:
        t = time.perf_counter()
        desc = wl.describe() if not secs else _describe_loads(wl, secs)
        say(f"{desc} ...")
        fd = F.compute_figures(wl, preset.params, small=small, workloads=secs or None)
        seconds = time.perf_counter() - t
        say(f"  {short}: {seconds:.0f} s")
        runs.append(TraceRun(short, desc, fd, claims_table(fd), seconds))
    date = dt.date.today().isoformat()
    return Reproduction(runs, preset, scale, current_commit(), date)


def _describe_loads(main: F.Workload, sections: dict[str, F.Workload]) -> str:
    loads = {}
    for s, wl in sections.items():
        loads.setdefault(wl.name, []).append(s)
    parts = [main.describe()]
    for name, secs in loads.items():
        if name != main.name:
            parts.append(f"{', '.join(secs)} at {name.split('load_gbps=')[-1].rstrip(')')} Gbps")
    return "; ".join(parts)


def claims_frame(rep: Reproduction) -> pl.DataFrame:
    """One row per claim of :data:`~snfkit.claims.CLAIMS` (in order): ``key``, ``claim``,
    ``paper``, ``paper_value``, then per trace ``measured_<t>``, ``value_<t>``, ``agrees_<t>``,
    ``ratio_<t>`` (null where the trace's runs lack the claim)."""
    base = pl.DataFrame(
        {
            "key": [c.key for c in CLAIMS],
            "claim": [c.claim for c in CLAIMS],
            "paper": [c.paper for c in CLAIMS],
            "paper_value": [c.paper_value for c in CLAIMS],
        },
        schema={
            "key": pl.String,
            "claim": pl.String,
            "paper": pl.String,
            "paper_value": pl.Float64,
        },
    )
    for tr in rep.traces:
        t = tr.short
        base = base.join(
            tr.claims.select(
                "key",
                pl.col("measured").alias(f"measured_{t}"),
                pl.col("measured_value").alias(f"value_{t}"),
                pl.col("agrees").alias(f"agrees_{t}"),
                pl.col("ratio").alias(f"ratio_{t}"),
            ),
            on="key",
            how="left",
            maintain_order="left",
        )
    return base


def _yes_no(v: bool | None) -> str:
    return "-" if v is None else ("yes" if v else "no")


def write_claims_csv(frame: pl.DataFrame, path: str | Path, traces: Sequence[str]) -> Path:
    """``claims.csv``: ``claim``, ``key``, ``paper``, ``paper_value``, and per trace
    ``measured_<t>`` (the headline value), ``agrees_<t>`` (yes, no, or - where the paper states
    no direction or the trace cannot show it) and ``ratio_<t>`` (measured / paper)."""
    cols = [pl.col("claim"), pl.col("key"), pl.col("paper"), pl.col("paper_value")]
    for t in traces:
        cols += [
            pl.col(f"value_{t}").alias(f"measured_{t}"),
            pl.col(f"agrees_{t}")
            .map_elements(_yes_no, return_dtype=pl.String, skip_nulls=False)
            .alias(f"agrees_{t}"),
            pl.col(f"ratio_{t}"),
        ]
    path = Path(path)
    frame.select(cols).write_csv(path)
    return path


def claims_markdown_table(frame: pl.DataFrame, traces: Sequence[str]) -> str:
    """The page's claims table: claim, paper, then per trace the measured text with its direction
    (yes / no) and ratio to the paper."""
    head = "| claim | paper | " + " | ".join(traces) + " |"
    lines = [head, "|---" * (2 + len(traces)) + "|"]
    for row in frame.iter_rows(named=True):
        cells = [row["claim"], row["paper"]]
        for t in traces:
            text = row[f"measured_{t}"]
            if text is None:
                cells.append("-")
                continue
            notes = []
            if row[f"agrees_{t}"] is not None:
                notes.append("agrees" if row[f"agrees_{t}"] else "**disagrees**")
            if row[f"ratio_{t}"] is not None:
                notes.append(f"{row[f'ratio_{t}']:.3g}x the paper")
            cells.append(text + (f" ({'; '.join(notes)})" if notes else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _calibration_markdown(preset: Any) -> str:
    from snfkit.presets import FIGURE_LOAD_STUDIES

    rec = preset.record
    lines = [
        f"Study `{rec['study']}` ({rec['config']}, fingerprint `{rec['fingerprint']}`): "
        f"{rec['trials']} trials on `{rec['workload']['name']}(seed={rec['workload']['seed']}, "
        f"scale={rec['workload']['scale']})`, best trial {rec['best_trial']}, loss "
        f"{rec['loss']:.3f} (RMS of ln(measured / paper)).",
        "",
        "| setting | fitted |",
        "|---|---|",
    ]
    for k, v in rec["values"].items():
        lines.append(f"| `{k}` | {v:,.4g} |" if isinstance(v, float) else f"| `{k}` | {v} |")
    for fig, study in FIGURE_LOAD_STUDIES.items():
        if fig in preset.figure_loads:
            lines.append(
                f"| `load_gbps` of {fig} (study `{study}`) | {preset.figure_loads[fig]:.4g} |"
            )
    fixed = ", ".join(f"`{k}={v}`" for k, v in rec["fixed"].items() if not k.startswith("_"))
    lines += ["", f"Fixed: {fixed}; every other parameter is snfkit's default (the paper's).", ""]
    lines += ["| target | paper | measured at the study's scale |", "|---|---|---|"]
    for k, v in rec["targets"].items():
        lines.append(f"| {k} | {v['paper']:g} | {v['measured']:.4g} |")
    return "\n".join(lines)


def _verdict(frame: pl.DataFrame, traces: Sequence[str]) -> str:
    lines = []
    for t in traces:
        col = frame[f"agrees_{t}"]
        shown = int(col.is_not_null().sum())
        agree = int(col.fill_null(False).sum())
        bad = frame.filter(pl.col(f"agrees_{t}") == False)["key"].to_list()  # noqa: E712
        within = frame.filter(
            pl.col(f"ratio_{t}").is_not_null()
            & (pl.col(f"ratio_{t}") >= 0.5)
            & (pl.col(f"ratio_{t}") <= 2.0)
        ).height
        ratios = int(frame[f"ratio_{t}"].is_not_null().sum())
        lines.append(
            f"- **{t}**: {agree} of {shown} claims with a direction agree"
            + (f" (not: {', '.join(bad)})" if bad else "")
            + f"; {within} of {ratios} with a ratio are within 2x of the paper."
        )
    return "\n".join(lines)


_INLINE = re.compile(r"\{(\w+):(\w+)(?::(value|ratio))?\}")


def render_page(rep: Reproduction, template: str | None = None) -> str:
    """The page: the template with every placeholder filled from ``rep`` (module docstring). A
    placeholder naming an unknown trace or claim raises KeyError; one naming a real trace that
    was absent reads "(trace absent)"."""
    text = TEMPLATE.read_text() if template is None else template
    frame = claims_frame(rep)
    traces = [tr.short for tr in rep.traces]
    rows = {r["key"]: r for r in frame.iter_rows(named=True)}
    stamp = (
        f"Generated by `python benchmarks/reproduce.py --scale {rep.scale:g}` at commit "
        f"`{rep.commit}` on {rep.date}."
    )
    blocks = {
        "{{stamp}}": stamp,
        "{{traces}}": "\n".join(
            f"- **{tr.short}**: {tr.describe} ({tr.seconds:.0f} s)" for tr in rep.traces
        ),
        "{{claims}}": claims_markdown_table(frame, traces),
        "{{calibration}}": _calibration_markdown(rep.preset),
        "{{verdict}}": _verdict(frame, traces),
    }
    for k, v in blocks.items():
        text = text.replace(k, v)

    def inline(m: re.Match) -> str:
        trace, key, what = m.group(1), m.group(2), m.group(3)
        if key not in rows or trace not in (*REAL_TRACES, "paper_trace"):
            raise KeyError(f"placeholder {m.group(0)}: unknown trace or claim")
        if trace not in traces:
            return "(trace absent)"
        if what == "ratio":
            v = rows[key][f"ratio_{trace}"]
            return "-" if v is None else f"{v:.3g}x"
        if what == "value":
            v = rows[key][f"value_{trace}"]
            return "-" if v is None else f"{v:,.4g}"
        return rows[key][f"measured_{trace}"] or "-"

    return _INLINE.sub(inline, text)


__all__ = [
    "REAL_TRACES",
    "SECTION_LOADS",
    "Reproduction",
    "TraceRun",
    "claims_frame",
    "claims_markdown_table",
    "current_commit",
    "paper_workloads",
    "render_page",
    "reproduce",
    "write_claims_csv",
]
