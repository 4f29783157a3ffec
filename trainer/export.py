"""ONNX export: batch-1 inputs, BatchNorm folded, the model contract stamped in, parity checked.

The dynamo exporter's optimiser folds each BatchNorm into the convolution before it, so the file
holds Conv/Relu/Add/Gemm only. Parity is checked on real validation inputs, not random noise:
a mismatch that only shows on ECG-shaped data would otherwise pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from edge_monitor.contract import ModelContract, parts_from_preprocessing
from edge_monitor.errors import CheckFailedError
from trainer.kinds import kind_of
from trainer.metrics import tune_thresholds
from trainer.models import ModelConfig
from trainer.scoring import open_for_scoring, predict_split
from trainer.splits import Split, TaskData

PARITY_ATOL = 1e-4  # on logits; fp32 reorderings give ~1e-6


def input_shapes(cfg: ModelConfig) -> dict[str, list[int]]:
    shapes = {"ecg": [1, cfg.in_channels, cfg.input_length]}
    if cfg.n_extra:
        shapes = {"beat": [1, cfg.in_channels, cfg.input_length], "rr": [1, cfg.n_extra]}
    return shapes


def real_inputs(
    split: Split, inputs: dict[str, list[int]], n: int, seed: int = 0
) -> list[dict[str, np.ndarray]]:
    """`n` batch-1 feeds cut from a data split (a record's first window, or one beat)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(split), size=min(n, len(split)), replace=False)
    feeds = []
    for i in rows:
        if "rr" in inputs:
            assert split.extra is not None
            feeds.append({"beat": split.x[i : i + 1], "rr": split.extra[i : i + 1]})
        else:
            window = inputs["ecg"][2]
            feeds.append({"ecg": np.ascontiguousarray(split.x[i : i + 1, :, :window])})
    return feeds


def build_contract(ckpt: dict, ckpt_path: Path, thresholds: list[float] | None) -> ModelContract:
    cfg = ModelConfig.from_dict(ckpt["model_config"])
    pre = ckpt["preprocessing"]
    leads = kind_of(ckpt["task"]).leads(pre)
    provenance = {
        "git_commit": ckpt["git_commit"],
        "checkpoint_sha256": hashlib.sha256(ckpt_path.read_bytes()).hexdigest(),
        "trained": ckpt["created"],
        "model_config": ckpt["model_config"],
        "size": ckpt["size"],
        "validation_score": ckpt["metrics"]["val_score"],
        "dataset": ckpt["data"]["dataset"],
    }
    return ModelContract(
        task=ckpt["task"],
        fs=float(pre["fs"]),
        leads=list(leads),
        classes=list(ckpt["classes"]),
        inputs=input_shapes(cfg),
        output="logits",
        thresholds=thresholds,
        provenance=provenance,
        **parts_from_preprocessing(pre, "beat" in pre, "checkpoint preprocessing"),
    )


def export_onnx(model: nn.Module, contract: ModelContract, path: Path) -> None:
    """Write the model with fixed shapes and its contract in `metadata_props`."""
    model.eval()
    args = tuple(torch.zeros(shape) for shape in contract.inputs.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates its passes
        torch.onnx.export(
            model,
            args,
            str(path),
            input_names=list(contract.inputs),
            output_names=[contract.output],
            dynamo=True,
            optimize=True,
            verbose=False,
        )
    proto = onnx.load(str(path))
    for node in proto.graph.node:  # source locations the exporter keeps: half the file
        node.doc_string = ""
        del node.metadata_props[:]
    onnx.helper.set_model_props(proto, contract.to_metadata())
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def parity(model: nn.Module, onnx_path: Path, feeds: list[dict[str, np.ndarray]]) -> float:
    """Largest absolute logit difference between torch and onnxruntime over the feeds."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    with torch.no_grad():
        for feed in feeds:
            ref = model(*(torch.from_numpy(v) for v in feed.values())).numpy()
            got = session.run(None, feed)[0]
            worst = max(worst, float(np.max(np.abs(ref - got))))
    return worst


def export_checkpoint(
    ckpt_path: Path,
    out: Path,
    data_dir,
    cache_dir: Path | None = None,
    n_parity: int = 64,
    data: TaskData | None = None,
) -> dict:
    """Checkpoint -> ONNX with contract; thresholds tuned on validation; parity on real inputs."""
    model, ckpt, data = open_for_scoring(ckpt_path, data_dir, cache_dir, data)
    thresholds = None
    if kind_of(ckpt["task"]).multilabel:  # one threshold per label; softmax takes the argmax
        p_val = predict_split(model, ckpt, data.val)
        thresholds = [float(t) for t in tune_thresholds(data.val.y, p_val)]
    contract = build_contract(ckpt, ckpt_path, thresholds)
    export_onnx(model, contract, out)
    worst = parity(model, out, real_inputs(data.val, contract.inputs, n_parity))
    if worst > PARITY_ATOL:
        raise CheckFailedError(
            f"ONNX output differs from torch by {worst:.2e} (limit "
            f"{PARITY_ATOL:.0e}) on real validation inputs: {out}"
        )
    return {
        "onnx": str(out),
        "bytes": out.stat().st_size,
        "parity_max_abs": worst,
        "parity_inputs": n_parity,
        "contract": contract,
    }
