"""Signal quality per one-second segment: is this lead fit to raise an arrhythmia alarm on?

A monitor that alarms on a loose electrode is worse than none, so every segment of the analysed
lead gets a state before any beat in it may drive an alert: `leads_off` (the front end flagged it,
`!` on the wire), `flat` (no amplitude: a dead lead or a disconnected cable reads as a constant),
`saturated` (the amplifier sits at an ADC rail), `noisy` (motion or muscle artefact), else `good`.
Noise needs two signs at once: a low kurtosis of the band-passed signal (an ECG is peaky, kurtosis
well above 5; broadband artefact is near-Gaussian, near 3: Li & Clifford's kSQI) and much energy
above the ECG band (muscle noise). Kurtosis alone would call a ventricular tachycardia noise (wide,
sinus-like complexes have a low kurtosis) and silence the alarm that matters most; VT has little
energy above 40 Hz. An amplitude ceiling no body-surface ECG reaches catches motion artefact.
Electrode motion is in-band and peaky, so it passes both: the third sign is disagreement between
two unrelated QRS detectors over the last seconds (Li, Clifford & Mark's bSQI): the monitor's own
Pan-Tompkins detector and Elgendi's block detector (qrs.block_peaks). A VT or a bradycardia is
seen alike by both; artefact is not. Ventricular flutter and fibrillation confuse both detectors
as well: a VF-like stretch (Kuo & Dillman's filter at a VF rate, as the VF alarm uses) is never
called noise for disagreeing.
Three things that are no ECG at all pass those signs, so each has its own: mains hum (a 50 or 60 Hz
line; peaky ECG under it keeps the kurtosis high), low-level white noise (too small to hide a QRS
by amplitude, yet with a noise floor above 40 Hz that no real lead at rest shows) and a smooth
periodic wave slower than VF (a sine's kurtosis is 1.5, a triangle's 1.8: no QRS in it).
Thresholds live in QualitySpec; benchmarks/noise_stress.py measures them (tuned on DS1 records).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from edge_monitor import vf
from edge_monitor.dsp import StreamFilter
from edge_monitor.iir import butter_sos
from edge_monitor.qrs import block_peaks
from edge_monitor.vf import mains_amplitude, vf_frequency, vf_like

GOOD, LEADS_OFF, FLAT, SATURATED, NOISY = "good", "leads_off", "flat", "saturated", "noisy"
# not a segment verdict: the front end sent nothing (a stalled or unplugged link, or rows filled
# for samples lost on the way); the monitor and the alert engine treat it as any bad state
NO_SIGNAL = "no_signal"
# values outside the front end's ADC range arrive (a wrong baud rate, a board's debug prints)
BAD_VALUES = "bad_values"
# bytes arrive but no valid sample decodes from them (a wrong baud rate, another protocol)
UNREADABLE = "unreadable"
# the beat or window model returned NaN / inf / out-of-range probabilities: no label is trusted
MODEL_INVALID = "model_invalid"
MESSAGES = {
    GOOD: "signal good",
    LEADS_OFF: "leads off: check the electrodes",
    FLAT: "flat line: check the electrodes and the cable",
    SATURATED: "signal at the ADC rail: check the electrodes (amplifier saturated)",
    NOISY: "too noisy to analyse: keep still, check electrode contact",
    NO_SIGNAL: "no signal from the front end: check the cable and the board",
    BAD_VALUES: "values outside the ADC's range: check the baud rate and the board's output",
    UNREADABLE: "data arrives but is unreadable: check the baud rate",
    MODEL_INVALID: "model output invalid: rhythm not assessed",
}


@dataclass(frozen=True)
class QualitySpec:
    segment_s: float = 1.0
    context_s: float = 3.0  # noise statistics over the last seconds (a segment may hold no beat)
    leads_off_share: float = 0.2  # flagged samples in a segment
    flat_ptp_mv: float = 0.05  # band-passed peak-to-peak below this: no ECG
    rail_share: float = 0.05  # samples at (within 1% of the span of) an ADC rail
    stuck_share: float = 0.3  # without known rails: share of samples equal to the extreme value
    max_ptp_mv: float = 10.0  # band-passed peak-to-peak above this: artefact
    min_kurtosis: float = 4.0  # below: near-Gaussian noise dominates...
    noise_min_ptp_mv: float = 0.3  # ...if it is big enough to hide a QRS (a pause is not noise)
    hf_ratio: float = 0.35  # ...if also RMS above 40 Hz / RMS of the 0.5-40 Hz band exceeds this
    hf_cut_hz: float = 40.0
    agreement_s: float = 10.0  # detector agreement over this many seconds...
    agreement_lag_s: float = 1.5  # ...ending this long ago (the detector decides late)
    min_agreement: float = 0.8  # matched / (matched + unmatched of either) below this: noisy
    agreement_tol_s: float = 0.15
    min_alarm_agreement: float = 0.9  # a VT alarm asks more of the beats before it...
    alarm_agreement_s: float = 8.0  # ...over this many seconds
    vf_leakage: float = vf.VF_LEAKAGE  # VF-like: the detectors may disagree there
    vf_min_hz: float = vf.VF_MIN_HZ
    vf_max_hz: float = vf.VF_MAX_HZ
    # a 50/60 Hz line above this amplitude (mV) is mains hum: no MIT-BIH or cudb record reaches
    # 0.09 mV in any 3 s of its first lead; the hum that fooled the VF rule (issue 12) had 0.35
    mains_max_mv: float = 0.15
    # near-Gaussian with an RMS above 40 Hz over this (mV): noise, however small in the band
    # (0.05 mV of white noise reads 0.044; of 95,000 3 s windows of mitdb and cudb, 2 that are
    # near-Gaussian and under 0.3 mV read more)
    hf_floor_mv: float = 0.02
    # kurtosis under this at a rate below VF, with amplitude to hide a QRS: a smooth wave, no ECG
    # (a sine 1.5, a triangle 1.8; of 3 s windows at < 2.2 Hz with 0.3 mV, none of 28,800 in
    # MIT-BIH and 4 of 2,900 in cudb read under 2.0)
    smooth_kurtosis: float = 2.0
    # rails unknown (a file): flagged samples amid an unflagged signal this large (mV) on a rail
    # (clip_rail_samples at its max or min) are a clipping amplifier, not a lead off: format 212
    # writes the lowest code as "invalid" (cudb's clipped VF; set on cudb, docs/ventricular.md)
    clip_min_ptp_mv: float = 5.0
    clip_rail_samples: int = 3
    # ...or a flagged run entered or left from this outer share of its span (off the scale)
    clip_edge_share: float = 0.02

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SegmentQuality:
    start: int  # first sample (source numbering)
    end: int  # one past the last
    state: str
    kurtosis: float
    ptp_mv: float
    agreement: float = 1.0

    @property
    def ok(self) -> bool:
        return self.state == GOOD


def kurtosis(x: np.ndarray) -> float:
    """Pearson kurtosis (3 for a Gaussian); 0 for a constant."""
    x = np.asarray(x, dtype=np.float64)
    d = x - _mean(x)
    d2 = d * d  # the fourth power as a square of squares: pow() cost a twentieth of the gate
    var = _mean(d2)
    return _mean(d2 * d2) / (var * var) if var > 1e-12 else 0.0


def _mean(x: np.ndarray) -> float:
    """np.mean of a float64 vector, to the bit (the same pairwise sum over the same count),
    without its dispatch: the gate takes a dozen means a second."""
    return float(x.sum()) / len(x) if len(x) else float("nan")


def assess_segment(
    raw: np.ndarray,
    filtered_context: np.ndarray,
    leads_off: np.ndarray | None,
    spec: QualitySpec,
    rails: tuple[float, float] | None = None,
    hf_context: np.ndarray | None = None,
    agreement: float = 1.0,
    *,
    fs: float,
    raw_context: np.ndarray | None = None,
    vf_hint: bool = False,
    off_context: np.ndarray | None = None,
) -> tuple[str, float, float]:
    """State, kurtosis and band-passed peak-to-peak of one segment (one lead at `fs` Hz); with
    the raw lead's last seconds the gate also looks for mains hum, and with their leads-off
    flags (`off_context`) for a clipping amplifier whose rail a file marks invalid."""
    raw = np.asarray(raw, dtype=np.float64)
    n_off = len(leads_off) if leads_off is not None else 0
    if n_off and np.count_nonzero(leads_off) / n_off >= spec.leads_off_share:
        if rails is None and _clipping(raw_context, off_context, spec, n_off):
            return SATURATED, 0.0, float(np.ptp(raw))
        return LEADS_OFF, 0.0, 0.0
    valid = raw[np.isfinite(raw)]
    if valid.size == 0:
        return LEADS_OFF, 0.0, 0.0
    pinned = rails is None and _at_extreme(valid, raw_context)  # then: on a clipping rail?
    if _saturated(valid, spec, rails) or (pinned and _clipping(raw_context, off_context, spec)):
        return SATURATED, 0.0, float(np.ptp(valid))
    ctx = np.asarray(filtered_context, dtype=np.float64)
    ctx = ctx[np.isfinite(ctx)]
    seg = ctx[-len(valid) :] if ctx.size else valid
    ptp = float(np.ptp(seg)) if seg.size else 0.0
    if ptp < spec.flat_ptp_mv or float(np.ptp(valid)) < spec.flat_ptp_mv:
        return FLAT, 0.0, ptp
    k = kurtosis(ctx) if ctx.size else 0.0
    warming_up = ctx.size < len(valid) * spec.context_s / spec.segment_s  # too little to judge
    hf_rms = _rms(hf_context)
    hf = hf_rms / max(_rms(ctx), 1e-9) if hf_context is not None else np.inf
    # the quiet baseline of a long pause is near-Gaussian too, but hides no QRS: it is the
    # asystole rule's to judge (MIT-BIH 232's 6 s pauses were called noise before this), unless
    # its floor above 40 Hz is one no lead at rest has (hf_floor_mv)
    big = ptp >= spec.noise_min_ptp_mv or hf_rms >= spec.hf_floor_mv
    broadband = k < spec.min_kurtosis and hf > spec.hf_ratio and big
    band = (spec.vf_min_hz, spec.vf_max_hz)
    # in VF/flutter two detectors disagree too: that is the VF rule's to judge, not noise
    # (`vf_hint`: the rhythm model is confident of VT/VF here, an opt-in second VF sign); the
    # VF measure is taken only where the detectors disagree, the mains one only where nothing
    # else called the segment noisy (both cost a pass over the context; the verdict is the same)
    disagree = (
        agreement < spec.min_agreement
        and not vf_hint
        and not (ptp > vf.VF_MIN_PTP_MV and vf_like(ctx, fs, spec.vf_leakage, band))
    )
    smooth = (
        ptp >= spec.noise_min_ptp_mv
        and k < spec.smooth_kurtosis
        and vf_frequency(ctx, fs) < spec.vf_min_hz
    )
    if ptp > spec.max_ptp_mv or (broadband and not warming_up) or disagree or smooth:
        return NOISY, k, ptp
    if raw_context is not None and mains_amplitude(raw_context, fs) > spec.mains_max_mv:
        return NOISY, k, ptp  # mains hum
    return GOOD, k, ptp


def detector_agreement(first: np.ndarray, second: np.ndarray, tol: int) -> float:
    """Share of beats both detectors found, F1-like: 1 when neither found any. Pairs are one to
    one (two detections of one beat by the first detector match once), by the greedy sweep that
    finds the most pairs for points on a line."""
    first, second = sorted(np.asarray(first).tolist()), sorted(np.asarray(second).tolist())
    if len(first) + len(second) == 0:
        return 1.0
    i = j = matched = 0
    while i < len(first) and j < len(second):
        if first[i] < second[j] - tol:
            i += 1
        elif first[i] > second[j] + tol:
            j += 1
        else:
            matched, i, j = matched + 1, i + 1, j + 1
    return matched / (len(first) + len(second) - matched)


def _rms(x: np.ndarray | None) -> float:
    if x is None or len(x) == 0:
        return 0.0
    x = np.asarray(x, dtype=np.float64)
    return math.sqrt(_mean(x * x))


def _clipping(x: np.ndarray | None, off: np.ndarray | None, spec: QualitySpec, n: int = 0) -> bool:
    """Are the last seconds' unflagged samples a large signal sitting on a rail, or one that
    leaves its range at an extreme (runs off the scale) into a flagged run of the last `n`?"""
    x = np.asarray([] if x is None else x, dtype=np.float64)
    keep = np.isfinite(x) & (True if off is None else ~np.asarray(off, bool))
    v = x[keep]
    if v.size == 0 or float(np.ptp(v)) < spec.clip_min_ptp_mv:
        return False
    lo, hi, tol = v.min(), v.max(), spec.clip_edge_share * float(np.ptp(v))
    if max(np.count_nonzero(v == hi), np.count_nonzero(v == lo)) >= spec.clip_rail_samples:
        return True
    step = np.diff(np.concatenate([[0], (~keep).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(step == 1), np.flatnonzero(step == -1)  # flagged [start, end)
    live = ends > len(x) - n  # the runs that reach into the segment: their unflagged neighbours
    at = x[[i for i in (*(starts[live] - 1), *ends[live]) if 0 <= i < len(x)]]
    return bool(np.any((at <= lo + tol) | (at >= hi - tol)))


def _at_extreme(x: np.ndarray, raw_context: np.ndarray | None) -> bool:
    """A constant segment at the maximum or minimum of the last seconds: pinned on a rail."""
    ctx = np.asarray([] if raw_context is None else raw_context, dtype=np.float64)
    ctx = ctx[np.isfinite(ctx)]
    return ctx.size > 0 and np.ptp(x) == 0 and (x[0] >= ctx.max() or x[0] <= ctx.min())


def _saturated(x: np.ndarray, spec: QualitySpec, rails: tuple[float, float] | None) -> bool:
    if rails is not None:
        lo, hi = rails
        tol = 0.01 * (hi - lo)
        return np.count_nonzero((x <= lo + tol) | (x >= hi - tol)) / len(x) >= spec.rail_share
    if np.ptp(x) == 0:
        return False  # a constant is flat, not saturated
    at_extreme = max(np.count_nonzero(x == x.max()), np.count_nonzero(x == x.min())) / len(x)
    return at_extreme >= spec.stuck_share


class QualityTracker:
    """Cuts a lead into segments as samples stream in and grades each one."""

    def __init__(
        self,
        fs: float,
        spec: QualitySpec | None = None,
        rails: tuple[float, float] | None = None,
        start: int = 0,
    ) -> None:
        self.spec = spec or QualitySpec()
        self.fs = fs
        self.rails = rails
        self._seg = max(1, int(round(self.spec.segment_s * fs)))
        self._ctx = max(self._seg, int(round(self.spec.context_s * fs)))
        self._raw: list[np.ndarray] = []
        self._off: list[np.ndarray] = []
        self._filtered = np.zeros(0)
        self._hf = np.zeros(0)
        self._raw_ctx = np.zeros(0)
        self._off_ctx = np.zeros(0, bool)
        cut = min(self.spec.hf_cut_hz, 0.45 * fs)
        self._hf_filter = StreamFilter(butter_sos(2, cut, "highpass", fs), 1)
        # the second detector's band and the first detector's recent peaks (source numbering)
        self._band_filter = StreamFilter(
            butter_sos(2, (8.0, min(20.0, 0.45 * fs)), "bandpass", fs), 1
        )
        self._band = np.zeros(0)
        self._lag = int(round(self.spec.agreement_lag_s * fs))
        self._span = int(round(self.spec.agreement_s * fs))
        self._margin = int(round(1.0 * fs))  # the moving averages need some signal either side
        self._tol = int(round(self.spec.agreement_tol_s * fs))
        self._peaks: deque[int] = deque()
        self._seen = 0
        self._uses_peaks = False
        self._warmup = self._span + self._lag + self._margin + int(round(2.0 * fs))
        self._pending = 0
        self._next_start = start
        self.current = SegmentQuality(start, start, GOOD, 0.0, 0.0)

    def push(
        self,
        raw: np.ndarray,
        filtered: np.ndarray,
        leads_off: np.ndarray | None = None,
        peaks: list[int] | None = None,
        vf_hint: bool = False,
    ) -> list[SegmentQuality]:
        """Samples of the analysed lead (raw mV and band-passed) and the R peaks the monitor's
        detector found in them (source numbering; without peaks, no agreement check); segments
        completed by them."""
        raw = np.asarray(raw, dtype=np.float64).reshape(-1)
        off = np.zeros(len(raw), bool) if leads_off is None else np.asarray(leads_off, bool)
        self._raw.append(raw)
        self._off.append(off)
        self._filtered = np.concatenate([self._filtered, np.asarray(filtered).reshape(-1)])
        clean = np.nan_to_num(raw).reshape(-1, 1)
        self._hf = np.concatenate([self._hf, self._hf_filter(clean)[:, 0]])
        self._raw_ctx = np.concatenate([self._raw_ctx, raw])
        self._off_ctx = np.concatenate([self._off_ctx, off])
        self._band = np.concatenate([self._band, self._band_filter(clean)[:, 0]])
        if peaks is not None:
            self._uses_peaks = True
            self._peaks.extend(peaks)
        self._seen += len(raw)
        self._pending += len(raw)
        done = []
        while self._pending >= self._seg:
            r, o = self._take(self._seg)
            end = self._next_start + self._seg
            upto = len(self._filtered) - (self._pending - self._seg)
            ctx = self._filtered[:upto][-self._ctx :]
            hf_ctx = self._hf[:upto][-self._ctx :]
            raw_ctx = self._raw_ctx[:upto][-self._ctx :]
            off_ctx = self._off_ctx[:upto][-self._ctx :]
            agreement = self._agreement(end, len(self._band) - (self._pending - self._seg))
            state, k, ptp = assess_segment(
                r, ctx, o, self.spec, self.rails, hf_ctx, agreement, fs=self.fs,
                raw_context=raw_ctx, vf_hint=vf_hint, off_context=off_ctx,
            )  # fmt: skip
            self.current = SegmentQuality(self._next_start, end, state, k, ptp, agreement)
            done.append(self.current)
            self._next_start = end
            self._pending -= self._seg
        self._filtered = self._filtered[-(self._ctx + self._pending) :]
        self._hf = self._hf[-(self._ctx + self._pending) :]
        self._raw_ctx = self._raw_ctx[-(self._ctx + self._pending) :]
        self._off_ctx = self._off_ctx[-(self._ctx + self._pending) :]
        self._band = self._band[-(self._span + self._lag + self._margin + self._pending) :]
        return done

    def confirms(self, sample: int) -> bool:
        """Does the second detector also see a QRS at `sample` (source numbering)? Asked for each
        beat before it may drive an alarm: an artefact the first detector took for a beat rarely
        fools both (a real beat deformed by noise does: see the noise stress results). Needs the
        signal up to a few hundred ms after the beat, which a classified beat always has."""
        if not self._uses_peaks:
            return True
        end = self._next_start + self._pending  # source index one past the newest sample
        if sample >= end or sample < end - len(self._band) + self._margin:
            return True  # outside what is kept: nothing to judge by
        band = self._band[-min(len(self._band), end - (sample - int(round(2.5 * self.fs)))) :]
        found = block_peaks(band, self.fs) + (end - len(band))
        return bool(np.any(np.abs(found - sample) <= self._tol))

    def alarm_agreement(self, sample: int) -> float:
        """Detector agreement over the `alarm_agreement_s` before `sample` (a beat's position)."""
        if not self._uses_peaks:
            return 1.0
        end = self._next_start + self._pending
        w0 = sample - int(round(self.spec.alarm_agreement_s * self.fs))
        n = min(len(self._band), end - (w0 - self._margin))
        band = self._band[-n:]
        second = block_peaks(band, self.fs) + (end - len(band))
        second = second[(second >= w0) & (second <= sample + self._tol)]
        first = [p for p in self._peaks if w0 <= p <= sample + self._tol]
        return detector_agreement(np.asarray(first), second, self._tol)

    def _agreement(self, end: int, upto: int) -> float:
        """Detector agreement over [end - lag - span, end - lag); `upto` indexes `end` in the
        band buffer."""
        if not self._uses_peaks or self._seen - self._pending + self._seg < self._warmup:
            return 1.0
        w1 = end - self._lag
        w0 = w1 - self._span
        while self._peaks and self._peaks[0] < w0 - self._tol:
            self._peaks.popleft()
        first = [p for p in self._peaks if w0 <= p < w1]
        band = self._band[:upto][-(self._span + self._lag + self._margin) :]
        offset = end - len(band)  # source index of band[0]
        second = block_peaks(band, self.fs) + offset
        second = second[(second >= w0) & (second < w1)]
        return detector_agreement(np.asarray(first), second, self._tol)

    def _take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        raw, off = np.concatenate(self._raw), np.concatenate(self._off)
        self._raw, self._off = [raw[n:]], [off[n:]]
        return raw[:n], off[:n]
