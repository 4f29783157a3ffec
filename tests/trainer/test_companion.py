"""`trainer companion`: a beat bundle copied as a companion for inverted beats, the weights and
every other part of the contract untouched, refused for a window model or a used folder."""

from __future__ import annotations

import hashlib
import json
import shutil

import onnx
import pytest
from typer.testing import CliRunner

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.contract import PREFIX
from trainer.cli import app
from trainer.companion import make_companion


def test_the_copy_reads_inverted_beats_with_the_same_weights(tmp_path):
    source = embedded_bundle("arrhythmia")
    out = tmp_path / "down"
    result = CliRunner().invoke(app, ["companion", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    copy, original = load_bundle(out, probe=False), load_bundle(source, probe=False)
    assert copy.contract.input.reads == "qrs_down"
    assert copy.manifest["model"]["sha256"] != original.manifest["model"]["sha256"]
    assert copy.manifest["command"].endswith(f"trainer companion {source} --out {out}")
    a = onnx.load_from_string(copy.model_bytes).graph
    b = onnx.load_from_string(original.model_bytes).graph
    assert a.SerializeToString() == b.SerializeToString()  # only the metadata differs


@pytest.mark.parametrize(
    "case, said",
    [("window model", "feeds windows"), ("used folder", "not empty"), ("a file", "is a file")],
)
def test_refusals_are_one_line_and_leave_nothing_behind(tmp_path, case, said):
    out = tmp_path / "down"
    source = embedded_bundle("arrhythmia")
    if case == "window model":
        source = embedded_bundle("ventricular")
    elif case == "used folder":
        out.mkdir()
        (out / "x").write_text("mine")
    else:
        out.write_text("mine")
    before = sorted(tmp_path.rglob("*"))
    result = CliRunner().invoke(app, ["companion", str(source), "--out", str(out)])
    assert result.exit_code != 0
    assert said in result.output and "Traceback" not in result.output
    assert sorted(tmp_path.rglob("*")) == before


def test_a_version_1_bundle_becomes_a_version_2_companion(tmp_path):
    """The version-1 layout (a flat `preprocessing`) still loads; its companion carries the
    version-2 contract alone (no stale version-1 key beside it, which the device refuses)."""
    source = tmp_path / "v1"
    shutil.copytree(embedded_bundle("arrhythmia"), source)
    c = load_bundle(source, probe=False).contract.as_json()
    pre = {"fs": c["fs"], "filter": c["filter"], **c["input"]}
    del pre["kind"]
    v1 = {k: c[k] for k in ("task", "fs", "leads", "classes", "inputs", "output", "provenance")}
    v1 |= {"preprocessing": pre, "version": 1}
    proto = onnx.load(source / "model.onnx")
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {f"{PREFIX}{k}": json.dumps(v) for k, v in v1.items()})
    data = proto.SerializeToString()
    (source / "model.onnx").write_bytes(data)
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["model"] |= {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest["contract"] = v1
    (source / "manifest.json").write_text(json.dumps(manifest))
    assert load_bundle(source, probe=False).contract.input.reads == "all"
    make_companion(source, tmp_path / "down", "test")
    copy = load_bundle(tmp_path / "down", probe=False)
    assert copy.contract.input.reads == "qrs_down" and copy.contract.version == 2
