"""benchmarks/beat_generalization.py: a real record through the device path matched to its
reference beats, the paired record bootstrap that every beat ship rule reads, and a companion
given twice refused in one line."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "beat_generalization.py"
SPEC = importlib.util.spec_from_file_location("beat_generalization", SCRIPT)
bg = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bg)

CLASSES = 6  # N S V F Q and "no beat"


def _record(s_found: int, s_missed: int, v_found: int = 20, false_v: int = 0) -> list[list[int]]:
    """One record's confusion (reference rows, device columns)."""
    counts = np.zeros((CLASSES, CLASSES), dtype=int)
    counts[0, 0] = 500
    counts[1, 1], counts[1, 0] = s_found, s_missed
    counts[2, 2] = v_found
    counts[0, 2] = false_v
    return counts.tolist()


def _entry(records: dict[str, list[list[int]]]) -> dict:
    return {"databases": {"mitdb": {"record_ids": list(records), "per_record": records}}}


def test_a_model_paired_with_itself_differs_by_nothing():
    records = {str(i): _record(10 + i, i, false_v=i) for i in range(8)}
    doc = {"a": _entry(records), "b": _entry(records)}
    got = bg.paired(doc, "a", "b", n_boot=300)["mitdb"]
    for metric in ("f1_S", "f1_V"):
        assert got[metric] == {"diff": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def test_a_model_worse_on_every_record_is_worse_beyond_noise():
    base = {str(i): _record(20, 0) for i in range(8)}
    worse = {str(i): _record(12, 8, false_v=5) for i in range(8)}  # S missed, N read V
    got = bg.paired({"new": _entry(worse), "old": _entry(base)}, "new", "old", n_boot=300)
    assert got["against"] == "old" and got["unit"] == "record"
    for metric in ("f1_S", "f1_V"):
        assert got["mitdb"][metric]["ci_high"] < 0 and got["mitdb"][metric]["diff"] < 0
    # and the other way round, the same gap with its sign changed
    back = bg.paired({"new": _entry(worse), "old": _entry(base)}, "old", "new", n_boot=300)
    assert back["mitdb"]["f1_S"]["diff"] == pytest.approx(-got["mitdb"]["f1_S"]["diff"])


def test_one_patient_carrying_the_gain_leaves_the_interval_across_zero():
    base = {str(i): _record(20, 0) for i in range(8)}
    moved = dict(base, **{"0": _record(20, 0, false_v=40)})  # one record's false V
    moved["1"] = _record(20, 0)
    got = bg.paired({"new": _entry(moved), "old": _entry(base)}, "new", "old", n_boot=500)
    v = got["mitdb"]["f1_V"]
    assert v["diff"] < 0 and v["ci_low"] < 0 and v["ci_high"] == pytest.approx(0.0)


def test_a_real_record_through_the_device_path(mitdb_dir):
    got = bg.stream_record(None, mitdb_dir / "100", rate=None, second_lead=True)
    counts = np.asarray(bg.confusion(got))
    assert got["lead"] == "MLII+V5"  # the embedded model and its second lead
    reference = counts[: CLASSES - 1].sum()
    assert reference == 2273  # MIT-BIH 100's annotated beats, every one matched or missed
    assert counts[:, CLASSES - 1].sum() < 10 and counts[CLASSES - 1].sum() < 10  # R peaks
    assert counts[0, 0] > 0.99 * counts[0].sum()  # its N beats read N


def test_a_companion_for_the_embedded_model_is_refused_in_one_line(tmp_path):
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--label", "x", "--companion", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("error:") and len(r.stderr.strip().splitlines()) == 1
