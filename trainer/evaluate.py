"""Scoring a checkpoint on the held-out split. Thresholds and choices come from validation only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer.kinds import kind_of
from trainer.metrics import write_json
from trainer.scoring import open_for_scoring, predict_split
from trainer.splits import TaskData


def evaluate_checkpoint(
    ckpt_path: Path,
    data_dir: str | Path | None,
    out_dir: Path,
    cache_dir: Path | None = None,
    n_boot: int = 1000,
    data: TaskData | None = None,
) -> dict:
    """Writes metrics.json, predictions.npz (test probabilities) and roc.png into `out_dir`."""
    model, ckpt, data = open_for_scoring(ckpt_path, data_dir, cache_dir, data)
    cfg = ckpt["train_config"]
    task = ckpt["task"]
    kind = kind_of(task)
    p_val = predict_split(model, ckpt, data.val)
    p_test = predict_split(model, ckpt, data.test)
    result = kind.evaluate(data, p_val, p_test, n_boot)
    result.update(
        {
            "checkpoint": str(ckpt_path),
            "task": task,
            "model": cfg["model"],
            "data": ckpt["data"],
            "size": ckpt["size"],
            "resources": ckpt["resources"],
            "best_epoch": ckpt["metrics"]["best_epoch"],
        }
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "metrics.json", result)
    np.savez(
        out_dir / "predictions.npz", y_test=data.test.y, p_test=p_test, groups=data.test.groups
    )
    title = (
        f"{data.source['dataset']}\n{task} {cfg['model']}, test split ({len(data.test)} "
        f"{kind.unit})"
    )
    plot_roc(data, p_test, out_dir / "roc.png", title)
    return result


def plot_roc(data: TaskData, p_test: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    y = data.test.y
    if y.ndim == 1:  # one-vs-rest per beat class
        y = np.eye(len(data.classes))[y]
    fig, ax = plt.subplots(figsize=(5, 5))
    for k, name in enumerate(data.classes):
        if 0 < y[:, k].sum() < len(y):
            fpr, tpr, _ = roc_curve(y[:, k], p_test[:, k])
            ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="sensitivity")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
