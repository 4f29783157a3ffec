"""The other lead of every record as a second view of the same beats (issue 13: the next
patient's front end may sit anywhere on the chest).

The device reads one lead, and which one depends on where a maker put the electrodes: a model
that only ever saw MIT-BIH's MLII and svdb's ECG1 reads MIT-BIH's second leads (mostly V1) at S
F1 0.04 (docs/beat_leads.md). Each record's other lead holds the same beats with the same
labels and the same patient, so adding it to training changes what the model sees of a QRS, not
which patients it learns from: the patient folds stay as they are. As a test view it is
reported as databases of their own ("mitdb-lead2", "svdb-lead2"), never pooled with the
primary leads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from edge_monitor.beats import BeatSpec
from trainer.datasets import beatdb
from trainer.kinds.arrhythmia import beat_rows, joined, with_training_beats
from trainer.splits import TaskData

SUFFIX = "-lead2"


def other_lead_beats(ids: list[str], root: Path, cache_dir: Path | None = None):
    """The beats of record ids read on each record's other lead."""
    return beatdb.load_ids(ids, root, BeatSpec(), cache_dir, other_lead=True)


def with_other_leads_in_training(data: TaskData, root: Path, cache_dir=None) -> TaskData:
    """Training gains every training record's other lead (same patient ids); validation and
    test keep the primary lead."""
    ids = sorted(set(data.train.groups.tolist()))
    return with_training_beats(data, other_lead_beats(ids, root, cache_dir), "other_leads")


def lead2_id(record_id: str) -> str:
    """'100' -> 'mitdb-lead2/100', 'svdb/800' -> 'svdb-lead2/800': a database of its own."""
    name, _, rec = record_id.rpartition("/")
    return f"{name or 'mitdb'}{SUFFIX}/{rec}"


def with_other_lead_test(data: TaskData, root: Path, cache_dir=None) -> TaskData:
    """The test split with every test record's other lead appended under its own database
    names, so per-database scores report the primary and the other leads apart."""
    ids = list(dict.fromkeys(data.test.groups.tolist()))
    beats = other_lead_beats(ids, root, cache_dir)
    beats = replace(beats, records=np.array([lead2_id(str(r)) for r in beats.records]))
    extra = beat_rows(beats, beats.labels < len(data.classes))
    return replace(data, test=joined(data.test, extra))
