"""int8 static quantization with onnxruntime, calibrated on real training inputs, with a gate.

quant_pre_process, then quantize_static in QDQ format with per-channel weights, once per
calibration method the profile names; the method with the best validation score is kept. The kept
model is re-scored on the test split and refused when it lost more than the profile allows, or
when its outputs no longer span its fp32 twin's (range_gap); a refusal writes a per-tensor
error report (onnxruntime's qdq_loss_debug) beside the model.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization import qdq_loss_debug as qdq_debug
from onnxruntime.quantization.shape_inference import quant_pre_process

from edge_monitor.contract import read_contract
from edge_monitor.errors import CheckFailedError, InputError
from edge_monitor.profiles import Budgets, DeviceProfile
from trainer.export import real_inputs
from trainer.kinds import kind_of
from trainer.onnx_eval import onnx_predict
from trainer.splits import TaskData

METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,
    "entropy": CalibrationMethod.Entropy,
}


# The profile's max_int8_range_gap bounds how far (in probability) the int8 model's 1st and 99th
# output percentiles may fall inside its fp32 twin's, per class. A calibration range that clips
# an activation keeps every rank, so a rank score (AUC) passes it, while the device's probability
# thresholds never fire: on 7 Dec a two-seed VT/VF model calibrated by MinMax held its logit at 0
# (P <= 0.5 on every window) and lost 0.0005 AUC. Over the 27 other int8 students of that day's
# fold bundles the gap was at most 0.003 (benchmarks/ventricular_calibration.py), their teachers'
# at most 0.0013; that one's was 0.494. The default is 0.05.


def range_gap(fp32: np.ndarray, int8: np.ndarray) -> float:
    """The largest shortfall of the int8 outputs' 1st / 99th percentiles against the fp32
    outputs', over classes (0 when int8 spans at least as far, or there is nothing to compare;
    1, the most, when int8 answers NaN where fp32 answers a number)."""
    fp32, int8 = np.asarray(fp32, dtype=float), np.asarray(int8, dtype=float)
    if fp32.size == 0 or int8.size == 0:
        return 0.0
    if (np.isfinite(fp32) & ~np.isfinite(int8)).any():
        return 1.0
    with warnings.catch_warnings():  # a class NaN throughout (both models): nothing to compare
        warnings.simplefilter("ignore", RuntimeWarning)
        short_top = np.nanpercentile(fp32, 99, axis=0) - np.nanpercentile(int8, 99, axis=0)
        short_bottom = np.nanpercentile(int8, 1, axis=0) - np.nanpercentile(fp32, 1, axis=0)
    short = np.concatenate([np.ravel(short_top), np.ravel(short_bottom)])
    short = short[np.isfinite(short)]
    return float(max(0.0, short.max())) if short.size else 0.0


def unclipped_twin(int8: onnx.ModelProto) -> onnx.ModelProto:
    """A QDQ model with its activations left in float: every QuantizeLinear -> DequantizeLinear
    pair on an activation goes, the weights stay int8-rounded (their own DequantizeLinear). What
    differs between the two is what calibration did to the activations: their rounding and,
    where a calibrated range was too narrow, their clipping. So range_gap against the twin
    measures a bundle's clipping without the fp32 model it came from (a stranger's bundle, or
    one built before the gate read ranges).

    onnxruntime folds a Relu into the quantizer after it (a range that starts at zero does the
    Relu's work), so a pair whose range starts at zero becomes a Relu, not an Identity; an inner
    tensor that calibration never saw negative reads the same way. It folds a Clip (ReLU6,
    Hardtanh) the same way, which the file no longer tells from a narrow range: the twin is
    for graphs whose activations are Relus (this project's), and refuses a graph with no
    activation pair at all (QOperator format, or not quantized), which it cannot unclip. A
    graph output read by nothing else keeps no floor: a logit floored at zero is a clip to
    find."""
    twin = onnx.ModelProto()
    twin.CopyFrom(int8)
    graph = twin.graph
    quantized = {n.output[0]: n for n in graph.node if n.op_type == "QuantizeLinear"}
    users: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    constants = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:  # zero points may come from Constant nodes too
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = onnx.numpy_helper.to_array(node.attribute[0].t)
    nodes, removed = [], []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in quantized:
            q = quantized[node.input[0]]
            out = node.output[0]
            final = out in outputs and not users.get(out)  # a graph output alone
            op = "Relu" if _starts_at_zero(q, constants) and not final else "Identity"
            nodes.append(onnx.helper.make_node(op, [q.input[0]], [out]))
            removed.append(node)
            continue
        nodes.append(node)
    if not removed:
        raise InputError(
            "no quantize / dequantize pair on any activation: not a QDQ int8 model "
            "(QOperator format or float), nothing to unclip"
        )
    for name, q in quantized.items():  # a quantize read only by dequantizers goes too
        readers = users.get(name, [])
        if name not in outputs and all(u.op_type == "DequantizeLinear" for u in readers):
            removed.append(q)
    gone = {id(n) for n in removed}
    kept = [n for n in nodes if id(n) not in gone]
    del graph.node[:]
    graph.node.extend(kept)
    # the removed pairs' scales and zero points, unless anything else still names them
    theirs = {name for n in removed for name in n.input[1:]}
    named = _names_read(kept) | {i.name for i in graph.input} | outputs
    weights = [t for t in graph.initializer if t.name not in theirs - named]
    del graph.initializer[:]
    graph.initializer.extend(weights)
    return twin


def _names_read(nodes) -> set[str]:
    """Every tensor name the nodes read, their subgraphs' (If, Loop, Scan) included."""
    names: set[str] = set()
    for node in nodes:
        names.update(node.input)
        for attribute in node.attribute:
            for sub in [attribute.g, *attribute.graphs]:
                names |= _names_read(sub.node) | {o.name for o in sub.output}
    return names


def _starts_at_zero(quantize, constants: dict) -> bool:
    """Whether a QuantizeLinear's range begins at zero: its zero point is its type's lowest
    code (0 for uint8, -128 for int8), on every channel."""
    if len(quantize.input) < 3 or not quantize.input[2]:
        # no zero point: 0 of the output type, uint8 unless opset 21's output_dtype says else
        dtypes = [a.i for a in quantize.attribute if a.name == "output_dtype"]
        return not dtypes or dtypes[0] in (0, onnx.TensorProto.UINT8)
    zero = constants.get(quantize.input[2])
    if zero is None or not zero.size:
        return False
    try:
        lowest = np.iinfo(zero.dtype).min
    except ValueError:  # float8, int4: no Relu read into them
        return False
    return bool(np.all(zero == lowest))


class FeedReader(CalibrationDataReader):
    """Hands onnxruntime's calibrator one real input at a time."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def quantize_once(
    pre_path: Path,
    out: Path,
    feeds: list[dict[str, np.ndarray]],
    method: str,
    per_channel: bool,
    quant_format: str = "QDQ",
    activation_type: str = "uint8",
) -> None:
    if method not in METHODS:
        raise InputError(f"unknown calibration method {method!r}; choose {', '.join(METHODS)}")
    quantize_static(
        str(pre_path),
        str(out),
        FeedReader(feeds),
        quant_format=QuantFormat.QDQ if quant_format == "QDQ" else QuantFormat.QOperator,
        per_channel=per_channel,
        activation_type=QuantType.QUInt8 if activation_type == "uint8" else QuantType.QInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=METHODS[method],
        extra_options={"CalibMovingAverage": method == "minmax"},
    )


def keep_contract(fp32_path: Path, int8_path: Path) -> None:
    """Carry the contract across quantization and prove it arrived unchanged."""
    src, dst = onnx.load(str(fp32_path)), onnx.load(str(int8_path))
    theirs = {p.key: p.value for p in dst.metadata_props}
    ours = {p.key: p.value for p in src.metadata_props}
    if any(theirs.get(k) != v for k, v in ours.items()):
        onnx.helper.set_model_props(dst, {**theirs, **ours})
        onnx.save(dst, str(int8_path))
    if read_contract(int8_path) != read_contract(fp32_path):
        raise CheckFailedError(f"the model contract did not survive quantization: {int8_path}")


def quantize_model(
    fp32_path: Path,
    out: Path,
    data: TaskData,
    profile: DeviceProfile,
    n_calibration: int = 300,
    seed: int = 0,
) -> dict:
    contract = read_contract(fp32_path)
    kind = kind_of(contract.task)
    q = profile.quantization
    feeds = real_inputs(data.train, contract.inputs, n_calibration, seed=seed)
    work = Path(tempfile.mkdtemp(prefix="ecg-edge-quant-"))
    try:
        pre = work / "pre.onnx"
        # onnx shape inference suffices for fixed-shape CNNs; the symbolic pass trips on Reduce*
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        fp32_probs = onnx_predict(fp32_path, data.val)
        fp32_val = kind.score(data.val.y, fp32_probs, contract.classes)
        candidates = {}
        for method in q.calibration_methods:
            path = work / f"int8-{method}.onnx"
            quantize_once(pre, path, feeds, method, q.per_channel, q.format, q.activation_type)
            keep_contract(fp32_path, path)
            probs = onnx_predict(path, data.val)
            score = kind.score(data.val.y, probs, contract.classes)
            gap = range_gap(fp32_probs, probs)
            candidates[method] = {"val": score, "path": path, "range_gap": gap}
        # the calibration method with the best validation headline, among those whose outputs
        # span the fp32 model's (all of them when none does: the gate then refuses)
        # (the default bound, or the profile's if stricter: the chain quantizes under a profile
        # whose limits are lifted, and its own gate applies them after)
        span = min(profile.budgets.max_int8_range_gap, Budgets.max_int8_range_gap)
        spanning = [m for m in candidates if candidates[m]["range_gap"] <= span]
        best = max(spanning or candidates, key=lambda m: kind.headline(candidates[m]["val"]))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(candidates[best]["path"], out)
        return gate(
            fp32_path,
            out,
            data,
            profile,
            contract.task,
            contract.classes,
            feeds,
            {
                "calibration": best,
                "activation_type": q.activation_type,
                "calibration_inputs": len(feeds),
                "validation": {"fp32": fp32_val, **{m: c["val"] for m, c in candidates.items()}},
                "validation_range_gap": {m: c["range_gap"] for m, c in candidates.items()},
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def gate(
    fp32_path: Path,
    int8_path: Path,
    data: TaskData,
    profile: DeviceProfile,
    task: str,
    classes: list[str],
    feeds: list[dict[str, np.ndarray]],
    result: dict,
) -> dict:
    """Re-score on test; refuse (with a per-tensor report) when int8 lost too much."""
    kind = kind_of(task)
    fp32_probs, int8_probs = onnx_predict(fp32_path, data.test), onnx_predict(int8_path, data.test)
    fp32 = kind.score(data.test.y, fp32_probs, classes)
    int8 = kind.score(data.test.y, int8_probs, classes)
    drop = kind.gate_drop(fp32, int8)
    limit = kind.int8_limit(profile.budgets)
    result.update(
        {
            "test": {"fp32": fp32, "int8": int8},
            "drop": drop,
            "limit": limit,
            "range_gap": range_gap(fp32_probs, int8_probs),
            "fp32_bytes": fp32_path.stat().st_size,
            "int8_bytes": int8_path.stat().st_size,
        }
    )
    result["range_gap_limit"] = profile.budgets.max_int8_range_gap
    if drop > limit or result["range_gap"] > result["range_gap_limit"]:
        report = int8_path.with_suffix(".qdq_debug.json")
        report.write_text(json.dumps(loss_report(fp32_path, int8_path, feeds[:16]), indent=2))
        raise CheckFailedError(
            f"{gate_failure(result, profile.name)}; per-tensor errors in {report}"
        )
    return result


def gate_failure(result: dict, profile: str) -> str:
    """What the gate holds against a quantized model (its score lost, or its outputs clipped)."""
    said = []
    if result["drop"] > result["limit"]:
        said.append(
            f"int8 model lost {result['drop']:.4f} on the test split (profile {profile} "
            f"allows {result['limit']})"
        )
    if result["range_gap"] > result["range_gap_limit"]:
        said.append(
            f"int8 model's outputs fall {result['range_gap']:.3f} short of its fp32 twin's range "
            f"on the test split (a clipped activation; profile {profile} allows "
            f"{result['range_gap_limit']})"
        )
    return "; ".join(said)


def loss_report(fp32_path: Path, int8_path: Path, feeds: list[dict[str, np.ndarray]]) -> dict:
    """Weight and activation signal-to-quantization-noise ratios (dB) per tensor: where it broke."""
    weights = qdq_debug.compute_weight_error(
        qdq_debug.create_weight_matching(str(fp32_path), str(int8_path))
    )
    work = Path(tempfile.mkdtemp(prefix="ecg-edge-qdq-"))
    try:
        f_aug, q_aug = work / "f.onnx", work / "q.onnx"
        qdq_debug.modify_model_output_intermediate_tensors(str(fp32_path), str(f_aug))
        qdq_debug.modify_model_output_intermediate_tensors(str(int8_path), str(q_aug))
        f_act = qdq_debug.collect_activations(str(f_aug), FeedReader(feeds))
        q_act = qdq_debug.collect_activations(str(q_aug), FeedReader(feeds))
        matched = qdq_debug.create_activation_matching(q_act, f_act)
        activations = qdq_debug.compute_activation_error(matched)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "weights_sqnr_db": {k: float(v) for k, v in weights.items()},
        "activations": {k: {m: float(x) for m, x in v.items()} for k, v in activations.items()},
    }


def quantize_exported(
    model: Path, out: Path, profile_name: str, data_dir, cache_dir: Path | None = None
) -> dict:
    """CLI entry: the data the contract names, the profile, then quantize_model."""
    from edge_monitor.profiles import load_profile
    from trainer.tasks import load_task

    contract = read_contract(model)
    leads = kind_of(contract.task).lead_option(contract.leads)
    data = load_task(contract.task, data_dir, leads=leads, cache_dir=cache_dir)
    result = quantize_model(model, out, data, load_profile(profile_name))
    (out.with_suffix(".quant.json")).write_text(json.dumps(result, indent=2))
    return result
