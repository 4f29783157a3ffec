"""FusionSpec.quiet_clean_only (on since its pre-registered replication): the model's
standing VT/VF alarm is cleared by clean windows only.
Inside VF the gate may call the signal saturated or noisy and the fusion see through it (the model
vouched); the windows over a rail-pinned excursion read p ~0.001 there, and used to clear the alarm
while VF went on (cudb cu29; docs/preregistrations/2026-12-07-quiet-clean-only.md). A signal that
stays bad still ends the alarm: unclean quiet windows hold it for at most vouch_s + blind_hold_s
after the last clean window that read VT/VF, then count again."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.alert_rules import CLEARED, CRITICAL, INCONCLUSIVE, AlertEvent
from edge_monitor.events import QualityEvent
from edge_monitor.quality import GOOD, NOISY, SegmentQuality
from edge_monitor.quality_signs import DISAGREEMENT
from edge_monitor.ventricular import MODEL_LABEL, FusionSpec, ModelView, VentricularFusion
from tests.edge_monitor.test_ventricular import FS, SPEC, STRIDE, _own, _standing_alarm, window

SEEN_THROUGH = SPEC.tuned(gate_exempt_p=0.9, exempt_amplitude=True, vouch_s=8.0)


def _saturated(t: int) -> AlertEvent:
    return AlertEvent(t, INCONCLUSIVE, "saturated", "at the rail")


def _good(t: int) -> AlertEvent:
    return AlertEvent(t, CLEARED, "signal", "signal good again")


@pytest.mark.parametrize("quiet_clean_only", [False, True])
def test_quiet_windows_over_an_overruled_spell_clear_the_alarm_only_without_the_rule(
    quiet_clean_only,
):
    fusion, t = _standing_alarm(SEEN_THROUGH.tuned(quiet_clean_only=quiet_clean_only), 0.95)
    fusion.process([_saturated(t)])
    assert fusion.exempt  # the model vouches: the fusion sees through the verdict
    out = fusion.process([window(t + k * STRIDE, 0.001, ok=False) for k in (1, 2)])
    if quiet_clean_only:
        assert _own(out) == [] and fusion.active == {MODEL_LABEL: CRITICAL}
    else:
        assert _own(out) == [CLEARED]  # clear_after (2) windows over the clipped seconds


def test_a_confident_window_in_the_spell_still_resets_the_quiet_count():
    fusion, t = _standing_alarm(SEEN_THROUGH.tuned(quiet_clean_only=True), 0.95)
    fusion.process([_saturated(t)])
    out = fusion.process([window(t + STRIDE, 0.2, ok=True)])  # a clean quiet window counts...
    out += fusion.process([window(t + 2 * STRIDE, 0.95, ok=False)])  # ...VF again resets it
    out += fusion.process([window(t + 3 * STRIDE, 0.2, ok=True)])
    assert _own(out) == []
    out = fusion.process([window(t + 4 * STRIDE, 0.2, ok=True)])
    assert _own(out) == [CLEARED]  # two clean quiet windows in a row


def test_clean_quiet_windows_after_the_return_clear_it_as_before():
    fusion, t = _standing_alarm(SEEN_THROUGH.tuned(quiet_clean_only=True), 0.95)
    fusion.process([_saturated(t)])
    fusion.process([window(t + k * STRIDE, 0.001, ok=False) for k in range(1, 4)])
    fusion.process([_good(t + 4 * STRIDE)])
    # windows begun before the return hold the clipped seconds: not clean, they do not count
    assert _own(fusion.process([window(t + 5 * STRIDE, 0.1)])) == []
    assert _own(fusion.process([window(t + 6 * STRIDE, 0.1)])) == []
    out = fusion.process([window(t + k * STRIDE, 0.1) for k in (8, 9)])
    assert _own(out) == [CLEARED]


# the shipped spec over a model whose span averages two windows (as the embedded one may): a
# vouching window can then be quiet, and a clipped window's 0.0 pulls a confident one under
# agree_p, so an overruled spell could keep the alarm standing for ever (the fresh-clone review)
MEAN_VIEW = ModelView("ventricular", ("other", "VT/VF"), (1,), True, 2, "mean")
DISAGREE = SegmentQuality(0, 0, NOISY, 8.0, 1.0, 0.5, DISAGREEMENT, vf_hz=5.0)
SATURATED_S = SegmentQuality(0, 0, "saturated", 8.0, 1.0)
ON = FusionSpec(quiet_clean_only=True)  # the shipped spec (said explicitly: these tests test it)
CAP_S = ON.vouch_s + ON.blind_hold_s


def _shipped_standing() -> tuple[VentricularFusion, int]:
    fusion, t = VentricularFusion(MEAN_VIEW, FS, ON), 4 * STRIDE
    for _ in range(6):
        fusion.process([QualityEvent(SegmentQuality(t - STRIDE, t, GOOD, 8.0, 1.0))])
        fusion.process([window(t, 0.99)])
        t += STRIDE
    assert fusion.active == {MODEL_LABEL: CRITICAL}
    return fusion, t


def _bad_second(fusion, t: int, verdict: SegmentQuality, raw_p: float, first: bool) -> list:
    seg = dataclasses.replace(verdict, start=t - STRIDE, end=t)
    out = fusion.process([QualityEvent(seg)])
    if first:
        out += fusion.process([AlertEvent(t, INCONCLUSIVE, seg.state, "bad")])
    return out + fusion.process([window(t, raw_p, ok=False)])


@pytest.mark.parametrize(
    ("verdict", "pattern"),
    [
        (DISAGREE, [0.35] + [0.1] * 7),  # vouches at disagree_p, reads quiet (mean 0.225)
        (DISAGREE, [0.29]),
        (SATURATED_S, [0.95] + [0.0] * 7),  # a confident window between clipped ones
        (SATURATED_S, [0.1]),
    ],
)
def test_an_overruled_spell_never_keeps_the_alarm_standing_for_ever(verdict, pattern):
    fusion, t = _shipped_standing()
    for k in range(120):
        out = _bad_second(fusion, t + k * STRIDE, verdict, pattern[k % len(pattern)], k == 0)
        if MODEL_LABEL not in fusion.active:
            break
    assert [e.level for e in out if isinstance(e, AlertEvent) and e.label == MODEL_LABEL] == [
        CLEARED
    ]
    # the cap, then clear_after quiet windows between two confident ones (or the blind clear)
    assert k + 1 <= CAP_S + 2 * len(pattern)


@settings(max_examples=100, deadline=None)
@given(
    seconds=st.lists(
        st.tuples(st.sampled_from([DISAGREE, SATURATED_S]), st.floats(0, 0.29)),
        min_size=60,
        max_size=60,
    )
)
def test_quiet_windows_over_any_bad_spell_clear_the_alarm_within_the_cap(seconds):
    """Raw p under agree_p (so every mean is too), any mix of the verdicts the fusion sees
    through: cleared within vouch_s + blind_hold_s, then clear_after windows, and a window."""
    fusion, t = _shipped_standing()
    cleared_after = None
    for k, (verdict, p) in enumerate(seconds):
        _bad_second(fusion, t + k * STRIDE, verdict, p, k == 0)
        if MODEL_LABEL not in fusion.active:
            cleared_after = k + 1
            break
    assert cleared_after is not None
    assert cleared_after <= CAP_S + ON.clear_after + 1


def _cycle_run(
    quiet_clean_only: bool,
    clean_raw: float,
    unclean_before: float,
    strict: bool = False,
    view: ModelView = MEAN_VIEW,
) -> int | None:
    """The second review's case: 20 s cycles of 5 good seconds (the signal cleared at the first;
    an unclean window of `unclean_before` at the 4th, then one clean window of `clean_raw`) and
    15 s of detector disagreement at a VF rate, overruled by a 0.35 every 7 s. Returns the second
    the model's alarm cleared (None: still standing after 20 cycles)."""
    spec = FusionSpec(quiet_clean_only=quiet_clean_only, strict_renewal=strict)
    fusion = VentricularFusion(view, FS, spec)
    states, raws = ["good"] * 6, [0.99] * 6
    for _ in range(20):
        for j in range(20):
            states.append("good" if j < 5 else "dis")
            raws.append({3: unclean_before, 4: clean_raw, 10: 0.35, 17: 0.35}.get(j, 0.0))
    previous = "good"
    for k, (state, raw) in enumerate(zip(states, raws, strict=True)):
        end = (k + 1) * STRIDE
        verdict = DISAGREE if state == "dis" else SegmentQuality(0, 0, GOOD, 8.0, 1.0)
        events = [QualityEvent(dataclasses.replace(verdict, start=end - STRIDE, end=end))]
        if state != previous:
            events.append(
                AlertEvent(end, INCONCLUSIVE, NOISY, "bad")
                if state == "dis"
                else AlertEvent(end, CLEARED, "signal", "good")
            )
        previous = state
        fusion.process([*events, window(end, raw, ok=state == "good")])
        if k >= 6 and MODEL_LABEL not in fusion.active:
            return k
    return None


