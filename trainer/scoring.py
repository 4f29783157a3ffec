"""What scoring a checkpoint starts from: the model, its checkpoint, its seeds and its data."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from trainer.checkpoint import load_checkpoint
from trainer.distill import check_rr_features
from trainer.splits import Split, TaskData
from trainer.tasks import data_for_checkpoint
from trainer.train import predict, seed_everything


def open_for_scoring(
    ckpt_path: Path,
    data_dir: str | Path | None,
    cache_dir: Path | None = None,
    data: TaskData | None = None,
) -> tuple[nn.Module, dict, TaskData]:
    model, ckpt = load_checkpoint(ckpt_path)
    cfg = ckpt["train_config"]
    seed_everything(cfg["seed"], cfg["threads"])
    data = data or data_for_checkpoint(ckpt, data_dir, cache_dir)
    check_rr_features(ckpt, data.preprocessing)
    return model, ckpt, data


def load_for(path: Path, data: TaskData) -> tuple[nn.Module, dict]:
    """A checkpoint to run on `data` outside the chain (benchmarks): refused in one line when it
    reads other RR features than the data carry (at equal width it would read wrong columns)."""
    model, ckpt = load_checkpoint(path)
    check_rr_features(ckpt, data.preprocessing)
    return model, ckpt


def predict_split(model: nn.Module, ckpt: dict, split: Split):
    """Probabilities on a split, windows aggregated as the checkpoint was trained to."""
    cfg = ckpt["train_config"]
    return predict(
        model, split, ckpt["task"], cfg["eval_stride"], aggregate=cfg.get("aggregate", "max")
    )
