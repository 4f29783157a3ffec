"""The ventricular task: episodes read from real MIT-BIH and CU annotations, windows through the
device front end, leave-records-out folds, and `trainer compress --task ventricular` end to end
on real excerpts (a bundle whose contract makes the monitor run it as a per-window detector)."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from edge_monitor.bundle import load_bundle
from edge_monitor.dsp import filter_record, resample_record
from edge_monitor.errors import InputError
from edge_monitor.wfdb_io import read_signal
from tests.conftest import MITDB, SHARED, need
from tests.trainer.conftest import gate_profile
from trainer.cli import app
from trainer.datasets import ventricular as vdata
from trainer.datasets.excerpt import write_mitdb_excerpt

CUDB = SHARED / "cudb"
# (database, record, start s, seconds): VT / VF episodes, their edges, and clean rhythm
EXCERPTS = [
    ("mitdb", "207", 30.0, 60.0),  # VT, then ventricular flutter from 40.8 s
    ("mitdb", "203", 40.0, 60.0),  # short VT runs inside AF
    ("mitdb", "223", 570.0, 70.0),  # a 55 s VT episode from 578 s
    ("mitdb", "118", 0.0, 420.0),  # 7 min: em noise is recovered from 118e_6 after minute 5
    ("mitdb", "100", 0.0, 60.0),
    ("mitdb", "201", 0.0, 60.0),
    ("mitdb", "217", 80.0, 30.0),  # paced complexes: left out unless brought in as negatives
    ("cudb", "cu01", 200.0, 60.0),  # VF from 214.2 s to the end
    ("cudb", "cu05", 340.0, 60.0),
    ("cudb", "cu07", 170.0, 60.0),
    ("cudb", "cu13", 410.0, 60.0),
]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    """A data root with real excerpts of mitdb and cudb and the shared nstdb beside them."""
    need(MITDB), need(CUDB)
    root = tmp_path_factory.mktemp("vt")
    for db, name, start, seconds in EXCERPTS:
        write_mitdb_excerpt(SHARED / db, name, root / db, seconds=seconds, start_s=start)
    (root / "nstdb").symlink_to(need(SHARED / "nstdb"))
    return root


def test_cu_brackets_and_mitdb_rhythm_notes_make_the_episodes(tiny_root):
    cu = vdata.read_record(tiny_root / "cudb", "cu01", vdata.SOURCES["cudb"])
    onset = int(14.2 * vdata.FS)  # 214.2 s in the whole record
    assert not cu["episode"][: onset - 5].any() and cu["episode"][onset + 5 :].all()
    mit = vdata.read_record(tiny_root / "mitdb", "223", vdata.SOURCES["mitdb"])
    edges = np.flatnonzero(np.diff(mit["episode"].astype(int))) / vdata.FS
    assert np.allclose(edges, [8.3, 63.3], atol=0.05)  # (VT at 578.3 s, (N at 633.3 s
    assert str(mit["lead"]) == "MLII" and str(cu["lead"]) == "ECG"


def test_windows_are_labelled_by_their_share_and_edges_left_out(tiny_root):
    cu = vdata.read_record(tiny_root / "cudb", "cu01", vdata.SOURCES["cudb"])
    w = vdata.cut_windows(cu["signal"], cu["episode"], "cudb/cu01", 125, 50)
    kept, y = vdata.labelled(w)
    assert ((w.share > 0) & (w.share < 0.5)).any()  # onsets were cut...
    assert not ((kept.share > 0) & (kept.share < 0.5)).any()  # ...and left out
    assert y.sum() > 0 and (y == 0).sum() > 0
    assert (y == (kept.share >= 0.5)).all()
    assert np.isfinite(kept.x).all()


def test_front_end_restarts_after_a_gap_and_no_window_touches_it():
    """Real CU samples with a gap: the filter restarts after it (what the monitor does after
    bad signal), the gap and its settling time are NaN and never inside a window."""
    x, meta = read_signal(need(CUDB) / "cu01", channels=[0])
    x = x[: 250 * 40, 0].copy()
    x[250 * 15 : 250 * 16] = np.nan
    out = vdata.front_end(x, 250.0)
    after = int(np.ceil(250 * 16 * vdata.FS / 250.0))
    settle = int(vdata.SETTLE_S * vdata.FS)
    fresh = resample_record(
        filter_record(x[250 * 16 :, None], 250.0, vdata.FILTER), 250.0, vdata.FS
    )
    assert np.isnan(out[int(15 * vdata.FS) : after + settle]).all()
    assert np.allclose(out[after + settle :], fresh[settle : len(out) - after, 0], atol=1e-5)
    w = vdata.cut_windows(out, np.zeros(len(out), bool), "g", 25, 25)
    assert len(w) and np.isfinite(w.x).all()


infos = st.lists(
    st.tuples(st.sampled_from(["mitdb", "cudb"]), st.floats(0, 600).map(lambda s: round(s, 1))),
    min_size=1,
    max_size=40,
).map(lambda rows: [vdata.RecordInfo(f"{db}/r{i}", s) for i, (db, s) in enumerate(rows)])


@settings(max_examples=60, deadline=None)
@given(infos, st.sampled_from([None, 1, 2, 3]))
def test_folds_spread_episodes_and_splits_never_share_a_record(records, fold):
    folds = vdata.assign_folds(records)
    assert set(folds) == {r.group for r in records} and set(folds.values()) <= {1, 2, 3}
    for db in ("mitdb", "cudb"):
        counts = [
            sum(
                1
                for r in records
                if r.group.startswith(db) and r.episode_s > 0 and folds[r.group] == k
            )
            for k in (1, 2, 3)
        ]
        assert max(counts) - min(counts) <= 1
    plan = vdata.plan_splits(records, fold)
    train, val, test = (set(plan[k]) for k in ("train", "val", "test"))
    assert not train & val and not train & test
    if fold is None:
        assert test == val and train | val == set(folds)
    else:
        assert test == {g for g, k in folds.items() if k == fold} and not val & test
        assert train | val | test == set(folds)


paced = st.lists(
    st.tuples(st.sampled_from(vdata.PACED_GROUPS), st.floats(0, 5)),
    unique_by=lambda row: row[0],
    max_size=4,
).map(lambda rows: [vdata.RecordInfo(g, s) for g, s in rows])


@settings(max_examples=60, deadline=None)
@given(infos, paced, st.sampled_from([None, 1, 2, 3]))
def test_paced_records_join_without_moving_any_other_record(records, extra, fold):
    """A fold set trained with the paced records must be comparable with one trained without:
    every other record keeps its fold, validation is the same records, and each paced record is
    in training or in its own fold's test split (217 holds 1.8 s of VT: no exception)."""
    before, after = vdata.assign_folds(records), vdata.assign_folds(records + extra)
    assert {g: after[g] for g in before} == before
    assert {after[r.group] for r in extra} <= {1, 2, 3}
    without, with_paced = vdata.plan_splits(records, fold), vdata.plan_splits(records + extra, fold)
    assert with_paced["val"] == without["val"]
    added = {r.group for r in extra}
    for r in extra:
        split = "test" if fold is not None and after[r.group] == fold else "train"
        assert r.group in with_paced[split]
    for name in ("train", "test"):
        assert set(with_paced[name]) - added == set(without[name])