@pytest.mark.parametrize(
    ("clean_raw", "unclean_before"),
    [(0.0, 0.6), (0.3, 0.0), (0.0, 0.0)],  # a clean 0.0 whose mean with the window before is 0.3
)
def test_a_clean_window_less_sure_than_a_raise_never_renews_the_hold(clean_raw, unclean_before):
    """Before the fix the first case stood for the whole 406 s (the clean 0.0's two-window mean
    with the unclean 0.6 read 0.3 and renewed the hold every cycle). Now each clears within two
    cycles: the cap runs from the first unclean quiet window (12 s), and a window that reads
    p >= agree_p after a reopened spell (its mean is its own reading) still resets the count,
    with the rule or without it."""
    without = _cycle_run(False, clean_raw, unclean_before)
    with_rule = _cycle_run(True, clean_raw, unclean_before)
    assert without is not None and with_rule is not None
    assert with_rule <= 6 + 2 * 20 + ON.clear_after


def test_one_clean_window_at_alone_p_per_cycle_renews_the_hold_only_without_strict_renewal():
    """The third review's case: one clean window of raw 0.97 every 20 s (its two-window mean
    0.485, so the same pattern from scratch raises nothing) renewed the 18 s bound each cycle and
    kept the alarm standing for the whole 406 s; strict_renewal asks raise-grade evidence (3 of
    the last 4 windows clean, untainted, span p >= alone_p) and it clears within two cycles."""
    assert _cycle_run(True, 0.97, 0.0) is None  # the flaw, as tested and shipped
    assert _cycle_run(False, 0.97, 0.0) is not None
    strict = _cycle_run(True, 0.97, 0.0, strict=True)
    assert strict is not None and strict <= 6 + 2 * 20 + ON.clear_after


