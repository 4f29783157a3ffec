"""A tremor over sinus rhythm is noise, not VF; VF and flutter are never read as one.

A 3-8 Hz oscillation (a tremor, shivering) passes Kuo & Dillman's VF filter at a VF rate, and the
rhythm model takes it for VF. What VF lacks is separate QRS complexes: the envelope of a
sinus rhythm's sharp content (15-40 Hz) still repeats at its heart period under the tremor, which
adds little there; VF's and flutter's follows every wave of the oscillation. The gate calls such
a second noisy ("oscillation_over_qrs"); MIT-BIH 207's flutter and cudb's VF never read so.
"""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import butter, sosfilt, sosfiltfilt

from edge_monitor.dsp import FilterSpec, filter_record
from edge_monitor.qrs import detect_r_peaks
from edge_monitor.quality import GOOD, NOISY, QualitySpec, QualityTracker
from edge_monitor.quality_signs import OSCILLATION
from edge_monitor.vf import SHARP_BAND_HZ, qrs_period
from tests.conftest import SHARED, need

FS = 360.0
BURST = (20, 40)  # s


def tremor(n: int, fs: float, ptp: float, seed: int = 0) -> np.ndarray:
    """4-6 Hz band-limited Gaussian noise, `ptp` mV as four standard deviations."""
    x = sosfiltfilt(butter(4, (4.0, 6.0), "bandpass", fs=fs, output="sos"),
                    np.random.default_rng(seed).standard_normal(n))  # fmt: skip
    return x / (4 * np.std(x)) * ptp


def verdicts(x: np.ndarray, fs: float, spec: QualitySpec | None = None):
    filtered = filter_record(x[:, None], fs, FilterSpec())[:, 0]
    return QualityTracker(fs, spec).push(x, filtered, None, list(detect_r_peaks(x, fs)))


@pytest.fixture(scope="module")
def sinus_with_tremor() -> np.ndarray:
    """MIT-BIH 100 (sinus rhythm), its first minute, 1.2 mV of tremor over 20-40 s."""
    x = wfdb.rdrecord(str(need(SHARED / "mitdb") / "100"), channels=[0], sampto=int(60 * FS))
    x = x.p_signal[:, 0].copy()
    a, b = int(BURST[0] * FS), int(BURST[1] * FS)
    x[a:b] += tremor(b - a, FS, 1.2)
    return x


ON = QualitySpec(organised_qrs=True)  # off by default: docs/ventricular.md, "Tremor"


def test_tremor_over_sinus_rhythm_reads_noisy_for_the_oscillation_over_qrs(sinus_with_tremor):
    segs = verdicts(sinus_with_tremor, FS, ON)
    inside = [s for s in segs if BURST[0] + 3 <= s.start / FS < BURST[1]]
    over = [s for s in inside if s.state == NOISY and OSCILLATION in s.reason.split("+")]
    assert len(over) >= 0.8 * len(inside), [(s.state, s.reason) for s in inside]
    assert all(s.state == GOOD for s in segs if 3 <= s.start / FS < BURST[0])
    # without the sign the same seconds read good: nothing else sees the tremor
    off = verdicts(sinus_with_tremor, FS)
    inside_off = [s for s in off if BURST[0] + 3 <= s.start / FS < BURST[1]]
    assert sum(s.state == GOOD for s in inside_off) >= 0.8 * len(inside_off)


@pytest.mark.parametrize(
    "db,record,span_s",
    [("mitdb", "207", (38, 52)), ("cudb", "cu01", (205, 240)), ("cudb", "cu05", (350, 400))],
)
def test_flutter_and_fibrillation_never_read_as_an_oscillation_over_qrs(db, record, span_s):
    """207's flutter (0:41-0:51) and cudb's VF (cu01 from 214 s, cu05 from 359 s)."""
    folder = need(SHARED / db)
    rec = wfdb.rdrecord(str(folder / record), channels=[0], sampfrom=int(span_s[0] * 250 if db
                        == "cudb" else span_s[0] * FS), sampto=int(span_s[1] * (250 if db ==
                        "cudb" else FS)))  # fmt: skip
    x = np.nan_to_num(rec.p_signal[:, 0])
    assert not any(OSCILLATION in s.reason for s in verdicts(x, float(rec.fs), ON))


@settings(max_examples=25, deadline=None)
@given(
    period=st.floats(0.45, 1.4),
    osc_hz=st.floats(3.0, 8.0),
    ptp=st.floats(0.0, 2.0),
)
def test_the_qrs_period_is_found_under_any_tremor_and_never_in_a_pure_oscillation(
    period, osc_hz, ptp
):
    fs, n = 250.0, int(3 * 250)
    t = np.arange(n) / fs
    beats = np.zeros(n)
    for k in np.arange(0.2, 3.0, period):  # 20 ms triangular spikes, 1 mV
        beats += np.clip(1 - np.abs(t - k) / 0.02, 0, None)
    osc = 0.5 * ptp * np.sin(2 * np.pi * osc_hz * t)
    sos = butter(2, SHARP_BAND_HZ, "bandpass", fs=fs, output="sos")
    found = qrs_period(sosfilt(sos, beats + osc), fs)
    assert found == pytest.approx(period, abs=0.03)
    assert qrs_period(sosfilt(sos, 2 * osc + 1e-3 * np.sin(2 * np.pi * 1.3 * osc_hz * t)), fs) == 0
