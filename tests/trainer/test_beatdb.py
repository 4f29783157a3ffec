"""The beat-database registry and the multi-database splits (issue 13), on real excerpts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from edge_monitor.beats import BeatSpec
from edge_monitor.errors import DataNotFoundError, InputError
from tests.conftest import MITDB, SHARED, need
from trainer.datasets import beatdb
from trainer.datasets.excerpt import write_mitdb_excerpt
from trainer.kinds.arrhythmia import ARRHYTHMIA
from trainer.models import build_model, ensemble_of, preset

SVDB = SHARED / "svdb"


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    """One minute of real records: MIT-BIH 201, 208 (DS1) and 100 (DS2); svdb 804, 808
    (training) and 800 (held out)."""
    src_m, src_s = need(MITDB), need(SVDB)
    root = tmp_path_factory.mktemp("beatdbs")
    for name in ("201", "208", "100"):
        write_mitdb_excerpt(src_m, name, root / "mitdb", seconds=60.0)
    for name in ("804", "808", "800"):
        write_mitdb_excerpt(src_s, name, root / "svdb", seconds=60.0)
    return root


def test_svdb_test_records_are_the_documented_seeded_draw():
    names = sorted((need(SVDB) / "RECORDS").read_text().split())
    drawn = sorted(np.random.default_rng(13).permutation(names)[:10].tolist())
    assert tuple(drawn) == beatdb.SVDB_TEST


@given(
    st.dictionaries(
        st.sampled_from(["mitdb", "svdb", "other"]),
        st.lists(st.text("0123456789", min_size=1, max_size=4), unique=True, max_size=40),
        min_size=1,
    ),
    st.integers(2, 7),
)
def test_patient_folds_hold_every_record_once_and_spread_each_database(records, k):
    records = {db: [f"{db}/{r}" for r in recs] for db, recs in records.items()}  # ids are unique
    folds = beatdb.patient_folds(records, k)
    assert len(folds) == k
    dealt = [r for f in folds for r in f]
    assert sorted(dealt) == sorted(r for recs in records.values() for r in recs)
    for recs in records.values():
        per_fold = [len(set(f) & set(recs)) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1
    assert folds == beatdb.patient_folds(records, k)  # fixed seed: the same folds every run


def test_multi_db_split_keeps_test_records_out_of_training_and_validation():
    available = {"mitdb": list(beatdb.MITDB.records), "svdb": ["800", "804", "806", "808", "810"]}
    for fold in range(beatdb.N_FOLDS):
        split = beatdb.multi_db_split(available, fold=fold)
        test = {r for ids in split.test.values() for r in ids}
        assert not test & set(split.train) and not test & set(split.val)
        assert not set(split.train) & set(split.val) and split.val == split.folds[fold]
        assert "svdb/800" in test and "svdb/804" in split.train + split.val
        assert set(split.test["mitdb"]) == set(beatdb.MITDB.test)
    with pytest.raises(InputError):
        beatdb.multi_db_split(available, fold=beatdb.N_FOLDS)


def test_svdb_beats_come_through_the_device_recipe_from_ecg1(tiny_root, tmp_path):
    db = beatdb.SVDB
    beats = beatdb.load_db_beats(db, tiny_root / "svdb", ["804"], cache_dir=tmp_path)
    spec = BeatSpec()
    assert beats.windows.shape == (len(beats), spec.length) and len(beats) > 40
    assert set(beats.records) == {"svdb/804"} and np.isfinite(beats.rr).all()
    # the samples stay in the record's own 128 Hz numbering
    assert beats.samples.max() < 60 * 128
    other = beatdb.wfdb_database(tiny_root / "svdb", "ECG2", name="svdb2")
    ecg2 = beatdb.load_db_beats(other, tiny_root / "svdb", ["804"], cache_dir=tmp_path)
    assert len(ecg2) == len(beats) and not np.allclose(ecg2.windows, beats.windows)


def test_other_lead_reads_the_same_beats_on_the_records_second_signal(tiny_root, tmp_path):
    first = beatdb.load_db_beats(beatdb.SVDB, tiny_root / "svdb", ["804"], cache_dir=tmp_path)
    other = beatdb.load_db_beats(
        beatdb.SVDB, tiny_root / "svdb", ["804"], cache_dir=tmp_path, other_lead=True
    )
    named = beatdb.wfdb_database(tiny_root / "svdb", "ECG2", name="svdb")
    ecg2 = beatdb.load_db_beats(named, tiny_root / "svdb", ["804"], cache_dir=tmp_path)
    np.testing.assert_array_equal(other.labels, first.labels)
    np.testing.assert_array_equal(other.records, first.records)  # the same patient
    np.testing.assert_allclose(other.windows, ecg2.windows)  # ECG2: the cache keys differ
    assert not np.allclose(other.windows, first.windows)
    mitdb_other = beatdb.load_ids(["100"], tiny_root, BeatSpec(), tmp_path, other_lead=True)
    assert len(mitdb_other) == len(beatdb.load_ids(["100"], tiny_root, BeatSpec(), tmp_path))


def test_a_record_with_one_signal_has_no_other_lead():
    from trainer.datasets.mitdb import pick_lead

    assert pick_lead(["V5", "MLII"], ("MLII",)) == 1
    assert pick_lead(["V5", "MLII"], ("MLII",), other=True) == 0
    assert pick_lead(["MLII", "V1"], ("MLII",), other=True) == 1
    with pytest.raises(DataNotFoundError, match="no lead besides MLII"):
        pick_lead(["MLII"], ("MLII",), other=True)


def test_arrhythmia_task_reads_both_databases_from_a_root_and_mitdb_alone_from_its_folder(
    tiny_root, tmp_path
):
    data = ARRHYTHMIA.load(tiny_root, None, tmp_path, None, 0)
    groups = {str(g) for s in (data.train, data.val, data.test) for g in s.groups}
    assert groups == {"201", "208", "100", "svdb/804", "svdb/808", "svdb/800"}
    assert {str(g) for g in data.test.groups} == {"100", "svdb/800"}
    assert data.source["validation_fold"] == beatdb.VALIDATION_FOLD
    assert data.preprocessing["lead"] == "MLII"  # the monitor's alias list covers ECG1
    # a MIT-BIH folder alone keeps the old DS1 -> DS2 split
    assert beatdb.multi_db_root(tiny_root) == tiny_root
    assert beatdb.multi_db_root(tiny_root / "mitdb") is None


def test_unknown_database_and_missing_folder_say_so():
    with pytest.raises(InputError, match="unknown beat database"):
        beatdb.database("nope")
    with pytest.raises(DataNotFoundError):
        beatdb.wfdb_database("/nonexistent/folder", "II")


def test_an_ensemble_of_students_answers_the_mean_of_their_logits():
    torch.manual_seed(0)
    members = [build_model(preset("arrhythmia", "student")).eval() for _ in range(3)]
    ens = ensemble_of(members).eval()
    x, rr = torch.randn(5, 2, 128), torch.randn(5, 6)
    with torch.no_grad():
        expected = torch.stack([m(x, rr) for m in members]).mean(0)
        assert torch.allclose(ens(x, rr), expected, atol=1e-6)
    with pytest.raises(InputError):
        ensemble_of([members[0], build_model(preset("arrhythmia", "tiny"))])
