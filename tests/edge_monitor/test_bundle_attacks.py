"""A bundle is proven before it runs (issue 15): each attack a reviewer found on `load_bundle`
is one InputError line, raised before any monitoring starts, and the shipped bundles still pass.
No test asserts a wall-clock time: slow graphs meet budgets they cannot meet on any CPU."""

import json
import os
import shutil
import signal
from contextlib import contextmanager

import onnxruntime as ort
import pytest

from edge_monitor.bundle import MODEL_MAX_BYTES, embedded_bundle, load_bundle, sha256_file
from edge_monitor.bundle_proof import refuse_external_data, time_limit
from edge_monitor.errors import EcgEdgeError, InputError
from edge_monitor.profiles import load_profile
from tests.conftest import write_window_model


@contextmanager
def deadline(seconds=120):
    """A regression that blocks (a FIFO opened for reading) fails instead of hanging the run."""

    def expired(signum, frame):
        raise TimeoutError("load_bundle blocked")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def refused(folder, match, **kwargs):
    with deadline(), pytest.raises(EcgEdgeError, match=match) as info:
        load_bundle(folder, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def rehash(folder):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["model"]["sha256"] = sha256_file(folder / "model.onnx")
    manifest["model"]["bytes"] = (folder / "model.onnx").stat().st_size
    path.write_text(json.dumps(manifest))
    return folder


def variant(folder, edit, save=None):
    """write_window_model's tiny model, changed by `edit(model)`, saved, with a true hash."""
    onnx = pytest.importorskip("onnx")
    write_window_model(folder)
    model = onnx.load(str(folder / "model.onnx"))
    edit(model)
    (save or onnx.save)(model, str(folder / "model.onnx"))
    return rehash(folder)


def set_contract(model, **changes):
    """Rewrite contract values in the metadata: a value, or a function of the old one."""
    for prop in model.metadata_props:
        key = prop.key.removeprefix("ecg_edge.")
        if key in changes:
            old = json.loads(prop.value)
            new = changes[key](old) if callable(changes[key]) else changes[key]
            prop.value = json.dumps(new)


def with_window(n):
    """The window geometry (contract versions 1 and 2) set to n samples."""

    def edit(geometry):
        return {**geometry, "window": n} if "window" in geometry else geometry

    return edit


@pytest.fixture
def bundle_copy(tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(embedded_bundle("arrhythmia"), dst)
    return dst


# --- 1. files: regular, bounded, inside the folder ----------------------------------------


@pytest.mark.parametrize("name", ["manifest.json", "model.onnx"])
def test_a_fifo_is_refused_without_blocking(bundle_copy, name):
    (bundle_copy / name).unlink()
    os.mkfifo(bundle_copy / name)
    refused(bundle_copy, "not a regular file", probe=False)


def test_symlinks_out_of_the_folder_are_refused(bundle_copy, tmp_path):
    manifest = bundle_copy / "manifest.json"
    outside = tmp_path / "outside.json"
    manifest.rename(outside)
    manifest.symlink_to(outside)
    refused(bundle_copy, "leads out of the bundle folder", probe=False)
    manifest.unlink()
    manifest.symlink_to("/dev/zero")
    refused(bundle_copy, "leads out of the bundle folder", probe=False)
    manifest.unlink()
    (bundle_copy / "real.json").write_bytes(outside.read_bytes())
    manifest.symlink_to("real.json")  # a link inside the folder is fine
    assert load_bundle(bundle_copy, probe=False).task == "arrhythmia"


def test_oversized_files_are_refused_before_reading(bundle_copy):
    manifest = bundle_copy / "manifest.json"
    original = manifest.read_bytes()
    manifest.write_bytes(original + b" " * (1 << 20))
    refused(bundle_copy, "at most", probe=False)
    manifest.write_bytes(original)
    with (bundle_copy / "model.onnx").open("r+b") as f:
        f.truncate(MODEL_MAX_BYTES + 1)  # sparse: costs no disk
    refused(bundle_copy, "at most", probe=False)


def test_a_deeply_nested_manifest_is_one_line(bundle_copy):
    depth = 200_000
    (bundle_copy / "manifest.json").write_text("[" * depth + "]" * depth)
    refused(bundle_copy, r"not valid JSON \(nested too deeply\)", probe=False)


def test_the_model_file_must_be_model_onnx(bundle_copy):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["model"]["file"] = "model.ort"
    path.write_text(json.dumps(manifest))
    refused(bundle_copy, "is not 'model.onnx'", probe=False)


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["filter"].update(high_hz=10.0),
        lambda c: c.update(classes=["N", "S", "V", "Q"]),
        lambda c: c.update(extra=1),
        lambda c: c["input"]["beat"].update(before=10),
        lambda c: c["input"]["beat"].update(upright=True),
        lambda c: c["input"]["beat"].update(upright="false"),
        lambda c: c["filter"].update(order=10**400),
    ],
    ids=["filter", "classes", "extra key", "beat window", "upright", "upright as text",
         "an integer no float holds"],
)  # fmt: skip
def test_a_manifest_that_misstates_its_models_contract_is_refused(bundle_copy, edit):
    """The device follows the contract inside the model; a JSON manifest saying otherwise was
    edited or belongs to another model (the fresh-clone review found it silently ignored)."""
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    assert load_bundle(bundle_copy, probe=False).task == "arrhythmia"
    edit(manifest["contract"])
    path.write_text(json.dumps(manifest))
    refused(bundle_copy, "differs from the one inside model.onnx", probe=False)


