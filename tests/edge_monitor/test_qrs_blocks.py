"""The quality gate's second detector (qrs_blocks.block_peaks) is run every second and for every
beat, so it is written for speed (one cumulative sum, sliced moving averages, blocks found by
comparing neighbours). These tests hold it to the plain textbook form, bit for bit, on real and
random input: a faster gate must not decide anything differently."""

import numpy as np
import wfdb
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_monitor.dsp import StreamFilter
from edge_monitor.iir import butter_sos
from edge_monitor.qrs_blocks import _centred_mean, block_peaks


def reference_centred_mean(x: np.ndarray, w: int) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(len(x))
    lo, hi = np.clip(idx - w // 2, 0, len(x)), np.clip(idx - w // 2 + w, 0, len(x))
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


def reference_block_peaks(band: np.ndarray, fs: float, beta: float = 0.08) -> np.ndarray:
    """Elgendi's blocks as first written: a loop over every block."""
    band = np.asarray(band, dtype=np.float64)
    if len(band) < int(fs):
        return np.zeros(0, dtype=np.int64)
    energy = band * band
    w_qrs, w_beat = max(1, int(round(0.097 * fs))), max(1, int(round(0.611 * fs)))
    ma_qrs = reference_centred_mean(energy, w_qrs)
    ma_beat = reference_centred_mean(energy, w_beat)
    inside = ma_qrs > ma_beat + beta * float(energy.mean())
    edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(np.int8), [0]])))
    peaks, last = [], -len(band)
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a < w_qrs:
            continue
        p = a + int(np.argmax(np.abs(band[a:b])))
        if p - last >= int(round(0.25 * fs)):
            peaks.append(p)
            last = p
    return np.asarray(peaks, dtype=np.int64)


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 400), elements=st.floats(0, 1e3)),
    st.integers(1, 500),
)
def test_centred_mean_equals_the_clipped_window_mean(x, w):
    cum = np.concatenate([[0.0], np.cumsum(x)])
    np.testing.assert_array_equal(_centred_mean(cum, w), reference_centred_mean(x, w))


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(0, 1500), elements=st.floats(-5, 5)),
    st.sampled_from([128.0, 250.0, 360.0]),
    st.integers(0, 1500),
)
def test_block_peaks_equals_the_plain_form_on_random_input(x, fs, flat_from):
    x[flat_from:] = 0.0  # blocks that reach the buffer's end, and flat stretches
    np.testing.assert_array_equal(block_peaks(x, fs), reference_block_peaks(x, fs))


def test_block_peaks_equals_the_plain_form_on_real_ecg(mitdb_dir):
    """Every buffer length the gate uses (a beat's 2.5 s and more, the agreement's 12.5 s), on
    a record with runs of ventricular beats and noise."""
    rec = wfdb.rdrecord(str(mitdb_dir / "203"), channels=[0], sampto=360 * 120)
    sos = butter_sos(2, (8.0, 20.0), "bandpass", rec.fs)
    band = StreamFilter(sos, 1)(rec.p_signal)[:, 0]
    for start in range(0, len(band) - 4500, 997):
        for n in (360, 900, 2000, 4500):
            seg = band[start : start + n]
            np.testing.assert_array_equal(block_peaks(seg, rec.fs), reference_block_peaks(seg, 360))
