"""Scoring a checkpoint on the held-out split. Thresholds and choices come from validation only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix

from trainer.metrics import (
    beat_statistics,
    bootstrap_ci,
    macro_auc,
    multilabel_f1,
    per_class_auc,
    tune_thresholds,
)
from trainer.scoring import open_for_scoring, predict_split
from trainer.tasks import TaskData


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
    p_val = predict_split(model, ckpt, data.val)
    p_test = predict_split(model, ckpt, data.test)
    if task == "diagnostic":
        result = diagnostic_metrics(data, p_val, p_test, n_boot)
    else:
        result = {
            "val": beat_statistics(data.val.y, p_val.argmax(1), data.classes),
            "test": beat_statistics(data.test.y, p_test.argmax(1), data.classes),
            "test_per_record": per_record_confusion(data, p_test.argmax(1)),
        }
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
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=2))
    np.savez(
        out_dir / "predictions.npz", y_test=data.test.y, p_test=p_test, groups=data.test.groups
    )
    title = f"{data.source['dataset']}\n{task} {cfg['model']}, test split ({len(data.test)} " + (
        "records)" if task == "diagnostic" else "beats)"
    )
    plot_roc(data, p_test, out_dir / "roc.png", title)
    return result


def diagnostic_metrics(data: TaskData, p_val: np.ndarray, p_test: np.ndarray, n_boot: int) -> dict:
    y_val, y_test = data.val.y, data.test.y
    thresholds = tune_thresholds(y_val, p_val)
    prior = np.broadcast_to(data.train.y.mean(axis=0), y_test.shape)
    auc = macro_auc(y_test, p_test)
    lo, hi = bootstrap_ci(macro_auc, y_test, p_test, n_boot=n_boot)
    return {
        "test": {
            "records": len(y_test),
            "macro_auc": auc,
            "macro_auc_ci95": [lo, hi],
            "per_class_auc": dict(
                zip(data.classes, per_class_auc(y_test, p_test).tolist(), strict=True)
            ),
            **multilabel_f1(y_test, p_test, thresholds),
        },
        "val": {"records": len(y_val), "macro_auc": macro_auc(y_val, p_val)},
        "thresholds_from_val": thresholds.tolist(),
        "label_prior_baseline": {
            "macro_auc": macro_auc(y_test, prior),
            **multilabel_f1(y_test, prior, thresholds),
        },
    }


def per_record_confusion(data: TaskData, pred: np.ndarray) -> dict[str, list[list[int]]]:
    """Confusion matrix of each test record: where the gross statistics come from."""
    labels = list(range(len(data.classes)))
    return {
        str(r): confusion_matrix(
            data.test.y[data.test.groups == r], pred[data.test.groups == r], labels=labels
        ).tolist()
        for r in np.unique(data.test.groups)
    }


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
