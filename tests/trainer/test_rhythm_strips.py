"""PTB-XL's AF / flutter strips as N counter-examples (`trainer.datasets.rhythm_strips`): the
right strips are chosen, their beats come out N and in AF, and they join training only."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edge_monitor.beats import RR_FEATURES, BeatSpec
from edge_monitor.errors import DataNotFoundError, InputError
from tests.conftest import PTBXL, need, write_ptbxl_records
from trainer.batches import af_counterexamples, epoch_indices
from trainer.config import TrainConfig
from trainer.datasets import mitdb
from trainer.datasets.rhythm_strips import NOT_ALL_N, load_strips, strip_table
from trainer.kinds.arrhythmia import (
    ARRHYTHMIA,
    TRAINED_RR_FEATURES,
    RhythmSplit,
    with_training_beats,
)
from trainer.splits import TaskData


def _ids(db: pd.DataFrame, want: str, without: tuple[str, ...] = (), n: int = 1) -> list[int]:
    codes = db.scp_codes.apply(ast.literal_eval)
    hit = codes.apply(lambda c: want in c and not any(s in c for s in without))
    return db.index[hit].tolist()[:n]


@pytest.fixture(scope="module")
def strips_dir(tmp_path_factory):
    """Real PTB-XL records: three AF strips, one flutter strip, one AF strip with PVCs, one in
    sinus rhythm; as WFDB files with their CSV rows."""
    src = need(PTBXL)
    db = pd.read_csv(src / "ptbxl_database.csv", index_col="ecg_id")
    af = _ids(db, "AFIB", NOT_ALL_N + ("AFLT",), 3)
    flutter = _ids(db, "AFLT", NOT_ALL_N + ("AFIB",))
    af_pvc = _ids(db, "PVC", ("AFLT",), 400)
    af_pvc = [i for i in af_pvc if "AFIB" in ast.literal_eval(db.scp_codes[i])][:1]
    sinus = _ids(db, "SR", NOT_ALL_N)
    ids = sorted(af + flutter + af_pvc + sinus)
    assert len(ids) == 6
    out = write_ptbxl_records(src, tmp_path_factory.mktemp("ptbxl"), ids)
    return out, {"af": af, "flutter": flutter, "af_pvc": af_pvc, "sinus": sinus}


def test_only_af_and_flutter_strips_without_ectopy_are_chosen(strips_dir):
    root, ids = strips_dir
    table = strip_table(root)
    assert sorted(table.index) == sorted(ids["af"] + ids["flutter"])
    assert set(table.rhythm[ids["af"]]) == {"AFIB"}
    assert set(table.rhythm[ids["flutter"]]) == {"AFL"}  # the name the AF emphasis reads


def test_strip_beats_are_n_in_af_with_real_rr(strips_dir, tmp_path):
    root, ids = strips_dir
    beats = load_strips(root, BeatSpec(), tmp_path)
    records = sorted(set(beats.records.tolist()))
    assert records == sorted(f"ptbxl/{i}" for i in ids["af"] + ids["flutter"])
    assert (beats.labels == 0).all()
    assert set(beats.rhythms.tolist()) <= set(mitdb.AF_RHYTHMS)
    per_strip = pd.Series(beats.records).value_counts()
    assert per_strip.between(4, 30).all()  # 10 s of 30-180 bpm, less the first and last beats
    assert np.isfinite(beats.rr).all() and beats.rr.shape[1] == len(RR_FEATURES)
    assert (beats.rr[:, RR_FEATURES.index("pre_rr_local")] > 0).all()
    assert beats.windows.shape == beats.templates.shape == (len(beats), BeatSpec().length)
    again = load_strips(root, BeatSpec(), tmp_path)  # from the cache, the same arrays
    assert np.array_equal(again.windows, beats.windows)
    assert np.array_equal(again.records, beats.records)


def test_strips_join_training_only_and_are_drawn_as_af_counterexamples(strips_dir, tmp_path):
    root, _ = strips_dir
    strips = load_strips(root, BeatSpec(), tmp_path)
    n, length = 40, BeatSpec().length
    rng = np.random.default_rng(0)

    def split(label: str) -> RhythmSplit:
        return RhythmSplit(
            rng.normal(size=(n, 2, length)).astype(np.float32),
            np.tile(np.arange(4), n // 4),
            rng.normal(size=(n, len(TRAINED_RR_FEATURES))).astype(np.float32),
            np.repeat([f"{label}a", f"{label}b"], n // 2),
            np.full(n, ""),
        )

    data = TaskData("arrhythmia", ARRHYTHMIA.classes, split("t"), split("v"), split("x"), {}, {})
    more = with_training_beats(data, strips, "strips")
    assert len(more.train) == n + len(strips)
    assert more.val is data.val and more.test is data.test
    assert more.source["training_strips"]["beats"] == len(strips)
    emphasis = af_counterexamples(more.train, TrainConfig(task="arrhythmia", af_n_repeat=3))
    assert np.array_equal(np.flatnonzero(emphasis), np.arange(n, n + len(strips)))
    idx = epoch_indices(more.train, TrainConfig(task="arrhythmia", af_n_repeat=3), rng)
    counts = np.bincount(idx, minlength=len(more.train))
    assert (counts[n:] == 3).all()


def test_a_missing_strip_file_and_a_broken_table_are_one_clear_error(strips_dir, tmp_path):
    root, ids = strips_dir
    broken = tmp_path / "ptbxl"
    broken.mkdir()
    (broken / "scp_statements.csv").write_bytes((root / "scp_statements.csv").read_bytes())
    db = pd.read_csv(root / "ptbxl_database.csv", index_col="ecg_id")
    db.to_csv(broken / "ptbxl_database.csv")  # the table without the signal files
    with pytest.raises(DataNotFoundError, match="PTB-XL record missing"):
        load_strips(broken, BeatSpec(), tmp_path / "cache")
    db.loc[ids["af"][0], "scp_codes"] = "{'AFIB': 100.0"
    db.to_csv(broken / "ptbxl_database.csv")
    with pytest.raises(InputError, match="malformed scp_codes"):
        load_strips(broken, BeatSpec(), tmp_path / "cache")


@pytest.mark.parametrize("codes", ["5", "'AFIB'", "['AFIB']"])
def test_scp_codes_that_are_not_a_mapping_are_refused(strips_dir, tmp_path, codes):
    root, ids = strips_dir
    db = pd.read_csv(root / "ptbxl_database.csv", index_col="ecg_id")
    db["scp_codes"] = db["scp_codes"].astype(object)
    db.loc[ids["af"][0], "scp_codes"] = codes
    (tmp_path / "ptbxl").mkdir()
    db.to_csv(tmp_path / "ptbxl" / "ptbxl_database.csv")
    with pytest.raises(InputError, match="malformed scp_codes"):
        strip_table(tmp_path / "ptbxl")


def test_strips_without_a_beat_are_one_clear_error(strips_dir, tmp_path):
    """A folder whose AF strip is a flat line gives no beats: said, not an empty training set."""
    import wfdb

    root, ids = strips_dir
    db = pd.read_csv(root / "ptbxl_database.csv", index_col="ecg_id").loc[[ids["af"][0]]]
    rel = db.filename_lr.iloc[0]
    out = tmp_path / "ptbxl"
    (out / rel).parent.mkdir(parents=True)
    db.to_csv(out / "ptbxl_database.csv")
    (out / "scp_statements.csv").write_bytes((root / "scp_statements.csv").read_bytes())
    leads = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    wfdb.wrsamp(
        Path(rel).name,
        fs=100,
        units=["mV"] * 12,
        sig_name=leads,
        p_signal=np.zeros((1000, 12)),
        fmt=["16"] * 12,
        write_dir=str((out / rel).parent),
    )
    with pytest.raises(DataNotFoundError, match="no beats found"):
        load_strips(out, BeatSpec(), tmp_path / "cache")
