import numpy as np
import pandas as pd
import pytest

from edge_monitor.errors import DataNotFoundError, InputError
from trainer.datasets import ptbxl


def test_superclasses_are_aggregated_like_the_benchmark(tiny_ptbxl):
    db = ptbxl.read_labels(tiny_ptbxl)
    # ecg_id 1: NORM with SR (a rhythm statement, not diagnostic)
    assert db.loc[1, "superclasses"] == ["NORM"]
    assert db.loc[17, "superclasses"] == []


def test_loader_reports_unlabelled_records_and_keeps_the_official_folds(tiny_ptbxl, tmp_path):
    data = ptbxl.load_ptbxl(tiny_ptbxl, cache_dir=tmp_path)
    assert data.dropped_unlabelled == 1 and 17 not in data.ecg_ids
    assert data.signals.shape[1:] == (12, 1000) and data.signals.dtype == np.float32
    assert set(ptbxl.split(data, "test").folds) == {10}
    assert set(ptbxl.split(data, "val").folds) == {9}
    assert set(ptbxl.split(data, "train").folds) <= set(range(1, 9))
    assert (data.labels.sum(axis=1) >= 1).all()


def test_no_patient_is_in_two_splits(tiny_ptbxl, tmp_path):
    data = ptbxl.load_ptbxl(tiny_ptbxl, cache_dir=tmp_path)
    parts = [set(ptbxl.split(data, s).patient_ids) for s in ptbxl.FOLDS]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])


def test_signals_are_filtered_millivolts_of_the_requested_leads(tiny_ptbxl, tmp_path):
    import wfdb

    data = ptbxl.load_ptbxl(tiny_ptbxl, leads="II", cache_dir=tmp_path)
    assert data.leads == ("II",) and data.signals.shape[1] == 1
    raw = wfdb.rdrecord(str(tiny_ptbxl / "records100/00000/00001_lr")).p_signal[:, 1]
    row = int(np.flatnonzero(data.ecg_ids == 1)[0])
    # the band-pass removes the offset but keeps the QRS scale
    assert 0.5 < np.ptp(data.signals[row, 0]) / np.ptp(raw) < 1.5
    assert abs(data.signals[row, 0, 500:].mean()) < 0.1


def test_lead_names_are_checked():
    assert ptbxl.parse_leads("ii, v2") == ("II", "V2")
    assert ptbxl.parse_leads("all") == ptbxl.LEADS
    with pytest.raises(InputError, match="unknown lead"):
        ptbxl.parse_leads("II,V7")


def test_missing_csv_and_missing_record_are_clear(tiny_ptbxl, tmp_path):
    (tmp_path / "scp_statements.csv").write_text("x\n")
    with pytest.raises(DataNotFoundError, match="ptbxl_database.csv"):
        ptbxl.load_ptbxl(tmp_path)
    (tmp_path / "ptbxl_database.csv").write_bytes((tiny_ptbxl / "ptbxl_database.csv").read_bytes())
    (tmp_path / "scp_statements.csv").write_bytes((tiny_ptbxl / "scp_statements.csv").read_bytes())
    with pytest.raises(DataNotFoundError, match="record missing"):
        ptbxl.load_ptbxl(tmp_path, use_cache=False)


def test_truncated_record_is_reported(tiny_ptbxl, tmp_path):
    import shutil

    shutil.copytree(tiny_ptbxl, tmp_path / "p")
    dat = tmp_path / "p" / "records100/00000/00001_lr.dat"
    dat.write_bytes(dat.read_bytes()[:4000])
    with pytest.raises(InputError, match="00001_lr"):
        ptbxl.load_ptbxl(tmp_path / "p", use_cache=False)


def test_table_without_needed_columns_is_reported(tiny_ptbxl, tmp_path):
    db = pd.read_csv(tiny_ptbxl / "ptbxl_database.csv").drop(columns=["strat_fold"])
    db.to_csv(tmp_path / "ptbxl_database.csv", index=False)
    (tmp_path / "scp_statements.csv").write_bytes((tiny_ptbxl / "scp_statements.csv").read_bytes())
    with pytest.raises(InputError, match="strat_fold"):
        ptbxl.load_ptbxl(tmp_path)
