"""Scoring an ONNX model the way the device runs it: batch 1, onnxruntime, the contract's inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_monitor.contract import ModelContract, WindowInput, read_contract
from edge_monitor.dsp import window_starts
from edge_monitor.inference import aggregate_windows, open_session, probabilities
from trainer.metrics import beat_statistics, macro_auc
from trainer.tasks import Split


def session_for(path: Path, threads: int = 1):
    return open_session(path, intra_op_threads=threads)


def onnx_predict(path: Path, split: Split, threads: int = 1) -> np.ndarray:
    """Probabilities per record (diagnostic: windows aggregated as the contract says) or beat."""
    contract = read_contract(path)
    session = session_for(path, threads)
    if contract.task == "arrhythmia":
        assert split.extra is not None
        logits = np.concatenate(
            [
                session.run(None, {"beat": split.x[i : i + 1], "rr": split.extra[i : i + 1]})[0]
                for i in range(len(split))
            ]
        )
        return probabilities(contract, logits)
    return _diagnostic(session, contract, split)


def _diagnostic(session, contract: ModelContract, split: Split) -> np.ndarray:
    spec = contract.input
    assert isinstance(spec, WindowInput)
    window, stride, total = spec.window, spec.stride, split.x.shape[-1]
    starts = window_starts(total, window, stride)
    out = np.zeros((len(split), len(contract.classes)))
    for i in range(len(split)):
        probs = []
        for s in starts:
            feed = np.ascontiguousarray(split.x[i : i + 1, :, s : s + window])
            probs.append(probabilities(contract, session.run(None, {"ecg": feed})[0][0]))
        out[i] = aggregate_windows(np.array(probs), spec.aggregate)
    return out


def task_score(task: str, y: np.ndarray, probs: np.ndarray, classes: list[str]) -> dict:
    """Macro AUC (diagnostic) or S and V F1 (arrhythmia): what the int8 gate compares."""
    if task == "diagnostic":
        return {"macro_auc": macro_auc(y, probs)}
    stats = beat_statistics(y, probs.argmax(axis=1), tuple(classes))["per_class"]
    return {
        "f1_S": stats["S"]["f1"],
        "f1_V": stats["V"]["f1"],
        "mean_f1_SV": (stats["S"]["f1"] + stats["V"]["f1"]) / 2,
    }
