"""`trainer companion`: a beat bundle copied as a companion for inverted beats, the weights and
every other part of the contract untouched, refused for a window model or a used folder."""

from __future__ import annotations

import onnx
import pytest
from typer.testing import CliRunner

from edge_monitor.bundle import embedded_bundle, load_bundle
from trainer.cli import app


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


@pytest.mark.parametrize("case", ["window model", "used folder"])
def test_refusals_are_one_line(tmp_path, case):
    out = tmp_path / "down"
    source = embedded_bundle("arrhythmia")
    if case == "window model":
        source = embedded_bundle("ventricular")
    else:
        out.mkdir()
        (out / "x").write_text("mine")
    result = CliRunner().invoke(app, ["companion", str(source), "--out", str(out)])
    assert result.exit_code != 0
    assert ("feeds windows" if case == "window model" else "not empty") in result.output
    assert "Traceback" not in result.output
