"""The two tasks as plain arrays: what a model gets, what it must predict, and how it was made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_monitor.beats import RR_FEATURES, BeatSpec
from trainer.datasets import mitdb, ptbxl

ARRHYTHMIA_CLASSES = ("N", "S", "V", "F")  # AAMI; Q (15 beats outside paced records) left out


@dataclass(frozen=True)
class Split:
    x: np.ndarray  # diagnostic (n, leads, samples); arrhythmia (n, 2, beat length): beat, template
    y: np.ndarray  # diagnostic (n, classes) multi-hot; arrhythmia (n,) class index
    extra: np.ndarray | None  # arrhythmia RR features (n, k)
    groups: np.ndarray  # patient (diagnostic) or record (arrhythmia) of each row

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class TaskData:
    task: str
    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    preprocessing: dict
    source: dict  # what the splits hold, for reports
    data_dir: Path | None = None  # where the records were read (MIT-BIH: em noise needs 118)


def load_task(
    task: str,
    data_dir: str | Path | None,
    leads: str | None = None,
    cache_dir: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> TaskData:
    if task == "diagnostic":
        return _diagnostic(data_dir, leads, cache_dir, limit)
    return _arrhythmia(data_dir, cache_dir, limit, seed)


def _diagnostic(data_dir, leads, cache_dir, limit) -> TaskData:
    data = ptbxl.load_ptbxl(data_dir, leads=leads, cache_dir=cache_dir, limit=limit)
    splits = {}
    for name in ptbxl.FOLDS:
        part = ptbxl.split(data, name)
        splits[name] = Split(part.signals, part.labels, None, part.patient_ids)
    source = {
        "dataset": f"PTB-XL subset ({len(data)} records)" if len(data) < 21000 else "PTB-XL",
        "records": {k: len(v) for k, v in splits.items()},
        "dropped_without_superclass": data.dropped_unlabelled,
        "folds": {k: list(v) for k, v in ptbxl.FOLDS.items()},
    }
    preprocessing = {
        "fs": data.fs,
        "leads": list(data.leads),
        "filter": ptbxl.DIAGNOSTIC_FILTER.as_dict(),
        "normalization": "none (millivolts)",
        "record_samples": int(data.signals.shape[-1]),
    }
    return TaskData(
        "diagnostic",
        ptbxl.SUPERCLASSES,
        splits["train"],
        splits["val"],
        splits["test"],
        preprocessing,
        source,
    )


def _arrhythmia(data_dir, cache_dir, limit, seed) -> TaskData:
    spec = BeatSpec()
    rng = np.random.default_rng(seed)
    splits, counts = {}, {}
    for name in mitdb.SPLITS:
        beats = mitdb.load_beats(data_dir, name, spec, cache_dir=cache_dir)
        keep = np.flatnonzero(beats.labels < len(ARRHYTHMIA_CLASSES))
        if limit is not None and len(keep) > limit:
            keep = np.sort(rng.choice(keep, size=limit, replace=False))
        x = np.stack([beats.windows[keep], beats.templates[keep]], axis=1)  # (n, 2, length)
        splits[name] = Split(x, beats.labels[keep], beats.rr[keep], beats.records[keep])
        counts[name] = {
            "records": sorted(set(beats.records.tolist())),
            "beats": {
                c: int((beats.labels[keep] == i).sum()) for i, c in enumerate(ARRHYTHMIA_CLASSES)
            },
        }
    preprocessing = {
        "fs": spec.fs,
        "source_fs": 360.0,
        "lead": "MLII",
        "filter": mitdb.ARRHYTHMIA_FILTER.as_dict(),
        "beat": spec.as_dict(),
        "rr_features": list(RR_FEATURES),
        "normalization": "beat minus its median, over the running median QRS amplitude",
        "channels": ["beat", "template"],
    }
    source = {
        "dataset": "MIT-BIH Arrhythmia (de Chazal DS1 -> DS2)",
        "splits": counts,
        "excluded_paced": list(mitdb.PACED),
    }
    return TaskData(
        "arrhythmia",
        ARRHYTHMIA_CLASSES,
        splits["train"],
        splits["val"],
        splits["test"],
        preprocessing,
        source,
        mitdb.resolve_dir(data_dir),
    )


def data_for_checkpoint(
    ckpt: dict, data_dir: str | Path | None, cache_dir: Path | None = None
) -> TaskData:
    """The same splits, leads and limit the checkpoint was trained on."""
    cfg, task = ckpt["train_config"], ckpt["task"]
    leads = ",".join(ckpt["preprocessing"]["leads"]) if task == "diagnostic" else None
    return load_task(
        task, data_dir, leads=leads, cache_dir=cache_dir, limit=cfg["limit"], seed=cfg["seed"]
    )
