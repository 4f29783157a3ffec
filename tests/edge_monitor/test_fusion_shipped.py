"""The VT/VF fusion ships the settings its benchmark chose on all records (README row 11), and
the blind hold as its pre-registered replication left it (off): a default changed in code
without the benchmark run again fails here."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from edge_monitor.ventricular import FusionSpec

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks/results"
RESULT = RESULTS / "ventricular_alarms_sustained.json"
# the hold's replication (two new fold sets, without it in every grid point), whose rule turned
# it off: docs/preregistrations/2026-12-07-blind-hold-replication.md
HOLD_RESULTS = [RESULTS / f"ventricular_alarms_last_epoch_s{s}.json" for s in (5, 6)]


def test_the_shipped_fusion_spec_is_the_one_the_benchmark_chose():
    doc = json.loads(RESULT.read_text())
    chosen = doc["after_cross_validated"]["spec_on_all_records (in-sample; for shipping)"]
    shipped = dataclasses.asdict(FusionSpec())
    assert set(shipped) - set(chosen) == {"blind_hold_s"}  # the one field added since
    assert {k: shipped[k] for k in chosen} == chosen
    per_fold = doc["after_cross_validated"]["chosen_per_fold"].values()
    assert {fold["disagree_p"] for fold in per_fold} == {FusionSpec().disagree_p}


def test_the_shipped_blind_hold_is_the_one_its_replication_left():
    for path in HOLD_RESULTS:
        doc = json.loads(path.read_text())
        folds = doc["after_cross_validated"]["chosen_per_fold"].values()
        assert {fold["blind_hold_s"] for fold in folds} == {FusionSpec().blind_hold_s} == {0.0}
