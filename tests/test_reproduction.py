"""docs/REPRODUCTION.md is regenerated, never hand-edited: the page's claims table lists exactly
the code's claims, and a run at small scale renders the template with every number filled in."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import polars as pl
import pytest

from snfkit.claims import CLAIMS
from snfkit.reproduction import (
    TEMPLATE,
    claims_frame,
    render_page,
    reproduce,
    write_claims_csv,
)

PAGE = Path(__file__).resolve().parent.parent / "docs" / "REPRODUCTION.md"


def _table_rows(text: str, header: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split(" | ")])
    return rows


@functools.cache
def _small():
    return reproduce(0.002, small=True, real=False)


def test_the_page_lists_the_codes_claims():
    """Each claim of snfkit.claims.CLAIMS is a row of the page's table, in order, with the
    paper's number; the page says which commit it was generated at."""
    text = PAGE.read_text()
    rows = _table_rows(text, "| claim | paper |")
    assert [r[0] for r in rows] == [c.claim for c in CLAIMS]
    assert [r[1] for r in rows] == [c.paper for c in CLAIMS]
    assert re.search(r"at commit `[0-9a-f]{7,}`", text)
    assert "{{" not in text and not re.search(r"\{\w+:\w+(:\w+)?\}", text)


def test_a_small_run_renders_the_template():
    rep = _small()
    page = render_page(rep)
    assert "{{" not in page and not re.search(r"\{\w+:\w+(:\w+)?\}", page)
    rows = _table_rows(page, "| claim | paper |")
    assert [r[0] for r in rows] == [c.claim for c in CLAIMS]
    frame = claims_frame(rep)
    want = frame.filter(key="nat_p99_proactive")["measured_paper_trace"].item()
    assert rows[[c.key for c in CLAIMS].index("nat_p99_proactive")][2].startswith(want)
    assert f"at commit `{rep.commit}`" in page
    with pytest.raises(KeyError, match="nope:opportunities"):
        render_page(rep, "{nope:opportunities}")


def test_claims_csv(tmp_path):
    rep = _small()
    frame = claims_frame(rep)
    path = write_claims_csv(frame, tmp_path / "claims.csv", ["paper_trace"])
    back = pl.read_csv(path)
    assert back.columns == [
        "claim",
        "key",
        "paper",
        "paper_value",
        "measured_paper_trace",
        "agrees_paper_trace",
        "ratio_paper_trace",
    ]
    assert back["key"].to_list() == [c.key for c in CLAIMS]
    assert set(back["agrees_paper_trace"].to_list()) <= {"yes", "no", "-"}
    row = frame.filter(key="opportunities")
    assert back.filter(key="opportunities")["ratio_paper_trace"].item() == pytest.approx(
        row["ratio_paper_trace"].item()
    )


def test_template_exists_and_has_the_blocks():
    text = TEMPLATE.read_text()
    for block in ("{{stamp}}", "{{traces}}", "{{claims}}", "{{calibration}}", "{{verdict}}"):
        assert block in text
