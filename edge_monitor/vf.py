"""Measures of a band-passed ECG stretch shared by the quality gate and the VF alarm: Kuo &
Dillman's VF filter (leakage and the frequency it notches) and the mains line's amplitude.

References: S. Kuo, R. Dillman, "Computer detection of ventricular fibrillation", Computers in
Cardiology 1978, 347-349 (the VF filter); Amann, Tratnig & Unterkofler, "Reliability of old and
new ventricular fibrillation detection algorithms for automated external defibrillators",
BioMedical Engineering OnLine 4:60 (2005) (its evaluation beside other detectors).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# VF-like, for the VF alarm (alerts.py) and the gate's VF exemption alike: Kuo & Dillman's
# filter leaks less than this, on a signal with more amplitude than asystole's baseline
VF_LEAKAGE = 0.625
VF_MIN_PTP_MV = 0.2
# ...and oscillates at a VF / flutter rate, 130-600 per minute (the filter's own frequency, fs over
# its notch's period): 98% of the VF-like 4 s windows in Creighton (cudb) VF episodes and every one
# of MIT-BIH 207's flutter lie in it (2.5 Hz kept 97% and delayed cu15's slow VF by 16 s), while
# mains (50/60 Hz) and slow waves (a 2 Hz sine, 120 per minute) do not
VF_MIN_HZ = 2.2
VF_MAX_HZ = 10.0
MAINS_HZ = (50.0, 60.0)
# organised QRS under an oscillation (tremor, shivering: a VF mimic): sharp complexes (15-40 Hz,
# where QRS complexes have energy and a 3-8 Hz tremor has little) that stand out of the lead's
# sharp content, look alike and come 0.3-2.5 s apart, whatever their rhythm (AF, ectopy, pauses).
# The band, the intervals, the 0.15 s complex and the 2x rate were set a priori; the floor, the
# between-complex bar and the likeness after a look at tremor mixes and at VF (docs/ventricular.md)
SHARP_BAND_HZ = (15.0, 40.0)
QRS_RR_S = (0.3, 2.5)  # 200 ... 24 beats per minute between neighbouring complexes
QRS_HALF_S = 0.15  # a complex (its smoothed envelope) is over this long after its peak
QRS_MIN_HEIGHT = 0.2  # complexes: envelope peaks at least this share of the stretch's highest
QRS_FLOOR = 0.1  # the envelope's median at most this share of the complexes' median height
QRS_BETWEEN = 0.5  # ...and nothing between two complexes above this share of the lower one
QRS_ALIKE = 0.6  # the complexes' median correlation with their median shape (+-20 ms)
QRS_DUE = 1.5  # the last complex at most this many median intervals before the stretch's end
QRS_OSC_RATIO = 2.0  # the oscillation at least twice as fast as the closest two complexes


def vf_frequency(x: np.ndarray, fs: float) -> float:
    """The frequency (Hz) Kuo & Dillman's filter notches: fs over twice its half period, which
    is pi * sum|x| / sum|dx| samples (exact for a sine). 0 for a flat input."""
    half = _half_period(x)
    return fs / (2.0 * half) if half >= 1 else 0.0


def vf_like(
    x: np.ndarray,
    fs: float,
    leakage: float = VF_LEAKAGE,
    band: tuple[float, float] = (VF_MIN_HZ, VF_MAX_HZ),
) -> bool:
    """A band-passed window like VF or flutter: little leakage through the VF filter, at a rate
    in `band` (Hz). Mains hum leaks little too, but at 50/60 Hz; a slow sine at its slow rate."""
    return vf_leakage(x) < leakage and band[0] <= vf_frequency(x, fs) <= band[1]


def mains_amplitude(raw: np.ndarray, fs: float, lines: tuple[float, ...] = MAINS_HZ) -> float:
    """Amplitude (mV) of the strongest 50 or 60 Hz line (+-1 Hz) in a stretch of the raw lead,
    by a Hann-windowed DFT; lines above 0.45 fs are not looked for."""
    x = np.asarray(raw, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) < int(0.5 * fs):
        return 0.0
    # a drifting baseline leaks nothing: the least-squares line, in closed form (once a second
    # for every segment, np.polyfit's general solver cost a tenth of the whole pipeline)
    t, tt, w, wsum, near = _mains_plan(len(x), float(fs), tuple(lines))
    x = x - x.mean() - t * (float(t @ x) / tt)
    spectrum = np.abs(np.fft.rfft(x * w)) * 2.0 / wsum
    return float(spectrum[near].max()) if near.any() else 0.0


@lru_cache(maxsize=16)
def _mains_plan(n: int, fs: float, lines: tuple[float, ...]):
    """What mains_amplitude needs for a stretch of `n` samples, made once per length (it is
    asked once a second with the same length: the Hann window and the bins near the lines)."""
    t = np.arange(n) - (n - 1) / 2.0
    w = np.hanning(n)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    near = np.zeros(len(f), bool)
    for line in lines:
        if line + 1.0 < 0.45 * fs:
            near |= np.abs(f - line) <= 1.0
    for a in (t, w, near):
        a.flags.writeable = False
    return t, float(t @ t), w, float(w.sum()), near


def qrs_complexes(sharp: np.ndarray, fs: float) -> np.ndarray:
    """Where organised QRS complexes lie in a stretch of the lead's sharp content (band-passed
    to SHARP_BAND_HZ): their envelope peaks (sample indices), or none. Under a tremor the
    complexes still stand out (it adds little above 15 Hz) and look alike; VF's and flutter's
    sharp content follows every wave of the oscillation, so it stands out nowhere or rises
    again between any two picked waves. Irregular intervals are fine (atrial fibrillation,
    ectopy, pauses)."""
    none = np.zeros(0, dtype=np.int64)
    x = np.asarray(sharp, dtype=np.float64)
    k = max(1, int(round(0.05 * fs)))
    env = np.convolve(x * x, np.ones(k) / k, mode="same")
    top = float(env.max()) if env.size else 0.0
    if top <= 1e-12:
        return none
    peaks = _tallest_apart(env, QRS_MIN_HEIGHT * top, int(QRS_RR_S[0] * fs))
    longest = int(QRS_RR_S[1] * fs)  # ...also from the stretch's start
    if len(peaks) < 2 or np.diff(np.r_[0, peaks]).max() > longest:
        return none
    # ...and they are still coming: the next one is due within QRS_DUE of their median
    # interval (a rhythm that gave way to VT or VF stops here within about a beat)
    if len(env) - 1 - peaks[-1] > QRS_DUE * float(np.median(np.diff(peaks))):
        return none
    heights = env[peaks]
    if float(np.median(env)) > QRS_FLOOR * float(np.median(heights)):
        return none
    gap = int(QRS_HALF_S * fs)
    for a, b in zip(peaks[:-1], peaks[1:], strict=True):
        inner = env[a + gap : b - gap]
        if inner.size and inner.max() > QRS_BETWEEN * min(env[a], env[b]):
            return none
    return peaks if _alike(x, peaks, fs) >= QRS_ALIKE else none


def qrs_interval(sharp: np.ndarray, fs: float) -> float:
    """The shortest interval (s) between the organised QRS complexes of qrs_complexes, else 0:
    the oscillation must be faster than any two of them (at a VT run's onset the complexes
    close up to the oscillation's own period: they are the oscillation)."""
    peaks = qrs_complexes(sharp, fs)
    return float(np.diff(peaks).min()) / fs if len(peaks) >= 2 else 0.0


def _tallest_apart(env: np.ndarray, height: float, distance: int) -> np.ndarray:
    """Local maxima of at least `height`, tallest first, each at least `distance` samples from
    a taller one kept (scipy.signal.find_peaks' rule; scipy is not loaded on the device)."""
    i = np.flatnonzero((env[1:-1] >= env[:-2]) & (env[1:-1] > env[2:]) & (env[1:-1] >= height))
    i = i + 1
    kept: list[int] = []
    for j in i[np.argsort(-env[i], kind="stable")].tolist():
        if all(abs(j - k) >= distance for k in kept):
            kept.append(j)
    return np.asarray(sorted(kept), dtype=np.int64)


def _alike(x: np.ndarray, peaks: np.ndarray, fs: float) -> float:
    """Median over complexes of the best correlation (shifts up to 20 ms) of each one's sharp
    waveform (+-60 ms) with their sample-wise median shape."""
    half, shift = int(round(0.06 * fs)), max(1, int(round(0.02 * fs)))
    keep = peaks[(peaks - half - shift >= 0) & (peaks + half + shift < len(x))]
    if len(keep) < 2:
        return 0.0
    idx = keep[:, None] + np.arange(-half - shift, half + shift + 1)[None, :]
    views = sliding_window_view(x[idx], 2 * half + 1, axis=1)  # complex x shift x sample
    views = views - views.mean(axis=2, keepdims=True)
    views = views / np.maximum(np.linalg.norm(views, axis=2, keepdims=True), 1e-12)
    shape = np.median(views[:, shift, :], axis=0)
    shape = shape - shape.mean()
    norm = float(np.linalg.norm(shape))
    if norm <= 1e-12:
        return 0.0
    return float(np.median((views @ (shape / norm)).max(axis=1)))


def vf_leakage(x: np.ndarray) -> float:
    """Kuo & Dillman's VF filter: a near-sinusoid passes a notch at its own mean period with
    little leakage; organised QRS complexes (sharp, broadband) leak a lot. 1.0 for a flat input."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    half = _half_period(x)
    if half < 1:
        return 1.0
    a, b = x[half:], x[:-half]
    den = (np.abs(a) + np.abs(b)).sum()
    return float(np.abs(a + b).sum() / den) if den > 0 else 1.0


def _half_period(x: np.ndarray) -> int:
    """Kuo & Dillman's half mean period (samples) of a window; 0 when flat or longer than it."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    diff = np.abs(np.diff(x)).sum()
    if diff <= 1e-12:
        return 0
    half = int(np.floor(np.pi * np.abs(x).sum() / diff + 0.5))
    return half if 1 <= half < len(x) else 0
