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
Thresholds live in QualitySpec; the noise stress benchmark checks them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edge_monitor.dsp import StreamFilter
from edge_monitor.iir import butter_sos

GOOD, LEADS_OFF, FLAT, SATURATED, NOISY = "good", "leads_off", "flat", "saturated", "noisy"
MESSAGES = {
    GOOD: "signal good",
    LEADS_OFF: "leads off: check the electrodes",
    FLAT: "flat line: check the electrodes and the cable",
    SATURATED: "signal at the ADC rail: check the electrodes (amplifier saturated)",
    NOISY: "too noisy to analyse: keep still, check electrode contact",
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
    hf_ratio: float = 0.35  # ...if also RMS above 40 Hz / RMS of the 0.5-40 Hz band exceeds this
    hf_cut_hz: float = 40.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SegmentQuality:
    start: int  # first sample (source numbering)
    end: int  # one past the last
    state: str
    kurtosis: float
    ptp_mv: float

    @property
    def ok(self) -> bool:
        return self.state == GOOD


def kurtosis(x: np.ndarray) -> float:
    """Pearson kurtosis (3 for a Gaussian); 0 for a constant."""
    x = np.asarray(x, dtype=np.float64)
    d = x - x.mean()
    var = float(np.mean(d * d))
    return float(np.mean(d**4) / (var * var)) if var > 1e-12 else 0.0


def assess_segment(
    raw: np.ndarray,
    filtered_context: np.ndarray,
    leads_off: np.ndarray | None,
    spec: QualitySpec,
    rails: tuple[float, float] | None = None,
    hf_context: np.ndarray | None = None,
) -> tuple[str, float, float]:
    """State, kurtosis and band-passed peak-to-peak of one segment (one lead)."""
    raw = np.asarray(raw, dtype=np.float64)
    if leads_off is not None and len(leads_off) and np.mean(leads_off) >= spec.leads_off_share:
        return LEADS_OFF, 0.0, 0.0
    valid = raw[np.isfinite(raw)]
    if valid.size == 0:
        return LEADS_OFF, 0.0, 0.0
    if _saturated(valid, spec, rails):
        return SATURATED, 0.0, float(np.ptp(valid))
    ctx = np.asarray(filtered_context, dtype=np.float64)
    ctx = ctx[np.isfinite(ctx)]
    seg = ctx[-len(valid) :] if ctx.size else valid
    ptp = float(np.ptp(seg)) if seg.size else 0.0
    if ptp < spec.flat_ptp_mv or float(np.ptp(valid)) < spec.flat_ptp_mv:
        return FLAT, 0.0, ptp
    k = kurtosis(ctx) if ctx.size else 0.0
    warming_up = ctx.size < len(valid) * spec.context_s / spec.segment_s  # too little to judge
    hf = _rms(hf_context) / max(_rms(ctx), 1e-9) if hf_context is not None else np.inf
    broadband = k < spec.min_kurtosis and hf > spec.hf_ratio
    if ptp > spec.max_ptp_mv or (broadband and not warming_up):
        return NOISY, k, ptp
    return GOOD, k, ptp


def _rms(x: np.ndarray | None) -> float:
    if x is None or len(x) == 0:
        return 0.0
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x)))


def _saturated(x: np.ndarray, spec: QualitySpec, rails: tuple[float, float] | None) -> bool:
    if rails is not None:
        lo, hi = rails
        tol = 0.01 * (hi - lo)
        return bool(np.mean((x <= lo + tol) | (x >= hi - tol)) >= spec.rail_share)
    if np.ptp(x) == 0:
        return False  # a constant is flat, not saturated
    at_extreme = np.maximum(np.mean(x == x.max()), np.mean(x == x.min()))
    return bool(at_extreme >= spec.stuck_share)


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
        cut = min(self.spec.hf_cut_hz, 0.45 * fs)
        self._hf_filter = StreamFilter(butter_sos(2, cut, "highpass", fs), 1)
        self._pending = 0
        self._next_start = start
        self.current = SegmentQuality(start, start, GOOD, 0.0, 0.0)

    def push(
        self, raw: np.ndarray, filtered: np.ndarray, leads_off: np.ndarray | None = None
    ) -> list[SegmentQuality]:
        """Samples of the analysed lead (raw mV and band-passed); segments completed by them."""
        raw = np.asarray(raw, dtype=np.float64).reshape(-1)
        off = np.zeros(len(raw), bool) if leads_off is None else np.asarray(leads_off, bool)
        self._raw.append(raw)
        self._off.append(off)
        self._filtered = np.concatenate([self._filtered, np.asarray(filtered).reshape(-1)])
        hf = self._hf_filter(np.nan_to_num(raw).reshape(-1, 1))[:, 0]
        self._hf = np.concatenate([self._hf, hf])
        self._pending += len(raw)
        done = []
        while self._pending >= self._seg:
            r, o = self._take(self._seg)
            end = self._next_start + self._seg
            upto = len(self._filtered) - (self._pending - self._seg)
            ctx = self._filtered[:upto][-self._ctx :]
            hf_ctx = self._hf[:upto][-self._ctx :]
            state, k, ptp = assess_segment(r, ctx, o, self.spec, self.rails, hf_ctx)
            self.current = SegmentQuality(self._next_start, end, state, k, ptp)
            done.append(self.current)
            self._next_start = end
            self._pending -= self._seg
        self._filtered = self._filtered[-(self._ctx + self._pending) :]
        self._hf = self._hf[-(self._ctx + self._pending) :]
        return done

    def _take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        raw, off = np.concatenate(self._raw), np.concatenate(self._off)
        self._raw, self._off = [raw[n:]], [off[n:]]
        return raw[:n], off[:n]
