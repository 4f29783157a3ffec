"""The interface of a task kind: everything the trainer does differently from one task to another.

A task is one `TaskKind` instance (the registry in `trainer.kinds` maps names to them): its data
(loader, leads), its training (batches, loss, what a checkpoint adds to its preprocessing), its
prediction on a split, its scores (the breakdown, the ONE headline, the int8 gate's drop and
budget) and its words and numbers in reports. The rest of the trainer asks the kind and never
compares task names, so a new task is a new kind.

A kind loads without torch: its training and prediction methods import it when they run, so
what reads only scores and words (`trainer.report`, the results table) stays light.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_monitor.profiles import Budgets
from trainer.config import TrainConfig
from trainer.splits import Split, TaskData

if TYPE_CHECKING:  # torch is loaded by the methods that train or predict, when they run
    import torch
    from torch import nn

    from trainer.batches import Batch


@dataclass(frozen=True)
class TaskKind(ABC):
    name: str
    classes: tuple[str, ...]
    multilabel: bool  # independent labels (sigmoid, thresholds tuned) or one class (softmax)
    unit: str  # what one row of a split is, in reports: "records", "beats"
    metric: str  # the headline's label: "test macro AUC"
    column: str  # the report table's accuracy column: "macro AUC (95% CI)"
    int8_budget: str  # the profile budget (a field of Budgets) that bounds the int8 gate's drop
    prune_tolerance: float  # validation headline a pruned student may lose and still ship
    roc_panels: tuple[str, ...]  # the report's ROC panels: "micro" or class names
    noise_training: bool  # recorded-noise training and hardening apply (beats only, today)
    # TrainConfig values this task trains with unless a recipe file or a flag says otherwise
    train_defaults: tuple[tuple[str, object], ...] = ()

    # ---- data ------------------------------------------------------------------------------

    @abstractmethod
    def load(
        self,
        data_dir: str | Path | None,
        leads: str | None,
        cache_dir: Path | None,
        limit: int | None,
        seed: int,
    ) -> TaskData:
        """The train, validation and test splits (`limit` rows per split)."""

    @abstractmethod
    def leads(self, preprocessing: dict) -> list[str]:
        """The leads a checkpoint with this preprocessing reads, in input-channel order."""

    @abstractmethod
    def lead_option(self, leads: list[str]) -> str | None:
        """The `leads` argument of `load` that gives a model with these leads its data back."""

    # ---- training --------------------------------------------------------------------------

    @abstractmethod
    def epoch_size(self, train: Split, input_length: int, cfg: TrainConfig) -> int:
        """Training inputs one epoch draws (for the learning-rate schedule's length)."""

    @abstractmethod
    def class_weights(self, y: np.ndarray, cfg: TrainConfig) -> torch.Tensor | None:
        """Per-class loss weights, or None."""

    @abstractmethod
    def batches(
        self,
        train: Split,
        input_length: int,
        cfg: TrainConfig,
        rng: np.random.Generator,
        noise: list[np.ndarray] | None,
    ) -> Iterator[Batch]:
        """One epoch of training batches."""

    @abstractmethod
    def loss(
        self,
        logits: torch.Tensor,
        y: torch.Tensor,
        class_weights: torch.Tensor | None,
        cfg: TrainConfig,
    ) -> torch.Tensor:
        """The hard-label loss of one batch."""

    @abstractmethod
    def trained_preprocessing(
        self, preprocessing: dict, cfg: TrainConfig, input_length: int
    ) -> dict:
        """The data's preprocessing plus what training decided (window geometry, say)."""

    @abstractmethod
    def predict(
        self, model: nn.Module, split: Split, stride: int, batch: int, aggregate: str
    ) -> np.ndarray:
        """Probabilities, one row per row of `split`."""

    # ---- scores ----------------------------------------------------------------------------

    @abstractmethod
    def score(self, y: np.ndarray, probs: np.ndarray, classes: tuple[str, ...] | list[str]) -> dict:
        """The breakdown (a dict of floats) the headline and the int8 gate are read from."""

    @abstractmethod
    def headline(self, score: dict) -> float:
        """The one number that ranks models: early stopping, student choice, calibration
        method, the ablation and the size plot all read it. It takes `score` breakdowns and the
        stage records of a bundle alike."""

    @abstractmethod
    def gate_drop(self, fp32: dict, int8: dict) -> float:
        """What int8 lost against fp32, from two `score` breakdowns."""

    def int8_limit(self, budgets: Budgets) -> float:
        """The largest loss the profile allows an int8 model of this task."""
        return getattr(budgets, self.int8_budget)

    def model_kb(self, budgets: Budgets) -> float:
        """The profile's size budget (KB) for this task's int8 model file."""
        return budgets.model_kb[self.name]

    def validation_score(self, split: Split, probs: np.ndarray) -> float:
        """The headline on a split: what early stopping and student choice watch."""
        return self.headline(self.score(split.y, probs, self.classes))

    # ---- evaluation and reports ------------------------------------------------------------

    @abstractmethod
    def evaluate(self, data: TaskData, p_val: np.ndarray, p_test: np.ndarray, n_boot: int) -> dict:
        """metrics.json's task part: "val" and "test" at least."""

    @abstractmethod
    def stage_test(self, test: dict) -> dict:
        """A compress stage's test record, from `evaluate`'s "test"."""

    @abstractmethod
    def onnx_test(self, y: np.ndarray, probs: np.ndarray, classes: tuple[str, ...]) -> dict:
        """A compress stage's test record, from an ONNX model's test probabilities."""

    @abstractmethod
    def summary(self, test: dict) -> str:
        """One line of a stage's test record."""

    @abstractmethod
    def cell(self, test: dict) -> str:
        """A stage's accuracy in the report table."""

    @abstractmethod
    def describe(self, result: dict) -> list[str]:
        """Lines for people about `evaluate_checkpoint`'s result."""

    @abstractmethod
    def paired(
        self, final: Mapping[str, np.ndarray], teacher: Mapping[str, np.ndarray]
    ) -> dict[str, dict]:
        """The shipped int8 model against the teacher's fp32 ONNX model, on the same test items
        (`final` and `teacher`: test probabilities "fp32", "int8", labels "y", "groups"):
        comparison name -> {diff, ci_low, ci_high, within_noise, ...}."""


class IndependentLabels:
    """The training half shared by kinds whose labels are independent sigmoids (the diagnostic
    superclasses, the VT/VF window): no class weights, binary cross-entropy on the logits. Put
    it before `TaskKind` in the bases so its methods answer TaskKind's abstract ones."""

    def class_weights(self, y: np.ndarray, cfg: TrainConfig) -> torch.Tensor | None:
        return None

    def loss(
        self, logits: torch.Tensor, y: torch.Tensor, class_weights: torch.Tensor | None, cfg
    ) -> torch.Tensor:
        from torch.nn import functional as F

        return F.binary_cross_entropy_with_logits(logits, y)
