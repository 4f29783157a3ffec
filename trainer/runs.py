"""A training run from the CLI's options: config, data, fit, optional evaluation, summary lines."""

from __future__ import annotations

import json
from pathlib import Path

from edge_monitor.errors import InputError
from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig, load_config
from trainer.evaluate import evaluate_checkpoint
from trainer.kinds import kind_of
from trainer.metrics import write_json
from trainer.models import build_model, model_size
from trainer.prune import prune_inner_channels
from trainer.tasks import data_for_checkpoint, load_task
from trainer.train import fit, model_config_for


def train_run(
    task: str,
    model: str,
    out: Path,
    data_dir,
    config: Path | None,
    leads: str | None,
    cache_dir: Path | None,
    evaluate: bool,
    overrides: dict,
    teacher: Path | None = None,
) -> list[str]:
    cfg = load_config(config, task=task, model=model, **overrides)
    if overrides.get("patience") is not None and cfg.keep_epoch != "best":
        raise InputError(
            f"--patience does nothing with keep_epoch = {cfg.keep_epoch!r} (every epoch runs, "
            'no early stopping); a --config with keep_epoch = "best" brings early stopping back'
        )
    data = load_task(
        cfg.task, data_dir, leads=leads, cache_dir=cache_dir, limit=cfg.limit, seed=cfg.seed
    )
    size = model_size(build_model(model_config_for(cfg, data)))
    lines = [
        f"{cfg.task} {cfg.model}: {size.describe()}",
        f"data: {json.dumps(data.source.get('records') or data.source['splits'])}",
    ]
    ckpt = _fit_into(out, cfg, data, teacher, lines)
    res = ckpt["resources"]
    averaged = ckpt["metrics"].get("averaged_epochs", cfg.average_epochs)
    kept = {"best": "the best epoch", "last": "the last epoch"}.get(
        cfg.keep_epoch, f"the mean weights of the last {averaged} epochs, up to"
    )
    lines.append(
        f"kept {kept} {ckpt['metrics']['best_epoch']}: validation score "
        f"{ckpt['metrics']['val_score']:.4f}; {res['train_seconds']:.0f} s, "
        f"peak RSS {res['peak_rss_mb']:.0f} MB; wrote {out / 'model.pt'}"
    )
    if evaluate:
        result = evaluate_checkpoint(out / "model.pt", data_dir, out, cache_dir, data=data)
        lines += describe_metrics(result)
    return lines


def _fit_into(
    out: Path, cfg: TrainConfig, data, teacher: Path | None, lines: list[str], **fit_options
) -> dict:
    """Save the resolved config beside the run, load the teacher if any, fit into OUT/model.pt."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "train_config.json", cfg.to_dict())
    teacher_pair = load_checkpoint(teacher) if teacher is not None else None
    if teacher_pair is not None:
        lines.append(f"distilling from {teacher} (alpha {cfg.kd_alpha}, T {cfg.kd_temperature})")
    return fit(cfg, data, out / "model.pt", teacher=teacher_pair, **fit_options)


def describe_metrics(result: dict) -> list[str]:
    return kind_of(result["task"]).describe(result)


def prune_run(
    checkpoint: Path,
    ratio: float,
    out: Path,
    data_dir,
    cache_dir: Path | None,
    teacher: Path | None,
    overrides: dict,
) -> list[str]:
    """Prune a trained network, fine-tune it (with its teacher, if given), score it."""
    model, ckpt = load_checkpoint(checkpoint)
    pruned = prune_inner_channels(model, ratio)
    before, after = model_size(model), model_size(pruned)
    cfg = TrainConfig.from_dict(ckpt["train_config"]).with_overrides(**overrides)
    data = data_for_checkpoint(ckpt, data_dir, cache_dir)
    lineage = {
        "pruned_from": str(checkpoint),
        "ratio": ratio,
        "before": {"params": before.params, "macs": before.macs},
        "after": {"params": after.params, "macs": after.macs},
    }
    lines = [
        f"pruned {ratio:.0%} of inner channels: {before.params:,} -> {after.params:,} "
        f"parameters, {before.macs / 1e6:.2f} -> {after.macs / 1e6:.2f} M MACs "
        f"({1 - after.macs / before.macs:.0%} fewer)"
    ]
    fitted = _fit_into(out, cfg, data, teacher, lines, init=pruned, lineage=lineage)
    lines.append(f"fine-tuned: best validation score {fitted['metrics']['val_score']:.4f}")
    result = evaluate_checkpoint(out / "model.pt", data_dir, out, cache_dir, data=data)
    return lines + describe_metrics(result)
