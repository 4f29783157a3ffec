"""int8 quantization: the contract survives; the gate records its verdict and stops a broken model.

Whether int8 keeps a tiny model's scores within a profile's limit depends on the CPU's integer
kernels (AVX-512 VNNI, AVX2 and ARM round and saturate differently): the pass is forced with a
profile file; the refusal is of a model calibrated so badly that every CPU refuses it."""

import dataclasses
import json

import numpy as np
import onnx
import pytest

from edge_monitor.contract import read_contract
from edge_monitor.errors import CheckFailedError
from edge_monitor.inference import probabilities
from edge_monitor.profiles import load_profile
from tests.trainer.conftest import ONE_THREAD, gate_profile
from trainer.config import TrainConfig
from trainer.export import export_checkpoint, real_inputs
from trainer.onnx_compact import compact_copy
from trainer.quantize import gate, quantize_model, quantize_once, range_gap, unclipped_twin
from trainer.tasks import load_task
from trainer.train import fit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fp32_beat_model(tiny_mitdb, tmp_path_factory):
    root = tmp_path_factory.mktemp("quant")
    data = load_task("arrhythmia", tiny_mitdb, cache_dir=root / "cache")
    cfg = TrainConfig(
        task="arrhythmia", model="tiny", epochs=8, batch_size=32, lr=1e-2, threads=ONE_THREAD
    )
    fit(cfg, data, root / "model.pt", show_progress=False)
    export_checkpoint(root / "model.pt", root / "model.onnx", tiny_mitdb, data=data)
    return root / "model.onnx", data


def test_int8_model_keeps_its_contract_and_the_gate_records_its_verdict(fp32_beat_model, tmp_path):
    """The host profile's three calibrations are compared on validation; the profile's limit is
    one any model meets, so the gate's pass and its numbers are recorded on every CPU."""
    fp32, data = fp32_beat_model
    host = load_profile("host").quantization.calibration_methods
    profile = load_profile(gate_profile(tmp_path, 1.0, methods=tuple(host)))
    out = tmp_path / "int8.onnx"
    result = quantize_model(fp32, out, data, profile, n_calibration=64)
    assert read_contract(out) == read_contract(fp32)
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert host == ["minmax", "percentile", "entropy"] and result["calibration"] in host
    assert set(result["validation"]) == {"fp32", *host}
    assert set(result["validation_range_gap"]) == set(host) and result["range_gap"] >= 0
    assert result["limit"] == 1.0 and not result["drop"] > result["limit"]
    assert set(result["test"]) == {"fp32", "int8"}
    assert result["int8_bytes"] > 0 and result["fp32_bytes"] > 0
    # weights are stored as int8 (for a 1 K-parameter model the Q/DQ nodes outweigh the saving)
    int8_weights = [
        t
        for t in onnx.load(str(out)).graph.initializer
        if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 3
    ]
    assert int8_weights


def test_unsigned_activations_make_a_qdq_graph_around_every_conv(fp32_beat_model, tmp_path):
    """Why the profiles say uint8: every conv's input and weights pass through quantize /
    dequantize pairs (uint8 activations, int8 per-channel weights), the QDQ form onnxruntime's
    CPU provider fuses into integer kernels. Which nodes it fuses after loading depends on its
    build and the CPU's instructions (benchmarks/int8_speed.py measures that on a device), so
    only the graph the quantizer writes is checked here, before any optimization."""
    fp32, data = fp32_beat_model
    feeds = real_inputs(data.train, read_contract(fp32).inputs, 32)
    n_conv = sum(n.op_type == "Conv" for n in onnx.load(str(fp32)).graph.node)
    quantize_once(fp32, tmp_path / "u8.onnx", feeds, "minmax", True, activation_type="uint8")
    graph = onnx.load(str(tmp_path / "u8.onnx")).graph
    made_by = {out: node for node in graph.node for out in node.output}
    consts = {t.name: t for t in graph.initializer}

    def zero_point_type(dq) -> int:
        zp = dq.input[2]
        if zp in consts:
            return consts[zp].data_type
        return made_by[zp].attribute[0].t.data_type  # a Constant node

    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert len(convs) == n_conv > 0
    for conv in convs:
        x, w = (made_by[conv.input[0]], made_by[conv.input[1]])
        assert x.op_type == w.op_type == "DequantizeLinear", conv.name
        assert made_by[x.input[0]].op_type == "QuantizeLinear"
        assert zero_point_type(x) == onnx.TensorProto.UINT8
        assert zero_point_type(w) == onnx.TensorProto.INT8
        assert len(consts[w.input[1]].dims) == 1  # one scale per output channel


