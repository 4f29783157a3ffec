"""The streaming monitor on real records with the embedded int8 beat model."""

import numpy as np
import pytest
import wfdb

from edge_monitor.alerts import AlertEvent, AlertSpec
from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.errors import InputError
from edge_monitor.pipeline import BeatEvent, Monitor, WindowEvent, find_channel


@pytest.fixture(scope="module")
def beat_bundle():
    return load_bundle(embedded_bundle("arrhythmia"))


@pytest.fixture(scope="module")
def record(sample_record):
    rec = wfdb.rdrecord(str(sample_record))
    ann = wfdb.rdann(str(sample_record), "atr")
    return rec, ann


def run(bundle, x, fs, chunk, names=("MLII",), start=0):
    monitor = Monitor([bundle], fs, list(names), start=start)
    events = []
    for a in range(0, len(x), chunk):
        events += monitor.push(x[a : a + chunk])
    events += monitor.finish()
    return monitor, [e for e in events if isinstance(e, BeatEvent)], events


def test_beats_match_the_reference_annotations(beat_bundle, record):
    rec, ann = record
    _, beats, _ = run(beat_bundle, rec.p_signal, rec.fs, 180)
    ref = np.array([s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in "NLRAVF"])
    got = np.array([b.sample for b in beats])
    tol = int(0.15 * rec.fs)
    found = sum(np.min(np.abs(got - r)) <= tol for r in ref)
    assert found / len(ref) > 0.98
    # record 200's ventricular beats (bigeminy): most are called V
    v_ref = [s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym == "V"]
    v_got = [b.sample for b in beats if b.label == "V"]
    hits = sum(np.min(np.abs(np.array(v_got) - r)) <= tol for r in v_ref)
    assert hits / len(v_ref) > 0.7
    assert all(abs(sum(b.probs.values()) - 1) < 1e-3 for b in beats)


def test_results_do_not_depend_on_the_chunk_size(beat_bundle, record):
    rec, _ = record
    x = rec.p_signal[: int(60 * rec.fs)]
    _, small, _ = run(beat_bundle, x, rec.fs, 37)
    _, large, _ = run(beat_bundle, x, rec.fs, 1800)
    assert [(b.sample, b.label) for b in small] == [(b.sample, b.label) for b in large]
    for a, b in zip(small, large, strict=True):
        assert a.probs == pytest.approx(b.probs, abs=1e-3)


def test_sample_numbers_stay_in_the_record_numbering(beat_bundle, record):
    rec, _ = record
    offset = int(20 * rec.fs)
    _, whole, _ = run(beat_bundle, rec.p_signal[: int(60 * rec.fs)], rec.fs, 360)
    _, late, _ = run(
        beat_bundle, rec.p_signal[offset : int(60 * rec.fs)], rec.fs, 360, start=offset
    )
    late_samples = {b.sample for b in late}
    # after the detector's learning period the same beats are found at the same indices
    shared = [b.sample for b in whole if b.sample > offset + 5 * rec.fs]
    assert sum(s in late_samples for s in shared) / len(shared) > 0.95


def test_leads_off_makes_the_state_inconclusive_and_recovers(beat_bundle, record):
    rec, _ = record
    x = rec.p_signal[: int(40 * rec.fs)].copy()
    off = np.zeros(len(x), bool)
    off[int(10 * rec.fs) : int(20 * rec.fs)] = True
    x[off] = np.nan
    monitor = Monitor([beat_bundle], rec.fs, ["MLII"])
    events = []
    for a in range(0, len(x), 360):
        events += monitor.push(x[a : a + 360], off[a : a + 360])
    alerts = [e for e in events if getattr(e, "level", None)]
    assert any(e.level == "inconclusive" and e.label == "leads_off" for e in alerts)
    assert not any(e.level == "critical" for e in alerts)
    assert any(e.level == "cleared" and e.label == "signal" for e in alerts)
    assert monitor.quality.current.ok


def test_lead_choice_and_refusal(beat_bundle):
    assert find_channel(["V1", "MLII"], "MLII") == 1
    assert find_channel(["I", "II", "V1"], "MLII") == 1  # standard lead II stands in
    assert find_channel(["V1", "V5"], "MLII") is None
    with pytest.raises(InputError, match="needs lead MLII"):
        Monitor([beat_bundle], 360.0, ["V1", "V5"])
    assert Monitor([beat_bundle], 360.0, ["V1", "V5"], channel=1).lead == 1


def test_window_model_emits_windows_in_source_numbering(tiny_window_bundle):
    rng = np.random.default_rng(0)
    fs = 100.0
    x = rng.normal(0, 0.1, (int(30 * fs), 1))
    monitor = Monitor([tiny_window_bundle], fs, ["II"])
    events = []
    for a in range(0, len(x), 50):
        events += monitor.push(x[a : a + 50])
    windows = [e for e in events if isinstance(e, WindowEvent)]
    assert windows and windows[0].start == 0 and windows[0].end == 250
    assert windows[1].start - windows[0].start == 125
    assert set(monitor.record_probs()) == {tiny_window_bundle.name}


def test_a_vt_alarm_is_critical_only_when_the_model_is_sure_of_the_run(beat_bundle, mitdb_dir):
    """Record 210's ventricular tachycardia at 7 min: critical as shipped; with a confidence
    no model reaches, the same run comes as an unverified warning."""
    rec = wfdb.rdrecord(
        str(mitdb_dir / "210"), sampfrom=152220 - 90 * 360, sampto=152220 + 10 * 360
    )
    x = rec.p_signal
    for spec, level in ((AlertSpec(), "critical"), (AlertSpec(vt_confidence=1.01), "warning")):
        monitor = Monitor([beat_bundle], rec.fs, rec.sig_name, alerts=spec)
        events = []
        for a in range(0, len(x), 360):
            events += monitor.push(x[a : a + 360])
        vt = [e for e in events if isinstance(e, AlertEvent) and e.label == "VT"]
        assert vt and vt[0].level == level
        assert all(e.level != "critical" for e in vt) or level == "critical"
    assert "unverified" in vt[0].message
