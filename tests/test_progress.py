"""snfkit.progress: the one progress mechanism of the library and the CLI."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from snfkit.progress import progress_bar, progress_reporter

HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


def console(terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, force_interactive=terminal, width=100), buf


def test_reporter_forwards_running_totals_to_a_callback():
    seen = []
    with progress_reporter(lambda d, t: seen.append((d, t)), 10, "x") as bar:
        for n in (3, 3, 4):
            bar.advance(n)
    assert seen == [(3, 10), (6, 10), (10, 10)]
    with progress_reporter(False, 10, "x") as bar:
        bar.advance(5)
    assert bar.done == 5


def test_bar_shows_the_work_and_stays_unless_transient():
    c, buf = console(terminal=False)
    with progress_bar("replay flowlet", 4, console=c) as update:
        for i in range(4):
            update(i + 1, 4)
    assert "replay flowlet" in buf.getvalue() and "4/4" in buf.getvalue()
    c, buf = console(terminal=False)
    with progress_bar("ingest", console=c, transient=True) as update:
        update(1, 2)
    assert buf.getvalue() == ""  # a transient bar is not drawn on a pipe or a log
    c, buf = console(terminal=True)
    with progress_bar("ingest", console=c, transient=True) as update:
        update(1, 2)
    assert "ingest" in buf.getvalue()  # drawn on a terminal, then erased


@pytest.mark.parametrize("terminal", [True, False])
def test_ctrl_c_stops_the_bar_and_propagates(terminal):
    c, buf = console(terminal)
    with pytest.raises(KeyboardInterrupt), progress_bar("sweep", 10, console=c) as update:
        update(1, 10)
        raise KeyboardInterrupt
    out = buf.getvalue()
    assert "sweep" in out and "1/10" in out  # the bar's last state stays visible
    if terminal:  # the cursor, hidden while the bar ran, is shown again
        assert out.rindex(SHOW_CURSOR) > out.rindex(HIDE_CURSOR)
