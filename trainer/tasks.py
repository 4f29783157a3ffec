"""A task's data by its name: the kind's loader, or the data a checkpoint was trained on."""

from __future__ import annotations

from pathlib import Path

from trainer.kinds import kind_of
from trainer.splits import Split, TaskData

__all__ = ["Split", "TaskData", "data_for_checkpoint", "load_task"]


def load_task(
    task: str,
    data_dir: str | Path | None,
    leads: str | None = None,
    cache_dir: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> TaskData:
    """The train, validation and test splits of a task (`limit` rows per split, drawn by `seed`
    where the kind draws)."""
    return kind_of(task).load(data_dir, leads, cache_dir, limit, seed)


def data_for_checkpoint(
    ckpt: dict, data_dir: str | Path | None, cache_dir: Path | None = None
) -> TaskData:
    """The same splits, leads and limit the checkpoint was trained on."""
    cfg, kind = ckpt["train_config"], kind_of(ckpt["task"])
    leads = kind.lead_option(kind.leads(ckpt["preprocessing"]))
    return load_task(
        kind.name, data_dir, leads=leads, cache_dir=cache_dir, limit=cfg["limit"], seed=cfg["seed"]
    )
