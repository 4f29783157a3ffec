"""onnxruntime sessions set up for a small board, and per-inference latency measurement.

A Pi shares its few cores with the serial reader and the UI, so sessions use the profile's thread
counts, do not spin waiting for work (spinning burns a core for nothing at a few inferences per
second) and keep the memory arena off (batch-1 tensors are tiny; the arena only adds RSS).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge_monitor.contract import ModelContract
from edge_monitor.errors import InputError, first_line
from edge_monitor.stats import LatencyStats


def open_session(
    path: Path | bytes, intra_op_threads: int = 1, inter_op_threads: int = 1, name: str = ""
):
    """A CPU session of an ONNX file, or of model bytes already read and hashed (`name` says
    whose in an error)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = inter_op_threads
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.enable_cpu_mem_arena = False
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        source = path if isinstance(path, bytes) else str(path)
        return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own exception types
        name = name or ("(model bytes)" if isinstance(path, bytes) else str(path))
        raise InputError(f"cannot load model {name}: {first_line(exc)}") from exc


# A model of less work than this per inference runs on one intra-op thread, whatever the
# profile allows: onnxruntime hands each operator's share to the other thread, which sleeps
# between calls (the monitor never lets it spin), and for a small model the hand-over costs more
# than the work it takes. On the 2-core x86 host (benchmarks/session_threads.py --synthetic,
# untrained int8 ResNets) a second thread took 25-40 % longer on the embedded models (0.4-2.7 M
# multiply-accumulates), 3 % and 6 % longer at 16 and 20 M, 7-8 % less at 27 and 33 M and 40 %
# less at 600 M: the crossover lies between 20 and 27 M here; on a Cortex-A72 it is not
# measured. The profile's threads serve larger models.
PARALLEL_MIN_MACS = 24_000_000


def session_threads(manifest: dict, threads: tuple[int, int]) -> tuple[int, int]:
    """The (intra-op, inter-op) threads a bundle's session gets: one intra-op thread when its
    manifest says the model is small; the profile's otherwise (or when it says nothing)."""
    model = manifest.get("model") if isinstance(manifest, dict) else None
    macs = model.get("macs") if isinstance(model, dict) else None
    model_is_small = type(macs) is int and 0 < macs < PARALLEL_MIN_MACS
    return (1, threads[1]) if model_is_small else threads


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def probabilities(contract: ModelContract, logits: np.ndarray) -> np.ndarray:
    """Independent labels get a sigmoid per class; one class per input a softmax."""
    return sigmoid(logits) if contract.multilabel else softmax(logits)


def aggregate_windows(probs: np.ndarray, how: str) -> np.ndarray:
    """One record's window probabilities -> record probabilities (the contract's rule)."""
    if how not in ("max", "mean"):
        raise InputError(f"unknown window aggregation {how!r}")
    return probs.max(axis=0) if how == "max" else probs.mean(axis=0)


def time_interleaved(
    calls: dict[str, Callable[[int], object]],
    runs: dict[str, int],
    rounds: int,
    warmup: int = 10,
) -> dict[str, list[list[float]]]:
    """Seconds per call of every callable (given the call index), `runs[name]` calls each spread
    over `rounds` interleaved rounds (a, b, c, a, b, c, ...): on a busy machine a slow spell
    then hits every model alike, so their ratios hold. Returns each one's seconds per round."""
    for call in calls.values():
        for i in range(warmup):
            call(i)
    seconds: dict[str, list[list[float]]] = {name: [] for name in calls}
    for r in range(rounds):
        for name, call in calls.items():
            n = runs[name] // rounds + (1 if r < runs[name] % rounds else 0)
            taken = []
            for i in range(n):
                t0 = time.perf_counter()
                call(i)
                taken.append(time.perf_counter() - t0)
            seconds[name].append(taken)
    return seconds


def time_session(
    session, feeds: list[dict[str, np.ndarray]], runs: int = 500, warmup: int = 20
) -> LatencyStats:
    """Batch-1 latency over real inputs, cycling through them; the first runs are discarded."""
    if not feeds:
        raise InputError("no inputs to time the model on")
    for i in range(warmup):
        session.run(None, feeds[i % len(feeds)])
    seconds = []
    for i in range(runs):
        feed = feeds[i % len(feeds)]
        t0 = time.perf_counter()
        session.run(None, feed)
        seconds.append(time.perf_counter() - t0)
    return LatencyStats.from_seconds(seconds)
