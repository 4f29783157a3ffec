"""Scores with honest uncertainty: AUC with bootstrap CIs, paired differences, AAMI beat stats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_curve, roc_auc_score

from edge_monitor import strict_json
from trainer.datasets.mitdb import AAMI_CLASSES


def write_json(path: Path, obj) -> None:
    """Metrics and results as strict JSON: Python's default writes a bare `NaN`, which no JSON
    reader but Python's accepts; an undefined score is `null` instead."""
    Path(path).write_text(strict_json.dumps(obj, indent=2))


def per_class_auc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ROC-AUC of each column; NaN where a class has only one label value in `y`."""
    out = np.full(y.shape[1], np.nan)
    for k in range(y.shape[1]):
        if 0 < y[:, k].sum() < len(y):
            out[k] = roc_auc_score(y[:, k], p[:, k])
    return out


def mean_of_defined(values) -> float:
    """The mean of the finite values (a per-class score is NaN where the class is undefined in
    the split); NaN, without a warning, when none is finite."""
    a = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(a)
    return float(np.mean(a[ok])) if ok.any() else float("nan")


def macro_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Mean AUC over the classes that have both labels present; NaN when none has."""
    return mean_of_defined(per_class_auc(y, p))


def _resample_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap_ci(
    stat: Callable[[np.ndarray, np.ndarray], float],
    y: np.ndarray,
    p: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile CI of `stat` over records resampled with replacement."""
    values = []
    for idx in _resample_indices(len(y), n_boot, seed):
        v = stat(y[idx], p[idx])
        if np.isfinite(v):
            values.append(v)
    lo, hi = np.percentile(values, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def paired_bootstrap(
    stat: Callable[[np.ndarray, np.ndarray], float],
    y: np.ndarray,
    p_a: np.ndarray,
    p_b: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """stat(a) - stat(b) on the same resampled records: its CI says whether a gap is noise."""
    diffs = []
    for idx in _resample_indices(len(y), n_boot, seed):
        d = stat(y[idx], p_a[idx]) - stat(y[idx], p_b[idx])
        if np.isfinite(d):
            diffs.append(d)
    diffs_arr = np.asarray(diffs)
    lo, hi = np.percentile(diffs_arr, [2.5, 97.5])
    return {
        "diff": float(stat(y, p_a) - stat(y, p_b)),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_a_not_better": float((diffs_arr <= 0).mean()),
        "within_noise": bool(lo <= 0 <= hi),
    }


def tune_thresholds(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-class threshold maximising F1 on the data given (the validation split, never test)."""
    thresholds = np.full(y.shape[1], 0.5)
    for k in range(y.shape[1]):
        if y[:, k].sum() == 0:
            continue
        precision, recall, thr = precision_recall_curve(y[:, k], p[:, k])
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        thresholds[k] = float(thr[int(np.argmax(f1[:-1]))])
    return thresholds


def multilabel_f1(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> dict[str, object]:
    pred = (p >= thresholds[None, :]).astype(int)
    per_class = f1_score(y.astype(int), pred, average=None, zero_division=0)
    return {"macro_f1": float(np.mean(per_class)), "per_class_f1": [float(v) for v in per_class]}


def beat_statistics(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...]) -> dict:
    """AAMI EC57-style gross statistics: per-class Se, +P, F1 and the confusion matrix."""
    labels = list(range(len(classes)))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    per_class = {}
    for k, name in enumerate(classes):
        tp = int(cm[k, k])
        fn = int(cm[k].sum() - tp)
        fp = int(cm[:, k].sum() - tp)
        se = tp / (tp + fn) if tp + fn else float("nan")
        ppv = tp / (tp + fp) if tp + fp else float("nan")
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        per_class[name] = {
            "se": se,
            "ppv": ppv,
            "f1": f1,
            "support": tp + fn,
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }
    return {
        "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
        "per_class": per_class,
        "confusion": cm.tolist(),
        "classes": list(classes),
    }


def record_bootstrap_f1(
    y: np.ndarray,
    p_a: np.ndarray,
    p_b: np.ndarray,
    groups: np.ndarray,
    cls: int,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """F1(a) - F1(b) for one class, resampling whole records: beats of one patient are not
    independent, so a beat-level bootstrap would claim far too narrow an interval."""
    records = np.unique(groups)
    counts = np.zeros((2, len(records), 3))  # model, record, (tp, fp, fn)
    for j, r in enumerate(records):
        sel = groups == r
        for m, p in enumerate((p_a, p_b)):
            pred = p[sel].argmax(1) == cls
            true = y[sel] == cls
            counts[m, j] = [(pred & true).sum(), (pred & ~true).sum(), (~pred & true).sum()]

    def f1(c: np.ndarray) -> np.ndarray:
        tp, fp, fn = c[..., 0], c[..., 1], c[..., 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(records), size=(n_boot, len(records)))
    sums = counts[:, idx].sum(axis=2)  # model, boot, 3
    diffs = f1(sums[0]) - f1(sums[1])
    diffs = diffs[np.isfinite(diffs)]
    total = counts.sum(axis=1)
    diff = float(f1(total[0]) - f1(total[1]))
    if diffs.size == 0 or not np.isfinite(diff):  # the class is absent from the test records
        return {"diff": None, "ci_low": None, "ci_high": None, "within_noise": None}
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {
        "diff": diff,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "within_noise": bool(lo <= 0 <= hi),
        "unit": "record",
    }


MISSED = len(AAMI_CLASSES)  # the extra class of beat matching: no beat on that side


def match_beats(
    ref_samples: np.ndarray,
    ref_labels: list[int],
    got_samples: np.ndarray,
    got_labels: list[str],
    tol: int,
) -> tuple[list[int], list[int]]:
    """EC57-style beat matching: each reference beat takes the nearest detection within `tol`
    samples (once). A missed reference beat is predicted MISSED, an unmatched detection is a
    MISSED true beat: both count against Se / +P in `beat_statistics`."""
    classes = list(AAMI_CLASSES)
    got_samples = np.asarray(got_samples)
    y_true, y_pred = [], []
    used = np.zeros(len(got_samples), bool)
    for s, lab in zip(ref_samples, ref_labels, strict=True):
        if len(got_samples):
            j = int(np.argmin(np.abs(got_samples - s)))
            if abs(int(got_samples[j]) - int(s)) <= tol and not used[j]:
                used[j] = True
                y_true.append(int(lab))
                y_pred.append(classes.index(got_labels[j]))
                continue
        y_true.append(int(lab))
        y_pred.append(MISSED)
    for j in np.flatnonzero(~used):
        y_true.append(MISSED)
        y_pred.append(classes.index(got_labels[j]))
    return y_true, y_pred
