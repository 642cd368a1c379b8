"""Progress reporting for long work (ingest, replays over many configs, sweeps).

Library calls take ``progress: bool | ProgressCallback``: ``False`` is silent, ``True`` draws a rich
progress bar (works in a terminal and in Jupyter), and a callable receives ``(done, total)`` after each
step so callers can drive their own display. Work is done in bounded chunks between calls, so Ctrl-C
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
def progress_reporter(
    progress: bool | ProgressCallback | None, total: int | None, description: str
) -> Iterator[_Reporter]:
    """Yield an object with ``advance(n)``; draws or forwards progress as ``progress`` asks."""
    if not progress:
        yield _Reporter(lambda done: None)
        return
    if callable(progress):
        cb = progress
        yield _Reporter(lambda done: cb(done, total))
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield _Reporter(lambda done: bar.update(task, completed=done))
