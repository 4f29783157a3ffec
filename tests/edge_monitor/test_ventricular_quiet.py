"""FusionSpec.quiet_clean_only: the model's standing VT/VF alarm is cleared by clean windows only.
Inside VF the gate may call the signal saturated or noisy and the fusion see through it (the model
vouched); the windows over a rail-pinned excursion read p ~0.001 there, and used to clear the alarm
while VF went on (cudb cu29; docs/preregistrations/2026-12-07-quiet-clean-only.md). A signal that
stays bad still ends the alarm: its vouching lapses, then the hold or the blind clear."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.alert_rules import CLEARED, CRITICAL, INCONCLUSIVE, AlertEvent
from edge_monitor.ventricular import MODEL_LABEL
from tests.edge_monitor.test_ventricular import SPEC, STRIDE, _own, _standing_alarm, window

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


@settings(max_examples=200, deadline=None)
@given(
    quiet=st.lists(st.tuples(st.floats(0, 0.49), st.booleans()), min_size=30, max_size=30),
    hold=st.sampled_from([0.0, 10.0]),
)
def test_a_standing_alarm_over_a_signal_that_stays_bad_is_still_cleared_in_bounded_time(
    quiet, hold
):
    """Windows under agree_p over an overruled spell, clean or not: the alarm ends no later than
    the last vouching window's end plus vouch_s and the hold, and a window after each of the two
    (the one that finds the vouching lapsed, the one that finds the hold run out)."""
    spec = SEEN_THROUGH.tuned(quiet_clean_only=True, blind_hold_s=hold)
    fusion, t = _standing_alarm(spec, 0.95)  # the last vouching window ended at t - 1 s
    fusion.process([_saturated(t)])
    out = []
    for k, (p, ok) in enumerate(quiet, start=1):
        out += fusion.process([window(t + k * STRIDE, p, ok=ok)])
    cleared = [e.sample for e in out if isinstance(e, AlertEvent) and e.label == MODEL_LABEL]
    assert [e.level for e in out if isinstance(e, AlertEvent) and e.label == MODEL_LABEL] == [
        CLEARED
    ]
    assert cleared[0] <= t - STRIDE + int((spec.vouch_s + hold + 2) * STRIDE)
    assert MODEL_LABEL not in fusion.active
