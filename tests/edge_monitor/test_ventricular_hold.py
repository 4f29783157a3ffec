"""FusionSpec.blind_hold_s: the model's standing VT/VF alarm is held, not cleared, through a
short spell the gate calls noisy or saturated (VF's own swings), never through leads off, flat
or a NaN model, never longer than the hold summed over spells with no window assessed between
them; and a hold raises nothing (docs/preregistrations/2026-12-07-blind-hold.md)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.alert_rules import CLEARED, CRITICAL, INCONCLUSIVE, AlertEvent
from edge_monitor.ventricular import MODEL_LABEL, FusionSpec, VentricularFusion
from tests.edge_monitor.test_ventricular import (
    FS,
    SPEC,
    STRIDE,
    VIEW,
    _own,
    _standing_alarm,
    window,
)

HOLD = SPEC.tuned(blind_hold_s=10.0)


def _standing(spec=HOLD) -> tuple[VentricularFusion, int]:
    return _standing_alarm(spec, 0.95)


def _bad(t: int, verdict: str = "noisy") -> AlertEvent:
    return AlertEvent(t, INCONCLUSIVE, verdict, verdict)


def _good(t: int) -> AlertEvent:
    return AlertEvent(t, CLEARED, "signal", "signal good again")


def test_without_the_hold_a_noisy_spell_clears_the_alarm_at_once():
    fusion, t = _standing(SPEC)
    assert _own(fusion.process([_bad(t)])) == [CLEARED]


def test_a_short_noisy_spell_inside_vf_leaves_the_alarm_standing():
    fusion, t = _standing()
    out = fusion.process([_bad(t, "saturated")])
    # the model still sees VT/VF in the swings the gate calls saturated
    out += fusion.process([window(t + k * STRIDE, 0.95, ok=False) for k in range(1, 9)])
    assert _own(out) == [] and fusion.active == {MODEL_LABEL: CRITICAL}
    out = fusion.process([_good(t + 9 * STRIDE)])
    # back: no window begun after the return yet, then confident ones: it stands, not raised again
    out += fusion.process([window(t + k * STRIDE, 0.97) for k in range(10, 20)])
    assert _own(out) == [] and fusion.held_since is None
    # the usual clearing rule on windows after the return (clear_after 2 quiet ones)
    out = fusion.process([window(t + k * STRIDE, 0.1) for k in range(20, 22)])
    assert _own(out) == [CLEARED]


def test_windows_inside_the_spell_neither_clear_nor_raise():
    """While blind no window is trusted either way: a rail-pinned excursion inside VF drops the
    model's p to ~0.01 for the 4-5 windows that hold it (docs/ventricular.md), so quiet windows
    in the spell do not end the hold; the hold's own length bounds it."""
    fusion, t = _standing()
    fusion.process([_bad(t, "saturated")])
    out = fusion.process([window(t + k * STRIDE, 0.01, ok=False) for k in range(1, 10)])
    assert _own(out) == [] and fusion.active == {MODEL_LABEL: CRITICAL}
    # back on a good signal: the usual rule, clear_after (2) quiet windows begun after the return
    fusion.process([_good(t + 10 * STRIDE)])
    assert _own(fusion.process([window(t + 14 * STRIDE, 0.1)])) == []
    assert _own(fusion.process([window(t + 15 * STRIDE, 0.1)])) == [CLEARED]


def test_a_spell_that_outlasts_the_hold_clears_the_alarm_when_it_runs_out():
    fusion, t = _standing()
    fusion.process([_bad(t)])
    within = fusion.process([window(t + k * STRIDE, 0.99, ok=False) for k in range(1, 11)])
    assert _own(within) == []  # 10 s into the spell: held
    past = fusion.process([window(t + 11 * STRIDE, 0.99, ok=False)])
    assert [(e.level, e.sample) for e in past if isinstance(e, AlertEvent)] == [
        (CLEARED, t + 11 * STRIDE)
    ]
    assert not fusion.active


def test_a_verdict_that_is_not_the_rhythm_ends_the_hold():
    for verdict in ("leads_off", "flat", "no_signal"):
        fusion, t = _standing()
        assert _own(fusion.process([_bad(t)])) == []
        assert _own(fusion.process([_bad(t + STRIDE, verdict)])) == [CLEARED]
        fusion, t = _standing()
        assert _own(fusion.process([_bad(t, verdict)])) == [CLEARED]  # never held at all


def test_a_nan_model_ends_the_hold():
    fusion, t = _standing()
    fusion.process([_bad(t)])
    assert _own(fusion.process([window(t + STRIDE, None, ok=False)])) == [CLEARED]


