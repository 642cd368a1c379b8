"""The paper's claims beside what snfkit measures: regenerates docs/REPRODUCTION.md.

Runs every figure of :mod:`snfkit.figures` on the paper-faithful workload
(``paper_trace(seed=0, scale)``) under the calibrated settings (:func:`snfkit.presets.paper_calibrated`,
each experiment at its figure's fitted offered load) and on each real trace in ``../shared/traces``
(``$SNFKIT_SHARED/traces``; skipped when absent) under the same settings at the trace's own load
(:mod:`snfkit.reproduction`). Writes into OUT:

- ``<trace>/``: every figure (PNG and HTML per ``--formats``, CSV data, ``index.html``);
- ``claims.csv``: one row per claim: the paper's value, and per trace the measured value, whether
  the direction agrees (yes / no / -) and the ratio to the paper;
- ``claims.md``: the page's claims table;

and with ``--page`` rewrites ``docs/REPRODUCTION.md`` from its template ``docs/REPRODUCTION.md.in``,
stamped with the commit and the date. The page is never edited by hand.

Usage: ``python benchmarks/reproduce.py [--scale 0.25] [--out reproduce-out] [--small]
[--formats png,html] [--no-real] [--page]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from snfkit import figures as F  # noqa: E402
from snfkit.reproduction import (  # noqa: E402
    claims_frame,
    claims_markdown_table,
    render_page,
    reproduce,
    write_claims_csv,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.25, help="paper_trace scale (default 0.25)")
    ap.add_argument("--out", type=Path, default=Path("reproduce-out"))
    ap.add_argument("--small", action="store_true", help="reduced grids (quick check)")
    ap.add_argument("--formats", default="png,html", help="figure formats (default png,html)")
    ap.add_argument("--no-real", action="store_true", help="only the synthetic trace")
    ap.add_argument("--page", action="store_true", help="rewrite docs/REPRODUCTION.md")
    args = ap.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    rep = reproduce(args.scale, small=args.small, real=not args.no_real, log=say)
    args.out.mkdir(parents=True, exist_ok=True)
    for tr in rep.traces:
        if formats:
            F.write_figures(tr.figures, args.out / tr.short, formats)
    traces = [tr.short for tr in rep.traces]
    frame = claims_frame(rep)
    write_claims_csv(frame, args.out / "claims.csv", traces)
    table = claims_markdown_table(frame, traces)
    (args.out / "claims.md").write_text(table + "\n")
    print(table)
    if args.page:
        page = REPO / "docs" / "REPRODUCTION.md"
        page.write_text(render_page(rep))
        say(f"wrote {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
