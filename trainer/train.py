"""One fit loop for both tasks: AdamW, one-cycle schedule, early stopping on validation."""

from __future__ import annotations

import copy
import resource
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn
from torch.nn import functional as F

from edge_monitor.dsp import window_starts
from edge_monitor.inference import aggregate_windows
from trainer.batches import (
    add_recorded_noise,
    beat_batches,
    beat_class_weights,
    beat_epoch_indices,
    diagnostic_batches,
)
from trainer.checkpoint import save_checkpoint
from trainer.config import TrainConfig
from trainer.distill import check_teacher, frozen, kd_loss
from trainer.metrics import beat_statistics, macro_auc
from trainer.models import ModelConfig, build_model, model_size, preset
from trainer.tasks import Split, TaskData


def seed_everything(seed: int, threads: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)


def model_config_for(cfg: TrainConfig, data: TaskData) -> ModelConfig:
    """The preset, fitted to the data's channels and classes (a lead subset changes the input)."""
    overrides: dict = {"in_channels": data.train.x.shape[1], "n_classes": len(data.classes)}
    if data.train.extra is not None:
        overrides["n_extra"] = data.train.extra.shape[1]
    return preset(cfg.task, cfg.model, **overrides)


# ---- prediction ----------------------------------------------------------------------------


@torch.no_grad()
def predict(
    model: nn.Module,
    split: Split,
    task: str,
    stride: int = 125,
    batch: int = 2048,
    aggregate: str = "mean",
) -> np.ndarray:
    """Probabilities: per record (diagnostic, sliding windows aggregated) or per beat (softmax)."""
    model.eval()
    cfg: ModelConfig = model.cfg  # type: ignore[assignment]
    if task == "diagnostic":
        total, window = split.x.shape[-1], cfg.input_length
        starts = window_starts(total, window, stride)
        windows = np.stack([split.x[:, :, s : s + window] for s in starts], axis=1)
        flat = torch.from_numpy(windows.reshape(-1, split.x.shape[1], window))
        probs = torch.cat(
            [torch.sigmoid(model(flat[i : i + batch])) for i in range(0, len(flat), batch)]
        )
        per_window = probs.reshape(len(split), len(starts), -1).numpy()
        return aggregate_windows(per_window.transpose(1, 0, 2), aggregate)
    assert split.extra is not None
    x, extra = torch.from_numpy(split.x), torch.from_numpy(split.extra)
    out = [
        torch.softmax(model(x[i : i + batch], extra[i : i + batch]), dim=1)
        for i in range(0, len(x), batch)
    ]
    return torch.cat(out).numpy()


def validation_score(task: str, split: Split, probs: np.ndarray, classes: tuple[str, ...]) -> float:
    """Macro AUC (diagnostic) or the mean F1 of S and V beats (arrhythmia): what early stopping
    watches."""
    if task == "diagnostic":
        return macro_auc(split.y, probs)
    stats = beat_statistics(split.y, probs.argmax(axis=1), classes)["per_class"]
    return float(np.nanmean([stats["S"]["f1"], stats["V"]["f1"]]))


# ---- the loop ------------------------------------------------------------------------------


# noisy validation: every validation beat gets recorded noise at an SNR in this range, one fixed
# draw, so epochs and students are scored on the same noisy beats
NOISY_VALIDATION_SNR_DB = (6.0, 18.0)


def clean_and_noisy(clean: float, noisy: float) -> float:
    """The score of a model trained for noise: clean and noisy validation count alike."""
    return 0.5 * (clean + noisy)


def noisy_split(split: Split, tracks: list[np.ndarray]) -> Split:
    rng = np.random.default_rng(0)
    return replace(split, x=add_recorded_noise(split.x, tracks, 1.0, NOISY_VALIDATION_SNR_DB, rng))


def training_noise_for(cfg: TrainConfig, data: TaskData) -> list[np.ndarray]:
    from edge_monitor.dsp import FilterSpec
    from trainer.datasets import nstdb

    spec = FilterSpec(**data.preprocessing["filter"])
    return nstdb.training_noise(
        nstdb.resolve_dir(cfg.noise_dir), data.preprocessing["fs"], spec, mitdb=_em_source(data)
    )


def training_noise_names(data: TaskData) -> list[str]:
    """The recorded noises `training_noise_for` adds, for manifests and messages."""
    return ["bw", "ma"] + (["em (second channel)"] if _em_source(data) else [])


def _em_source(data: TaskData) -> Path | None:
    """em is recovered with MIT-BIH record 118; a partial copy without it trains without em."""
    ok = data.data_dir is not None and (data.data_dir / "118.hea").exists()
    return data.data_dir if ok else None


def train_mode(model: nn.Module, freeze_batchnorm: bool) -> None:
    model.train()
    if freeze_batchnorm:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()  # normalise with the running statistics, and leave them as they are


