"""benchmarks/lead_swings.py: real PTB-XL records stay far above the diagnostic stream's flat-lead
bound, and a record with a dead lead is counted under it (the measure can fail)."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

from tests.conftest import PTBXL, need

SPEC = importlib.util.spec_from_file_location(
    "lead_swings", Path(__file__).parents[2] / "benchmarks" / "lead_swings.py"
)
lead_swings = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(lead_swings)


def test_real_records_pass_and_a_dead_lead_is_counted(tmp_path, monkeypatch):
    first = sorted(need(PTBXL).glob("records100_*.npz"))[0]
    with np.load(first) as z:
        signal, gain = z["signal"][:6].copy(), z["adc_gain"]
    signal[5, :, 8] = 0  # V3 of the sixth record: digital zeros
    np.savez(tmp_path / "records100_00000.npz", signal=signal, adc_gain=gain)
    out = tmp_path / "swings.json"
    argv = ["lead_swings.py", "--ptbxl", str(tmp_path), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    lead_swings.main()
    result = json.loads(out.read_text())
    assert result["records"] == 6 and result["records_under_the_bound"] == 1
    assert result["smallest_swing_mv"]["median"] > 10 * result["flat_lead_mv"]
