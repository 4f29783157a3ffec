"""Self-describing checkpoints: weights plus config, classes, preprocessing and metrics.

Only tensors and plain Python values go in, so `torch.load(weights_only=True)` reads them: a
checkpoint from a stranger cannot run code.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import torch
from torch import nn

from edge_monitor.errors import DataNotFoundError, InputError
from trainer.models import ModelConfig, build_model

FORMAT = "ecg-edge/checkpoint-1"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def save_checkpoint(path: Path, model: nn.Module, **fields) -> dict:
    cfg: ModelConfig = model.cfg  # type: ignore[assignment]
    ckpt = {
        "format": FORMAT,
        "model_config": cfg.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_commit": git_commit(),
        **fields,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(path)
    return ckpt


def load_checkpoint(path: Path) -> tuple[nn.Module, dict]:
    if not path.exists():
        raise DataNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors, truncated zip files
        raise InputError(
            f"not a readable ecg-edge checkpoint: {path} ({exc.__class__.__name__})"
        ) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputError(f"{path} is not an ecg-edge checkpoint (format {FORMAT})")
    try:
        model = build_model(ModelConfig.from_dict(ckpt["model_config"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path} holds no usable model config") from exc
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, RuntimeError, TypeError, AttributeError) as exc:
        raise InputError(f"weights in {path} do not fit their model config") from exc
    model.eval()
    return model, ckpt
