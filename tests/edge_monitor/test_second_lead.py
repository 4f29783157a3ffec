"""The beat model on a second lead: every beat answered by the mean of both leads (a V only where
the beat lead sees it too), paired one to one whatever the block sizes, the beat lead alone where
the second is flat, on real records."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.errors import InputError
from edge_monitor.leads import second_beat_channel
from edge_monitor.pipeline import BeatEvent, Monitor
from edge_monitor.second_lead import V_FLOOR, fused
from tests.conftest import ROOT, SHARED, need
from trainer.datasets.excerpt import write_mitdb_excerpt


@pytest.fixture(scope="module")
def beat_bundle():
    return load_bundle(embedded_bundle("arrhythmia"))


def _beats(bundle, signal, fs, names, second, block_s=1.0) -> list[BeatEvent]:
    monitor = Monitor([bundle], fs, names, second_lead=second)
    events = monitor.stream(signal, block_s=block_s)
    return [e for e in events if isinstance(e, BeatEvent)]


def test_each_beat_is_the_mean_of_both_leads_answers(beat_bundle, svdb_800):
    signal, fs, names = svdb_800
    alone = _beats(beat_bundle, signal, fs, names, None)
    both = _beats(beat_bundle, signal, fs, names, 1)
    assert len(alone) > 30 and [b.sample for b in both] == [b.sample for b in alone]
    changed = 0
    for a, b in zip(alone, both, strict=True):
        p = np.array(list(b.probs.values()))
        assert abs(p.sum() - 1) < 1e-3
        allowed = {c: v for c, v in b.probs.items() if c != "V" or a.probs["V"] >= V_FLOOR}
        assert b.label == max(allowed, key=allowed.get)  # V only if the beat lead sees it too
        changed += a.probs != b.probs
    assert changed > len(alone) // 2  # the second lead's answer counts
    # the twin is the second lead read as a beat lead with the first lead's R peaks: its answer
    # is 2 * mean - first, a probability vector again
    for a, b in zip(alone, both, strict=True):
        twin = {c: 2 * b.probs[c] - a.probs[c] for c in a.probs}
        assert all(-2e-4 <= v <= 1 + 2e-4 for v in twin.values())


CLASSES = ["N", "S", "V", "F", "Q"]
probability = st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5).filter(lambda v: sum(v) > 0)


@given(probability, probability)
@example([0.5, 0.0, 0.05, 0.0, 0.45], [0.0, 0.0, 1.0, 0.0, 0.0])  # the mean says V: vetoed
@example([0.5, 0.0, 0.2, 0.0, 0.3], [0.0, 0.0, 1.0, 0.0, 0.0])  # the beat lead sees it: V
def test_the_second_lead_may_confirm_or_veto_a_v_never_make_one_alone(a, b):
    first = dict(zip(CLASSES, np.array(a) / sum(a), strict=True))
    second = dict(zip(CLASSES, np.array(b) / sum(b), strict=True))
    label, mean = fused(CLASSES, first, second)
    assert np.allclose(mean, [(first[c] + second[c]) / 2 for c in CLASSES])
    if first["V"] < V_FLOOR:
        assert label != "V" and mean[CLASSES.index(label)] == max(
            m for c, m in zip(CLASSES, mean, strict=True) if c != "V"
        )
    else:
        assert mean[CLASSES.index(label)] == mean.max()


@given(
    st.floats(0.0, 0.999 * V_FLOOR), st.floats(0.5, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0)
)
def test_a_v_the_second_lead_alone_sees_is_never_the_label(v1, v2, rest1, rest2):
    first = {"N": (1 - v1) * rest1, "S": (1 - v1) * (1 - rest1), "V": v1, "F": 0.0, "Q": 0.0}
    second = {"N": (1 - v2) * rest2, "S": 0.0, "V": v2, "F": 0.0, "Q": (1 - v2) * (1 - rest2)}
    assert fused(CLASSES, first, second)[0] != "V"


def test_electrode_motion_on_the_second_lead_makes_no_v_the_beat_lead_does_not_see(beat_bundle):
    """The veto at work on a real record: svdb 804 with nst's electrode motion at 0 dB on ECG2
    alone (benchmarks/second_lead_noise.py's mix), 80 s where the plain mean made false V."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "second_lead_noise", ROOT / "benchmarks" / "second_lead_noise.py"
    )
    noise = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noise)
    path = need(SHARED / "svdb") / "804"
    need(SHARED / "nstdb")
    rec = wfdb.rdrecord(str(path))
    fs = float(rec.fs)
    mixed = noise.noisy_lead(rec.p_signal, fs, path, "em@ECG2", SHARED)[
        int(780 * fs) : int(860 * fs)
    ]
    names = list(rec.sig_name)
    alone = _beats(beat_bundle, mixed, fs, names, None)
    both = _beats(beat_bundle, mixed, fs, names, 1)
    assert [b.sample for b in both] == [b.sample for b in alone]
    vetoed = 0
    for a, b in zip(alone, both, strict=True):
        if a.probs["V"] < V_FLOOR:
            assert b.label != "V"
            vetoed += max(b.probs, key=b.probs.get) == "V"  # the mean alone would have said V
    assert vetoed >= 3