def badly_calibrated(fp32, data, out):
    """The model quantized with calibration inputs a thousand times too small: every real
    activation saturates. Its contract and the real feeds come back for the gate."""
    contract = read_contract(fp32)
    feeds = real_inputs(data.train, contract.inputs, 32)
    broken = [{k: (v * 1e-3).astype(np.float32) for k, v in f.items()} for f in feeds]
    quantize_once(fp32, out, broken, "minmax", per_channel=True)
    return contract, feeds


def test_gate_refuses_a_badly_calibrated_model_and_says_where(fp32_beat_model, tmp_path):
    fp32, data = fp32_beat_model
    out = tmp_path / "broken.onnx"
    contract, feeds = badly_calibrated(fp32, data, out)
    # score on the training excerpts (record 208's PVCs), where the fp32 model has V F1 to lose
    on_train = dataclasses.replace(data, test=data.train)
    host, recorded = load_profile("host"), {}
    with pytest.raises(CheckFailedError, match="per-tensor errors"):
        gate(fp32, out, on_train, host, contract.task, contract.classes, feeds, recorded)
    # the saturated model loses every V beat the fp32 one finds: a drop far past the limit,
    # which no CPU's int8 rounding turns into a pass
    assert recorded["drop"] > 5 * recorded["limit"] == 5 * host.budgets.max_int8_f1_drop, recorded
    report = json.loads(out.with_suffix(".qdq_debug.json").read_text())
    assert report["weights_sqnr_db"] and report["activations"]


def test_short_names_keep_the_graph_and_its_answers(fp32_beat_model, tmp_path):
    """`trainer.onnx_compact`: the bundle's copy of a quantized file shrinks, its inputs,
    outputs and contract keep their names, and its outputs are bit-identical on real beats."""
    fp32, data = fp32_beat_model
    feeds = real_inputs(data.train, read_contract(fp32).inputs, 32)
    long_named, out = tmp_path / "int8.onnx", tmp_path / "model.onnx"
    quantize_once(fp32, long_named, feeds, "minmax", True)
    assert compact_copy(long_named, out, feeds)
    short, long = onnx.load(str(out)), onnx.load(str(long_named))
    assert out.stat().st_size < 0.8 * long_named.stat().st_size
    assert [i.name for i in short.graph.input] == [i.name for i in long.graph.input]
    assert [o.name for o in short.graph.output] == [o.name for o in long.graph.output]
    assert read_contract(out) == read_contract(long_named)
    assert all(len(n.name) <= 4 for n in short.graph.node)
    assert [n.op_type for n in short.graph.node] == [n.op_type for n in long.graph.node]
    a, b = (ort_session(p) for p in (out, long_named))
    for feed in feeds:
        np.testing.assert_array_equal(a.run(None, feed)[0], b.run(None, feed)[0])


def test_a_model_the_checker_refuses_is_copied_as_it_is(fp32_beat_model, tmp_path):
    fp32, data = fp32_beat_model
    feeds = real_inputs(data.train, read_contract(fp32).inputs, 4)
    odd = onnx.load(str(fp32))
    odd.graph.node[0].input[0] = "nowhere"  # an edge from no tensor: the checker refuses it
    src = tmp_path / "odd.onnx"
    onnx.save(odd, str(src))
    assert not compact_copy(src, tmp_path / "model.onnx", feeds)
    assert (tmp_path / "model.onnx").read_bytes() == src.read_bytes()
    assert not compact_copy(fp32, tmp_path / "unchecked.onnx", [])  # nothing to compare on
    assert (tmp_path / "unchecked.onnx").read_bytes() == fp32.read_bytes()