def fit(
    cfg: TrainConfig,
    data: TaskData,
    out: Path,
    show_progress: bool = True,
    teacher: tuple[nn.Module, dict] | None = None,
    init: nn.Module | None = None,
    lineage: dict | None = None,
    noise_tracks: list[np.ndarray] | None = None,
) -> dict:
    """Train, keep the best validation epoch, write the checkpoint to `out`; return it.

    With a teacher (model, checkpoint) the loss mixes the labels with the teacher's soft outputs.
    With `init` (a pruned network, say) training starts from that model instead of a new preset.
    Trained with recorded noise (`cfg.noise_prob`; tracks loaded unless given), an epoch is scored
    on the mean of the clean and the noisy validation score: a model that only learned to
    ignore noise, or only the clean beats, does not win.
    """
    seed_everything(cfg.seed, cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    teacher_model = None
    distillation = None
    if teacher is not None:
        check_teacher(teacher[1], cfg.task, data.classes, data.preprocessing)
        teacher_model = frozen(teacher[0])
        distillation = {
            "teacher_created": teacher[1]["created"],
            "alpha": cfg.kd_alpha,
            "temperature": cfg.kd_temperature,
            "teacher_size": teacher[1]["size"],
        }
    model = init if init is not None else build_model(model_config_for(cfg, data))
    # learning without forgetting (Li & Hoiem 2016): a frozen copy of the initial model
    anchor = frozen(copy.deepcopy(init)) if init is not None and cfg.anchor_weight > 0 else None
    mcfg: ModelConfig = model.cfg  # type: ignore[assignment]
    size = model_size(model)
    diagnostic = cfg.task == "diagnostic"
    noise = None
    if not diagnostic and cfg.noise_prob > 0:
        noise = noise_tracks if noise_tracks is not None else training_noise_for(cfg, data)
    val_noisy = noisy_split(data.val, noise) if noise else None
    if diagnostic:
        n_records = len(data.train)
        per_epoch = n_records * (
            1 if mcfg.input_length >= data.train.x.shape[-1] else cfg.crops_per_record
        )
        class_weights = None
    else:
        per_epoch = len(
            beat_epoch_indices(data.train.y, cfg.majority_keep, np.random.default_rng(0))
        )
        class_weights = beat_class_weights(data.train.y, len(data.classes), cfg)
    steps = cfg.epochs * int(np.ceil(per_epoch / cfg.batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    best_score, best_state, best_epoch, stale = -np.inf, None, -1, 0
    best_parts: dict[str, float] = {}
    history: list[dict] = []
    t0 = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} epochs"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        disable=not show_progress,
    )
    with progress:
        bar = progress.add_task(f"{cfg.task} {cfg.model}", total=cfg.epochs, status="")
        for epoch in range(cfg.epochs):
            train_mode(model, cfg.freeze_batchnorm)
            losses = []
            batches = (
                diagnostic_batches(data.train, mcfg.input_length, cfg, rng)
                if diagnostic
                else beat_batches(data.train, cfg, rng, noise)
            )
            for x, extra, y, clean in batches:
                if mcfg.members > 1:  # each member learns on its own, then they are averaged
                    member_logits = model.member_logits(x, extra)
                    loss = torch.stack(
                        [_loss(lg, y, diagnostic, class_weights, cfg) for lg in member_logits]
                    ).mean()
                else:
                    logits = model(x, extra)
                    loss = _loss(logits, y, diagnostic, class_weights, cfg)
                    if teacher_model is not None:
                        with torch.no_grad():
                            soft = teacher_model(x, extra)
                        kd = kd_loss(logits, soft, diagnostic, cfg.kd_temperature)
                        loss = (1 - cfg.kd_alpha) * loss + cfg.kd_alpha * kd
                    if anchor is not None:  # the clean beats keep the initial model's answers
                        with torch.no_grad():
                            target = anchor(clean, extra)
                        kept = kd_loss(model(clean, extra), target, diagnostic, cfg.kd_temperature)
                        loss = loss + cfg.anchor_weight * kept
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
            probs = predict(model, data.val, cfg.task, cfg.eval_stride, aggregate=cfg.aggregate)
            score = validation_score(cfg.task, data.val, probs, data.classes)
            entry = {"epoch": epoch + 1, "train_loss": float(np.mean(losses))}
            if val_noisy is not None:
                probs = predict(model, val_noisy, cfg.task, cfg.eval_stride)
                noisy = validation_score(cfg.task, val_noisy, probs, data.classes)
                entry.update({"val_clean": score, "val_noisy": noisy})
                score = clean_and_noisy(score, noisy)
            history.append({**entry, "val_score": score, "seconds": time.perf_counter() - t0})
            if best_state is None or score > best_score:
                best_score, best_epoch, stale = score, epoch + 1, 0
                best_parts = {k: v for k, v in entry.items() if k.startswith("val_")}
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
            status = (
                f"loss {np.mean(losses):.4f}  val {score:.4f}  best {best_score:.4f} @ {best_epoch}"
            )
            progress.update(bar, advance=1, status=status)
            if show_progress and not progress.console.is_terminal:  # a log file gets plain lines
                progress.console.print(f"epoch {epoch + 1}: {status}", highlight=False)
            if stale >= cfg.patience:
                break
    assert best_state is not None
    model.load_state_dict(best_state)
    train_seconds = time.perf_counter() - t0
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return save_checkpoint(
        out,
        model,
        task=cfg.task,
        classes=list(data.classes),
        train_config=cfg.to_dict(),
        preprocessing={
            **data.preprocessing,
            **(
                {"aggregate": cfg.aggregate, "window": mcfg.input_length, "stride": cfg.eval_stride}
                if diagnostic
                else {}
            ),
        },
        data=data.source,
        distillation=distillation,
        lineage=lineage,
        history=history,
        metrics={"val_score": best_score, "best_epoch": best_epoch, **best_parts},
        size={"params": size.params, "macs": size.macs},
        resources={
            "train_seconds": train_seconds,
            "peak_rss_mb": peak_rss_mb,
            "threads": cfg.threads,
        },
    )


def _loss(logits, y, diagnostic: bool, class_weights, cfg: TrainConfig) -> torch.Tensor:
    if diagnostic:
        return F.binary_cross_entropy_with_logits(logits, y)
    ce = F.cross_entropy(
        logits, y, weight=class_weights, reduction="none", label_smoothing=cfg.label_smoothing
    )
    if cfg.focal_gamma > 0:
        p_true = torch.softmax(logits, 1).gather(1, y[:, None])[:, 0].detach()
        ce = ce * (1 - p_true) ** cfg.focal_gamma
    return ce.mean()