def test_a_flat_second_lead_leaves_the_beat_lead_alone(beat_bundle, svdb_800):
    signal, fs, names = svdb_800
    flat = signal.copy()
    flat[:, 1] = 0.25
    alone = _beats(beat_bundle, signal, fs, names, None)
    assert [b.probs for b in _beats(beat_bundle, flat, fs, names, 1)] == [b.probs for b in alone]


def test_gaps_in_the_second_lead_never_touch_the_beat_lead(beat_bundle, svdb_800):
    """NaN on the second lead (a Holter lead that fell off) drops its twins, not the row: the
    beat lead's beats and signal quality are those of the beat lead alone."""
    signal, fs, names = svdb_800
    gappy = signal.copy()
    gappy[int(10 * fs) : int(25 * fs), 1] = np.nan
    alone = Monitor([beat_bundle], fs, names, second_lead=None)
    both = Monitor([beat_bundle], fs, names, second_lead=1)
    a, b = alone.stream(signal), both.stream(gappy)
    beats_a = [e for e in a if isinstance(e, BeatEvent)]
    beats_b = [e for e in b if isinstance(e, BeatEvent)]
    assert [x.sample for x in beats_b] == [x.sample for x in beats_a]
    assert both.leads_off_samples == alone.leads_off_samples == 0
    gap = [(x, y) for x, y in zip(beats_a, beats_b, strict=True) if 11 * fs < x.sample < 24 * fs]
    assert gap and all(x.probs == y.probs for x, y in gap)  # the beat lead alone there
    assert 0 < both.second.fused < len(beats_b)


def test_both_leads_close_the_same_beats_at_a_gap(beat_bundle, svdb_800):
    """Leads off on both leads: each stream closes the beat before the gap and starts again
    after it; were one to pair a beat with its neighbour's twin, a second lead identical to
    the beat lead would change some answer."""
    signal, fs, names = svdb_800
    same = signal.copy()
    same[:, 1] = same[:, 0]
    same[int(12 * fs) : int(17 * fs)] = np.nan
    alone = _beats(beat_bundle, same, fs, names, None)
    both = _beats(beat_bundle, same, fs, names, 1)
    assert [(b.sample, b.probs) for b in both] == [(b.sample, b.probs) for b in alone]
    assert sum(b.sample > 17 * fs for b in both) > 20


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from([0.05, 0.3, 0.77, 2.5, 7.0]))
def test_the_pairing_does_not_depend_on_block_sizes(beat_bundle, svdb_800, block_s):
    """The same beats, labels and (to float rounding of the streaming filters) answers."""
    signal, fs, names = svdb_800
    ref = _beats(beat_bundle, signal[: int(20 * fs)], fs, names, 1)
    got = _beats(beat_bundle, signal[: int(20 * fs)], fs, names, 1, block_s)
    assert [(b.sample, b.label) for b in got] == [(b.sample, b.label) for b in ref]
    for a, b in zip(ref, got, strict=True):
        assert max(abs(a.probs[c] - b.probs[c]) for c in a.probs) < 2e-3


def test_auto_reads_a_lead_like_lead_ii_never_v1():
    assert second_beat_channel(["MLII", "V1"], 0) is None
    assert second_beat_channel(["MLII", "V5"], 0) == 1
    assert second_beat_channel(["ECG1", "ECG2"], 0) == 1
    assert second_beat_channel(["V5", "MLII"], 1) == 0
    assert second_beat_channel(["ECG1", "ABP", "aVR", "III"], 0) == 3
    assert second_beat_channel(["MLII"], 0) is None
    for vague in ("ch1", "V4R", "V7", "-V1", "ECG2X", "ABP"):  # auto reads what a name vouches for
        assert second_beat_channel(["MLII", vague], 0) is None, vague
    assert second_beat_channel(["ECG", "ECG"], 0) == 1  # a Holter's unnamed channels
    twelve = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    for seed in range(5):  # the same lead (III) whatever the channel order
        order = list(np.random.default_rng(seed).permutation(12))
        names = [twelve[i] for i in order]
        assert names[second_beat_channel(names, names.index("II"))] == "III"
        assert names[second_beat_channel(names, names.index("III"))] == "II"  # --channel III


