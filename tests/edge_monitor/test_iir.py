"""The numpy filters match scipy.signal's designs and outputs (scipy is the reference here)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import signal as sps

from edge_monitor.iir import FirFilter, SosFilter, butter_sos, notch_sos, running_max


def response(sos, fs):
    w, h = sps.sosfreqz(sos, worN=2048, fs=fs)
    return np.abs(h)


@pytest.mark.parametrize("fs", [100.0, 250.0, 360.0, 500.0])
@pytest.mark.parametrize(
    "args",
    [
        (2, (0.5, 40.0), "bandpass"),
        (2, (5.0, 15.0), "bandpass"),
        (4, (0.5, 40.0), "bandpass"),
        (2, 40.0, "highpass"),
        (2, 0.5, "highpass"),
        (4, 30.0, "lowpass"),
    ],
)
def test_butterworth_designs_match_scipy(fs, args):
    order, cut, btype = args
    ours = butter_sos(order, cut, btype, fs)
    ref = sps.butter(order, cut, btype=btype, fs=fs, output="sos")
    assert np.allclose(response(ours, fs), response(ref, fs), atol=1e-9)


def test_notch_matches_scipy():
    ours = notch_sos(50.0, 30.0, 360.0)
    b, a = sps.iirnotch(50.0, 30.0, fs=360.0)
    assert np.allclose(ours[0], np.concatenate([b, a]))


@pytest.mark.parametrize("chunk", [1, 7, 64, 65, 1000, 2048, 2049, 5000])  # 2048: 32 blocks
def test_streaming_output_matches_sosfilt_with_steady_start(chunk):
    rng = np.random.default_rng(0)
    fs = 360.0
    x = 1.5 + np.cumsum(rng.normal(0, 0.05, (4000, 2)), axis=0)  # an offset, wander, two leads
    sos = butter_sos(2, (0.5, 40.0), "bandpass", fs)
    zi = sps.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    ref, _ = sps.sosfilt(sos, x, axis=0, zi=zi)
    f = SosFilter(sos, 2)
    got = np.vstack([f(x[a : a + chunk]) for a in range(0, len(x), chunk)])
    assert np.allclose(got, ref, atol=1e-9)


def test_fir_and_running_max_match_scipy():
    from scipy.ndimage import maximum_filter1d

    rng = np.random.default_rng(1)
    x = rng.normal(size=1000)
    b = np.array([2.0, 1.0, 0.0, -1.0, -2.0])
    f = FirFilter(b)
    got = np.concatenate([f(x[a : a + 37]) for a in range(0, len(x), 37)])
    assert np.allclose(got, sps.lfilter(b, [1.0], x))
    assert np.array_equal(running_max(x, 11), maximum_filter1d(x, 11, mode="nearest"))


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e6, 1e6)),
    st.integers(0, 120),
)
def test_running_max_equals_scipys_maximum_filter_for_every_odd_size(x, half):
    from scipy.ndimage import maximum_filter1d

    size = 2 * half + 1
    np.testing.assert_array_equal(running_max(x, size), maximum_filter1d(x, size, mode="nearest"))


def test_a_nan_spoils_no_block_before_its_own():
    """The block-state products would spread 0 * NaN back over the whole chunk: a chunk holding
    a NaN runs block by block, so what came before the NaN's 64-sample block stays scipy's."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5000, 1))
    x[3000] = np.nan
    sos = butter_sos(2, (0.5, 40.0), "bandpass", 360.0)
    f = SosFilter(sos, 1)
    f.state = np.zeros((f.system.d, 1))
    got, ref = f(x), sps.sosfilt(sos, x, axis=0)
    clean = 3000 // 64 * 64
    assert np.allclose(got[:clean], ref[:clean], atol=1e-9)


@pytest.mark.parametrize("chunk", [1, 45, 64, 360, 2049, 5000])
def test_a_bank_gives_each_filters_own_output(chunk):
    """The quality gate's bands run as one system: each output is scipy's for its own filter
    (steady start on the first sample), whatever the chunks, a notched 4th-order band-pass among
    them (five sections in one cascade)."""
    from edge_monitor.iir import SosBank

    fs = 360.0
    x = 0.8 + np.cumsum(np.random.default_rng(4).normal(0, 0.05, 6000))
    filters = [
        butter_sos(2, 40.0, "highpass", fs),
        np.vstack([butter_sos(4, (0.5, 40.0), "bandpass", fs), notch_sos(50.0, 30.0, fs)]),
        butter_sos(2, (8.0, 20.0), "bandpass", fs),
    ]
    bank = SosBank(filters)
    got = np.hstack([bank(x[a : a + chunk]) for a in range(0, len(x), chunk)])
    assert got.shape == (3, len(x))
    for out, sos in zip(got, filters, strict=True):
        ref, _ = sps.sosfilt(sos, x, zi=sps.sosfilt_zi(sos) * x[0])
        assert np.allclose(out, ref, atol=1e-9)


@pytest.mark.parametrize(
    ("order", "band", "fs"),
    [(8, (0.05, 1.0), 500.0), (6, (0.05, 0.5), 1000.0), (4, (0.05, 0.2), 1000.0)],
)
def test_a_narrow_low_band_of_high_order_starts_in_its_steady_state(order, band, fs):
    """The start-up state is solved section by section: one solve of the whole cascade is
    near-singular here and started an 8th-order 0.05-1 Hz band-pass 1,053 mV off (a review)."""
    sos = butter_sos(order, band, "bandpass", fs)
    x = 300.0 + np.random.default_rng(5).normal(0, 1, (int(20 * fs), 1))
    f = SosFilter(sos, 1)
    got = np.vstack([f(x[a : a + int(fs)]) for a in range(0, len(x), int(fs))])[:, 0]
    ref = sps.sosfilt(sos, x[:, 0], zi=sps.sosfilt_zi(sos) * x[0, 0])[0]
    assert np.abs(got - ref).max() < 1e-4


@pytest.mark.parametrize(
    ("cutoff", "btype"),
    [
        ((15.0, 13.5), "bandpass"),
        ((5.0, 5.0), "bandpass"),
        (15.0, "highpass"),
        (0.0, "lowpass"),
        ((-1.0, 10.0), "bandpass"),
    ],  # fmt: skip
)
def test_a_cut_off_the_rate_cannot_hold_is_refused(cutoff, btype):
    """At 30 Hz a 15-40 Hz band clipped to 0.45 x the rate is inverted: an unstable filter."""
    with pytest.raises(ValueError, match="no .* filter"):
        butter_sos(2, cutoff, btype, 30.0)


def test_a_notch_wider_than_the_rate_is_refused():
    """f0 / q >= fs / 2 puts the notch's poles outside the unit circle (a review: a stranger's
    bundle with a 50 Hz notch of q 0.5 on a 150 Hz record ended in a traceback)."""
    with pytest.raises(ValueError, match="no notch"):
        notch_sos(50.0, 0.5, 150.0)
    assert np.abs(np.roots(notch_sos(50.0, 0.5, 250.0)[0, 3:])).max() < 1.0
