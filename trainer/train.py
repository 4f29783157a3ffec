"""One fit loop for both tasks: AdamW, one-cycle schedule, early stopping on validation."""

from __future__ import annotations

import copy
import resource
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from trainer.batches import Batch, add_recorded_noise
from trainer.checkpoint import save_checkpoint
from trainer.config import TrainConfig
from trainer.distill import check_teacher, frozen, kd_loss
from trainer.kinds import TaskKind, kind_of
from trainer.models import ModelConfig, build_model, model_size, preset
from trainer.splits import Split, TaskData


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
    """Probabilities as the task's kind predicts: per record (windows every `stride` samples,
    aggregated) or per beat."""
    return kind_of(task).predict(model, split, stride, batch, aggregate)


def validation_score(task: str, split: Split, probs: np.ndarray, classes: tuple[str, ...]) -> float:
    """The task's headline on a split (`TaskKind.headline`): what early stopping watches."""
    kind = kind_of(task)
    return kind.headline(kind.score(split.y, probs, classes))


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
    kind = kind_of(cfg.task)
    teacher_model, distillation = _distillation(cfg, data, teacher)
    model = init if init is not None else build_model(model_config_for(cfg, data))
    # learning without forgetting (Li & Hoiem 2016): a frozen copy of the initial model
    anchor = frozen(copy.deepcopy(init)) if init is not None and cfg.anchor_weight > 0 else None
    mcfg: ModelConfig = model.cfg  # type: ignore[assignment]
    size = model_size(model)
    noise = None
    if kind.noise_training and cfg.noise_prob > 0:
        noise = noise_tracks if noise_tracks is not None else training_noise_for(cfg, data)
    plan = Plan(
        objective=Objective(
            kind, cfg, kind.class_weights(data.train.y, cfg), teacher_model, anchor
        ),
        noise=noise,
        val_noisy=noisy_split(data.val, noise) if noise else None,
        steps=cfg.epochs
        * int(np.ceil(kind.epoch_size(data.train, mcfg.input_length, cfg) / cfg.batch_size)),
    )
    t0 = time.perf_counter()
    best, history = _train(model, cfg, data, plan, rng, show_progress, t0)
    assert best.state is not None
    model.load_state_dict(best.state)
    train_seconds = time.perf_counter() - t0
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return save_checkpoint(
        out,
        model,
        task=cfg.task,
        classes=list(data.classes),
        train_config=cfg.to_dict(),
        preprocessing=kind.trained_preprocessing(data.preprocessing, cfg, mcfg.input_length),
        data=data.source,
        distillation=distillation,
        lineage=lineage,
        history=history,
        metrics={"val_score": best.score, "best_epoch": best.epoch, **best.parts},
        size={"params": size.params, "macs": size.macs},
        resources={
            "train_seconds": train_seconds,
            "peak_rss_mb": peak_rss_mb,
            "threads": cfg.threads,
        },
    )


