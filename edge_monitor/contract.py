"""The model contract: everything the device needs to feed a model, stamped into the ONNX file.

It travels in the model's `metadata_props` (string keys, JSON values), so a bundle cannot drift
from the preprocessing it was trained with, and it survives quantization (checked by the
trainer). The runtime reads it with onnxruntime alone and refuses what it cannot honour.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from edge_monitor.errors import DataNotFoundError, InputError

CONTRACT_VERSION = 1
TASKS = ("diagnostic", "arrhythmia")
PREFIX = "ecg_edge."


@dataclass(frozen=True)
class ModelContract:
    task: str
    fs: float  # model sampling rate, Hz
    leads: list[str]  # what the source must provide, in input-channel order
    classes: list[str]
    inputs: dict[str, list[int]]  # ONNX input name -> fixed shape (batch 1)
    output: str  # logits; sigmoid (diagnostic) or softmax (arrhythmia) on the device
    preprocessing: dict  # filter, beat/window geometry, normalisation, aggregation
    thresholds: list[float] | None = None  # per class (diagnostic, tuned on validation)
    provenance: dict = field(default_factory=dict)  # commit, checkpoint hash, data, metrics
    version: int = CONTRACT_VERSION

    def __post_init__(self) -> None:
        if self.version != CONTRACT_VERSION:
            raise InputError(
                f"model contract version {self.version} is not supported "
                f"(this runtime reads version {CONTRACT_VERSION})"
            )
        if self.task not in TASKS:
            raise InputError(f"model contract names an unknown task {self.task!r}")
        if self.thresholds is not None and len(self.thresholds) != len(self.classes):
            raise InputError("model contract has a threshold count unlike its class count")

    def to_metadata(self) -> dict[str, str]:
        return {PREFIX + k: json.dumps(v, sort_keys=True) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str = "model") -> ModelContract:
        ours = {k[len(PREFIX) :]: v for k, v in meta.items() if k.startswith(PREFIX)}
        if not ours:
            raise InputError(f"{where} carries no ecg-edge contract (was it exported by trainer?)")
        names = {f.name for f in fields(cls)}
        required = {
            f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
        }
        if missing := required - set(ours):
            raise InputError(f"{where}: contract lacks {', '.join(sorted(missing))}")
        if unknown := set(ours) - names:
            raise InputError(f"{where}: contract has unknown keys {', '.join(sorted(unknown))}")
        try:
            values = {k: json.loads(v) for k, v in ours.items()}
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: contract value is not JSON ({exc})") from exc
        return cls(**values)

    def check_leads(self, available: list[str]) -> None:
        """Refuse a source that lacks a lead the model needs."""
        upper = [a.upper() for a in available]
        missing = [lead for lead in self.leads if lead.upper() not in upper]
        if missing:
            raise InputError(
                f"the model needs lead(s) {', '.join(missing)}; the source has "
                f"{', '.join(available) or 'none'}"
            )


def read_contract(onnx_path: Path) -> ModelContract:
    """The contract of an ONNX file, read through onnxruntime (no onnx or torch on the device)."""
    import onnxruntime as ort

    if not onnx_path.exists():
        raise DataNotFoundError(f"model not found: {onnx_path}")
    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise InputError(f"not a loadable ONNX model: {onnx_path} ({_short(exc)})") from exc
    return ModelContract.from_metadata(session.get_modelmeta().custom_metadata_map, str(onnx_path))


def _short(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
