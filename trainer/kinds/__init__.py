"""The registry of task kinds: a task's name -> the `TaskKind` that decides everything the
trainer does differently for it (see `trainer.kinds.base`). Adding a task means adding a kind
here, not a branch elsewhere."""

from __future__ import annotations

from edge_monitor.errors import InputError
from trainer.kinds.arrhythmia import ARRHYTHMIA
from trainer.kinds.base import TaskKind
from trainer.kinds.diagnostic import DIAGNOSTIC
from trainer.kinds.ventricular import VENTRICULAR

KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (DIAGNOSTIC, ARRHYTHMIA, VENTRICULAR)}
TASKS = tuple(KINDS)

__all__ = ["KINDS", "TASKS", "TaskKind", "kind_of"]


def kind_of(task: str) -> TaskKind:
    """The kind of a task name; an unknown name is a one-line InputError."""
    kind = KINDS.get(task) if isinstance(task, str) else None
    if kind is None:
        raise InputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return kind
