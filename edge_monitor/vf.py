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
