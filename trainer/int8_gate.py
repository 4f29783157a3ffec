"""The compress chain's int8 gate: the profile's allowed loss applied to a quantized model, the
verdict recorded with its numbers and the model's name (the chain decides what a refusal means).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

from edge_monitor.contract import read_contract
from edge_monitor.profiles import DeviceProfile
from trainer.export import real_inputs
from trainer.kinds import kind_of
from trainer.quantize import gate_failure, loss_report
from trainer.splits import TaskData


def int8_gate(
    model: str,
    source: str,
    quant: dict,
    fp32: Path,
    int8: Path,
    data: TaskData,
    profile: DeviceProfile,
    seed: int,
) -> dict:
    """The profile's int8 gate on `quant` (quantize_model's result, scored on the test split):
    the verdict with its numbers and the model's name; a refusal also writes the per-tensor error
    report beside the int8 model."""
    limit = kind_of(data.task).int8_limit(profile.budgets)
    drop = float(quant["drop"])
    gap = float(quant.get("range_gap", 0.0))
    gap_limit = profile.budgets.max_int8_range_gap
    verdict = {
        "model": model,
        "from": source,
        # as trainer.quantize.gate: a class absent from test (nan) passes
        "ok": not drop > limit and not gap > gap_limit,
        "drop": drop,
        "limit": limit,
        "range_gap": gap,
        "profile": profile.name,
        "detail": f"{model} {drop:+.4f} (limit {limit}); output range gap {gap:.3f}",
    }
    if not verdict["ok"]:
        report = int8.with_suffix(".qdq_debug.json")
        feeds = real_inputs(data.train, read_contract(fp32).inputs, 300, seed=seed)[:16]
        report.write_text(json.dumps(loss_report(fp32, int8, feeds), indent=2))
        verdict["debug_report"] = str(report)
        held = {"drop": drop, "limit": limit, "range_gap": gap, "range_gap_limit": gap_limit}
        verdict["message"] = (
            f"the int8 gate refused the {model} model (from {source}): "
            f"{gate_failure(held, profile.name)}; per-tensor errors in {report}"
        )
    return verdict


def ungated(profile: DeviceProfile, task: str) -> DeviceProfile:
    """The profile with no int8 limit for the task: quantize_model then returns its test scores
    instead of raising, and int8_gate applies the real limit, naming the model and recording
    the verdict."""
    budget = kind_of(task).int8_budget
    limits = {budget: math.inf, "max_int8_range_gap": math.inf}
    return replace(profile, budgets=replace(profile.budgets, **limits))
