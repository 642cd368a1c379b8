"""Progress reporting for long work (ingest, replays over many configs, sweeps).

Library calls take ``progress: bool | ProgressCallback``: ``False`` is silent, ``True`` draws a rich
progress bar (works in a terminal and in Jupyter), and a callable receives ``(done, total)`` after each
step so callers can drive their own display; the CLI passes the callback of a :func:`progress_bar`
on stderr. Work is done in bounded chunks between calls, so Ctrl-C
(KeyboardInterrupt) stops it cleanly between chunks without leaving partial outputs behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol


class ProgressCallback(Protocol):
    def __call__(self, done: int, total: int | None) -> None: ...


class _Reporter:
    def __init__(self, update: Callable[[int], None]) -> None:
        self._update = update
        self.done = 0

    def advance(self, n: int) -> None:
        self.done += n
        self._update(self.done)


@contextmanager
def progress_bar(
    description: str, total: int | None = None, *, console=None, transient: bool = False
) -> Iterator[ProgressCallback]:
    """Draw a rich progress bar and yield the ``(done, total)`` callback that moves it.

    console: a :class:`rich.console.Console` (default: stdout; the CLI passes stderr).
    transient: erase the bar when the work ends. A transient bar on a console that is not a
        terminal (a pipe, a log file) would leave only a blank line, so none is drawn there.
    The bar stops on any exception, KeyboardInterrupt included, which then propagates.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = console if console is not None else Console()
    if transient and not console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@contextmanager
def progress_reporter(
    progress: bool | ProgressCallback | None, total: int | None, description: str
) -> Iterator[_Reporter]:
    """Yield an object with ``advance(n)``: silent for a false ``progress``, a callable gets
    ``(done, total)``, True draws a :func:`progress_bar`."""
    if not progress:
        yield _Reporter(lambda done: None)
        return
    if callable(progress):
        cb = progress
        yield _Reporter(lambda done: cb(done, total))
        return
    with progress_bar(description, total) as update:
        yield _Reporter(lambda done: update(done, total))