@pytest.mark.parametrize("depth", [900, 950, 990])
def test_a_deep_value_in_a_manifest_contract_is_one_line(bundle_copy, depth):
    """Deep enough that JSON reads it and a message quoting it recurses too far (the review)."""
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["contract"]["input"]["source_fs"] = "DEEP"
    path.write_text(json.dumps(manifest).replace('"DEEP"', "[" * depth + "]" * depth))
    refused(bundle_copy, "manifest", probe=False)


@pytest.mark.parametrize("contract", [None, [1], "text"])
def test_a_manifest_contract_that_is_no_object_is_refused(bundle_copy, contract):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["contract"] = contract
    path.write_text(json.dumps(manifest))
    refused(bundle_copy, "'contract' must be an object", probe=False)


def test_a_manifest_stating_a_key_at_its_absent_meaning_states_the_same_contract(bundle_copy):
    """ "upright": false is what a contract without the key means: the same contract."""
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["contract"]["input"]["beat"]["upright"] = False
    path.write_text(json.dumps(manifest))
    assert load_bundle(bundle_copy, probe=False).contract.input.beat.upright is False


def test_an_older_manifest_with_its_contract_as_text_still_loads(bundle_copy):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["contract"]["filter"] = "FilterSpec(low_hz=0.5, high_hz=40.0)"  # last round's writer
    path.write_text(json.dumps(manifest))
    assert load_bundle(bundle_copy, probe=False).task == "arrhythmia"


# --- 2. ONNX external data ----------------------------------------------------------------


def test_weights_in_external_data_are_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    def save(model, path):
        onnx.save_model(
            model, path, save_as_external_data=True, location="weights.bin", size_threshold=0
        )

    def raw(model):  # the converter moves raw_data only
        w = model.graph.initializer[0]
        w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w), "w"))

    folder = variant(tmp_path / "ext", raw, save)
    assert (folder / "weights.bin").exists()  # onnxruntime would load these unhashed weights:
    ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    refused(folder, "external data", probe=False)


def make_external(tensor, location):
    """Point a tensor's data at `location`, 8 bytes from its start (what a forger writes)."""
    for key, value in (("location", location), ("offset", "0"), ("length", "8")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    tensor.ClearField("float_data")
    tensor.ClearField("raw_data")
    tensor.data_location = 1  # TensorProto.EXTERNAL


@pytest.mark.parametrize("location", ["../../secret.bin", "/etc/passwd"])
def test_external_data_anywhere_is_refused(tmp_path, location):
    def edit(model):
        make_external(model.graph.initializer[0], location)

    refused(variant(tmp_path / "ext", edit), "tensor 'w' keeps its data outside", probe=False)


def test_external_data_inside_a_subgraph_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    def edit(model):
        secret = helper.make_tensor("secret", TensorProto.FLOAT, [1, 2], [0.0, 0.0])
        make_external(secret, "elsewhere.bin")
        out = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 2])
        branch = helper.make_graph(
            [helper.make_node("Constant", [], ["b"], value=secret)], "branch", [], [out]
        )
        g = model.graph
        g.node[-1].output[0] = "raw"
        g.initializer.append(helper.make_tensor("yes", TensorProto.BOOL, [], [True]))
        g.node.extend(
            [
                helper.make_node("If", ["yes"], ["bias"], then_branch=branch, else_branch=branch),
                helper.make_node("Add", ["raw", "bias"], ["logits"]),
            ]
        )

    folder = variant(tmp_path / "sub", edit)
    (folder / "elsewhere.bin").write_bytes(bytes(8))
    onnx.checker.check_model(str(folder / "model.onnx"))  # a valid model, and it would run:
    ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    refused(folder, "tensor 'secret' keeps its data outside", probe=False)


