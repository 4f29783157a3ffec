"""Knowledge distillation: the student also learns the teacher's softened outputs.

Multi-label diagnosis has no softmax over classes, so each class is its own two-way problem: the
teacher's sigmoid at temperature T is the soft target of the student's sigmoid at T. Beats use
the usual softmax with temperature and a KL divergence (Hinton et al. 2015). Both are scaled by
T^2 so their gradients keep the size of the hard-label loss whatever T is.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from edge_monitor.errors import InputError
from trainer.config import TrainConfig
from trainer.splits import TaskData


def kd_loss(
    student: torch.Tensor, teacher: torch.Tensor, multilabel: bool, temperature: float
) -> torch.Tensor:
    t = temperature
    if multilabel:
        soft = torch.sigmoid(teacher / t)
        return F.binary_cross_entropy_with_logits(student / t, soft) * t * t
    log_p = F.log_softmax(student / t, dim=1)
    q = F.softmax(teacher / t, dim=1)
    return F.kl_div(log_p, q, reduction="batchmean") * t * t


def check_teacher(
    teacher_ckpt: dict,
    task: str,
    classes: tuple[str, ...],
    preprocessing: dict,
    role: str = "teacher",
) -> None:
    """A teacher (or a student brought along) must answer the same question from the same
    inputs."""
    if teacher_ckpt["task"] != task or tuple(teacher_ckpt["classes"]) != tuple(classes):
        raise InputError(
            f"the {role} was trained for {teacher_ckpt['task']} "
            f"{teacher_ckpt['classes']}, not {task} {list(classes)}"
        )
    check_rr_features(teacher_ckpt, preprocessing, role)
    theirs = {
        k: v
        for k, v in teacher_ckpt["preprocessing"].items()
        if k not in ("aggregate", "window", "stride")
    }
    if theirs != preprocessing:
        differ = sorted(
            k for k in set(theirs) | set(preprocessing) if theirs.get(k) != preprocessing.get(k)
        )
        raise InputError(
            f"the {role} saw differently preprocessed data than this data set ({', '.join(differ)})"
        )


def check_rr_features(ckpt: dict, preprocessing: dict, role: str = "checkpoint") -> None:
    """A beat model reads the RR features it was trained on, by position: data carrying others
    (a seventh feature adopted, or not) would feed it the wrong columns, or crash in torch."""
    theirs, ours = ckpt["preprocessing"].get("rr_features"), preprocessing.get("rr_features")
    if theirs is not None and ours is not None and list(theirs) != list(ours):
        raise InputError(
            f"the {role} reads the RR features {list(theirs)}, this data set gives {list(ours)} "
            "(trainer.kinds.arrhythmia.TRAINED_RR_FEATURES)"
        )


def frozen(teacher: nn.Module) -> nn.Module:
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def distillation_teacher(
    cfg: TrainConfig, data: TaskData, teacher: tuple[nn.Module, dict] | None
) -> tuple[nn.Module | None, dict | None]:
    """The frozen teacher of a fit and the checkpoint's record of it (None, None without one)."""
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
