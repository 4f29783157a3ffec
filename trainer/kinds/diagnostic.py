"""The diagnostic task: PTB-XL records, five superclasses, multi-label, scored by macro AUC.

A model sees windows of a record; a record's probabilities are the aggregate of its windows'
(as the device does over a record's worth of windows).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edge_monitor.dsp import window_starts
from edge_monitor.inference import aggregate_windows
from trainer.config import TrainConfig
from trainer.datasets import ptbxl
from trainer.kinds.base import IndependentLabels, TaskKind
from trainer.metrics import (
    bootstrap_ci,
    macro_auc,
    multilabel_f1,
    paired_bootstrap,
    per_class_auc,
    tune_thresholds,
)
from trainer.splits import Split, TaskData

if TYPE_CHECKING:
    from torch import nn

    from trainer.batches import Batch


@dataclass(frozen=True)
class Diagnostic(IndependentLabels, TaskKind):
    def load(self, data_dir, leads, cache_dir, limit, seed) -> TaskData:
        """PTB-XL's folds: 1-8 train, 9 validation, 10 test (no draw: `seed` is not used)."""
        data = ptbxl.load_ptbxl(data_dir, leads=leads, cache_dir=cache_dir, limit=limit)
        splits = {}
        for name in ptbxl.FOLDS:
            part = ptbxl.split(data, name)
            splits[name] = Split(part.signals, part.labels, None, part.patient_ids)
        source = {
            "dataset": f"PTB-XL subset ({len(data)} records)" if len(data) < 21000 else "PTB-XL",
            "records": {k: len(v) for k, v in splits.items()},
            "dropped_without_superclass": data.dropped_unlabelled,
            "folds": {k: list(v) for k, v in ptbxl.FOLDS.items()},
        }
        preprocessing = {
            "fs": data.fs,
            "leads": list(data.leads),
            "filter": ptbxl.DIAGNOSTIC_FILTER.as_dict(),
            "normalization": "none (millivolts)",
            "record_samples": int(data.signals.shape[-1]),
        }
        return TaskData(
            self.name,
            self.classes,
            splits["train"],
            splits["val"],
            splits["test"],
            preprocessing,
            source,
        )

    def leads(self, preprocessing: dict) -> list[str]:
        return list(preprocessing["leads"])

    def lead_option(self, leads: list[str]) -> str | None:
        return ",".join(leads)

    def epoch_size(self, train: Split, input_length: int, cfg: TrainConfig) -> int:
        return len(train) * (1 if input_length >= train.x.shape[-1] else cfg.crops_per_record)

    def batches(self, train, input_length, cfg, rng, noise) -> Iterator[Batch]:
        from trainer.batches import diagnostic_batches

        return diagnostic_batches(train, input_length, cfg, rng)

    def trained_preprocessing(self, preprocessing: dict, cfg: TrainConfig, input_length: int):
        geometry = {"aggregate": cfg.aggregate, "window": input_length, "stride": cfg.eval_stride}
        return {**preprocessing, **geometry}

    def predict(
        self, model: nn.Module, split: Split, stride: int, batch: int, aggregate: str
    ) -> np.ndarray:
        """Per record: sliding windows every `stride` samples, their sigmoids aggregated."""
        import torch

        model.eval()
        total, window = split.x.shape[-1], model.cfg.input_length  # type: ignore[union-attr]
        starts = window_starts(total, window, stride)
        windows = np.stack([split.x[:, :, s : s + window] for s in starts], axis=1)
        flat = torch.from_numpy(windows.reshape(-1, split.x.shape[1], window))
        with torch.no_grad():
            probs = torch.cat(
                [torch.sigmoid(model(flat[i : i + batch])) for i in range(0, len(flat), batch)]
            )
        per_window = probs.reshape(len(split), len(starts), -1).numpy()
        return aggregate_windows(per_window.transpose(1, 0, 2), aggregate)

    def score(self, y, probs, classes) -> dict:
        return {"macro_auc": macro_auc(y, probs)}

    def headline(self, score: dict) -> float:
        """Macro AUC, over the classes with both labels in the split (`metrics.macro_auc`)."""
        return score["macro_auc"]

    def gate_drop(self, fp32: dict, int8: dict) -> float:
        return fp32["macro_auc"] - int8["macro_auc"]

    def evaluate(self, data: TaskData, p_val, p_test, n_boot: int) -> dict:
        """Macro AUC with its bootstrap CI, per-class AUC, F1 at thresholds tuned on
        validation, and the label-prior baseline every model must beat."""
        y_val, y_test = data.val.y, data.test.y
        thresholds = tune_thresholds(y_val, p_val)
        prior = np.broadcast_to(data.train.y.mean(axis=0), y_test.shape)
        auc = macro_auc(y_test, p_test)
        lo, hi = bootstrap_ci(macro_auc, y_test, p_test, n_boot=n_boot)
        per_class = per_class_auc(y_test, p_test).tolist()
        return {
            "test": {
                "records": len(y_test),
                "macro_auc": auc,
                "macro_auc_ci95": [lo, hi],
                "per_class_auc": dict(zip(data.classes, per_class, strict=True)),
                **multilabel_f1(y_test, p_test, thresholds),
            },
            "val": {"records": len(y_val), "macro_auc": macro_auc(y_val, p_val)},
            "thresholds_from_val": thresholds.tolist(),
            "label_prior_baseline": {
                "macro_auc": macro_auc(y_test, prior),
                **multilabel_f1(y_test, prior, thresholds),
            },
        }

    def stage_test(self, test: dict) -> dict:
        keys = ("macro_auc", "macro_auc_ci95", "per_class_auc")
        return {k: test[k] for k in keys}

    def onnx_test(self, y, probs, classes) -> dict:
        return {
            "macro_auc": macro_auc(y, probs),
            "macro_auc_ci95": list(bootstrap_ci(macro_auc, y, probs)),
        }

    def summary(self, test: dict) -> str:
        lo, hi = test.get("macro_auc_ci95", (np.nan, np.nan))
        return f"test macro AUC {test['macro_auc']:.4f} (CI {lo:.3f}-{hi:.3f})"

    def cell(self, test: dict) -> str:
        lo, hi = test["macro_auc_ci95"]
        return f"{test['macro_auc']:.3f} ({lo:.3f}-{hi:.3f})"

    def describe(self, result: dict) -> list[str]:
        test = result["test"]
        lo, hi = test["macro_auc_ci95"]
        per = ", ".join(f"{k} {v:.3f}" for k, v in test["per_class_auc"].items())
        return [
            f"test macro AUC {test['macro_auc']:.4f} (95% CI {lo:.4f}-{hi:.4f}) on "
            f"{test['records']} records; {per}",
            f"test macro F1 at validation thresholds {test['macro_f1']:.3f}; label-prior "
            f"baseline AUC {result['label_prior_baseline']['macro_auc']:.3f}",
        ]

    def paired(
        self, final: Mapping[str, np.ndarray], teacher: Mapping[str, np.ndarray]
    ) -> dict[str, dict]:
        """Record bootstrap of the macro-AUC difference (one row per record already)."""
        y = final["y"]
        return {
            "int8_vs_teacher_macro_auc": paired_bootstrap(
                macro_auc, y, final["int8"], teacher["fp32"]
            ),
            "int8_vs_own_fp32_macro_auc": paired_bootstrap(
                macro_auc, y, final["int8"], final["fp32"]
            ),
        }


DIAGNOSTIC = Diagnostic(
    name="diagnostic",
    classes=ptbxl.SUPERCLASSES,
    multilabel=True,
    unit="records",
    metric="test macro AUC",
    column="macro AUC (95% CI)",
    int8_budget="max_int8_auc_drop",
    prune_tolerance=0.005,
    roc_panels=("micro",),
    noise_training=False,
)
