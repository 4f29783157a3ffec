"""benchmarks/beat_data_drift.py compare: which beat windows moved; labels and RR did not."""

import importlib.util
from pathlib import Path

import numpy as np

SPEC = importlib.util.spec_from_file_location(
    "beat_data_drift", Path(__file__).parents[2] / "benchmarks" / "beat_data_drift.py"
)
drift = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(drift)


def _dump(path, x, y, rr, records):
    arrays = {}
    for name in drift.SPLITS:
        arrays |= {f"{name}_x": x, f"{name}_y": y, f"{name}_rr": rr, f"{name}_records": records}
    np.savez(path, **arrays)


def test_compare_counts_the_windows_that_moved_by_record(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2, 8)).astype(np.float32)
    y, rr = np.arange(6) % 4, rng.random((6, 6)).astype(np.float32)
    records = np.array(["100", "100", "232", "232", "232", "svdb/800"])
    moved = x.copy()
    moved[2, 0, 3] = np.nextafter(moved[2, 0, 3], np.float32(np.inf))  # one ulp
    moved[4, 1, 0] += 1e-3
    _dump(tmp_path / "a.npz", x, y, rr, records)
    _dump(tmp_path / "b.npz", moved, y, rr, records)
    out = drift.compare(tmp_path / "a.npz", tmp_path / "b.npz")["test"]
    assert out["beat_windows_differing"] == 2 and out["records_most_differing"] == {"232": 2}
    assert abs(out["beat_windows_max_abs_diff"] - 1e-3) < 1e-6
    assert all(out["labels_rr_records_identical"].values())
    _dump(tmp_path / "c.npz", x, y, rr + 1, records)
    assert not drift.compare(tmp_path / "a.npz", tmp_path / "c.npz")["val"][
        "labels_rr_records_identical"
    ]["rr"]
