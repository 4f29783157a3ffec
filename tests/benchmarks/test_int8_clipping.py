"""benchmarks/int8_clipping.py: the embedded diagnostic int8 model against its unclipped twin on
real PTB-XL records (a few per fold), and bundles from strangers refused in one line."""

import json
import subprocess
import sys
from pathlib import Path

from edge_monitor.bundle import embedded_bundle

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "int8_clipping.py"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_the_embedded_diagnostic_model_is_not_clipped(tiny_ptbxl, tmp_path):
    out = tmp_path / "clip.json"
    bundle = embedded_bundle("diagnostic")
    r = run(str(bundle), "--data-dir", str(tiny_ptbxl), "--out", str(out))
    assert r.returncode == 0, r.stderr
    got = json.loads(out.read_text())[str(bundle)]
    assert got["task"] == "diagnostic" and got["env"] == {}
    for split in ("val", "test"):
        assert got[split]["rows"] > 0
        # activation rounding moves outputs a little on any CPU; a clipped range moves them
        # by far more than the int8 gate's 0.05 (the clipped VT/VF fold: 0.494)
        assert 0 <= got[split]["range_gap_vs_unclipped"] < 0.05
        lo, hi = got[split]["unclipped_p01_p99"]
        assert len(lo) == len(hi) == 5


def test_a_folder_that_is_not_a_bundle_is_refused_in_one_line(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    r = run(str(tmp_path), "--out", str(tmp_path / "o.json"))
    assert r.returncode != 0
    assert r.stderr.strip().startswith("error:") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
