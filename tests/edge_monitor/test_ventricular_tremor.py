"""A tremor over sinus rhythm raises no critical VT/VF alarm through the real monitor, and the
fusion never lets a confident rhythm model see through a verdict of organised QRS under an
oscillation (VF has no separate complexes, however sure the model is)."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from edge_monitor.alert_rules import CRITICAL, INCONCLUSIVE, AlertEvent
from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.events import QualityEvent, WindowEvent
from edge_monitor.pipeline import Monitor
from edge_monitor.quality import NOISY, QualitySpec, SegmentQuality
from edge_monitor.quality_signs import AMPLITUDE, OSCILLATION
from edge_monitor.ventricular import MODEL_LABEL, RULE_LABELS, ModelView, VentricularFusion
from tests.conftest import SHARED, need
from tests.edge_monitor.test_quality_tremor import BURST, FS, tremor

VIEW = ModelView("ventricular", ("other", "VT/VF"), (1,), True, 1, "max")


@pytest.fixture(scope="module")
def sinus_with_loud_tremor() -> np.ndarray:
    """MIT-BIH 117 (sinus rhythm), its first minute, 2 mV of 4-6 Hz tremor over 20-40 s."""
    rec = wfdb.rdrecord(str(need(SHARED / "mitdb") / "117"), channels=[0], sampto=int(60 * FS))
    x = rec.p_signal.copy()
    a, b = int(BURST[0] * FS), int(BURST[1] * FS)
    x[a:b, 0] += tremor(b - a, FS, 2.0, seed=1)
    return x


def critical(x: np.ndarray, spec: QualitySpec | None = None) -> list[AlertEvent]:
    bundles = [load_bundle(embedded_bundle(t)) for t in ("arrhythmia", "ventricular")]
    events = Monitor(bundles, FS, ["MLII"], quality=spec).stream(x, block_s=4.0)
    labels = (*RULE_LABELS, MODEL_LABEL)
    return [e for e in events if isinstance(e, AlertEvent) and e.level == CRITICAL
            and e.label in labels]  # fmt: skip


def test_with_the_sign_a_tremor_over_sinus_rhythm_raises_no_critical_vt_vf(sinus_with_loud_tremor):
    assert critical(sinus_with_loud_tremor, QualitySpec(organised_qrs=True)) == []
    # the sign (off by default) is what keeps it quiet: without it the same minute alarms
    assert critical(sinus_with_loud_tremor)


@pytest.mark.parametrize("reason,overruled", [(AMPLITUDE, True), (OSCILLATION, False)])
def test_a_confident_model_never_sees_through_organised_qrs(reason, overruled):
    fusion = VentricularFusion(VIEW, FS)
    end = int(10 * FS)
    fusion.process([WindowEvent(end - int(4 * FS), end, {"other": 0.01, "VT/VF": 0.99},
                                "ventricular", True)])  # fmt: skip
    seg = SegmentQuality(end, end + int(FS), NOISY, 2.5, 1.5, 1.0, reason, 0.4, 5.0, 0.1)
    fusion.process([QualityEvent(seg), AlertEvent(seg.end, INCONCLUSIVE, NOISY, "")])
    assert fusion.exempt == overruled and fusion.seeing == overruled