def test_a_second_lead_that_is_not_another_channel_is_one_clear_error(beat_bundle):
    for bad in (0, 2, -1):
        with pytest.raises(InputError, match="another channel"):
            Monitor([beat_bundle], 360.0, ["MLII", "V5"], second_lead=bad)
    assert Monitor([beat_bundle], 360.0, ["MLII", "V1"], second_lead="auto").second is None
    with pytest.raises(InputError, match="the source has one channel"):
        Monitor([beat_bundle], 360.0, ["MLII"], second_lead=1)
    assert Monitor([beat_bundle], 360.0, ["MLII", "V1"], second_lead=1).second.channel == 1


def test_classify_says_which_two_leads_it_read_and_refuses_a_bad_choice(tmp_path):
    from typer.testing import CliRunner

    from edge_monitor.cli import app

    out = tmp_path / "rec"
    write_mitdb_excerpt(need(SHARED / "svdb"), "800", out, seconds=20.0)
    runner = CliRunner()
    ok = runner.invoke(app, ["classify", str(out / "800"), "--second-lead", "auto"])
    assert ok.exit_code == 0, ok.output
    assert "second lead ECG2: " in ok.output
    assert "beats read on it too, answers averaged" in ok.output
    by_default = runner.invoke(app, ["classify", str(out / "800"), "--json"])
    assert '"beat_leads": ["ECG1", "ECG2"]' in by_default.output  # on unless said off
    alone = runner.invoke(app, ["classify", str(out / "800"), "--json", "--second-lead", "off"])
    assert '"beat_leads": ["ECG1"]' in alone.output
    bad = runner.invoke(app, ["classify", str(out / "800"), "--second-lead", "0"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1 and "another channel" in bad.output
    for word in ("both", "\u00b2", "1.0"):  # a superscript two is a digit to str.isdigit
        res = runner.invoke(app, ["classify", str(out / "800"), "--second-lead", word])
        assert res.exit_code == 2 and "give off, auto or a channel index" in res.output


def test_run_takes_the_option_for_a_two_channel_front_end():
    """The live command wires it the same way (pyserial's loop://: a link that sends nothing)."""
    import json

    from typer.testing import CliRunner

    from edge_monitor.cli import app

    runner = CliRunner()
    base = ["run", "--source", "loop://", "--duration", "1", "--no-ui", "--second-lead", "auto"]
    two = runner.invoke(app, [*base, "--leads", "MLII,V5"])
    assert two.exit_code == 0, two.output
    summary = json.loads(two.output.strip().splitlines()[-1])
    assert summary["beat_leads"] == ["MLII", "V5"] and summary["beats_on_two_leads"] == 0
    v1 = runner.invoke(app, [*base, "--leads", "MLII,V1"])
    assert v1.exit_code == 0 and "no other lead like lead II here" in v1.output
    quiet = runner.invoke(app, [*base[:-2], "--leads", "MLII,V1"])  # the default: nothing said
    assert quiet.exit_code == 0 and "lead II" not in quiet.output


def test_the_verdict_says_when_the_second_lead_gave_nothing():
    from edge_monitor.verdict import run_notes

    none = run_notes({"beat_leads": ["MLII", "V5"], "beats_on_two_leads": 0, "beats": {"N": 9}})
    some = run_notes({"beat_leads": ["MLII", "V5"], "beats_on_two_leads": 12})
    assert any("V5: no beat read on it" in n for n in none)
    assert any("V5: 12 beats read on it too" in n for n in some)
    # no beat at all: the beat lead is what gave nothing (a 12-lead record with II flat)
    flat = run_notes({"beat_leads": ["II", "III"], "beats": {}, "signal_seconds": 30.0})
    assert any("beat lead II: no beat found" in n and "--channel" in n for n in flat)
    assert not any("III" in n for n in flat)
    short = run_notes({"beat_leads": ["MLII"], "beats": {}, "signal_seconds": 2.0})
    assert not any("no beat found" in n for n in short)  # 2 s: still learning, nothing to say
