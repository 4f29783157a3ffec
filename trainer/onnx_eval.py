"""Scoring an ONNX model the way the device runs it: batch 1, onnxruntime, the contract's inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_monitor.contract import BeatInput, ModelContract, WindowInput, read_contract
from edge_monitor.dsp import window_starts
from edge_monitor.inference import aggregate_windows, open_session, probabilities
from trainer.splits import Split


def session_for(path: Path, threads: int = 1):
    return open_session(path, intra_op_threads=threads)


def onnx_predict(path: Path, split: Split, threads: int = 1) -> np.ndarray:
    """Probabilities per beat, or per record (windows aggregated as the contract says): the
    contract's input decides, as on the device."""
    contract = read_contract(path)
    session = session_for(path, threads)
    if isinstance(contract.input, BeatInput):
        assert split.extra is not None
        logits = np.concatenate(
            [
                session.run(None, {"beat": split.x[i : i + 1], "rr": split.extra[i : i + 1]})[0]
                for i in range(len(split))
            ]
        )
        return probabilities(contract, logits)
    return _windows(session, contract, split)


def _windows(session, contract: ModelContract, split: Split) -> np.ndarray:
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
