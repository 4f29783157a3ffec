"""Export: a trained tiny model becomes an ONNX file whose contract the device can read."""

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edge_monitor.contract import PREFIX, ModelContract, read_contract
from edge_monitor.errors import InputError
from tests.trainer.conftest import ONE_THREAD
from trainer.config import TrainConfig
from trainer.export import export_checkpoint
from trainer.tasks import load_task
from trainer.train import fit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tiny_mitdb, tiny_ptbxl, tmp_path_factory):
    out = {}
    root = tmp_path_factory.mktemp("export")
    for task, data_dir in (("arrhythmia", tiny_mitdb), ("diagnostic", tiny_ptbxl)):
        data = load_task(task, data_dir, cache_dir=root / "cache")
        cfg = TrainConfig(task=task, model="tiny", epochs=1, batch_size=32, threads=ONE_THREAD)
        fit(cfg, data, root / task / "model.pt", show_progress=False)
        result = export_checkpoint(
            root / task / "model.pt", root / task / "model.onnx", data_dir, data=data
        )
        out[task] = (result, data)
    return out


@pytest.mark.parametrize("task", ["arrhythmia", "diagnostic"])
def test_onnx_matches_torch_on_real_inputs(exported, task):
    result, _ = exported[task]
    assert result["parity_max_abs"] < 1e-4 and result["parity_inputs"] > 0


def test_contract_is_read_back_by_onnxruntime(exported):
    result, _ = exported["arrhythmia"]
    contract = read_contract(__import__("pathlib").Path(result["onnx"]))
    assert contract == result["contract"]
    assert contract.classes == ["N", "S", "V", "F"] and contract.fs == 180.0
    assert contract.inputs == {"beat": [1, 2, 128], "rr": [1, 6]}
    assert contract.input.rr_features[0] == "pre_rr_local" and contract.version == 2
    assert len(contract.provenance["checkpoint_sha256"]) == 64


def test_diagnostic_contract_has_validation_thresholds_and_leads(exported):
    result, _ = exported["diagnostic"]
    c = result["contract"]
    assert c.leads == ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    assert len(c.thresholds) == 5 and all(0 <= t <= 1 for t in c.thresholds)
    c.check_leads([x.lower() for x in c.leads])
    with pytest.raises(InputError, match="needs lead"):
        c.check_leads(["II"])


def test_batchnorm_is_folded_and_shapes_are_fixed(exported):
    result, _ = exported["diagnostic"]
    proto = onnx.load(result["onnx"])
    ops = {n.op_type for n in proto.graph.node}
    assert "BatchNormalization" not in ops and "Conv" in ops
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 12, 250]


def test_runtime_refuses_models_without_or_with_a_foreign_contract(exported, tmp_path):
    result, _ = exported["arrhythmia"]
    proto = onnx.load(result["onnx"])
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(InputError, match="no ecg-edge contract"):
        read_contract(bare)
    meta = result["contract"].to_metadata()
    meta[PREFIX + "version"] = json.dumps(99)
    with pytest.raises(InputError, match="version 99"):
        ModelContract.from_metadata(meta)
    meta = result["contract"].to_metadata()
    meta[PREFIX + "colour"] = '"blue"'
    with pytest.raises(InputError, match="unknown keys colour"):
        ModelContract.from_metadata(meta)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07garbage")
    with pytest.raises(InputError, match="not a loadable ONNX"):
        read_contract(garbage)


def test_device_side_reads_the_model_without_torch(exported):
    result, data = exported["arrhythmia"]
    code = (
        "import sys, pathlib, numpy as np, onnxruntime as ort\n"
        "from edge_monitor.contract import read_contract\n"
        f"c = read_contract(pathlib.Path({result['onnx']!r}))\n"
        f"s = ort.InferenceSession({result['onnx']!r}, providers=['CPUExecutionProvider'])\n"
        "feed = {k: np.zeros(v, np.float32) for k, v in c.inputs.items()}\n"
        "assert s.run(None, feed)[0].shape == (1, len(c.classes))\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    session = ort.InferenceSession(result["onnx"], providers=["CPUExecutionProvider"])
    beat, rr = data.val.x[:1], data.val.extra[:1]
    assert np.isfinite(session.run(None, {"beat": beat, "rr": rr})[0]).all()
