import numpy as np
import pytest
import wfdb

from edge_monitor.qrs import QRSDetector, detect_r_peaks
from trainer.datasets.mitdb import SYMBOL_TO_CLASS


def match(ref: np.ndarray, det: np.ndarray, tol: int) -> int:
    """Reference beats with a detection within `tol` samples (each detection used once)."""
    used, hits = set(), 0
    for r in ref:
        near = [i for i in np.flatnonzero(np.abs(det - r) <= tol) if i not in used]
        if near:
            used.add(min(near, key=lambda i: abs(det[i] - r)))
            hits += 1
    return hits


@pytest.mark.parametrize("name", ["100", "119", "208", "232"])
def test_detector_finds_the_annotated_beats_of_real_records(mitdb_dir, name):
    rec = wfdb.rdrecord(str(mitdb_dir / name), channels=[0], sampto=360 * 300)
    ann = wfdb.rdann(str(mitdb_dir / name), "atr", sampto=360 * 300)
    ref = np.array([s for s, y in zip(ann.sample, ann.symbol, strict=True) if y in SYMBOL_TO_CLASS])
    det = detect_r_peaks(rec.p_signal[:, 0], rec.fs)
    hits = match(ref, det, tol=int(0.15 * rec.fs))
    assert hits / len(ref) >= 0.97  # sensitivity
    assert hits / len(det) >= 0.97  # positive predictivity


def test_detection_does_not_depend_on_chunk_size(mitdb_dir):
    x = wfdb.rdrecord(str(mitdb_dir / "203"), channels=[0], sampto=360 * 60).p_signal[:, 0]
    a = detect_r_peaks(x, 360.0, chunk=1)
    b = detect_r_peaks(x, 360.0, chunk=333)
    c = detect_r_peaks(x, 360.0, chunk=len(x))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_flat_line_has_no_beats():
    assert len(detect_r_peaks(np.zeros(360 * 20), 360.0)) == 0


def test_streamed_peaks_are_increasing_and_absolute(mitdb_dir):
    x = wfdb.rdrecord(str(mitdb_dir / "100"), channels=[0], sampto=360 * 30).p_signal[:, 0]
    det = QRSDetector(360.0)
    peaks = []
    for start in range(0, len(x), 100):
        peaks += det(x[start : start + 100])
    assert peaks == sorted(peaks) and len(set(peaks)) == len(peaks)
    assert 30 <= len(peaks) <= 45  # record 100 runs at about 75 bpm


def test_detector_recovers_after_a_flat_start_and_a_dropout(mitdb_dir):
    """Leads off at power-up, then the signal, then 5 s of nothing, then the signal again."""
    x = wfdb.rdrecord(str(mitdb_dir / "100"), channels=[0], sampto=360 * 40).p_signal[:, 0]
    flat = np.zeros(360 * 5)
    stream = np.concatenate([flat, x[: 360 * 20], flat, x[360 * 20 :]])
    det = detect_r_peaks(stream, 360.0)
    first_half = det[(det > 360 * 7) & (det < 360 * 25)]
    second_half = det[det > 360 * 32]
    assert len(first_half) >= 20  # about 75 bpm over 18 s
    assert len(second_half) >= 15
    assert not np.any((det > 360 * 25.5) & (det < 360 * 30))  # nothing invented in the gap


def test_the_detector_configuration_is_named_and_validated():
    from edge_monitor.qrs import QRSConfig

    for bad in ({"band_hz": (15.0, 5.0)}, {"refractory_s": 0.0}, {"learning_rate": 2.0}):
        with pytest.raises(ValueError):
            QRSConfig(**bad)
    assert QRSDetector(360.0, QRSConfig(min_qrs_mv=0.05)).min_qrs_mv == 0.05
