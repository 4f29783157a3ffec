"""Large VF clipped at the ADC's rails is a saturated amplifier, not a lead off.

CU's VF swings across the whole 12-bit range; WFDB's format 212 writes the lowest code (-2048)
as "invalid", so the negative rail arrives as NaN, and a NaN sample is a leads-off sample to the
monitor. Where the rails are unknown (a file), flagged samples amid a large signal that sits on
a rail are called saturated (which a confident VT/VF model may overrule); a lead off in an
ordinary ECG, a flat line and a live front end's leads-off flag are what they were.
"""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.dsp import FilterSpec, filter_record
from edge_monitor.qrs import detect_r_peaks
from edge_monitor.quality import FLAT, LEADS_OFF, SATURATED, QualityTracker
from tests.conftest import SHARED, need

FS = 250.0
CU_RAILS = (-2048 / 400, 2047 / 400)  # cudb: 12 bits, 400 counts per mV, baseline 0


def held(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The monitor's view of a file: NaN rows flagged leads off and held at the last value."""
    off = ~np.isfinite(x)
    out, last = x.copy(), 0.0
    for i in np.flatnonzero(off):
        out[i] = out[i - 1] if i else last
    return out, off


def grades(x: np.ndarray, fs: float, rails=None) -> list[str]:
    raw, off = held(x)
    filtered = filter_record(raw[:, None], fs, FilterSpec())[:, 0]
    tracker = QualityTracker(fs, rails=rails)
    return [s.state for s in tracker.push(raw, filtered, off, list(detect_r_peaks(raw, fs)))]


@pytest.fixture(scope="module")
def cu23_vf() -> np.ndarray:
    """cu23 398-423 s: inside its bracketed VF (334-436 s), clipped at both rails; 8 seconds
    hold 33-91% invalid (negative-rail) samples."""
    path = need(SHARED / "cudb") / "cu23"
    return wfdb.rdrecord(str(path), sampfrom=int(398 * FS), sampto=int(423 * FS)).p_signal[:, 0]


def flagged_seconds(x: np.ndarray, fs: float) -> list[int]:
    """Seconds with at least the gate's leads-off share (0.2) of invalid samples."""
    n = int(fs)
    return [i for i in range(len(x) // n) if np.mean(np.isnan(x[i * n : (i + 1) * n])) >= 0.2]


def test_clipped_vf_reads_saturated_not_leads_off(cu23_vf):
    got, flagged = grades(cu23_vf, FS), flagged_seconds(cu23_vf, FS)
    assert len(flagged) >= 8
    assert all(got[i] == SATURATED for i in flagged), got
    assert LEADS_OFF not in got, got


def test_a_clipped_spell_is_saturated_from_its_first_second(cu23_vf):
    """cu23 at 406 s: the VF plunges (-0.9 -> -2.0 mV in one sample) into a second of negative
    -rail codes, with only 2 positive-rail samples in the 3 s before: no rail count yet, but the
    run is entered from the signal's lowest value, so it is the rail (it read leads off)."""
    first = 406 - 398
    assert first in flagged_seconds(cu23_vf, FS) and first - 1 not in flagged_seconds(cu23_vf, FS)
    assert grades(cu23_vf, FS)[first] == SATURATED


def test_a_front_end_flag_is_believed(cu23_vf):
    """With known rails (a live front end) a leads-off flag is the front end's word."""
    got = grades(cu23_vf, FS, rails=CU_RAILS)
    assert all(got[i] == LEADS_OFF for i in flagged_seconds(cu23_vf, FS)), got


@settings(max_examples=15, deadline=None)
@given(
    start=st.floats(3.0, 20.0),
    length=st.floats(2.0, 8.0),
    gain=st.floats(0.3, 3.0),
)
def test_a_lead_off_in_an_ordinary_ecg_stays_leads_off(mitdb_dir, start, length, gain):
    """NaN stretches cut into a real ECG (MIT-BIH 100, any gain an amplifier gives a body
    -surface ECG): every second wholly inside them reads leads off."""
    fs = 360.0
    x = wfdb.rdrecord(str(mitdb_dir / "100"), channels=[0], sampto=int(32 * fs)).p_signal[:, 0]
    x = x * gain
    a, b = int(start * fs), int((start + length) * fs)
    x[a:b] = np.nan
    got = grades(x, fs)
    inside = [i for i in range(len(got)) if a <= i * fs and (i + 1) * fs <= b]
    assert inside and all(got[i] == LEADS_OFF for i in inside), got


@pytest.fixture(scope="module")
def cu01_vf() -> np.ndarray:
    """cu01's first 30 s of VF: not one invalid sample, 3-4 mV."""
    path = need(SHARED / "cudb") / "cu01"
    ann = wfdb.rdann(str(path), "atr")
    onset = int(next(s for s, y in zip(ann.sample, ann.symbol, strict=True) if y == "["))
    x = wfdb.rdrecord(str(path), sampfrom=onset, sampto=onset + int(30 * FS)).p_signal[:, 0]
    assert np.isfinite(x).all()
    return x


@settings(max_examples=10, deadline=None)
@given(start=st.floats(8.0, 20.0), length=st.floats(5.0, 8.0), gain=st.floats(1.4, 3.0))
def test_a_lead_off_amid_large_vf_is_leads_off_past_the_context(cu01_vf, start, length, gain):
    """A lead off (NaN) cut into large unclipped VF (5-11 mV): whatever the saturation rules
    make of its first seconds, every second that begins `context_s` (3 s) or more after it
    began, with no unflagged signal left to judge by, reads leads off (the limit the rail-count
    rule had)."""
    x = cu01_vf * gain
    a, b = int(start * FS), int((start + length) * FS)
    x[a:b] = np.nan
    got = grades(x, FS)
    late = [i for i in range(len(got)) if a + 3 * FS <= i * FS and (i + 1) * FS <= b]
    assert late and all(got[i] == LEADS_OFF for i in late), got


def test_a_constant_on_a_rail_is_saturated_one_beside_it_flat():
    """After large VF on its rails, a constant at the rail is the amplifier pinned there; a
    constant that is no extreme of the signal around it is a dead lead."""
    t = np.arange(int(6 * FS)) / FS
    vf = np.clip(3.0 * np.sin(2 * np.pi * 4.5 * t), -2.5, 2.5)  # 6 mV of 4.5 Hz on its rails
    pinned = grades(np.concatenate([vf, np.full(int(2 * FS), 2.5)]), FS)
    assert pinned[6:] == [SATURATED, SATURATED], pinned
    dead = grades(np.concatenate([vf, np.full(int(4 * FS), 0.1)]), FS)
    assert set(dead[6:]) == {FLAT}, dead


def test_the_monitor_replaying_cudb_calls_clipped_vf_saturated(cu23_vf):
    """The whole path: the Monitor turns the file's NaN into leads-off rows and holds them."""
    from edge_monitor.bundle import embedded_bundle, load_bundle
    from edge_monitor.events import QualityEvent
    from edge_monitor.pipeline import Monitor

    monitor = Monitor([load_bundle(embedded_bundle("arrhythmia"))], FS, ["ECG"])
    events = []
    for a in range(0, len(cu23_vf), int(FS)):
        events += monitor.push(cu23_vf[a : a + int(FS), None])
    got = [e.segment.state for e in events if isinstance(e, QualityEvent)]
    flagged = flagged_seconds(cu23_vf, FS)
    assert all(got[i] == SATURATED for i in flagged), got
