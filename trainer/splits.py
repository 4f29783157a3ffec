"""A task's data as plain arrays: what a model gets, what it must predict, how it was made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Split:
    x: np.ndarray  # windows (n, leads, samples); beats (n, 2, beat length): beat, template
    y: np.ndarray  # multi-label (n, classes) multi-hot; one label per row (n,) class index
    extra: np.ndarray | None  # beats: RR features (n, k)
    groups: np.ndarray  # patient (records) or record (beats) of each row

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class TaskData:
    task: str  # a name of trainer.kinds.KINDS
    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    preprocessing: dict
    source: dict  # what the splits hold, for reports
    data_dir: Path | None = None  # where the records were read (MIT-BIH: em noise needs 118)
