import numpy as np
import pytest

from edge_monitor.beats import BeatSpec
from edge_monitor.errors import DataNotFoundError, InputError
from trainer.datasets import mitdb


def test_aami_mapping_follows_the_standard():
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for cls, symbols in expected.items():
        for sym in symbols:
            assert mitdb.AAMI_CLASSES[mitdb.SYMBOL_TO_CLASS[sym]] == cls
    for not_a_beat in '+~|x[]!"':
        assert not_a_beat not in mitdb.SYMBOL_TO_CLASS


def test_de_chazal_split_has_no_record_twice_and_no_paced_record():
    names = [f"{n}" for n in mitdb.DS1 + mitdb.DS2 + mitdb.PACED]
    splits = mitdb.split_records(names)
    seen = [r for part in splits.values() for r in part]
    assert len(seen) == len(set(seen)) == 44
    assert not set(mitdb.PACED) & set(seen)
    assert set(splits["test"]) == set(mitdb.DS2)
    assert set(splits["val"]) <= set(mitdb.DS1)


def test_rhythm_episodes_run_until_the_next_change():
    eps = mitdb.parse_rhythms(
        "201",
        np.array([10, 50, 90, 120]),
        ["+", "N", "+", "+"],
        ["(AFIB", "", "(N", "(VT\x00"],
        200,
    )
    assert [(e.label, e.start, e.end) for e in eps] == [
        ("AFIB", 10, 90),
        ("N", 90, 120),
        ("VT", 120, 200),
    ]


def test_loader_reads_real_excerpts_per_split(tiny_mitdb, tmp_path):
    train = mitdb.load_beats(tiny_mitdb, "train", cache_dir=tmp_path)
    test = mitdb.load_beats(tiny_mitdb, "test", cache_dir=tmp_path)
    assert set(train.records) == {"201", "208"} and set(test.records) == {"100", "232"}
    assert train.windows.shape == (len(train), BeatSpec().length)
    assert train.templates.shape == train.windows.shape
    assert np.isfinite(train.windows).all() and np.isfinite(train.rr).all()
    counts = train.counts()
    assert counts["N"] > 100 and counts["V"] > 10  # 208 has frequent PVCs
    assert test.counts()["S"] > 10  # 232 has frequent APCs
    assert np.all(np.diff(test.samples[test.records == "100"]) > 0)


def test_second_load_comes_from_the_npz_cache(tiny_mitdb, tmp_path, monkeypatch):
    first = mitdb.load_beats(tiny_mitdb, "val", cache_dir=tmp_path)
    assert list((tmp_path / "mitdb").glob("*.npz"))

    def no_wfdb(*args, **kwargs):
        raise AssertionError("WFDB was parsed again")

    monkeypatch.setattr(mitdb, "read_record", no_wfdb)
    second = mitdb.load_beats(tiny_mitdb, "val", cache_dir=tmp_path)
    np.testing.assert_array_equal(first.windows, second.windows)


def test_rhythms_come_from_the_aux_notes(tiny_mitdb, tmp_path):
    episodes = mitdb.load_rhythms(tiny_mitdb, ["201"], cache_dir=tmp_path)
    assert episodes and episodes[0].label == "AFIB"  # record 201 opens in atrial fibrillation


def test_missing_folder_and_empty_folder_are_clear_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match="not found"):
        mitdb.load_beats(tmp_path / "nope", "train")
    with pytest.raises(DataNotFoundError, match="no WFDB records"):
        mitdb.load_beats(tmp_path, "train")
    with pytest.raises(DataNotFoundError, match="--data-dir"):
        mitdb.load_beats(None, "train")


def test_unknown_split_is_an_input_error(tiny_mitdb):
    with pytest.raises(InputError, match="unknown split"):
        mitdb.load_beats(tiny_mitdb, "holdout")


def test_truncated_dat_is_reported(tiny_mitdb, tmp_path):
    broken = tmp_path / "mitdb"
    broken.mkdir()
    for ext in ("hea", "atr"):
        (broken / f"101.{ext}").write_bytes(
            (tiny_mitdb / f"201.{ext}").read_bytes().replace(b"201", b"101")
        )
    (broken / "101.dat").write_bytes((tiny_mitdb / "201.dat").read_bytes()[:5000])
    with pytest.raises(InputError, match="101"):
        mitdb.load_beats(broken, "train", use_cache=False)


def test_corrupt_header_is_reported(tiny_mitdb, tmp_path):
    broken = tmp_path / "mitdb"
    broken.mkdir()
    (broken / "101.hea").write_text("101 2 three hundred sixty\n")
    (broken / "101.dat").write_bytes(b"\0" * 100)
    (broken / "101.atr").write_bytes((tiny_mitdb / "201.atr").read_bytes())
    with pytest.raises(InputError, match="101.hea: sampling frequency .three."):
        mitdb.load_beats(broken, "train", use_cache=False)