def ort_session(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_compact_names_leaves_a_graph_with_subgraphs_alone():
    from onnx import TensorProto, helper

    from trainer.onnx_compact import compact_names

    branch = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y_then"])],
        "then",
        [],
        [helper.make_tensor_value_info("y_then", TensorProto.FLOAT, [1])],
    )
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph)
    before = model.SerializeToString()
    assert compact_names(model).SerializeToString() == before


def test_range_gap_sees_a_clipped_output_that_keeps_every_rank():
    rng = np.random.default_rng(0)
    fp32 = rng.uniform(0, 1, (1000, 2))
    assert range_gap(fp32, fp32) == 0.0
    assert range_gap(fp32, np.clip(fp32 * 1.1 - 0.05, 0, 1)) == 0.0  # wider: no shortfall
    clipped = np.minimum(fp32, 0.5)  # a logit held at 0: the same order below, ties above
    assert range_gap(fp32, clipped) == pytest.approx(0.49, abs=0.01)
    raised = np.maximum(fp32, 0.3)  # the bottom clipped instead
    assert range_gap(fp32, raised) == pytest.approx(0.29, abs=0.01)
    assert range_gap(fp32, np.full_like(fp32, np.nan)) == 1.0  # int8 answers no number
    partly = fp32.copy()
    partly[5, 1] = np.nan
    assert range_gap(fp32, partly) == 1.0
    both = fp32.copy()
    both[:, 1] = np.nan  # a class neither answers: compared on the other
    assert range_gap(both, np.minimum(both, 0.5)) == pytest.approx(0.49, abs=0.01)
    assert range_gap(np.zeros((0, 4)), np.zeros((0, 4))) == 0.0  # an empty split


def test_gate_refuses_outputs_that_no_longer_span_the_fp32_range(fp32_beat_model, tmp_path):
    """A drop limit no model can miss (1.0) and the default range check: the model calibrated on
    inputs a thousand times too small answers nearly the same for every beat, so its outputs
    fall far inside the fp32 model's on every CPU, and only the range check refuses it."""
    fp32, data = fp32_beat_model
    out = tmp_path / "broken.onnx"
    contract, feeds = badly_calibrated(fp32, data, out)
    host = load_profile("host")
    lenient = dataclasses.replace(
        host, budgets=dataclasses.replace(host.budgets, max_int8_f1_drop=1.0)
    )
    on_train = dataclasses.replace(data, test=data.train)
    recorded: dict = {}
    with pytest.raises(CheckFailedError, match="short of its fp32 twin's range"):
        gate(fp32, out, on_train, lenient, contract.task, contract.classes, feeds, recorded)
    assert recorded["range_gap"] > 2 * recorded["range_gap_limit"] == 2 * 0.05
    assert not recorded["drop"] > recorded["limit"]


def test_the_calibration_choice_skips_a_method_whose_outputs_fall_short(
    fp32_beat_model, tmp_path, monkeypatch
):
    """Even under the chain's lifted limits (trainer.int8_gate.ungated): the method that wins
    on validation is passed over when its outputs do not span the fp32 model's."""
    import trainer.quantize
    from trainer.int8_gate import ungated

    fp32, data = fp32_beat_model
    host = load_profile("host")
    methods = host.quantization.calibration_methods
    lifted = ungated(host, "arrhythmia")
    first = quantize_model(fp32, tmp_path / "a.onnx", data, lifted, n_calibration=64)
    winner = first["calibration"]
    calls: list[int] = []
    real_gap = trainer.quantize.range_gap

    def winner_falls_short(a, b):
        calls.append(1)
        # one call per method, in the profile's order, then the gate's on the test split
        if len(calls) <= len(methods) and methods[len(calls) - 1] == winner:
            return 0.9
        return real_gap(a, b)

    monkeypatch.setattr(trainer.quantize, "range_gap", winner_falls_short)
    second = quantize_model(fp32, tmp_path / "b.onnx", data, lifted, n_calibration=64)
    assert second["calibration"] != winner
    assert second["validation_range_gap"][winner] == 0.9


def _outputs(path_or_proto, feeds) -> np.ndarray:
    """The model's raw outputs over the feeds, from a file or from a ModelProto."""
    import onnxruntime as ort

    if isinstance(path_or_proto, str):
        session = ort_session(path_or_proto)
    else:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        model = path_or_proto.SerializeToString()
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, f)[0] for f in feeds])