@pytest.mark.parametrize("value,expected", [("", False), ("off", False), ("negatives", True),
                                            (" Negatives ", True)])  # fmt: skip
def test_the_paced_switch_reads_its_words(value, expected):
    assert vdata.paced_from_env({vdata.PACED_ENV: value}) is expected
    assert vdata.paced_from_env({}) is False


@pytest.mark.parametrize("value", ["1", "yes", "positives"])
def test_a_bad_paced_switch_is_one_line(value):
    with pytest.raises(InputError, match="ECG_EDGE_VENTRICULAR_PACED"):
        vdata.paced_from_env({vdata.PACED_ENV: value})


def test_paced_records_come_in_only_when_asked_and_only_as_negatives(tiny_root, tmp_path):
    left_out = vdata.load_corpus(tiny_root, tmp_path / "c")
    brought_in = vdata.load_corpus(tiny_root, tmp_path / "c", paced=True)
    assert "mitdb/217" not in left_out.records
    assert set(brought_in.records) - set(left_out.records) == {"mitdb/217"}
    windows, y = vdata.labelled(brought_in.windows(["mitdb/217"]))
    assert len(y) > 0 and not y.any()


@pytest.mark.parametrize("value", ["4", "x", "-1"])
def test_a_bad_fold_is_one_line(value):
    with pytest.raises(InputError, match="ECG_EDGE_VENTRICULAR_FOLD"):
        vdata.fold_from_env({vdata.FOLD_ENV: value})