def test_spells_with_returns_too_short_for_a_window_add_up():
    """Noisy 6 s, good 2 s (no 4 s window fits), noisy again: the first hold goes on."""
    fusion, t = _standing()
    out = fusion.process([_bad(t)])
    out += fusion.process([_good(t + 6 * STRIDE)])
    out += fusion.process([window(t + 7 * STRIDE, 0.99)])  # begun inside the spell: not assessed
    out += fusion.process([_bad(t + 8 * STRIDE)])
    out += fusion.process([window(t + k * STRIDE, 0.99, ok=False) for k in range(9, 11)])
    assert _own(out) == []
    assert _own(fusion.process([window(t + 11 * STRIDE, 0.99, ok=False)])) == [CLEARED]


# a stream as the fusion sees it: windows every second, now and then 4 s of VT/VF (enough to
# raise the model's alarm), the gate's verdicts coming and going
NOT_RHYTHM = ["leads_off", "flat", "no_signal", "unreadable", "model_invalid", "bad_values"]
prob = st.one_of(st.sampled_from([0.0, 0.1, 0.35, 0.6, 0.92, 0.99, 1.0]), st.floats(0, 1))
step = st.one_of(
    st.tuples(st.just("window"), prob, st.booleans()),
    st.tuples(st.just("vf"), st.sampled_from([0.98, 1.0]), st.booleans()),
    st.tuples(st.just("bad"), st.sampled_from(["noisy", "saturated", *NOT_RHYTHM])),
    st.tuples(st.just("good"), st.none()),
    st.tuples(st.just("nan"), st.none()),
)


def _stream(steps) -> list[tuple[object, bool, str]]:
    """(event, the engine's signal good after it, the step's kind or bad label) in order."""
    t, seeing, out = 4 * STRIDE, True, []
    for kind, a, *rest in steps:
        if kind in ("window", "vf"):
            for _ in range(4 if kind == "vf" else 1):
                t += STRIDE
                out.append((window(t, a, rest[0] and seeing), seeing, kind))
            continue
        t += STRIDE
        if kind == "nan":
            out.append((window(t, None, seeing), seeing, kind))
        elif kind == "bad":
            seeing = False
            out.append((_bad(t, a), seeing, a))
        elif not seeing:
            seeing = True
            out.append((_good(t), seeing, kind))
    return out


def _critical(out: list) -> list:
    return [e for e in out if isinstance(e, AlertEvent) and e.level == CRITICAL]


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=60))
def test_a_hold_raises_nothing_and_never_outlasts_its_seconds_blind(steps):
    stream = _stream(steps)
    off = VentricularFusion(VIEW, FS, SPEC)
    raised_off = sum(len(_critical(off.process([ev]))) for ev, _, _ in stream)
    fusion, raised_on = VentricularFusion(VIEW, FS, HOLD), 0
    blind_for, good_since = 0, -(10**9)  # seconds blind since the last window assessed
    for ev, seeing, what in stream:
        out = fusion.process([ev])
        raised_on += len(_critical(out))
        if isinstance(ev, AlertEvent) and ev.level == CLEARED and ev.label == "signal":
            good_since = ev.sample
        assessed = (
            seeing and hasattr(ev, "probs") and ev.probs is not None
            and ev.quality_ok and ev.start >= good_since
        )  # fmt: skip
        blind_for = 0 if assessed else blind_for + (not seeing)
        if not seeing:
            assert not _critical(out)
            if MODEL_LABEL in fusion.active:
                assert blind_for <= HOLD.blind_hold_s + 1
        if what in NOT_RHYTHM or what == "nan":
            assert MODEL_LABEL not in fusion.active
    # the same windows raise the same alarms or fewer: a held alarm cannot clear and come back
    assert raised_on <= raised_off


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=60))
def test_the_shipped_spec_with_a_10_s_hold_holds_only_through_the_rhythms_own_verdicts(steps):
    """The shipped spec (gate exemption, vouching, disagreement reopening on) with the hold and
    without: a verdict that is not the rhythm, or a NaN model, leaves no model alarm standing;
    nothing critical comes out while the fusion is blind; and the hold never raises more than
    the same spec without it."""
    stream, raised = _stream(steps), []
    for spec in (FusionSpec().tuned(blind_hold_s=0.0), FusionSpec().tuned(blind_hold_s=10.0)):
        fusion, count = VentricularFusion(VIEW, FS, spec), 0
        for ev, _seeing, what in stream:
            out = _critical(fusion.process([ev]))
            count += len(out)
            if not (fusion.seeing or fusion.exempt):
                assert not out
            if what in NOT_RHYTHM or what == "nan":
                assert MODEL_LABEL not in fusion.active
        raised.append(count)
    assert raised[1] <= raised[0]
