"""What the compress chain records per stage, and how it picks the model that goes on.

A stage record is a plain dict (it is written to JSON in the bundle's manifest): kind, note,
checkpoint or file, size, validation score(s), the kind's test record and a one-line summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.kinds import TaskKind
from trainer.splits import TaskData
from trainer.train import clean_and_noisy, noisy_split, predict, validation_score


@dataclass(frozen=True)
class Chosen:
    """The model the chain goes on with: its checkpoint, its stage name, its training config."""

    checkpoint: Path
    stage: str
    cfg: TrainConfig


def stage_entry(form: str, note: str, ckpt: Path, metrics: dict, kind: TaskKind) -> dict:
    """The record of a torch stage from its checkpoint and `evaluate_checkpoint`'s metrics;
    `form` is what the stage is ("torch fp32")."""
    ck = torch.load(ckpt, map_location="cpu", weights_only=True)
    entry = {
        "kind": form,
        "note": note,
        "checkpoint": str(ckpt),
        "params": metrics["size"]["params"],
        "macs": metrics["size"]["macs"],
        # a noise-trained checkpoint's val_score mixes clean and noisy: keep the parts apart
        "val_score": float(ck["metrics"].get("val_clean", ck["metrics"]["val_score"])),
        **(
            {"noisy_val_score": float(ck["metrics"]["val_noisy"])}
            if "val_noisy" in ck["metrics"]
            else {}
        ),
        "train_seconds": metrics["resources"].get("train_seconds"),
        "test": kind.stage_test(metrics["test"]),
    }
    entry["summary"] = summary(kind, entry)
    return entry


def summary(kind: TaskKind, entry: dict) -> str:
    size = f"{entry['params']:,} params, {entry['macs'] / 1e6:.2f} M MACs"
    return f"{size}; {kind.summary(entry['test'])}"


def noisy_validation_score(ckpt_path: Path, data: TaskData, tracks: list[np.ndarray]) -> float:
    """The validation score with recorded noise on every validation beat (the fixed draw `fit`
    scores noise-trained epochs on): what a student trained with noise is for. Chosen by this and
    the clean score together, a student cannot win by being good on one alone (seeds differ far
    more than the noise does)."""
    model, ckpt = load_checkpoint(ckpt_path)
    noisy = noisy_split(data.val, tracks)
    probs = predict(model, noisy, data.task, ckpt["train_config"]["eval_stride"])
    return float(validation_score(data.task, noisy, probs, data.classes))


def selection_score(stage: dict) -> float:
    """Clean validation score, averaged with the noisy one where students trained with noise."""
    if "noisy_val_score" in stage:
        return clean_and_noisy(stage["val_score"], stage["noisy_val_score"])
    return stage["val_score"]


def ablation_summary(stages: dict, kind: TaskKind) -> dict:
    """Test headline with and without the teacher, seed by seed, and the mean difference."""
    seeds = sorted(int(k.rsplit("-s", 1)[1]) for k in stages if k.startswith("student-kd-s"))
    rows = []
    for s in seeds:
        kd, plain = stages[f"student-kd-s{s}"], stages.get(f"student-plain-s{s}")
        row = {"seed": s, "kd": kind.headline(kd["test"])}
        if plain is not None:
            row["plain"] = kind.headline(plain["test"])
            row["diff"] = row["kd"] - row["plain"]
        rows.append(row)
    diffs = [r["diff"] for r in rows if "diff" in r]
    return {
        "metric": kind.metric,
        "rows": rows,
        "mean_diff": float(np.mean(diffs)) if diffs else None,
        "sd_diff": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else None,
    }


def seed_summary(stages: dict) -> dict:
    """Mean and sd over seeds of every student variant's validation score and test numbers: the
    distribution a configuration gives, not its luckiest seed (issue 13)."""
    out: dict = {}
    for variant in ("plain", "kd"):
        keys = sorted(k for k in stages if k.startswith(f"student-{variant}-s"))
        if not keys:
            continue
        rows = [{"val_score": stages[k]["val_score"], **stages[k]["test"]} for k in keys]
        out[variant] = {
            "seeds": [int(k.rsplit("-s", 1)[1]) for k in keys],
            **{
                name: mean_sd([r[name] for r in rows])
                for name in rows[0]
                if isinstance(rows[0][name], int | float)
            },
        }
    return out


def mean_sd(values: list[float]) -> dict:
    """Mean and sample sd of the defined (finite) values; NaN mean when none is, no sd (None)
    below two: a class absent from a split must not warn or poison the summary."""
    v = np.array([x for x in values if np.isfinite(x)], float)
    return {
        "mean": float(v.mean()) if len(v) else float("nan"),
        "sd": float(v.std(ddof=1)) if len(v) > 1 else None,
        "n": int(len(v)),
    }
