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
# organised QRS under an oscillation (tremor, shivering: a VF mimic): the envelope of the lead's
# sharp content (15-40 Hz, where QRS complexes have energy and a 3-8 Hz tremor has little)
# repeats at a heart rate of 40-150 per minute and not at any shorter lag. All set a priori
# from physiology before any result was seen (docs/ventricular.md, "Tremor")
SHARP_BAND_HZ = (15.0, 40.0)
QRS_PERIOD_S = (0.4, 1.5)  # 150 ... 40 beats per minute
QRS_MIN_LAG_S = 0.15  # a QRS (and its smoothed envelope) is over by then
QRS_MIN_R = 0.5  # the envelope's autocorrelation at the beat period: regular, alike complexes
QRS_BETWEEN = 0.5  # ...and nowhere between 0.15 s and 0.6 periods above this share of it
QRS_OSC_RATIO = 2.0  # the oscillation is at least twice the QRS rate: not the QRS themselves


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


def qrs_period(sharp: np.ndarray, fs: float) -> float:
    """The period (s) at which the sharp content of a stretch (band-passed to SHARP_BAND_HZ)
    repeats as organised QRS complexes do, else 0. VF and flutter have no separate complexes:
    their sharp content follows every wave of the oscillation, so it also repeats at lags
    shorter than a heart period (or not at all); a tremor adds little above 15 Hz. The envelope
    (squared, 0.1 s means, 100 per second) is correlated with itself, unbiased per lag."""
    x = np.asarray(sharp, dtype=np.float64)
    step = max(1, int(round(fs / 100.0)))
    n = len(x) // step
    if len(x) < 2 * QRS_PERIOD_S[1] * fs:  # two of the longest periods at least
        return 0.0
    env = (x[: n * step] ** 2).reshape(n, step).mean(axis=1)
    env = np.convolve(env, np.ones(10) / 10.0, mode="same")
    env = env - env.mean()
    power = float(env @ env) / n
    if power <= 1e-12:
        return 0.0
    rate = fs / step
    lags = np.arange(int(QRS_MIN_LAG_S * rate), int(QRS_PERIOD_S[1] * rate) + 1)
    r = np.array([float(env[k:] @ env[:-k]) / (n - k) for k in lags]) / power
    beat = lags >= int(QRS_PERIOD_S[0] * rate)
    top = float(np.max(r[beat]))
    # the shortest lag that repeats about as well as the best: a rhythm repeats at twice its
    # period too, and that multiple must not hide the period itself
    peak = np.r_[False, (r[1:-1] >= r[:-2]) & (r[1:-1] >= r[2:]), True]
    near = np.flatnonzero(beat & peak & (r >= 0.8 * top))
    best = int(near[0]) if near.size else int(np.argmax(np.where(beat, r, -np.inf)))
    between = (lags < 0.6 * lags[best]) & (lags >= int(QRS_MIN_LAG_S * rate))
    if r[best] < QRS_MIN_R or (between.any() and r[between].max() >= QRS_BETWEEN * r[best]):
        return 0.0
    return float(lags[best] / rate)


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
