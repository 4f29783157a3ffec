"""Alert rules and their debouncing: raise, hold, clear, cool down; noise freezes them."""

import numpy as np
import wfdb

from edge_monitor.alerts import AlertEngine, Debouncer, irregularity, vf_leakage
from edge_monitor.dsp import FilterSpec, filter_record

FS = 360.0


def feed(engine, labels, rr_s=0.8, start=0):
    events, sample = [], start
    for label in labels:
        sample += int(rr_s * FS)
        events += engine.on_beat(sample, label)
    return events, sample


def by_label(events, level=None):
    return [e.label for e in events if level is None or e.level == level]


def test_debouncer_k_of_n_hysteresis_and_cooldown():
    d = Debouncer(k=2, n=3, clear_after=2, cooldown=100)
    assert d.update(True, 0) is None  # one of three is not enough
    assert d.update(True, 1) == "raise"
    assert d.update(False, 2) is None  # one quiet evaluation does not clear
    assert d.update(True, 3) is None
    assert d.update(False, 4) is None and d.update(False, 5) == "clear"
    assert d.update(True, 6) is None and d.update(True, 7) is None  # cooling down
    assert d.update(True, 200) == "raise"


def test_fast_ventricular_run_is_critical_and_clears():
    engine = AlertEngine(FS)
    events, s = feed(engine, "N" * 10)
    more, s = feed(engine, "VVVVV", rr_s=0.45, start=s)  # 133 bpm
    events += more + feed(engine, "N" * 12, start=s)[0]
    crit = [e for e in events if e.level == "critical"]
    assert [e.label for e in crit] == ["VT"] and "133 bpm" in crit[0].message
    assert "VT" in by_label(events, "cleared")
    assert all("{" not in e.message for e in events)


def test_an_unverified_critical_alarm_comes_as_a_warning():
    engine = AlertEngine(FS, verify=lambda label, sample: label != "VT")
    events, s = feed(engine, "N" * 10)
    events += feed(engine, "VVVVV", rr_s=0.45, start=s)[0]
    vt = [e for e in events if e.label == "VT"]
    assert [e.level for e in vt] == ["warning"] and "unverified" in vt[0].message
    assert engine.active["VT"] == "warning"


def test_an_unverified_vt_that_goes_on_escalates_once_verified():
    answers = iter([False, False, True])  # doubtful at the 5th and 6th beat, sure at the 7th
    engine = AlertEngine(FS, verify=lambda label, sample: label != "VT" or next(answers, True))
    events, s = feed(engine, "N" * 10)
    events += feed(engine, "VVVVVVVVV", rr_s=0.45, start=s)[0]
    vt = [e for e in events if e.label == "VT"]
    assert [e.level for e in vt] == ["warning", "critical"]
    assert "now verified" in vt[1].message and engine.active["VT"] == "critical"


def test_short_or_slow_ventricular_runs_only_warn():
    for labels, rr in (("VVV", 0.45), ("VVVVVV", 0.8)):  # a triplet; idioventricular at 75 bpm
        engine = AlertEngine(FS)
        events, s = feed(engine, "N" * 10)
        events += feed(engine, labels, rr_s=rr, start=s)[0]
        assert "VT" not in by_label(events) and "run" in by_label(events, "warning")


def test_bigeminy_couplet_and_burden():
    engine = AlertEngine(FS)
    events, _ = feed(engine, "NNNN" + "NV" * 5 + "NVVN" + "N" * 4)
    warned = set(by_label(events, "warning"))
    assert {"bigeminy", "couplet", "PVC"} <= warned


def test_rates_and_pause():
    engine = AlertEngine(FS)
    events, s = feed(engine, "N" * 20, rr_s=1.7)  # 35 bpm
    assert "brady" in by_label(events, "warning")
    engine = AlertEngine(FS)
    events, s = feed(engine, "N" * 20, rr_s=0.35)  # 171 bpm
    assert "tachy" in by_label(events, "warning")
    engine = AlertEngine(FS)
    events, s = feed(engine, "N" * 10)
    events = engine.on_beat(s + int(3.0 * FS), "N")
    assert by_label(events, "warning") == ["pause"]


def test_asystole_from_the_clock_and_cleared_by_a_beat():
    engine = AlertEngine(FS)
    _, s = feed(engine, "N" * 10)
    engine.on_r_peak(s)
    quiet = np.zeros(int(FS))
    events = []
    for k in range(1, 6):
        events += engine.on_time(s + k * int(FS), quiet)
    assert by_label(events, "critical") == ["asystole"]
    events = engine.on_r_peak(s + 6 * int(FS))
    assert by_label(events, "cleared") == ["asystole"]


def test_noise_freezes_the_rules_and_says_inconclusive():
    engine = AlertEngine(FS)
    feed(engine, "NNNNNNNN")
    events = engine.on_quality("noisy", 10_000)
    assert [e.level for e in events] == ["inconclusive"]
    events, _ = feed(engine, "VVVVVV", start=10_000)
    assert events == []  # no ventricular-run alarm on a signal we cannot trust
    events = engine.on_quality("good", 20_000)
    assert [e.level for e in events] == ["cleared"]


def test_irregular_rr_suggests_af_regular_does_not():
    rng = np.random.default_rng(1)
    engine = AlertEngine(FS)
    sample, events = 0, []
    for _ in range(60):
        sample += int(rng.uniform(0.45, 1.1) * FS)
        events += engine.on_beat(sample, "N")
    assert "AF" in by_label(events, "warning")
    assert irregularity(np.full(20, 0.8)) == (0.0, 0.0)


def test_vf_filter_separates_flutter_from_sinus(mitdb_dir):
    def leakage(record, minute):
        a = int(minute * 60 * FS)
        rec = wfdb.rdrecord(
            str(mitdb_dir / record), channels=[0], sampfrom=a - 720, sampto=a + 1440
        )
        x = filter_record(rec.p_signal, FS, FilterSpec())[720:, 0]
        return vf_leakage(x)

    assert leakage("207", 0.70) < 0.625  # ventricular flutter (reference annotation)
    assert leakage("207", 10.0) > 0.625  # the same patient in another rhythm
    assert leakage("100", 5.0) > 0.625  # sinus rhythm
    assert vf_leakage(np.zeros(100)) == 1.0
