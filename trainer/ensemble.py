"""Trained students of one configuration as one checkpoint, the mean of their logits.

Why: a small student's figures move with its seed by more than the gaps we chase (VT/VF 8 s
segment Se 0.84-0.90 over five fold sets of one recipe); averaging students of different seeds
ships the recipe, not the luckiest draw. The checkpoint goes through the rest of the chain like
any student (`trainer compress --student ENSEMBLE`): one ONNX graph, quantized and gated as one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from torch import nn

from edge_monitor.errors import InputError
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.models import ensemble_of, model_size


def _test_records(ckpt: dict) -> list | None:
    """The records a member was tested on: members of one ensemble share them, so none of them
    trained on a record the ensemble is tested on (their validation records may differ)."""
    return ckpt.get("data", {}).get("splits", {}).get("test", {}).get("records")


# what the members must share: an ensemble of a beat model and a window model answers nothing
SHARED_FIELDS = ("task", "classes", "preprocessing")


def save_ensemble(
    checkpoints: list[Path],
    out: Path,
    adjust: Callable[[nn.Module], None] | None = None,
    lineage: dict | None = None,
) -> dict:
    """The members as one checkpoint, described by the first one's fields. `adjust` edits the
    ensemble before it is saved (a prior correction baked into its last layers); `lineage`
    adds to the record of where it came from."""
    if len(checkpoints) < 2:
        raise InputError("an ensemble needs at least two checkpoints")
    if len(set(map(Path.resolve, checkpoints))) != len(checkpoints):
        raise InputError("an ensemble's members must be different checkpoints")
    pairs = [load_checkpoint(c) for c in checkpoints]
    first = pairs[0][1]
    for path, (_, ckpt) in zip(checkpoints[1:], pairs[1:], strict=True):
        for name in SHARED_FIELDS:
            if ckpt.get(name) != first.get(name):
                raise InputError(f"{path} differs from {checkpoints[0]} in its {name}")
        if _test_records(ckpt) != _test_records(first):
            raise InputError(f"{path} was tested on other records than {checkpoints[0]}")
    model = ensemble_of([m for m, _ in pairs])
    if adjust is not None:
        adjust(model)
    size = model_size(model)
    resources = [c.get("resources", {}) for _, c in pairs]
    return save_checkpoint(
        out,
        model,
        **{k: first[k] for k in (*SHARED_FIELDS, "train_config", "data") if k in first},
        lineage={
            "ensemble_of": [str(c) for c in checkpoints],
            "member_seeds": [c.get("train_config", {}).get("seed") for _, c in pairs],
            **(lineage or {}),
        },
        history=[],
        metrics={
            # each member's own validation score (members of patient folds: the CV score)
            "val_score": float(np.mean([c["metrics"]["val_score"] for _, c in pairs])),
            "best_epoch": [c["metrics"]["best_epoch"] for _, c in pairs],
        },
        size={"params": size.params, "macs": size.macs},
        resources={
            "train_seconds": sum(r.get("train_seconds", 0.0) for r in resources),
            "peak_rss_mb": max(r.get("peak_rss_mb", 0.0) for r in resources),
            "threads": first.get("train_config", {}).get("threads"),
        },
    )
