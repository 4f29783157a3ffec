"""One fit loop for every task: AdamW, one-cycle schedule, early stopping on validation; in one
process, or on the ranks torchrun starts (rank 0 validates and writes: `trainer.distributed`)."""

from __future__ import annotations

import copy
import resource
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from edge_monitor.errors import InputError
from trainer import distributed
from trainer.batches import Batch, add_recorded_noise
from trainer.checkpoint import save_checkpoint
from trainer.config import TrainConfig
from trainer.distill import distillation_teacher, frozen, kd_loss
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
    last_out: Path | None = None,
) -> dict:
    """Train, keep the best validation epoch, write the checkpoint to `out`; return it.

    With a teacher (model, checkpoint) the loss mixes the labels with the teacher's soft outputs.
    With `init` (a pruned network, say) training starts from that model instead of a new preset.
    Trained with recorded noise (`cfg.noise_prob`; tracks loaded unless given), an epoch is scored
    on the mean of the clean and the noisy validation score: a model that only learned to
    ignore noise, or only the clean beats, does not win. Launched by torchrun, this is rank 0:
    the other ranks train the same job beside it (`follow`), this rank alone validates, stops
    and writes (`trainer.distributed`). With `last_out` the last epoch's weights are written
    there too: what weight averaging (`keep_epoch = "average"`) is compared with, from one run.
    """
    if last_out is not None and cfg.keep_epoch == "best":
        raise InputError("last_out needs keep_epoch 'average' or 'last': 'best' may stop early")
    seed_everything(cfg.seed, cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    kind = kind_of(cfg.task)
    teacher_model, distillation = distillation_teacher(cfg, data, teacher)
    model = init if init is not None else build_model(model_config_for(cfg, data))
    mcfg: ModelConfig = model.cfg  # type: ignore[assignment]
    size = model_size(model)
    noise = None
    if kind.noise_training and cfg.noise_prob > 0:
        noise = noise_tracks if noise_tracks is not None else training_noise_for(cfg, data)
    # learning without forgetting (Li & Hoiem 2016): a frozen copy of the initial model
    anchored = init is not None and cfg.anchor_weight > 0
    start, teacher_start = distributed.weights_of(model), distributed.weights_of(teacher_model)
    # the other ranks start from this torch random state: the same global dropout masks
    job = distributed.Job(cfg, start, teacher_start, anchored, noise, torch.get_rng_state())
    judge = Judge(cfg, data, noisy_split(data.val, noise) if noise else None, show_progress)
    ranks = distributed.current()
    best, history = _lead(job, model, teacher_model, data.train, rng, judge, ranks)
    assert best.state is not None
    last = (best.state, best.metrics())
    if cfg.keep_epoch == "average":
        judge.average(model)
    train_seconds = time.perf_counter() - judge.t0
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def write(path: Path, state: dict, metrics: dict) -> dict:
        model.load_state_dict(state)
        return save_checkpoint(
            path,
            model,
            task=cfg.task,
            classes=list(data.classes),
            train_config=cfg.to_dict(),
            preprocessing=kind.trained_preprocessing(data.preprocessing, cfg, mcfg.input_length),
            data=data.source,
            distillation=distillation,
            lineage=lineage,
            history=history,
            metrics=metrics,
            size={"params": size.params, "macs": size.macs},
            resources={
                "train_seconds": train_seconds,
                "peak_rss_mb": peak_rss_mb,
                "threads": cfg.threads,
                **({"ranks": ranks.describe()} if ranks is not None else {}),
            },
        )

    if last_out is not None:
        write(last_out, *last)
    return write(out, best.state, best.metrics())


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


class _Step(nn.Module):
    """The model and its objective as one module, so one DistributedDataParallel forward covers
    every use of the model in a step (the anchor's path calls it twice)."""

    def __init__(self, model: nn.Module, objective: Objective) -> None:
        super().__init__()
        self.model = model
        self.objective = objective  # not a module: the teacher and anchor stay outside DDP

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.objective(self.model, batch)


@dataclass
class Best:
    """The best validation epoch so far, and the epochs since it."""

    score: float = -np.inf
    epoch: int = -1
    state: dict | None = None
    parts: dict[str, float] = field(default_factory=dict)
    stale: int = 0

    def offer(
        self, model: nn.Module, epoch: int, score: float, entry: dict, last: bool = False
    ) -> None:
        """Keep this epoch if it scores best (or, with `last`, always: no early stopping)."""
        if self.state is None or score > self.score or last:
            self.score, self.epoch, self.stale = score, epoch, 0
            self.parts = {k: v for k, v in entry.items() if k.startswith("val_")}
            self.state = copy.deepcopy(model.state_dict())
        else:
            self.stale += 1

    def metrics(self) -> dict:
        """What a checkpoint records of the kept weights."""
        return {"val_score": self.score, "best_epoch": self.epoch, **self.parts}


@dataclass
class Judge:
    """Rank 0's part of the epochs: validation, the best epoch, history, progress, stopping."""

    cfg: TrainConfig
    data: TaskData
    val_noisy: Split | None  # the validation split with the fixed noisy draw, or None
    show_progress: bool
    best: Best = field(default_factory=Best)
    history: list[dict] = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.recent: deque[dict] = deque(maxlen=self.cfg.average_epochs)
        self.progress = _progress(self.show_progress)
        desc = f"{self.cfg.task} {self.cfg.model}"
        self.bar = self.progress.add_task(desc, total=self.cfg.epochs, status="")

    def epoch(self, model: nn.Module, epoch: int, loss: float) -> bool:
        """Score the epoch's model (on the CPU, where the kinds predict); True: stop here."""
        on_cpu = all(p.device.type == "cpu" for p in model.parameters())
        model = model if on_cpu else copy.deepcopy(model).cpu()
        entry = {"epoch": epoch, "train_loss": loss}
        score, parts = _validate(model, self.cfg, self.data, self.val_noisy)
        entry.update(parts)
        self.history.append({**entry, "val_score": score, "seconds": time.perf_counter() - self.t0})
        best = self.best
        best.offer(model, epoch, score, entry, last=self.cfg.keep_epoch != "best")
        if self.cfg.keep_epoch == "average":  # offer() kept this epoch's own copy
            self.recent.append(best.state)
        status = f"loss {loss:.4f}  val {score:.4f}  best {best.score:.4f} @ {best.epoch}"
        self.progress.update(self.bar, advance=1, status=status)
        if self.show_progress and not self.progress.console.is_terminal:  # log files: lines
            self.progress.console.print(f"epoch {epoch}: {status}", highlight=False)
        return self.cfg.keep_epoch == "best" and best.stale >= self.cfg.patience

    def average(self, model: nn.Module) -> None:
        """Keep the mean of the last epochs' weights (`keep_epoch = "average"`), scored on
        validation like an epoch; `best.epoch` stays the last epoch averaged."""
        state = mean_state(list(self.recent))
        scored = copy.deepcopy(model).cpu()
        scored.load_state_dict(state)
        score, parts = _validate(scored, self.cfg, self.data, self.val_noisy)
        self.best.state, self.best.score = state, score
        self.best.parts = {**parts, "averaged_epochs": len(self.recent)}


def mean_state(states: list[dict]) -> dict:
    """The element-wise mean of state dicts; BatchNorm's running statistics are averaged like
    the weights (their epochs' statistics belong to nearby weights), integer counters are the
    last state's."""
    return {
        k: torch.stack([s[k] for s in states]).mean(0) if v.is_floating_point() else v.clone()
        for k, v in states[-1].items()
    }


def _lead(
    job: distributed.Job,
    model: nn.Module,
    teacher: nn.Module | None,
    train: Split,
    rng: np.random.Generator,
    judge: Judge,
    ranks: distributed.Ranks | None,
) -> tuple[Best, list[dict]]:
    """Rank 0 (or the lone process): send the job to the other ranks, then train with them."""
    if ranks is not None and ranks.world > 1:
        distributed.job_started(True)  # from here on a failure must not announce the end
        distributed.share(ranks, job)
        distributed.share_split(ranks, train)
    with judge.progress:
        _train(job, model, teacher, train, rng, judge, ranks)
    distributed.job_started(False)
    return judge.best, judge.history


def train_job(job: distributed.Job, train: Split, ranks: distributed.Ranks) -> nn.Module:
    """A rank other than 0: one fit beside rank 0; the trained network (its last epoch)."""
    cfg = job.cfg
    seed_everything(cfg.seed, cfg.threads)
    model = distributed.rebuild(job.model)
    teacher = frozen(distributed.rebuild(job.teacher)) if job.teacher is not None else None
    torch.set_rng_state(job.torch_rng)  # rank 0's stream: the same global dropout masks
    return _train(job, model, teacher, train, np.random.default_rng(cfg.seed), None, ranks)


def _train(
    job: distributed.Job,
    model: nn.Module,
    teacher: nn.Module | None,
    train: Split,
    rng: np.random.Generator,
    judge: Judge | None,
    ranks: distributed.Ranks | None,
) -> nn.Module:
    """The epochs, on every rank alike, until `cfg.epochs` or the judge's stop (rank 0 judges,
    the others are told). Every rank draws the same global batches and trains on its share."""
    cfg, kind = job.cfg, kind_of(job.cfg.task)
    net = _training_copy(model, ranks)
    device = next(net.parameters()).device
    anchor = frozen(copy.deepcopy(model)).to(device) if job.anchored else None
    if teacher is not None and device.type != "cpu":
        teacher = copy.deepcopy(teacher).to(device)
    weights = kind.class_weights(train.y, cfg)
    weights = None if weights is None else weights.to(device)
    objective = Objective(kind, cfg, weights, teacher, anchor)
    step = distributed.wrap(_Step(net, objective), ranks)
    input_length = net.cfg.input_length  # type: ignore[union-attr]
    batches = int(np.ceil(kind.epoch_size(train, input_length, cfg) / cfg.batch_size))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * batches
    )
    for epoch in range(cfg.epochs):
        train_mode(step, cfg.freeze_batchnorm)
        losses = []
        for batch in kind.batches(train, input_length, cfg, rng, job.noise):
            share = distributed.shard(batch, ranks)
            if share is None:
                continue
            distributed.mark_rows(net, share)
            loss = step(share.batch)
            loss = loss * share.weight if share.weight != 1.0 else loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.detach())
        mean = distributed.mean_loss(ranks, losses)
        stop = judge.epoch(net, epoch + 1, mean) if judge is not None else False
        if ranks is not None and ranks.world > 1:
            stop = distributed.share(ranks, stop)
        if stop:
            break
    return net


def _training_copy(model: nn.Module, ranks: distributed.Ranks | None) -> nn.Module:
    """The network that trains: `model` itself in one CPU process; with several ranks or a GPU a
    copy on the rank's device, BatchNorm over the global batch (the caller's model stays)."""
    if ranks is None or (ranks.world == 1 and ranks.device.type == "cpu"):
        return model
    return distributed.global_batch(copy.deepcopy(model), ranks).to(ranks.device)


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
