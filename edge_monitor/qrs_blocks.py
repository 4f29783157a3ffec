"""The quality gate's second, independent QRS detector: Elgendi's two-moving-average blocks.

Whole-buffer, not streaming (the gate reruns it on its last seconds), and sharing nothing with
`edge_monitor.qrs.QRSDetector`, so that the two agree on clean ECG and disagree on artefact.
"""

from __future__ import annotations

import numpy as np


def block_peaks(band: np.ndarray, fs: float, beta: float = 0.08) -> np.ndarray:
    """A second, independent opinion on where the QRS complexes of a few seconds are: Elgendi's
    two-moving-average blocks (Elgendi 2013, PLoS ONE 8(9) e73557) on a 8-20 Hz band-passed
    signal. It shares no thresholds or memory with QRSDetector, so the two agree on clean ECG
    and disagree on artefact: the agreement is the beat-matching SQI of quality.py (Li, Clifford &
    Mark 2008). Whole-buffer, not streaming: the quality gate reruns it on its last seconds
    (every second and for every beat, so both averages share one cumulative sum and only the
    blocks, a few per second, are visited in Python)."""
    band = np.asarray(band, dtype=np.float64)
    n = len(band)
    if n < int(fs):
        return np.zeros(0, dtype=np.int64)
    energy = band * band
    cum = np.empty(n + 1)
    cum[0] = 0.0
    np.cumsum(energy, out=cum[1:])
    w_qrs, w_beat = max(1, int(round(0.097 * fs))), max(1, int(round(0.611 * fs)))
    ma_qrs, ma_beat = _centred_mean(cum, w_qrs), _centred_mean(cum, w_beat)
    inside = ma_qrs > ma_beat + beta * (float(energy.sum()) / n)  # np.mean's sum and count
    edges = (np.flatnonzero(inside[1:] != inside[:-1]) + 1).tolist()  # block starts and ends
    edges = [0] * bool(inside[0]) + edges + [n] * bool(inside[-1])
    magnitude = np.abs(band)
    peaks = []
    last = -n
    refractory = int(round(0.25 * fs))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a < w_qrs:
            continue
        p = a + int(magnitude[a:b].argmax())
        if p - last >= refractory:
            peaks.append(p)
            last = p
    return np.asarray(peaks, dtype=np.int64)


def _centred_mean(cum: np.ndarray, w: int) -> np.ndarray:
    """Mean over [i - w // 2, i - w // 2 + w), clipped to the buffer, of the signal whose
    cumulative sum (with a leading 0) is `cum`: one slice in the middle, the clipped ends apart."""
    n = len(cum) - 1
    h = w // 2
    if n < w:
        i = np.arange(n)
        lo, hi = np.maximum(i - h, 0), np.minimum(i - h + w, n)
        return (cum[hi] - cum[lo]) / np.maximum(hi - lo, 1)
    out = np.empty(n)
    out[h : n - w + h + 1] = (cum[w:] - cum[: n - w + 1]) / w
    head = np.arange(w - h, w)  # the window's end for i < h (its start clipped to 0)
    out[:h] = cum[head] / head
    tail = np.arange(n - w + 1, n - h)  # the window's start for the last w - h - 1 (end at n)
    out[n - w + h + 1 :] = (cum[n] - cum[tail]) / (n - tail)
    return out
