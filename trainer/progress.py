"""Progress of the trainer's jobs that take more than a few seconds: a rich bar on a terminal,
a few plain lines in a pipe or a log file, nothing from torchrun's other ranks (rank 0 speaks for
the job). On stderr, so the results on stdout stay clean for a pipe."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

Advance = Callable[[int], None]
QUIET_S = 2.0  # a pipe hears nothing of a job that is done sooner


def speaks() -> bool:
    """Rank 0 under torchrun, or a lone process: the one that shows progress."""
    return os.environ.get("RANK", "0") == "0"


@contextmanager
def progress(
    what: str, total: int | None, show: bool | None = None, console: Console | None = None
) -> Iterator[Advance]:
    """Yields `advance(n=1)`. `total` None: a spinner with the time spent (one long call).
    A pipe gets a line per tenth done once the job is slow, none for a quick one. `show` False
    (or a rank other than 0 when None) prints nothing."""
    console = console or Console(stderr=True, soft_wrap=True)
    if not (speaks() if show is None else show):
        yield lambda n=1: None
    elif console.is_terminal:
        with _bar(console, total is not None) as bar:
            task = bar.add_task(what, total=total)
            yield lambda n=1: bar.advance(task, n)
    else:
        yield _lines(console, what, total)


def _bar(console: Console, counted: bool) -> Progress:
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if not counted:
        columns = [SpinnerColumn(), TextColumn("{task.description}")]
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=True)


def _lines(console: Console, what: str, total: int | None) -> Advance:
    """A line per tenth done once the job has taken QUIET_S, and the last one: a job that
    finishes at once (a warm cache) prints nothing. Without a total: one line at the start."""
    start, done, said = time.monotonic(), 0, False
    if total is None:  # one long call: all a pipe can be told is that it started
        console.print(f"{what} ...", highlight=False)
    step = max(1, (total or 0) // 10)

    def advance(n: int = 1) -> None:
        nonlocal done, said
        done += n
        late = time.monotonic() - start >= QUIET_S
        if total and ((late and done % step == 0) or (said and done == total)):
            console.print(f"{what}: {done}/{total}", highlight=False)
            said = True

    return advance
