"""The registry of task kinds: a task's name -> the `TaskKind` that decides everything the
trainer does differently for it (see `trainer.kinds.base`). Adding a task means adding a kind
here, not a branch elsewhere.

The names are plain strings and each kind's module is imported when the kind is first asked for:
the CLI checks `--task` against `TASKS` without loading pandas, sklearn or wfdb (a bad argument
is refused at once)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from edge_monitor.errors import InputError
from trainer.kinds.base import TaskKind

# task name -> (module, attribute) of its kind
_WHERE: dict[str, tuple[str, str]] = {
    "diagnostic": ("trainer.kinds.diagnostic", "DIAGNOSTIC"),
    "arrhythmia": ("trainer.kinds.arrhythmia", "ARRHYTHMIA"),
    "ventricular": ("trainer.kinds.ventricular", "VENTRICULAR"),
}
TASKS = tuple(_WHERE)


class _Registry(Mapping[str, TaskKind]):
    """A read-only name -> kind mapping that imports a kind's module on first use."""

    def __getitem__(self, name: str) -> TaskKind:
        module, attribute = _WHERE[name]
        kind = getattr(import_module(module), attribute)
        if kind.name != name:
            raise RuntimeError(f"the registry maps {name!r} to a kind named {kind.name!r}")
        return kind

    def __iter__(self) -> Iterator[str]:
        return iter(TASKS)

    def __len__(self) -> int:
        return len(TASKS)


KINDS: Mapping[str, TaskKind] = _Registry()

__all__ = ["KINDS", "TASKS", "TaskKind", "kind_of"]


def kind_of(task: str) -> TaskKind:
    """The kind of a task name; an unknown name is a one-line InputError."""
    if not isinstance(task, str) or task not in _WHERE:
        raise InputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return KINDS[task]
