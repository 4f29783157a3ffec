"""The VT/VF fusion ships the settings its benchmark chose on all records (README row 11): a
default changed in code without the benchmark run again fails here."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from edge_monitor.ventricular import FusionSpec

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks/results"
RESULT = RESULTS / "ventricular_alarms_sustained.json"


def test_the_shipped_fusion_spec_is_the_one_the_benchmark_chose():
    doc = json.loads(RESULT.read_text())
    chosen = doc["after_cross_validated"]["spec_on_all_records (in-sample; for shipping)"]
    assert dataclasses.asdict(FusionSpec()) == chosen
    per_fold = doc["after_cross_validated"]["chosen_per_fold"].values()
    assert {fold["disagree_p"] for fold in per_fold} == {FusionSpec().disagree_p}
