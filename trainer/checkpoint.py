"""Self-describing checkpoints: weights plus config, classes, preprocessing and metrics.

Only tensors and plain Python values go in, so `torch.load(weights_only=True)` reads them: a
checkpoint from a stranger cannot run code.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    # a fresh temporary file of our own (O_EXCL): a name left there, or a link planted there,
    # is never written through; renamed over `path` only once whole
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide it from the group
        with os.fdopen(fd, "wb") as f:
            torch.save(ckpt, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return ckpt


def load_checkpoint(path: Path) -> tuple[nn.Module, dict]:
    try:
        exists, is_file = path.exists(), path.is_file()
    except OSError as exc:  # a name too long, a loop of links
        raise InputError(f"cannot read {str(path)[:80]}: {exc.strerror or exc}") from exc
    if not exists:
        raise DataNotFoundError(f"checkpoint not found: {path}")
    if not is_file:  # a folder, a FIFO (which would block), a device
        raise InputError(f"{path} is not a checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors, truncated zip files
        raise InputError(
            f"not a readable ecg-edge checkpoint: {path} ({exc.__class__.__name__})"
        ) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputError(f"{path} is not an ecg-edge checkpoint (format {FORMAT})")
    try:  # torch says an impossible size (negative, too large to allocate) as RuntimeError
        model = build_model(ModelConfig.from_dict(ckpt["model_config"]))
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, MemoryError) as exc:
        raise InputError(f"{path} holds no usable model config") from exc
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, RuntimeError, TypeError, AttributeError) as exc:
        raise InputError(f"weights in {path} do not fit their model config") from exc
    model.eval()
    return model, ckpt