def test_the_unclipped_twin_answers_as_the_fp32_model_did(fp32_beat_model, tmp_path):
    """Without its activations' quantize / dequantize pairs a sound int8 model answers as its
    fp32 source (the weights' rounding aside); the Relus onnxruntime folded into quantizers come
    back as Relus, or the twin's logits run off by orders of magnitude."""
    fp32, data = fp32_beat_model
    feeds = real_inputs(data.train, read_contract(fp32).inputs, 64)
    out = tmp_path / "int8.onnx"
    quantize_once(fp32, out, feeds, "minmax", per_channel=True)
    int8 = onnx.load(str(out))
    twin = unclipped_twin(int8)
    onnx.checker.check_model(twin)
    ops = [n.op_type for n in twin.graph.node]
    assert "QuantizeLinear" not in ops and "Relu" in ops
    assert [o.name for o in twin.graph.output] == [o.name for o in int8.graph.output]
    assert read_contract(tmp_path / "x", twin.SerializeToString()) == read_contract(fp32)
    reference, answered = _outputs(str(fp32), feeds), _outputs(twin, feeds)
    scale = np.abs(reference).max()
    assert np.abs(answered - reference).max() < 0.05 * scale
    assert range_gap(reference, answered) < 0.05 * scale


def test_the_twin_shows_a_clipped_model_without_its_fp32_source(fp32_beat_model, tmp_path):
    """The badly calibrated model falls as far short of its own twin as of the fp32 model it
    came from: the clip is found from the int8 file alone."""
    fp32, data = fp32_beat_model
    out = tmp_path / "broken.onnx"
    contract, feeds = badly_calibrated(fp32, data, out)
    probs = {
        name: probabilities(contract, _outputs(source, feeds))
        for name, source in (("int8", str(out)), ("twin", unclipped_twin(onnx.load(str(out)))))
    }
    assert range_gap(probs["twin"], probs["int8"]) > 0.1
    reference = probabilities(contract, _outputs(str(fp32), feeds))
    assert range_gap(reference, probs["twin"]) < 0.05  # the twin spans what fp32 spans


def test_the_twin_reads_floors_from_any_zero_point_and_refuses_a_graph_it_cannot_unclip(
    fp32_beat_model,
):
    """A zero point from a Constant node floors its pair like an initializer's (a Relu); the
    graph output keeps no floor and its range no ceiling; a float model (as a QOperator one)
    has no pair to remove and is refused, not passed through as "not clipped"."""
    from onnx import TensorProto, helper, numpy_helper

    from edge_monitor.errors import InputError

    def const(name, value):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))

    scale = np.array(0.1, dtype=np.float32)
    nodes = [
        const("s", scale),
        const("z0", np.array(0, dtype=np.uint8)),
        const("z1", np.array(128, dtype=np.uint8)),
        helper.make_node("QuantizeLinear", ["x", "s", "z0"], ["q0"]),
        helper.make_node("DequantizeLinear", ["q0", "s", "z0"], ["h"]),
        helper.make_node("QuantizeLinear", ["h", "s", "z1"], ["q1"]),
        helper.make_node("DequantizeLinear", ["q1", "s", "z1"], ["y"]),
    ]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("x", "y")]
    model = helper.make_model(
        helper.make_graph(nodes, "g", [io[0]], [io[1]]), opset_imports=[helper.make_opsetid("", 13)]
    )
    feed = [{"x": np.array([-1.0, 50.0], dtype=np.float32)}]
    np.testing.assert_allclose(_outputs(model, feed), [0.0, 12.7], atol=1e-5)  # int8: clipped
    twin = unclipped_twin(model)
    assert [n.op_type for n in twin.graph.node if n.op_type in ("Relu", "Identity")] == [
        "Relu",
        "Identity",
    ]
    np.testing.assert_allclose(_outputs(twin, feed), [0.0, 50.0], atol=1e-5)
    with pytest.raises(InputError, match="nothing to unclip"):
        unclipped_twin(onnx.load(str(fp32_beat_model[0])))
