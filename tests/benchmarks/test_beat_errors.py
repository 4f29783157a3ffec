"""benchmarks/beat_errors.py: confusions and prematurity bins counted right."""

import importlib.util
from pathlib import Path

import numpy as np

SPEC = importlib.util.spec_from_file_location(
    "beat_errors", Path(__file__).parents[2] / "benchmarks" / "beat_errors.py"
)
beat_errors = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(beat_errors)


def beats() -> "beat_errors.Beats":
    y = np.array([0, 0, 0, 1, 1, 2, 0, 1])
    pre = np.array([1.0, 0.75, 0.6, 0.65, 1.0, 0.7, 1.0, 0.85])
    recs = np.array(["100", "100", "100", "100", "100", "100", "svdb/800", "svdb/800"])
    return beat_errors.Beats(
        y, pre, recs, np.array([beat_errors.beatdb.database_of(r) for r in recs])
    )


def test_false_s_are_counted_per_database_record_and_prematurity_bin():
    b = beats()
    pred = np.array([0, 1, 1, 1, 0, 1, 1, 0])
    out = beat_errors.model_errors(b, pred)
    mit, sv = out["mitdb"], out["svdb"]
    assert (mit["N->S"], mit["S->N"], mit["V->S"]) == (2, 1, 1)
    assert mit["false_S_prematurity"]["0-0.7"] == 1 and mit["false_S_prematurity"]["0.7-0.8"] == 1
    assert mit["missed_S_prematurity"]["0.95-1.05"] == 1
    assert mit["se_S"] == 0.5 and mit["ppv_S"] == 1 / 4
    assert sv["N->S"] == 1 and sv["S->N"] == 1 and sv["most_false_S"] == {"svdb/800": 1}


def test_label_conventions_report_the_share_of_s_that_is_not_premature():
    conv = beat_errors.label_conventions(beats())
    assert conv["mitdb"]["S_not_premature_share"] == 0.5  # 0.65 premature, 1.0 not
    assert conv["svdb"]["S_not_premature_share"] == 0.0
    assert sum(conv["mitdb"]["N_prematurity"].values()) == 3
