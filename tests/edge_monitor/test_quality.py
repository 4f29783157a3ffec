"""Signal quality: each failure mode is named, a real ECG is good, VT is not called noise."""

import numpy as np
import pytest
import wfdb

from edge_monitor.dsp import FilterSpec, filter_record
from edge_monitor.quality import FLAT, GOOD, LEADS_OFF, NOISY, SATURATED, QualityTracker

FS = 360.0


def states(raw, leads_off=None, rails=None):
    filtered = filter_record(raw[:, None], FS, FilterSpec())[:, 0]
    tracker = QualityTracker(FS, rails=rails)
    return [s.state for s in tracker.push(raw, filtered, leads_off)]


@pytest.fixture(scope="module")
def sample_ecg(sample_record):
    return wfdb.rdrecord(str(sample_record)).p_signal[:, 0]


def test_a_real_ecg_is_good(sample_ecg):
    got = states(sample_ecg[: int(60 * FS)])
    assert got.count(GOOD) >= 58


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


def test_ventricular_tachycardia_is_not_called_noise(mitdb_dir):
    # record 207: ventricular flutter 0:41-0:51 (sinusoidal, low kurtosis, little HF energy)
    rec = wfdb.rdrecord(
        str(mitdb_dir / "207"), channels=[0], sampfrom=int(38 * FS), sampto=int(52 * FS)
    )
    got = states(rec.p_signal[:, 0])
    assert NOISY not in got[3:], got