@dataclass
class Objective:
    """The loss of one batch: the task's loss (each ensemble member on its own), mixed with the
    teacher's soft outputs (distillation) and the anchor's answers on the clean inputs."""

    kind: TaskKind
    cfg: TrainConfig
    class_weights: torch.Tensor | None
    teacher: nn.Module | None = None
    anchor: nn.Module | None = None

    def __call__(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        x, extra, y, clean = batch
        kind, cfg, weights = self.kind, self.cfg, self.class_weights
        if model.cfg.members > 1:  # type: ignore[union-attr]  # members learn, then average
            member_logits = model.member_logits(x, extra)  # type: ignore[operator]
            return torch.stack([kind.loss(lg, y, weights, cfg) for lg in member_logits]).mean()
        logits = model(x, extra)
        loss = kind.loss(logits, y, weights, cfg)
        if self.teacher is not None:
            with torch.no_grad():
                soft = self.teacher(x, extra)
            kd = kd_loss(logits, soft, kind.multilabel, cfg.kd_temperature)
            loss = (1 - cfg.kd_alpha) * loss + cfg.kd_alpha * kd
        if self.anchor is not None:  # the clean beats keep the initial model's answers
            with torch.no_grad():
                target = self.anchor(clean, extra)
            kept = kd_loss(model(clean, extra), target, kind.multilabel, cfg.kd_temperature)
            loss = loss + cfg.anchor_weight * kept
        return loss


@dataclass(frozen=True)
class Plan:
    """What a fit decided before its first epoch."""

    objective: Objective
    noise: list[np.ndarray] | None  # recorded noise tracks added to training beats
    val_noisy: Split | None  # the validation split with the fixed noisy draw, or None
    steps: int  # optimiser steps in all (the one-cycle schedule's length)


@dataclass
class Best:
    """The best validation epoch so far, and the epochs since it."""

    score: float = -np.inf
    epoch: int = -1
    state: dict | None = None
    parts: dict[str, float] = field(default_factory=dict)
    stale: int = 0

    def offer(self, model: nn.Module, epoch: int, score: float, entry: dict) -> None:
        if self.state is None or score > self.score:
            self.score, self.epoch, self.stale = score, epoch, 0
            self.parts = {k: v for k, v in entry.items() if k.startswith("val_")}
            self.state = copy.deepcopy(model.state_dict())
        else:
            self.stale += 1


def _distillation(
    cfg: TrainConfig, data: TaskData, teacher: tuple[nn.Module, dict] | None
) -> tuple[nn.Module | None, dict | None]:
    """The frozen teacher and the checkpoint's record of it (None, None without one)."""
    if teacher is None:
        return None, None
    check_teacher(teacher[1], cfg.task, data.classes, data.preprocessing)
    record = {
        "teacher_created": teacher[1]["created"],
        "alpha": cfg.kd_alpha,
        "temperature": cfg.kd_temperature,
        "teacher_size": teacher[1]["size"],
    }
    return frozen(teacher[0]), record


def _train(
    model: nn.Module,
    cfg: TrainConfig,
    data: TaskData,
    plan: Plan,
    rng: np.random.Generator,
    show_progress: bool,
    t0: float,
) -> tuple[Best, list[dict]]:
    """The epochs, until `cfg.epochs` or `cfg.patience` epochs without a better score."""
    kind, input_length = plan.objective.kind, model.cfg.input_length  # type: ignore[union-attr]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=plan.steps)
    best, history = Best(), []
    progress = _progress(show_progress)
    with progress:
        bar = progress.add_task(f"{cfg.task} {cfg.model}", total=cfg.epochs, status="")
        for epoch in range(cfg.epochs):
            train_mode(model, cfg.freeze_batchnorm)
            losses = []
            for batch in kind.batches(data.train, input_length, cfg, rng, plan.noise):
                loss = plan.objective(model, batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
            entry = {"epoch": epoch + 1, "train_loss": float(np.mean(losses))}
            score, parts = _validate(model, cfg, data, plan.val_noisy)
            entry.update(parts)
            history.append({**entry, "val_score": score, "seconds": time.perf_counter() - t0})
            best.offer(model, epoch + 1, score, entry)
            status = (
                f"loss {np.mean(losses):.4f}  val {score:.4f}  best {best.score:.4f} @ {best.epoch}"
            )
            progress.update(bar, advance=1, status=status)
            if show_progress and not progress.console.is_terminal:  # a log file gets plain lines
                progress.console.print(f"epoch {epoch + 1}: {status}", highlight=False)
            if best.stale >= cfg.patience:
                break
    return best, history


def _validate(
    model: nn.Module, cfg: TrainConfig, data: TaskData, val_noisy: Split | None
) -> tuple[float, dict[str, float]]:
    """The epoch's validation score, and its clean and noisy parts when trained with noise."""
    probs = predict(model, data.val, cfg.task, cfg.eval_stride, aggregate=cfg.aggregate)
    score = validation_score(cfg.task, data.val, probs, data.classes)
    if val_noisy is None:
        return score, {}
    probs = predict(model, val_noisy, cfg.task, cfg.eval_stride)
    noisy = validation_score(cfg.task, val_noisy, probs, data.classes)
    return clean_and_noisy(score, noisy), {"val_clean": score, "val_noisy": noisy}


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} epochs"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        disable=not show,
    )
