"""Detector disagreement over VF is not noise (FusionSpec.disagree_p), electrode motion still is.

Inside cudb cu07's bracketed VF the gate calls seconds noisy for one sign alone: its two QRS
detectors disagree (there are no QRS complexes to agree on), over a 3.7 Hz oscillation that
leaks just over Kuo & Dillman's 0.625. With disagree_p, a moderately confident rhythm model
keeps the fusion seeing through such a verdict; the other signs of noise, and nstdb's electrode
motion at -6 dB, blind it as before.
"""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from edge_monitor.alert_rules import CLEARED, INCONCLUSIVE, AlertEvent
from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.dsp import FilterSpec, filter_record
from edge_monitor.events import QualityEvent, WindowEvent
from edge_monitor.pipeline import Monitor
from edge_monitor.qrs import detect_r_peaks
from edge_monitor.quality import NOISY, QualityTracker, SegmentQuality
from edge_monitor.quality_signs import AMPLITUDE, DISAGREEMENT
from edge_monitor.ventricular import MODEL_LABEL, FusionSpec, ModelView, VentricularFusion
from edge_monitor.vf import VF_LEAKAGE, VF_MAX_HZ, VF_MIN_HZ
from tests.conftest import SHARED, need

FS = 250.0
START_S = 400  # cu07: VF bracketed from 4xx s; the gate needs ~15 s before it judges agreement
VIEW = ModelView("ventricular", ("other", "VT/VF"), (1,), True, 1, "max")


@pytest.fixture(scope="module")
def cu07_verdicts() -> list[SegmentQuality]:
    """The real gate over cu07 400-490 s (the offline detector's peaks, as test_quality_vf)."""
    path = need(SHARED / "cudb") / "cu07"
    x = wfdb.rdrecord(str(path), sampfrom=int(START_S * FS), sampto=int(490 * FS)).p_signal[:, 0]
    filtered = filter_record(x[:, None], FS, FilterSpec())[:, 0]
    return QualityTracker(FS).push(x, filtered, None, list(detect_r_peaks(x, FS)))


@pytest.fixture(scope="module")
def cu07_vf() -> tuple[float, float]:
    """cu07's bracketed VF / flutter episode (seconds)."""
    ann = wfdb.rdann(str(need(SHARED / "cudb") / "cu07"), "atr")
    opens = [s / FS for s, y in zip(ann.sample, ann.symbol, strict=True) if y == "["]
    closes = [s / FS for s, y in zip(ann.sample, ann.symbol, strict=True) if y == "]"]
    start = max(s for s in opens if s < 470)
    return start, min([s for s in closes if s > start] or [float("inf")])


def t_of(seg: SegmentQuality) -> float:
    return START_S + seg.end / FS


def test_the_gate_says_why_vf_reads_noisy(cu07_verdicts, cu07_vf):
    """In VF, the noisy seconds rest on disagreement alone, at a VF rate, leaking too much for
    the gate's own VF exemption: what disagree_p weighs."""
    a, b = cu07_vf
    inside = [s for s in cu07_verdicts if s.state == NOISY and a < t_of(s) <= b]
    assert len(inside) >= 5, [(t_of(s), s.state) for s in cu07_verdicts]
    for s in inside:
        assert s.reason == DISAGREEMENT, s
        assert VF_MIN_HZ <= s.vf_hz <= VF_MAX_HZ and s.leakage >= VF_LEAKAGE, s
        assert s.agreement < 0.8


def replay(verdicts: list[SegmentQuality], p_of, spec: FusionSpec) -> list[tuple[float, bool]]:
    """The fusion fed the real verdicts as the monitor orders them (each second's quality event,
    the engine's state change, then the window ending there with probability p_of(t)); whether
    the model's own VT/VF alarm stands after each second."""
    fusion, bad, out = VentricularFusion(VIEW, FS, spec), False, []
    for seg in verdicts:
        events: list = [QualityEvent(seg)]
        if not seg.ok and not bad:
            events.append(AlertEvent(seg.end, INCONCLUSIVE, seg.state, "bad signal"))
        elif seg.ok and bad:
            events.append(AlertEvent(seg.end, CLEARED, "signal", "signal good again"))
        bad = not seg.ok
        p = p_of(t_of(seg))
        events.append(WindowEvent(seg.end - int(4 * FS), seg.end, {"other": 1 - p, "VT/VF": p},
                                  "ventricular", seg.ok))  # fmt: skip
        fusion.process(events)
        out.append((t_of(seg), MODEL_LABEL in fusion.active))
    return out


