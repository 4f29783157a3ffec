"""Trained students of one configuration as one checkpoint, the mean of their logits.

Why: a small student's figures move with its seed by more than the gaps we chase (VT/VF 8 s
segment Se 0.831-0.902 over seven fold sets of one recipe); averaging students of different
seeds ships the recipe, not the luckiest draw. The checkpoint goes through the rest of the chain
like any student (`trainer compress --student ENSEMBLE`): one ONNX graph, quantized and gated
as one. Checkpoints are files from strangers too: anything that is not a valid ensemble is
refused in one line, and no member is ever overwritten.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from edge_monitor.errors import InputError
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.models import ensemble_of, model_size

# what the members must share: an ensemble of a beat model and a window model answers nothing
SHARED_FIELDS = ("task", "classes", "preprocessing")


def _field(ckpt: dict, *keys: str):
    """A nested field of a checkpoint, or None where any level is missing or not a table."""
    value = ckpt
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _tested_on(ckpt: dict):
    """The records a member was tested on (a beat or window task's list, or a data set's fixed
    test folds): members of one ensemble share them, so none of them trained on a record the
    ensemble is tested on (their validation records may differ)."""
    records = _field(ckpt, "data", "splits", "test", "records")
    if isinstance(records, list) and records:
        return sorted(map(str, records))
    folds = _field(ckpt, "data", "folds", "test")
    if isinstance(folds, list) and folds:
        return [str(_field(ckpt, "data", "dataset")), "folds", *map(str, folds)]
    return None


def _is_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _plain(value) -> bool:
    """JSON-like values only: what the members share is compared, and a tensor (or any other
    object) has no yes-or-no equality."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(map(_plain, value))
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _number(value) -> float:
    """A stranger's resource figure, or 0 where it is none."""
    return float(value) if _is_number(value) else 0.0


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_out(out: Path, checkpoints: list[Path]) -> None:
    """Where the ensemble goes: never over a member, and a file (save_checkpoint writes a fresh
    temporary file beside it and renames it over)."""
    if str(out).strip() in ("", "."):
        raise InputError("the ensemble needs a file name (--out)")
    if out.is_dir():
        raise InputError(f"--out {out} is a folder: give a file name")
    for member in checkpoints:
        if _same_file(out, member):
            raise InputError(f"--out {out} would overwrite the member {member}")


def _check_members(checkpoints: list[Path], pairs: list[tuple[nn.Module, dict]]) -> None:
    first = pairs[0][1]
    for i, (path, (model, ckpt)) in enumerate(zip(checkpoints, pairs, strict=True)):
        if getattr(model.cfg, "members", 1) > 1:
            raise InputError(f"{path} is an ensemble already: give its members instead")
        if _tested_on(ckpt) is None:
            raise InputError(f"{path} does not say which records it was tested on")
        for name in SHARED_FIELDS:
            if not _plain(ckpt.get(name)):
                raise InputError(f"{path}'s {name} is not plain values")
        for key, t in model.state_dict().items():
            if t.is_complex() or (t.is_floating_point() and not bool(torch.isfinite(t).all())):
                raise InputError(f"{path}'s {key} holds values that are not finite real numbers")
        if i == 0:
            continue
        for name in SHARED_FIELDS:
            if ckpt.get(name) != first.get(name):
                raise InputError(f"{path} differs from {checkpoints[0]} in its {name}")
        if _tested_on(ckpt) != _tested_on(first):
            raise InputError(f"{path} was tested on other records than {checkpoints[0]}")
    weights = [torch.cat([t.flatten().double() for t in m.state_dict().values()]) for m, _ in pairs]
    for i, a in enumerate(weights):
        for j in range(i):
            if a.shape == weights[j].shape and torch.equal(a, weights[j]):
                raise InputError(f"{checkpoints[i]} has the same weights as {checkpoints[j]}")


def save_ensemble(
    checkpoints: list[Path],
    out: Path,
    adjust: Callable[[nn.Module], None] | None = None,
    lineage: dict | None = None,
) -> dict:
    """The members as one checkpoint, described by the first one's fields (its train_config:
    members trained otherwise are allowed, and listed in the lineage). `adjust` edits the
    ensemble before it is saved (a prior correction baked into its last layers); `lineage` adds
    to the record of where it came from."""
    checkpoints = [Path(c) for c in checkpoints]
    if len(checkpoints) < 2:
        raise InputError("an ensemble needs at least two checkpoints")
    for i, a in enumerate(checkpoints):
        if any(_same_file(a, b) for b in checkpoints[:i]):
            raise InputError(f"{a} is given twice: an ensemble's members are different files")
    try:
        _check_out(Path(out), checkpoints)
    except OSError as exc:  # a name too long for the file system
        raise InputError(f"cannot write {str(out)[:80]}: {exc.strerror or exc}") from exc
    pairs = [load_checkpoint(c) for c in checkpoints]
    _check_members(checkpoints, pairs)
    model = ensemble_of([m for m, _ in pairs])
    if adjust is not None:
        adjust(model)
    try:  # one forward pass: a config whose input its layers cannot take ends here, in one line
        size = model_size(model)
    except (RuntimeError, TypeError, ValueError, OverflowError, MemoryError) as exc:
        said = f"the members' model config does not run on its input ({exc})"
        raise InputError(said.splitlines()[0][:200]) from exc
    first = pairs[0][1]
    resources = [r if isinstance(r := c.get("resources"), dict) else {} for _, c in pairs]
    scores = [_field(c, "metrics", "val_score") for _, c in pairs]
    known = [float(v) for v in scores if _is_number(v)]
    try:
        return save_checkpoint(
            Path(out),
            model,
            **{k: first[k] for k in (*SHARED_FIELDS, "train_config", "data") if k in first},
            lineage={
                "ensemble_of": [str(c) for c in checkpoints],
                "member_seeds": [_field(c, "train_config", "seed") for _, c in pairs],
                **(lineage or {}),
            },
            history=[],
            metrics={
                # each member's own validation score (members of patient folds: the CV score)
                "val_score": sum(known) / len(known) if known else None,
                "best_epoch": [_field(c, "metrics", "best_epoch") for _, c in pairs],
            },
            size={"params": size.params, "macs": size.macs},
            resources={
                "train_seconds": sum(_number(r.get("train_seconds")) for r in resources),
                "peak_rss_mb": max(_number(r.get("peak_rss_mb")) for r in resources),
                "threads": _field(first, "train_config", "threads"),
            },
        )
    except (OSError, RuntimeError) as exc:  # torch.save says a missing folder as RuntimeError
        raise InputError(f"cannot write {out}: {getattr(exc, 'strerror', None) or exc}") from exc
