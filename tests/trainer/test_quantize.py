"""int8 quantization: the contract survives; the gate passes a sound model, stops a broken one."""

import dataclasses
import json

import numpy as np
import onnx
import pytest

from edge_monitor.contract import read_contract
from edge_monitor.errors import CheckFailedError
from edge_monitor.profiles import load_profile
from trainer.config import TrainConfig
from trainer.export import export_checkpoint, real_inputs
from trainer.quantize import gate, quantize_model, quantize_once
from trainer.tasks import load_task
from trainer.train import fit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fp32_beat_model(tiny_mitdb, tmp_path_factory):
    root = tmp_path_factory.mktemp("quant")
    data = load_task("arrhythmia", tiny_mitdb, cache_dir=root / "cache")
    cfg = TrainConfig(task="arrhythmia", model="tiny", epochs=8, batch_size=32, lr=1e-2)
    fit(cfg, data, root / "model.pt", show_progress=False)
    export_checkpoint(root / "model.pt", root / "model.onnx", tiny_mitdb, data=data)
    return root / "model.onnx", data


def test_int8_model_keeps_its_contract_and_passes_the_gate(fp32_beat_model, tmp_path):
    fp32, data = fp32_beat_model
    out = tmp_path / "int8.onnx"
    result = quantize_model(fp32, out, data, load_profile("host"), n_calibration=64)
    assert read_contract(out) == read_contract(fp32)
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert result["calibration"] in ("minmax", "percentile", "entropy")
    assert set(result["validation"]) == {"fp32", "minmax", "percentile", "entropy"}
    assert result["drop"] <= result["limit"]
    # weights are stored as int8 (for a 1 K-parameter model the Q/DQ nodes outweigh the saving)
    int8_weights = [
        t
        for t in onnx.load(str(out)).graph.initializer
        if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 3
    ]
    assert int8_weights


def optimized_ops(path, tmp_path) -> list[str]:
    """The node types onnxruntime actually runs after its graph optimizations."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opts.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return [n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node]


def test_unsigned_activations_fuse_every_conv_into_an_integer_kernel(fp32_beat_model, tmp_path):
    """Why the profiles say uint8: with signed activations onnxruntime on x86 leaves convs in
    fp32 behind dequantize nodes; with unsigned ones every conv runs as QLinearConv."""
    fp32, data = fp32_beat_model
    feeds = real_inputs(data.train, read_contract(fp32).inputs, 32)
    n_conv = sum(n.op_type == "Conv" for n in onnx.load(str(fp32)).graph.node)
    quantize_once(fp32, tmp_path / "u8.onnx", feeds, "minmax", True, activation_type="uint8")
    ops = optimized_ops(tmp_path / "u8.onnx", tmp_path)
    assert "Conv" not in ops
    assert ops.count("QLinearConv") == n_conv > 0


def test_gate_refuses_a_badly_calibrated_model_and_says_where(fp32_beat_model, tmp_path):
    fp32, data = fp32_beat_model
    contract = read_contract(fp32)
    feeds = real_inputs(data.train, contract.inputs, 32)
    # calibrate on inputs a thousand times too small: every real activation saturates
    broken = [{k: (v * 1e-3).astype(np.float32) for k, v in f.items()} for f in feeds]
    out = tmp_path / "broken.onnx"
    quantize_once(fp32, out, broken, "minmax", per_channel=True)
    # score on the training excerpts (record 208's PVCs), where the fp32 model has V F1 to lose
    on_train = dataclasses.replace(data, test=data.train)
    with pytest.raises(CheckFailedError, match="per-tensor errors"):
        gate(fp32, out, on_train, load_profile("host"), contract.task, contract.classes, feeds, {})
    report = json.loads(out.with_suffix(".qdq_debug.json").read_text())
    assert report["weights_sqnr_db"] and report["activations"]
