"""The fused VT/VF alarm (edge_monitor/ventricular.py): the rules' critical alarms need the
rhythm model's agreement, the model alone needs k of n confident windows, nothing is critical
while the signal is bad, and without a valid model the rules' alarms pass as before."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.alert_rules import CLEARED, CRITICAL, INCONCLUSIVE, WARNING, AlertEvent
from edge_monitor.events import BeatEvent, WindowEvent
from edge_monitor.ventricular import (
    MODEL_LABEL,
    NOT_CONFIRMED,
    SUSTAINED,
    FusionSpec,
    ModelView,
    VentricularFusion,
)
from tests.conftest import SHARED, need

FS = 250.0
STRIDE = 250  # one window a second, 4 s long
VIEW = ModelView("ventricular", ("other", "VT/VF"), (1,), True, 1, "max")
SPEC = FusionSpec(
    agree_p=0.5,
    agree_s=4.0,
    alone_p=0.9,
    alone_k=3,
    alone_n=4,
    clear_after=2,
    confirm_vf=True,
    gate_exempt_p=0.0,
    blind_hold_s=0.0,  # a bad verdict clears at once (the hold: test_ventricular_hold.py)
)


def window(t: int, p: float | None, ok: bool = True) -> WindowEvent:
    probs = None if p is None else {"other": round(1 - p, 4), "VT/VF": p}
    return WindowEvent(t - 4 * STRIDE, t, probs, "ventricular", ok)


def rule(t: int, label: str = "VF", level: str = CRITICAL) -> AlertEvent:
    return AlertEvent(t, level, label, f"{label} rule")


# a run of the monitor as the fusion sees it: windows every second, now and then a rule's
# alarm (only while the engine can see: it is frozen otherwise), the gate going bad and good
step = st.one_of(
    st.tuples(st.just("window"), st.floats(0, 1), st.booleans()),
    st.tuples(st.just("rule"), st.sampled_from(["VT", "VF"]), st.sampled_from([CRITICAL, WARNING])),
    st.tuples(st.just("clear"), st.sampled_from(["VT", "VF"]), st.just(None)),
    st.tuples(st.just("bad"), st.none(), st.none()),
    st.tuples(st.just("good"), st.none(), st.none()),
)


def play(steps, spec: FusionSpec = SPEC, model_ok: bool = True):
    """Feed the steps; return (input event, its outputs, seeing, history of windows) per step."""
    fusion = VentricularFusion(VIEW, FS, spec)
    t, seeing, trace = 4 * STRIDE, True, []
    for kind, a, b in steps:
        t += STRIDE
        if kind == "window":
            ev = window(t, a if model_ok else None, b)
        elif kind == "rule":
            if not seeing:
                continue
            ev = rule(t, a, b)
        elif kind == "clear":
            ev = AlertEvent(t, CLEARED, a, f"{a} ended")
        elif kind == "bad":
            seeing, ev = False, AlertEvent(t, INCONCLUSIVE, "signal", "too noisy")
        else:
            if seeing:
                continue
            seeing, ev = True, AlertEvent(t, CLEARED, "signal", "signal good again")
        trace.append((ev, fusion.process([ev]), seeing))
    return trace


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=60))
def test_nothing_is_critical_while_the_signal_is_bad(steps):
    for _ev, out, seeing in play(steps):
        if not seeing:
            assert not [e for e in out if getattr(e, "level", None) == CRITICAL]


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=60))
def test_every_critical_alarm_has_the_models_agreement_on_a_good_signal(steps):
    """Once the model has answered, a critical VT/VF only follows a window of p >= agree_p on a
    good signal that began after the signal came back, ending within agree_s; the model's own
    alarm needs k of its last n; a beat-run VT without it only once it has stood, unconfirmed,
    for sustained_vt_s (no clear, no bad signal in between)."""
    recent: list[tuple[int, float]] = []  # good windows since the signal came back
    good_since, answered, vt_at = -(10**9), False, None
    for ev, out, _seeing in play(steps):
        if isinstance(ev, AlertEvent) and ev.level == INCONCLUSIVE:
            recent.clear()
            vt_at = None
        if isinstance(ev, AlertEvent) and ev.label == "signal" and ev.level == CLEARED:
            good_since = ev.sample
            recent.clear()
        if isinstance(ev, AlertEvent) and ev.label == "VT":
            vt_at = ev.sample if ev.level == CRITICAL else None if ev.level == CLEARED else vt_at
        if isinstance(ev, WindowEvent) and ev.quality_ok and ev.probs and ev.start >= good_since:
            recent.append((ev.end, ev.probs["VT/VF"]))
        answered = answered or isinstance(ev, WindowEvent)
        for e in out:
            if getattr(e, "level", None) != CRITICAL or not answered:  # no model yet: the rules
                continue
            if SUSTAINED in e.message:
                assert e.label == "VT" and vt_at is not None
                assert e.sample - vt_at >= SPEC.sustained_vt_s * FS
                continue
            since = e.sample - SPEC.agree_s * FS
            assert any(end >= since and p >= SPEC.agree_p for end, p in recent)
            if e.label == MODEL_LABEL:
                assert sum(p >= SPEC.alone_p for _, p in recent[-SPEC.alone_n :]) >= SPEC.alone_k


def vt_second(fusion: VentricularFusion, t: int, ok: bool = True, v: bool = True) -> list:
    """One second of a slow VT as the fusion sees it: a beat labelled V (or not) and a window
    the model reads p 0.01; the alerts that came out."""
    beat = [BeatEvent(t - 100, "V" if v else "N", None, "beats")]
    return [e for e in fusion.process([*beat, window(t, 0.01, ok)]) if isinstance(e, AlertEvent)]


def test_an_unconfirmed_beat_run_vt_escalates_once_sustained_on_a_clean_signal():
    """MIT-BIH 223's slow VT: the beat rule's VT stands, the window model reads p 0.01."""
    need = int(SPEC.sustained_vt_s * FS)
    fusion = VentricularFusion(VIEW, FS, SPEC)
    vt_second(fusion, 1000)
    (held,) = fusion.process([rule(1000, "VT")])
    assert held.level == WARNING and NOT_CONFIRMED in held.message
    assert not [e for t in range(1250, 1000 + need, 250) for e in vt_second(fusion, t)]
    (up,) = vt_second(fusion, 1000 + need)
    assert up.level == CRITICAL and up.label == "VT" and SUSTAINED in up.message
    assert up.message.startswith("VT rule standing 30 s")  # not the raise's 30 s old detail


@pytest.mark.parametrize("case", ["cleared", "bad signal", "run over", "off"])
def test_a_sustained_vt_needs_its_alarm_standing_its_run_going_and_a_clean_signal(case):
    """The rule clears 8 beats after its run; a run that stopped more than sustained_last_v_s
    ago escalates nothing even while the alarm still stands (the second review's finding)."""
    need = int(SPEC.sustained_vt_s * FS)
    fusion = VentricularFusion(VIEW, FS, FusionSpec(sustained_vt_s=0) if case == "off" else SPEC)
    vt_second(fusion, 1000)
    fusion.process([rule(1000, "VT")])
    if case == "cleared":
        fusion.process([AlertEvent(2000, CLEARED, "VT", "")])
    out = []
    for t in range(1250, 1000 + 2 * need, 250):
        ended = case == "run over" and t > 1000 + need - 4 * 250
        out += vt_second(fusion, t, ok=case != "bad signal", v=not ended)
    assert out == []


@settings(max_examples=100, deadline=None)
@given(st.lists(step, max_size=60))
def test_without_a_valid_model_the_rules_alarms_pass_unchanged(steps):
    for ev, out, _seeing in play(steps, model_ok=False):
        assert out == [ev]


def test_a_held_back_alarm_is_escalated_when_the_model_agrees():
    fusion = VentricularFusion(VIEW, FS, SPEC)
    t = 10 * STRIDE
    fusion.process([window(t - STRIDE, 0.1)])  # the model answers, disagreeing
    (held,) = fusion.process([rule(t, "VT")])
    assert held.level == WARNING and NOT_CONFIRMED in held.message
    out = fusion.process([window(t + STRIDE, 0.2)])
    assert not [e for e in out if isinstance(e, AlertEvent)]
    out = fusion.process([window(t + 2 * STRIDE, 0.7)])
    assert [(e.level, e.label) for e in out if isinstance(e, AlertEvent)] == [(CRITICAL, "VT")]
    # once it is cleared, a later agreement escalates nothing
    fusion.process([AlertEvent(t + 3 * STRIDE, CLEARED, "VT", "VT ended")])
    out = fusion.process([window(t + 4 * STRIDE, 0.7)])
    assert not [e for e in out if isinstance(e, AlertEvent)]


def test_the_model_alone_raises_clears_and_cools_down():
    fusion = VentricularFusion(VIEW, FS, SPEC)
    events = [window(t * STRIDE, p) for t, p in enumerate([0.95, 0.2, 0.95, 0.95], start=4)]
    alarms = [e for e in fusion.process(events) if isinstance(e, AlertEvent)]
    assert [(e.level, e.label) for e in alarms] == [(CRITICAL, MODEL_LABEL)]
    quiet = [window(t * STRIDE, 0.1) for t in range(8, 10)]
    assert [e.level for e in fusion.process(quiet) if isinstance(e, AlertEvent)] == [CLEARED]
    again = [window(t * STRIDE, 0.99) for t in range(10, 16)]  # within the 10 s cooldown
    assert not [e for e in fusion.process(again) if isinstance(e, AlertEvent)]


def test_spec_and_model_view_refuse_nonsense():
    with pytest.raises(ValueError):
        FusionSpec(alone_k=5, alone_n=4)
    with pytest.raises(ValueError):
        FusionSpec(agree_p=float("nan"))
    assert VIEW.probability({"other": 0.3, "VT/VF": 0.7}) == pytest.approx(0.7)
    two = ModelView("v", ("NSR", "VT", "VF"), (1, 2), True, 1, "max")
    assert two.probability({"NSR": 0.2, "VT": 0.5, "VF": 0.3}) == pytest.approx(0.8)


def _embedded_monitor(fs: float, sig_name: list[str]):
    from edge_monitor.bundle import embedded_bundle, load_bundle
    from edge_monitor.errors import EcgEdgeError
    from edge_monitor.pipeline import Monitor

    try:
        vent = load_bundle(embedded_bundle("ventricular"), probe=False)
    except EcgEdgeError:
        pytest.skip("no embedded ventricular bundle in this install yet")
    beat = load_bundle(embedded_bundle("arrhythmia"), probe=False)
    return Monitor([beat, vent], fs, sig_name)


def _critical(events) -> list[AlertEvent]:
    return [e for e in events if isinstance(e, AlertEvent) and e.level == CRITICAL]


def test_real_vf_raises_a_critical_alarm_through_the_embedded_models():
    """Creighton cu01: VF from 214 s (annotated `[`); a minute around its onset."""
    record = need(SHARED / "cudb") / "cu01"
    x = wfdb.rdrecord(str(record), sampfrom=int(200 * 250), sampto=int(250 * 250)).p_signal
    monitor = _embedded_monitor(250.0, ["ECG"])
    crit = _critical(monitor.stream(x, block_s=4.0))
    assert crit and crit[0].label in ("VF", MODEL_LABEL)
    assert crit[0].sample >= int(14 * 250)  # not before the VF starts


def test_real_noise_raises_no_critical_alarm_through_the_embedded_models():
    """MIT-BIH 118 with electrode-motion noise at -6 dB (nstdb 118e_6), its first noisy
    stretch (minutes 5-7): no critical VT/VF alarm."""
    record = need(SHARED / "nstdb") / "118e_6"
    x = wfdb.rdrecord(str(record), sampfrom=int(290 * 360), sampto=int(420 * 360)).p_signal
    monitor = _embedded_monitor(360.0, ["MLII", "V1"])
    crit = _critical(monitor.stream(np.asarray(x), block_s=4.0))
    assert not [e for e in crit if e.label in ("VT", "VF", MODEL_LABEL)]


@given(st.lists(st.floats(0, 1), min_size=1, max_size=5), st.sampled_from(["mean", "max"]))
def test_the_span_probability_is_the_contracts_aggregate(recent, how):
    from edge_monitor.inference import aggregate_windows

    view = ModelView("v", ("VT/VF",), (0,), False, len(recent), how)
    expected = aggregate_windows(np.asarray(recent)[:, None], how)[0]
    assert view.combine(recent) == pytest.approx(expected)


def test_the_vf_filter_may_be_left_unconfirmed():
    fusion = VentricularFusion(VIEW, FS, SPEC.tuned(confirm_vf=False))
    fusion.process([window(9 * STRIDE, 0.1)])
    (vf,) = fusion.process([rule(10 * STRIDE, "VF")])
    (vt,) = fusion.process([rule(10 * STRIDE, "VT")])
    assert (vf.level, vt.level) == (CRITICAL, WARNING)


def test_the_gate_exemption_is_off_unless_asked_and_needs_a_confident_window():
    off = VentricularFusion(VIEW, FS, SPEC)
    on = VentricularFusion(VIEW, FS, SPEC.tuned(gate_exempt_p=0.9))
    for fusion in (off, on):
        fusion.process([AlertEvent(STRIDE, INCONCLUSIVE, "noisy", "too noisy")])
        fusion.process([window(5 * STRIDE, 0.95, ok=False)])  # seen even while the gate is shut
    assert not off.vf_hint() and on.vf_hint()
    on.process([window(6 * STRIDE, 0.5, ok=False)])
    assert not on.vf_hint()


def test_a_vf_hint_exempts_only_the_disagreement_sign():
    from edge_monitor.quality import GOOD, NOISY, QualitySpec, assess_segment

    fs, spec = 250.0, QualitySpec()
    t = np.arange(int(3 * fs)) / fs
    ecg = np.where((t % 0.8) < 0.04, 1.0, 0.0) + 0.01 * np.sin(2 * np.pi * t)
    args = (ecg[-250:], ecg, None, spec, None, np.zeros(750) + 1e-4, 0.3)
    assert assess_segment(*args, fs=fs).state == NOISY  # the detectors disagree
    assert assess_segment(*args, fs=fs, vf_hint=True).state == GOOD
    flat = (np.zeros(250), np.zeros(750), None, spec, None, None, 0.3)
    assert assess_segment(*flat, fs=fs, vf_hint=True).state != GOOD


def _standing_alarm(spec: FusionSpec, p: float) -> tuple[VentricularFusion, int]:
    """A fusion whose own VT/VF alarm stands on 5 windows of `p`; and the time."""
    fusion = VentricularFusion(VIEW, FS, spec)
    ps = [p] * 5
    out = fusion.process([window(t * STRIDE, p) for t, p in enumerate(ps, start=4)])
    assert [e.level for e in out if isinstance(e, AlertEvent)] == [CRITICAL]
    return fusion, (4 + len(ps)) * STRIDE


def _own(out: list) -> list[str]:
    return [e.level for e in out if isinstance(e, AlertEvent) and e.label == MODEL_LABEL]


def test_a_confident_model_overrules_only_the_gates_amplitude_verdicts():
    spec = SPEC.tuned(gate_exempt_p=0.9, exempt_amplitude=True)
    fusion, t = _standing_alarm(spec, 0.95)
    out = fusion.process([AlertEvent(t, INCONCLUSIVE, "saturated", "at the rail")])
    out += fusion.process([window(t + STRIDE, 0.97, ok=False)])
    out += fusion.process([AlertEvent(t + STRIDE, INCONCLUSIVE, "noisy", "too noisy")])
    assert _own(out) == [] and fusion.active == {MODEL_LABEL: CRITICAL}
    out = fusion.process([AlertEvent(t + 2 * STRIDE, INCONCLUSIVE, "leads_off", "leads off")])
    assert _own(out) == [CLEARED] and not fusion.seeing  # no ECG at all: no exemption


def test_the_overruled_spell_ends_when_the_model_stops_vouching():
    spec = SPEC.tuned(gate_exempt_p=0.9, exempt_amplitude=True, vouch_s=4.0)
    fusion, t = _standing_alarm(spec, 0.95)
    fusion.process([AlertEvent(t, INCONCLUSIVE, "noisy", "too noisy")])
    # one window's p flickers in VF: a confident one within vouch_s (4 s here) still vouches
    flicker = fusion.process([window(t + k * STRIDE, 0.6, ok=False) for k in range(1, 4)])
    assert _own(flicker) == [] and fusion.exempt
    assert _own(fusion.process([window(t + 4 * STRIDE, 0.6, ok=False)])) == [CLEARED]
    raised = fusion.process([window(t + k * STRIDE, 0.99, ok=False) for k in range(5, 11)])
    assert _own(raised) == []  # blind now, until the signal is good again


def test_vouch_s_is_how_long_one_confident_window_vouches():
    spec = SPEC.tuned(gate_exempt_p=0.9, exempt_amplitude=True, vouch_s=8.0)
    fusion, t = _standing_alarm(spec, 0.95)  # the last confident window ended at t - 1 s
    fusion.process([AlertEvent(t, INCONCLUSIVE, "saturated", "at the rail")])
    held = fusion.process([window(t + k * STRIDE, 0.6, ok=False) for k in range(1, 8)])
    assert _own(held) == [] and fusion.exempt  # 8 s after it: still vouched for
    assert _own(fusion.process([window(t + 8 * STRIDE, 0.6, ok=False)])) == [CLEARED]
    assert not fusion.seeing


@pytest.mark.parametrize(("good_only", "level"), [(False, CRITICAL), (True, WARNING)])
def test_confirm_good_only_asks_windows_begun_after_the_bad_signal(good_only, level):
    """nstdb's 111 at -6 dB: a beat rule's VT right after an overruled noisy spell was confirmed
    by a window begun inside the spell."""
    spec = SPEC.tuned(gate_exempt_p=0.9, exempt_amplitude=True, vouch_s=8.0)
    fusion = VentricularFusion(VIEW, FS, spec.tuned(confirm_good_only=good_only))
    fusion.process([window(4 * STRIDE, 0.95)])  # confident: vouches for the spell
    fusion.process([AlertEvent(5 * STRIDE, INCONCLUSIVE, "noisy", "too noisy")])
    fusion.process([window(k * STRIDE, 0.2, ok=False) for k in (5, 6)])
    fusion.process([AlertEvent(7 * STRIDE, CLEARED, "signal", "signal good again")])
    fusion.process([window(8 * STRIDE, 0.6)])  # a good grade, but begun at 4 s
    out = fusion.process([rule(9 * STRIDE, "VT")])
    assert [e.level for e in out if isinstance(e, AlertEvent)] == [level]


@pytest.mark.parametrize(
    ("spec", "p"),
    [
        (SPEC.tuned(alone_p=0.8, gate_exempt_p=0.9, exempt_amplitude=True), 0.85),  # under it
        (SPEC.tuned(gate_exempt_p=0.9, exempt_amplitude=False), 0.95),  # the option off
        (SPEC.tuned(exempt_amplitude=True), 0.95),  # no gate_exempt_p: no hint at all
    ],
)
def test_a_saturated_verdict_still_clears_the_alarm_without_the_exemption(spec, p):
    fusion, t = _standing_alarm(spec, p)
    out = fusion.process([AlertEvent(t, INCONCLUSIVE, "saturated", "at the rail")])
    assert _own(out) == [CLEARED] and not fusion.seeing
