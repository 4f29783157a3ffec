"""Progress of the trainer's jobs that take more than a few seconds: a rich bar on a terminal,
a few plain lines in a pipe or a log file, nothing from torchrun's other ranks (rank 0 speaks for
the job). On stderr, so the results on stdout stay clean for a pipe."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from edge_monitor.safe_text import one_line

Advance = Callable[[int], None]
QUIET_S = 2.0  # a pipe hears nothing of a job that is done sooner
_active = False  # one display at a time: a job inside another (a parse inside a loop) is quiet


def speaks() -> bool:
    """Rank 0 under torchrun, or a lone process: the one that shows progress."""
    return os.environ.get("RANK", "0") == "0"


@contextmanager
def progress(
    what: str, total: int | None, show: bool | None = None, console: Console | None = None
) -> Iterator[Advance]:
    """Yields `advance(n=1)`. `total` None: a spinner with the time spent (one long call).
    A pipe gets a line per tenth done once the job is slow (a spinner's job: one line at its end),
    none for a quick one. `show` False (or a rank other than 0 when None) prints nothing."""
    global _active
    console = console or Console(stderr=True, soft_wrap=True)
    if _active or not (speaks() if show is None else show):  # an outer job already shows
        yield lambda n=1: None
        return
    _active = True
    try:  # `what` quotes the user's paths: one line, read as text (no markup)
        yield from _show(one_line(what), total, console)
    finally:
        _active = False


def _show(what: str, total: int | None, console: Console) -> Iterator[Advance]:
    if console.is_terminal:
        with _bar(console, total is not None) as bar:
            task = bar.add_task(what, total=total)
            yield lambda n=1: bar.advance(task, n)
    else:
        lines = _Lines(console, what, total)
        yield lines
        lines.end()  # not after a failure: its error line is all a pipe needs


def _bar(console: Console, counted: bool) -> Progress:
    said = TextColumn("{task.description}", markup=False)
    columns = [said, BarColumn(), MofNCompleteColumn()]
    if not counted:
        columns = [SpinnerColumn(), said]
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=True)


@dataclass
class _Lines:
    """Progress as plain lines: one per tenth done once the job has taken QUIET_S, and the last
    one; without a total, one line at the end saying how long it took. A job done at once (a
    warm cache, a refused argument) prints nothing, so a bad input stays one line."""

    console: Console
    what: str
    total: int | None
    done: int = 0
    said: bool = False
    start: float = field(default_factory=time.monotonic)

    def __call__(self, n: int = 1) -> None:
        self.done += n
        total, late = self.total, time.monotonic() - self.start >= QUIET_S
        if total and ((late and self.done % max(1, total // 10) == 0) or self.said_last()):
            self.console.print(f"{self.what}: {self.done}/{total}", highlight=False, markup=False)
            self.said = True

    def said_last(self) -> bool:
        return self.said and self.done == self.total

    def end(self) -> None:
        took = time.monotonic() - self.start
        if self.total is None and took >= QUIET_S:
            self.console.print(f"{self.what}: {took:.0f} s", highlight=False, markup=False)
