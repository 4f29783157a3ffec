"""Short names inside an ONNX graph. onnxruntime's quantizer names every tensor after the
layer it came from and its role ("blocks.2.conv1.weight_bias_quantized_zero_point"), and every
quantized tensor has four of them: in the int8 beat model the names took a third of the file.
Renamed to short ids, the graph is the same (the same ops, edges and weights, so the same
outputs); its inputs and outputs keep their names, which the model contract and the device use.
The shape annotations of intermediate tensors (value_info) go too: onnxruntime infers them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort


def compact_names(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with internal tensors named t0, t1, ... and nodes n0, n1, ... (in place)."""
    graph = model.graph
    if any(_has_subgraph(node) for node in graph.node):
        return model  # names may cross into a subgraph: leave such models as they are
    kept = {v.name for v in graph.input} | {v.name for v in graph.output}
    short: dict[str, str] = {}

    def name(old: str) -> str:
        if old == "" or old in kept:
            return old  # "" marks an omitted optional input
        return short.setdefault(old, f"t{len(short):x}")

    for tensor in graph.initializer:
        tensor.name = name(tensor.name)
    for note in graph.quantization_annotation:
        note.tensor_name = name(note.tensor_name)
    for i, node in enumerate(graph.node):
        node.name = f"n{i:x}"
        node.doc_string = ""
        node.input[:] = [name(x) for x in node.input]
        node.output[:] = [name(x) for x in node.output]
    del graph.value_info[:]
    return model


def compact_copy(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]]) -> bool:
    """`src` written to `dst` with short names, if onnx's checker passes it and onnxruntime
    gives bit-identical outputs on `feeds`; else `src` copied as it is. True: compacted.
    Only the bundle's copy is compacted: the stage files keep the quantizer's names, which
    its per-tensor error report (onnxruntime.quantization.qdq_loss_debug) matches by."""
    model = compact_names(onnx.load(str(src), load_external_data=False))
    same = False
    try:
        if feeds and not _external(model):  # nothing to compare on: the file as it is
            onnx.checker.check_model(model)
            data = model.SerializeToString()
            same = all(
                all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
                for a, b in zip(
                    _outputs(src.read_bytes(), feeds), _outputs(data, feeds), strict=True
                )
            )
    except Exception:  # noqa: BLE001 -- any refusal by onnx or onnxruntime: keep the original
        same = False
    if same:
        dst.write_bytes(data)
    else:
        shutil.copyfile(src, dst)
    return same


def _external(model: onnx.ModelProto) -> bool:
    """Weights kept in a file beside the model (the bundle loader refuses those anyway)."""
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def _outputs(model: bytes, feeds: list[dict[str, np.ndarray]]) -> list[list[np.ndarray]]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return [session.run(None, feed) for feed in feeds]


def _has_subgraph(node: onnx.NodeProto) -> bool:
    return any(
        a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute
    )