def test_what_is_not_an_onnx_protobuf_is_refused():
    with pytest.raises(InputError, match="not an ONNX model"):
        refuse_external_data(b"\x3a\xff\xff\xff\xff\x0f", "m.onnx")  # graph longer than file
    refuse_external_data(_nested(10), "m.onnx")  # ten If bodies inside each other: fine
    with pytest.raises(InputError, match="nested over 64 deep"):
        refuse_external_data(_nested(30), "m.onnx")


def _nested(levels):
    """A model whose graph holds a node whose attribute holds a graph ... `levels` times."""
    body = b""
    for _ in range(levels):
        body = _field(1, _field(5, _field(6, body)))  # GraphProto.node.attribute.g
    return _field(7, body)  # ModelProto.graph


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


# --- 3. the contract against the graph ----------------------------------------------------


def test_a_contract_window_unlike_the_graph_is_refused(tmp_path):
    def edit(model):
        set_contract(model, inputs={"ecg": [1, 1, 100]}, input=with_window(100))
        set_contract(model, preprocessing=with_window(100))

    refused(variant(tmp_path / "w", edit), r"input 'ecg' has shape \[1, 1, 250\]", probe=False)


def test_an_output_unlike_the_classes_is_refused(tmp_path):
    classes = ["NORM", "MI", "STTC", "CD"]  # four classes, the graph gives two logits

    def edit(model):
        set_contract(model, classes=classes, thresholds=[0.5] * 4)

    refused(variant(tmp_path / "c", edit), r"output 'logits' has shape \[1, 2\]", probe=False)
    refused(variant(tmp_path / "none", lambda m: set_contract(m, classes=[])), "classes")
    renamed = variant(tmp_path / "o", lambda m: set_contract(m, output="probs"))
    refused(renamed, "'probs' is not a graph output", probe=False)


def test_graph_inputs_must_be_the_contracts(tmp_path):
    from onnx import TensorProto, helper

    def extra(model):
        model.graph.input.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, [1]))

    refused(variant(tmp_path / "x", extra), r"graph's inputs \(ecg, x\)", probe=False)

    def symbolic(axis):
        def edit(model):
            model.graph.input[0].type.tensor_type.shape.dim[axis].dim_param = "n"

        return edit

    refused(variant(tmp_path / "t", symbolic(2)), r"has shape \[1, 1, \?\]", probe=False)
    batch = load_bundle(variant(tmp_path / "n", symbolic(0)), budget_ms=1000.0)
    assert batch.contract.inputs == {"ecg": [1, 1, 250]}  # a free batch size where it is 1


# --- 4. resource bombs --------------------------------------------------------------------


def bomb(*shape):
    """ConstantOfShape of `shape` floats added to the logits: built while the session loads
    (onnxruntime folds constants; 1.32 only under 1 GiB) or at the first inference."""

    def edit(model):
        import numpy as np
        from onnx import TensorProto, helper, numpy_helper

        g = model.graph
        g.node[-1].output[0] = "raw"
        g.initializer.append(numpy_helper.from_array(np.array(shape, np.int64), "bomb_shape"))
        one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
        g.node.extend(
            [
                helper.make_node("ConstantOfShape", ["bomb_shape"], ["big"], value=one),
                helper.make_node("ReduceMax", ["big"], ["bias"], axes=[2, 3], keepdims=0),
                helper.make_node("Add", ["raw", "bias"], ["logits"]),
            ]
        )

    return edit


@pytest.fixture
def never_in_process(monkeypatch):
    """The monitor's process must not load a model its trial run could not."""

    def loaded(path):
        raise AssertionError(f"{path} was loaded in the monitor's process")

    monkeypatch.setattr("edge_monitor.bundle.read_contract", loaded)


def test_a_memory_bomb_is_refused_in_a_child_process(tmp_path, never_in_process):
    folder = variant(tmp_path / "bomb", bomb(1, 2, 20_000, 12_500))  # 2 GB at the first run
    refused(folder, "fails on a zero input under a 1024 MiB memory limit")


def test_a_bomb_built_while_loading_meets_the_limit(tmp_path, never_in_process, monkeypatch):
    monkeypatch.setattr("edge_monitor.bundle_proof.TRIAL_MEMORY_MB", 64)
    folder = variant(tmp_path / "bomb", bomb(1, 2, 10_000, 5_000))  # 400 MB, while loading
    refused(folder, "under a 64 MiB memory limit")


def test_a_trial_that_does_not_end_is_refused(tmp_path, never_in_process, monkeypatch):
    monkeypatch.setattr("edge_monitor.bundle_proof.TRIAL_TIMEOUT_S", 0.01)
    refused(write_window_model(tmp_path / "w"), "did not load and answer in 0.01 s")


