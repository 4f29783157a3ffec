"""Signal quality: each failure mode is named, a real ECG is good, VT is not called noise."""

import numpy as np
import pytest
import wfdb

from edge_monitor.dsp import FilterSpec, filter_record
from edge_monitor.qrs import detect_r_peaks
from edge_monitor.quality import (
    FLAT,
    GOOD,
    LEADS_OFF,
    NOISY,
    SATURATED,
    QualityTracker,
    detector_agreement,
)

FS = 360.0


def states(raw, leads_off=None, rails=None):
    filtered = filter_record(raw[:, None], FS, FilterSpec())[:, 0]
    tracker = QualityTracker(FS, rails=rails)
    peaks = list(detect_r_peaks(raw, FS))
    return [s.state for s in tracker.push(raw, filtered, leads_off, peaks)]


@pytest.fixture(scope="module")
def sample_ecg(sample_record):
    return wfdb.rdrecord(str(sample_record)).p_signal[:, 0]


def test_a_real_ecg_is_good(sample_ecg):
    got = states(sample_ecg[: int(60 * FS)])
    assert got.count(GOOD) >= 58
    assert got[:3] == [GOOD] * 3  # judged from its first second, and found good there too


def test_flat_line_leads_off_and_rail(sample_ecg):
    n = int(5 * FS)
    assert set(states(np.full(n, 0.3))[1:]) == {FLAT}
    off = np.ones(n, bool)
    assert set(states(sample_ecg[:n], leads_off=off)) == {LEADS_OFF}
    railed = sample_ecg[:n].copy()
    railed[::3] = 2.5  # a third of the samples stuck at the top rail
    assert SATURATED in states(railed, rails=(-2.5, 2.5))


def test_broadband_noise_is_noisy():
    rng = np.random.default_rng(0)
    assert set(states(rng.normal(0, 0.5, int(6 * FS)))[3:]) == {NOISY}


@pytest.mark.parametrize("mv", [0.3, 0.5, 2.0])
def test_noise_from_a_streams_first_second_is_never_graded_good(mv):
    """The gate once waited for its full 3 s context before judging broadband noise, so the first
    two seconds of any stream were good unseen: pure noise then got a diagnosis from its first
    2.5 s window. Every second is judged now, the first included."""
    rng = np.random.default_rng(1)
    got = states(rng.normal(0, mv, int(6 * FS)))
    assert got == [NOISY] * 6, got


def test_ventricular_tachycardia_is_not_called_noise(mitdb_dir):
    # record 207: ventricular flutter 0:41-0:51 (sinusoidal, low kurtosis, little HF energy)
    rec = wfdb.rdrecord(
        str(mitdb_dir / "207"), channels=[0], sampfrom=int(38 * FS), sampto=int(52 * FS)
    )
    got = states(rec.p_signal[:, 0])
    assert NOISY not in got[3:], got


def test_electrode_motion_is_noisy_by_detector_disagreement(sample_ecg, mitdb_dir, nstdb_dir):
    """Real electrode-motion noise (in-band and peaky: kurtosis and HF energy let it pass) added
    at 0 dB for a minute: the two QRS detectors disagree and the minute is called noisy for
    that reason; before it, and once the agreement window has cleared, the same ECG is good."""
    from trainer.datasets import nstdb

    ecg = sample_ecg[: int(170 * FS)]
    em = nstdb.recover_em(nstdb_dir, mitdb_dir).signal
    a, b = int(60 * FS), int(120 * FS)
    noise = np.full(len(ecg), np.nan)
    noise[a:b] = em[int(540 * FS) : int(540 * FS) + b - a]  # the 9-10 min stretch of nstdb's em
    s = nstdb.qrs_amplitude(ecg, detect_r_peaks(ecg, FS), FS)
    g = nstdb.gain_for_snr(0.0, s, nstdb.noise_amplitude(noise, FS, [(a, b)]))
    x = nstdb.add_noise(ecg, noise, g, [(a, b)])
    filtered = filter_record(x[:, None], FS, FilterSpec())[:, 0]
    segs = QualityTracker(FS).push(x, filtered, None, list(detect_r_peaks(x, FS)))
    assert all(seg.state == GOOD and seg.agreement > 0.9 for seg in segs[15:60])
    disagreeing = [seg for seg in segs[60:135] if seg.state == NOISY and seg.agreement < 0.8]
    assert len(disagreeing) >= 15
    assert all(seg.state == GOOD for seg in segs[140:])


def test_second_detector_confirms_real_beats_only(sample_ecg):
    x = sample_ecg[: int(40 * FS)]
    peaks = detect_r_peaks(x, FS)
    tracker = QualityTracker(FS)
    tracker.push(x, filter_record(x[:, None], FS, FilterSpec())[:, 0], None, list(peaks))
    late = [p for p in peaks if 30 * FS < p < 39 * FS]  # it keeps the last seconds
    assert all(tracker.confirms(int(p)) for p in late)
    midway = [(p + q) // 2 for p, q in zip(late[:-1], late[1:], strict=True)]  # no QRS there
    assert not any(tracker.confirms(m) for m in midway)
    assert tracker.alarm_agreement(int(late[-1])) > 0.9


def test_detector_agreement_pairs_beats_one_to_one():
    assert detector_agreement(np.array([100, 500]), np.array([110, 490]), 54) == 1.0
    # a double detection of one beat is one match and one extra, not two matches
    assert detector_agreement(np.array([100, 160]), np.array([130]), 54) == 0.5
    assert detector_agreement(np.array([100]), np.array([300]), 54) == 0.0
    assert detector_agreement(np.array([]), np.array([]), 54) == 1.0
    assert detector_agreement(np.array([100]), np.array([]), 54) == 0.0
