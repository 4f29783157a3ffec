"""A tremor over a rhythm is marked `organised`, not VF; VF and flutter are never marked so.

A 3-8 Hz oscillation (a tremor, shivering) passes Kuo & Dillman's VF filter at a VF rate, and the
rhythm model takes it for VF. What VF lacks is separate QRS complexes: a rhythm's complexes still
stand out of the lead's sharp content (15-40 Hz) under the tremor, which adds little there,
whatever their intervals; VF's and flutter's sharp content follows every wave. The gate marks
such a second `organised` and leaves its verdict as it was (the fusion withholds new VT/VF
alarms over it); MIT-BIH 207's flutter and cudb's VF are not marked.
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
from edge_monitor.quality import GOOD, QualitySpec, QualityTracker
from edge_monitor.vf import SHARP_BAND_HZ, qrs_interval
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


def with_tremor(record: str, ptp: float) -> np.ndarray:
    """A MIT-BIH record's first minute (lead 0), `ptp` mV of tremor over 20-40 s."""
    rec = wfdb.rdrecord(str(need(SHARED / "mitdb") / record), channels=[0], sampto=int(60 * FS))
    x = rec.p_signal[:, 0].copy()
    a, b = int(BURST[0] * FS), int(BURST[1] * FS)
    x[a:b] += tremor(b - a, FS, ptp)
    return x


ON, OFF = QualitySpec(organised_qrs=True), QualitySpec(organised_qrs=False)


@pytest.mark.parametrize("record", ["100", "201"])  # sinus rhythm; atrial fibrillation
def test_tremor_over_a_rhythm_is_marked_organised_and_the_verdict_is_unchanged(record):
    x = with_tremor(record, 2.0)
    segs, off = verdicts(x, FS, ON), verdicts(x, FS, OFF)
    inside = [s for s in segs if BURST[0] + 3 <= s.start / FS < BURST[1]]
    assert sum(s.organised for s in inside) >= 0.6 * len(inside), [s.state for s in inside]
    assert not any(s.organised for s in segs if s.end / FS <= BURST[0])
    # the sign is beside the verdict: every state is what it is without the sign
    assert [s.state for s in segs] == [s.state for s in off]
    assert not any(s.organised for s in off)


@pytest.mark.parametrize(
    "db,record,span_s",
    [("mitdb", "207", (38, 52)), ("cudb", "cu01", (205, 240)), ("cudb", "cu05", (350, 400))],
)
def test_flutter_and_fibrillation_are_not_marked_organised(db, record, span_s):
    """207's flutter (0:41-0:51) and cudb's VF (cu01 from 214 s, cu05 from 359 s)."""
    fs = 250 if db == "cudb" else FS
    rec = wfdb.rdrecord(str(need(SHARED / db) / record), channels=[0],
                        sampfrom=int(span_s[0] * fs), sampto=int(span_s[1] * fs))  # fmt: skip
    x = np.nan_to_num(rec.p_signal[:, 0])
    segs = verdicts(x, float(rec.fs), ON)
    assert sum(s.organised for s in segs) <= 1, [s.start / fs + span_s[0] for s in segs
                                                if s.organised]  # fmt: skip


def test_clean_rhythm_is_never_marked():
    x = wfdb.rdrecord(str(need(SHARED / "mitdb") / "208"), channels=[0], sampto=int(60 * FS))
    assert all(s.state != GOOD or not s.organised for s in verdicts(x.p_signal[:, 0], FS, ON))
    assert not any(s.organised for s in verdicts(x.p_signal[:, 0], FS, ON))


@settings(max_examples=25, deadline=None)
@given(
    intervals=st.lists(st.floats(0.35, 2.2), min_size=14, max_size=14),
    osc_hz=st.floats(3.0, 8.0),
    ptp=st.floats(0.0, 1.0),
)
def test_complexes_are_found_under_any_tremor_at_any_spacing_and_never_in_an_oscillation(
    intervals, osc_hz, ptp
):
    """1 mV spikes at any intervals (a rhythm that is irregular) under a sine up to their own
    size: their shortest interval; a sine alone (VF-like, no complexes) gives none. (A pure 8 Hz
    sine twice the spikes' size puts enough into 15-40 Hz to hide them: not claimed.)"""
    fs = 250.0
    times = 4.8 - np.cumsum([0.0, *intervals])  # the last one 0.2 s before the end
    times = np.sort(times[times > 0.1])
    n = int(5 * fs)
    t = np.arange(n) / fs
    beats = sum(np.clip(1 - np.abs(t - k) / 0.02, 0, None) for k in times)  # 20 ms, 1 mV
    osc = 0.5 * ptp * np.sin(2 * np.pi * osc_hz * t)
    sos = butter(2, SHARP_BAND_HZ, "bandpass", fs=fs, output="sos")
    found = qrs_interval(sosfilt(sos, beats + osc), fs)
    if len(times) >= 2:
        assert found == pytest.approx(float(np.diff(times).min()), abs=0.03)
    assert (
        qrs_interval(sosfilt(sos, 2 * osc + 1e-3 * np.sin(2 * np.pi * 1.3 * osc_hz * t)), fs) == 0
    )


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(3, 400),
    distance=st.integers(1, 60),
    share=st.floats(0.0, 0.9),
)
def test_the_hand_written_peak_picker_keeps_what_scipy_find_peaks_keeps(seed, n, distance, share):
    """vf._tallest_apart stands in for scipy.signal.find_peaks(height, distance), which the device
    does not import: on plateau-free envelopes they keep the same peaks."""
    from scipy.signal import find_peaks

    from edge_monitor.vf import _tallest_apart

    env = np.random.default_rng(seed).random(n) ** 2
    height = share * float(env.max())
    expected, _ = find_peaks(env, height=height, distance=distance)
    assert _tallest_apart(env, height, distance).tolist() == expected.tolist()
