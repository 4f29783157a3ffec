"""A tremor over a rhythm raises no new critical VT/VF through the real monitor while real VF
still does, and the fusion's withholding (FusionSpec.withhold_organised) never cuts an alarm
that stands: it only keeps the oscillation from raising a new one."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.alert_rules import CLEARED, CRITICAL, WARNING, AlertEvent
from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.events import QualityEvent, WindowEvent
from edge_monitor.pipeline import Monitor
from edge_monitor.quality import GOOD, QualitySpec, SegmentQuality
from edge_monitor.ventricular import (
    MODEL_LABEL,
    RULE_LABELS,
    WITHHELD,
    FusionSpec,
    ModelView,
    VentricularFusion,
)
from tests.conftest import SHARED, need
from tests.edge_monitor.test_quality_tremor import BURST, FS, tremor

VIEW = ModelView("ventricular", ("other", "VT/VF"), (1,), True, 1, "max")
SIGN = QualitySpec(organised_qrs=True)
WITHHOLD = FusionSpec(withhold_organised=True)
LABELS = (*RULE_LABELS, MODEL_LABEL)


@pytest.fixture(scope="module")
def bundles():
    return [load_bundle(embedded_bundle(t)) for t in ("arrhythmia", "ventricular")]


@pytest.fixture(scope="module")
def sinus_with_loud_tremor() -> np.ndarray:
    """MIT-BIH 117 (sinus rhythm), its first minute, 2 mV of 4-6 Hz tremor over 20-40 s."""
    rec = wfdb.rdrecord(str(need(SHARED / "mitdb") / "117"), channels=[0], sampto=int(60 * FS))
    x = rec.p_signal.copy()
    a, b = int(BURST[0] * FS), int(BURST[1] * FS)
    x[a:b, 0] += tremor(b - a, FS, 2.0, seed=1)
    return x


def critical(events) -> list[AlertEvent]:
    return [e for e in events if isinstance(e, AlertEvent) and e.level == CRITICAL
            and e.label in LABELS]  # fmt: skip


def test_a_tremor_over_sinus_rhythm_raises_no_critical_vt_vf(bundles, sinus_with_loud_tremor):
    on = Monitor(bundles, FS, ["MLII"])  # shipped: the sign and the withholding on
    assert QualitySpec().organised_qrs and FusionSpec().withhold_organised
    assert critical(on.stream(sinus_with_loud_tremor, block_s=4.0)) == []
    # the sign and the withholding are what keep it quiet: without them the same minute alarms
    off = Monitor(bundles, FS, ["MLII"], quality=QualitySpec(organised_qrs=False),
                  fusion=FusionSpec(withhold_organised=False))  # fmt: skip
    assert critical(off.stream(sinus_with_loud_tremor, block_s=4.0))


def test_real_vf_still_raises_a_critical_alarm_with_the_withholding_on(bundles):
    """Creighton cu01: VF from 214 s (annotated `[`); a minute around its onset."""
    x = wfdb.rdrecord(str(need(SHARED / "cudb") / "cu01"), sampfrom=int(200 * 250),
                      sampto=int(250 * 250)).p_signal  # fmt: skip
    monitor = Monitor(bundles, 250.0, ["ECG"], quality=SIGN, fusion=WITHHOLD)
    crit = critical(monitor.stream(np.nan_to_num(x), block_s=4.0))
    assert crit and crit[0].label in ("VF", MODEL_LABEL)
    # after the onset, within 10 s: the hold costs 3 s here (23 s; 20 s without it), the VF's
    # first seconds read organised; a longer delay fails
    assert int(14 * 250) <= crit[0].sample <= int(24 * 250)


def window(t: int, p: float) -> WindowEvent:
    return WindowEvent(t - 1000, t, {"other": 1 - p, "VT/VF": p}, "ventricular", True)


def second(t: int, organised: bool) -> QualityEvent:
    return QualityEvent(SegmentQuality(t - 250, t, GOOD, 8.0, 1.0, organised=organised))


def test_the_vf_rule_is_withheld_over_organised_qrs_and_escalated_once_clear():
    fusion = VentricularFusion(VIEW, 250.0, WITHHOLD)
    fusion.process([window(1000, 0.9), second(1000, True)])
    (held,) = fusion.process([AlertEvent(1000, CRITICAL, "VF", "VF suspected")])
    assert held.level == WARNING and WITHHELD in held.message
    # the hold (5 s) outlasts the last organised second: the model's windows then count again
    out = [e for t in range(1250, 1000 + 9 * 250, 250) for e in fusion.process([window(t, 0.9)])]
    (up,) = [e for e in out if isinstance(e, AlertEvent)]
    assert up.level == CRITICAL and up.label == "VF" and up.sample > 1000 + 5 * 250


@settings(max_examples=60, deadline=None)
@given(flags=st.lists(st.booleans(), min_size=1, max_size=40))
def test_no_sequence_of_organised_seconds_cuts_a_standing_alarm(flags):
    """The model's own alarm and a rule's VF alarm stand; whatever the gate marks after, the
    fusion clears neither while the model stays sure."""
    fusion = VentricularFusion(VIEW, 250.0, WITHHOLD)
    raised = [e for t in range(250, 1500, 250) for e in fusion.process([window(t, 0.99)])]
    assert [e.label for e in raised if isinstance(e, AlertEvent)] == [MODEL_LABEL]
    (vf,) = fusion.process([AlertEvent(1500, CRITICAL, "VF", "VF suspected")])
    assert vf.level == CRITICAL
    out = []
    for k, flag in enumerate(flags):
        t = 1750 + 250 * k
        out += fusion.process([second(t, flag), window(t, 0.99)])
    assert not [e for e in out if isinstance(e, AlertEvent) and e.level in (CLEARED, WARNING)]
    assert fusion.active.get(MODEL_LABEL) == CRITICAL


@settings(max_examples=60, deadline=None)
@given(flags=st.lists(st.booleans(), min_size=1, max_size=30), p=st.floats(0.0, 1.0))
def test_nothing_new_is_critical_within_the_hold_of_an_organised_second(flags, p):
    fusion = VentricularFusion(VIEW, 250.0, WITHHOLD)
    hold = int(WITHHOLD.organised_hold_s * 250)
    last = None
    for k, flag in enumerate(flags):
        t = 1000 + 250 * k
        last = t if flag else last
        events = fusion.process([second(t, flag), window(t, p)])
        events += fusion.process([AlertEvent(t, CRITICAL, "VF", "VF suspected")])
        new = critical(events)
        if last is not None and t - last <= hold:
            assert new == [], (k, flags)