@pytest.mark.slow
def test_compress_makes_a_per_window_detector_the_monitor_loads(
    tiny_root, tmp_path, monkeypatch, few_resamples
):
    """The same chain as the other tasks, on real excerpts, fold 1 held out: the bundle's
    contract says one 4 s window a second, averaged over the last two, one sigmoid."""
    monkeypatch.setenv(vdata.FOLD_ENV, "1")
    out = tmp_path / "bundle"
    args = ["compress", "--task", "ventricular", "--profile", str(gate_profile(tmp_path, 1.0))]
    args += ["--data-dir", str(tiny_root), "--out", str(out), "--cache-dir", str(tmp_path / "c")]
    args += ["--epochs", "1", "--threads", "1", "--latency-runs", "5", "--prune-ratio", "0"]
    args += ["--no-ablation", "--limit", "400"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    bundle = load_bundle(out)
    c = bundle.contract
    assert (c.task, c.classes, c.activation, c.fs, c.leads) == (
        "ventricular",
        ["VT/VF"],
        "sigmoid",
        125.0,
        ["MLII"],
    )
    assert (c.input.window, c.input.stride, c.input.windows_per_record) == (500, 125, 2)
    assert c.thresholds is not None and 0 < c.thresholds[0] < 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["checks"]["model_kb"]["ok"]
    assert c.provenance["dataset"].endswith("test fold 1")
    # the manifest's command says which fold, as it must be typed again
    assert manifest["command"].startswith(f"{vdata.FOLD_ENV}=1 trainer ")
    # the test split is fold 1's records (and held-out recorded noise), nothing else
    plan = vdata.plan_splits(vdata.load_corpus(tiny_root, tmp_path / "c").infos(), 1)
    groups = set(np.load(out / "stages" / "final" / "onnx_test_probs.npz")["groups"].tolist())
    records = {g for g in groups if not g.startswith("nstdb/")}
    assert records and records <= set(plan["test"])


def test_the_task_says_when_paced_records_trained(tiny_root, tmp_path, monkeypatch):
    """The switch is read from the environment like the fold, so the manifest's command (built
    from `source["env"]`) must carry it or the bundle could not be made again."""
    from trainer.kinds import kind_of

    monkeypatch.setenv(vdata.FOLD_ENV, "1")
    monkeypatch.setenv(vdata.PACED_ENV, "negatives")

    def records(data) -> set[str]:
        return {g for part in data.source["splits"].values() for g in part["records"]}

    data = kind_of("ventricular").load(tiny_root, None, tmp_path / "c", 50, 0)
    assert data.source["env"] == {vdata.FOLD_ENV: "1", vdata.PACED_ENV: "negatives"}
    assert "paced records as negatives" in data.source["dataset"]
    assert "mitdb/217" in records(data)
    monkeypatch.delenv(vdata.PACED_ENV)
    data = kind_of("ventricular").load(tiny_root, None, tmp_path / "c", 50, 0)
    assert data.source["env"] == {vdata.FOLD_ENV: "1"}
    assert "mitdb/217" not in records(data)