# --- 5. the timing probe ------------------------------------------------------------------


def _slow(model):
    """Four 768x768 matrix products on every inference (3.6 GFLOP): no CPU does that in 1 ms."""
    from onnx import TensorProto, helper

    g = model.graph
    g.node[-1].output[0] = "raw"
    n = helper.make_tensor("n", TensorProto.INT64, [2], [768, 768])
    tiny = helper.make_tensor("v", TensorProto.FLOAT, [1], [1e-3])
    g.initializer.append(n)
    nodes = [
        helper.make_node("ConstantOfShape", ["n"], ["a"], value=tiny),
        helper.make_node("ReduceMean", ["ecg"], ["level"], keepdims=0),
        helper.make_node("Add", ["a", "level"], ["x0"]),  # depends on the input: not folded
    ]
    for i in range(4):
        nodes.append(helper.make_node("MatMul", [f"x{i}", "x0"], [f"x{i + 1}"]))
    nodes += [
        helper.make_node("ReduceMean", ["x4"], ["bias"], keepdims=0),
        helper.make_node("Add", ["raw", "bias"], ["logits"]),
    ]
    g.node.extend(nodes)


def test_a_model_too_slow_for_its_budget_is_refused(tmp_path):
    folder = variant(tmp_path / "slow", _slow)
    refused(folder, r"per inference cannot keep up: the limit is 1\.0 ms", budget_ms=1.0)


def test_a_fast_model_passes_the_probe(tmp_path):
    folder = write_window_model(tmp_path / "fast")
    assert load_bundle(folder, budget_ms=1000.0).task == "diagnostic"
    assert load_bundle(folder).task == "diagnostic"  # the stream's own limit: 625 ms


def test_time_limits_follow_the_stream_and_the_profile():
    beat = load_bundle(embedded_bundle("arrhythmia"), probe=False).contract
    window = load_bundle(embedded_bundle("diagnostic"), probe=False).contract
    assert time_limit(beat)[0] == 100.0  # half of 200 ms between beats at 300/min
    assert time_limit(window)[0] == 625.0  # half the 1.25 s stride (125 samples at 100 Hz)
    zero = load_profile("rpi-zero-2w").budgets.latency_p95_ms
    host = load_profile("host").budgets.latency_p95_ms
    assert time_limit(beat, zero)[0] == 100.0 and time_limit(window, host)[0] == 10 * host
    assert time_limit(window, budget_ms=3.0) == (3.0, "the budget of 3 ms given")
    # a graph taking 2.3 s per inference is over every limit
    assert all(time_limit(c, p)[0] < 2300 for c in (beat, window) for p in (None, zero, host))


# --- 6. the shipped bundles ---------------------------------------------------------------


@pytest.mark.parametrize("task", ["arrhythmia", "diagnostic"])
def test_the_embedded_bundles_pass_every_check(task):
    profile = load_profile("rpi4")
    assert load_bundle(embedded_bundle(task), profile=profile).task == task


def test_the_cli_says_a_refusal_in_one_line(tmp_path, sample_record):
    from typer.testing import CliRunner

    from edge_monitor.cli import app

    folder = variant(tmp_path / "ext", lambda m: make_external(m.graph.initializer[0], "x.bin"))
    r = CliRunner().invoke(app, ["classify", str(sample_record), "--model", str(folder)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "external data" in r.output and len(r.output.strip().splitlines()) <= 2


def test_a_path_that_is_there_but_no_folder_is_not_a_folder(tmp_path):
    """A FIFO or /dev/zero given as --model said "bundle folder not found" although it exists."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        with deadline(), pytest.raises(InputError) as exc:
            load_bundle(path, probe=False)
        assert str(exc.value).startswith(f"{path} is not a folder"), exc.value
        assert "\n" not in str(exc.value)
    with pytest.raises(EcgEdgeError, match="bundle folder not found"):
        load_bundle(tmp_path / "none", probe=False)


def test_a_model_swapped_after_loading_is_not_what_runs(bundle_copy):
    """Sessions come from the bytes load_bundle hashed, never from reopening model.onnx."""
    import numpy as np

    from edge_monitor.streams import ModelRunner

    bundle = load_bundle(bundle_copy)
    (bundle_copy / "model.onnx").write_bytes(b"not the hashed model")
    runner = ModelRunner(bundle, (1, 1))  # reopening the file would fail to load here
    feed = {
        i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
        for i in runner.session.get_inputs()
    }
    assert runner.session.run(None, feed)[0].shape[-1] == len(bundle.contract.classes)
