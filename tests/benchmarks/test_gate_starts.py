"""benchmarks/gate_starts.py: the first seconds' grades as classify streams them, and the
comparison of two trees' grades."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import wfdb

from tests.conftest import ROOT

SPEC = importlib.util.spec_from_file_location(
    "gate_starts", Path(__file__).parents[2] / "benchmarks" / "gate_starts.py"
)
gate_starts = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(gate_starts)


def test_a_real_start_grades_good_and_noise_noisy_from_its_first_second(tmp_path):
    assert gate_starts.grades(ROOT / "edge_monitor/sample_data/mitdb-200-excerpt") == ["good"] * 5
    noise = np.random.default_rng(0).normal(0, 0.5, (360 * 8, 1))
    wfdb.wrsamp("noise", fs=360, units=["mV"], sig_name=["MLII"], p_signal=noise, fmt=["16"],
                write_dir=str(tmp_path))  # fmt: skip
    assert gate_starts.grades(tmp_path / "noise") == ["noisy"] * 5


def test_the_comparison_lists_the_records_whose_grades_moved(tmp_path, monkeypatch, capsys):
    before = {"grades": {"mitdb/100": ["good"] * 5, "nstdb/ma": ["good", "good", "noisy"]}}
    after = {"grades": {"mitdb/100": ["good"] * 5, "nstdb/ma": ["noisy"] * 3}}
    paths = [tmp_path / "before.json", tmp_path / "after.json"]
    for path, doc in zip(paths, (before, after), strict=True):
        path.write_text(json.dumps(doc))
    out = tmp_path / "cmp.json"
    argv = ["gate_starts.py", "--compare", *map(str, paths), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    gate_starts.main()
    result = json.loads(out.read_text())
    assert result["changed"] == {"nstdb/ma": [["good", "good", "noisy"], ["noisy"] * 3]}
    assert result["records"] == {"mitdb": 1, "nstdb": 1}
    assert "2 records, 1 changed" in capsys.readouterr().out