def test_strict_renewal_still_holds_through_a_clipped_spell_inside_vf():
    """Raise-grade clean evidence (VF read 0.99 on clean seconds) renews the bound; the clipped
    seconds between (raw 0.0) do not clear the alarm while they last under the bound."""
    fusion = VentricularFusion(
        MEAN_VIEW, FS, FusionSpec(quiet_clean_only=True, strict_renewal=True)
    )
    previous = "good"
    for k in range(200):
        j = k % 20
        state = "good" if j < 8 else "sat"  # 8 clean seconds of VF, 12 clipped ones
        end = (k + 1) * STRIDE
        verdict = SegmentQuality(0, 0, GOOD, 8.0, 1.0) if state == "good" else SATURATED_S
        events = [QualityEvent(dataclasses.replace(verdict, start=end - STRIDE, end=end))]
        if state != previous:
            events.append(
                AlertEvent(end, INCONCLUSIVE, "saturated", "bad")
                if state == "sat"
                else AlertEvent(end, CLEARED, "signal", "good")
            )
        previous = state
        raw = 0.99 if state == "good" else (0.95 if j == 8 else 0.0)
        fusion.process([*events, window(end, raw, ok=state == "good")])
        if k >= 10:
            assert MODEL_LABEL in fusion.active, k


def test_strict_renewal_asks_three_clean_windows_not_one():
    """With a one-window span (the window's own reading), one clean 0.97 a cycle renews the
    bound without strict_renewal but not with it (3 of the last 4 clean windows at alone_p)."""
    own = ModelView("ventricular", ("other", "VT/VF"), (1,), True, 1, "max")
    assert _cycle_run(True, 0.97, 0.0, view=own) is None
    cleared = _cycle_run(True, 0.97, 0.0, strict=True, view=own)
    assert cleared is not None and cleared <= 6 + 2 * 20 + ON.clear_after