def moderate_after(t0: float):
    """The model sure of VT/VF (0.98) until t0, then moderately (0.6): cu07's fold model reads
    0.46-0.84 there."""
    return lambda t: 0.98 if t < t0 else 0.6


def test_a_moderate_model_keeps_the_alarm_through_disagreement_over_vf(cu07_verdicts, cu07_vf):
    """From 460 s the model is moderate; the noisy spells from 470 s come more than vouch_s
    (8 s) after its last confident window. Without disagree_p they blind the fusion and clear
    its alarm; with it the alarm stands (p stays over agree_p), to the end of the excerpt."""
    a, _ = cu07_vf
    assert a < 460
    off = replay(cu07_verdicts, moderate_after(460), FusionSpec(disagree_p=0.0))
    on = replay(cu07_verdicts, moderate_after(460), FusionSpec(disagree_p=0.5))
    assert any(stands for t, stands in off if t < 460)  # raised while the model was sure
    assert not off[-1][1]
    assert all(stands for t, stands in on if t >= 460)


def test_a_blind_spell_of_disagreement_reopens_when_the_model_sees_vf(cu07_verdicts):
    """The fusion went blind at a spell's first second (the model unsure then, 0.1); when the
    model reads 0.6 under the same verdict of disagreement alone, it sees again."""
    seg = next(s for s in cu07_verdicts if s.state == NOISY and t_of(s) >= 475)
    fusion = VentricularFusion(VIEW, FS, FusionSpec(disagree_p=0.5))
    fusion.process([QualityEvent(seg), AlertEvent(seg.end, INCONCLUSIVE, NOISY, "")])
    assert not fusion.seeing and not fusion.exempt
    unsure, end = 0.1, seg.end + int(FS)
    for p in (unsure, 0.6):
        fusion.process([WindowEvent(end - int(4 * FS), end, {"other": 1 - p, "VT/VF": p},
                                    "ventricular", False)])  # fmt: skip
        assert fusion.exempt == (p > unsure)
        end += int(FS)


def test_other_signs_of_noise_still_blind(cu07_verdicts):
    """The same spell with the amplitude sign added (as > 10 mV artefact reads) is not
    weighed: a moderate model does not reopen it."""
    seg = next(s for s in cu07_verdicts if s.state == NOISY and t_of(s) >= 475)
    loud = SegmentQuality(**{**seg.__dict__, "reason": f"{AMPLITUDE}+{DISAGREEMENT}"})
    fusion = VentricularFusion(VIEW, FS, FusionSpec(disagree_p=0.5))
    fusion.process([QualityEvent(loud), AlertEvent(loud.end, INCONCLUSIVE, NOISY, "")])
    end = loud.end + int(FS)
    fusion.process([WindowEvent(end - int(4 * FS), end, {"other": 0.4, "VT/VF": 0.6},
                                "ventricular", False)])  # fmt: skip
    assert not fusion.exempt and not fusion.seeing


@pytest.fixture(scope="module")
def nst_monitor_run() -> list:
    """nstdb 118e_6 (electrode motion at -6 dB) 520-660 s through the real monitor with the
    embedded beat and VT/VF models, disagree_p at the grid's lowest bar (0.3): its noise
    stretch is 540-660 s."""
    path = need(SHARED / "nstdb") / "118e_6"
    header = wfdb.rdheader(str(path))
    fs = header.fs
    x = wfdb.rdrecord(str(path), sampfrom=int(520 * fs), sampto=int(660 * fs)).p_signal
    bundles = [load_bundle(embedded_bundle(k), probe=False) for k in ("arrhythmia", "ventricular")]
    monitor = Monitor(bundles, fs, list(header.sig_name), 0, fusion=FusionSpec(disagree_p=0.3))
    return [fs, list(monitor.stream(x, block_s=4.0))]


def test_electrode_motion_still_reads_noisy_and_raises_no_vt_vf(nst_monitor_run):
    fs, events = nst_monitor_run
    noise = [e.segment for e in events if isinstance(e, QualityEvent) and e.segment.end >= 20 * fs]
    assert np.mean([not s.ok for s in noise]) >= 0.8
    assert any(s.reason == DISAGREEMENT and VF_MIN_HZ <= s.vf_hz <= VF_MAX_HZ for s in noise)
    critical = [e for e in events if isinstance(e, AlertEvent) and e.level == "critical"
                and e.label in ("VT", "VF", MODEL_LABEL)]  # fmt: skip
    assert critical == []
