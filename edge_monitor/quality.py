"""Signal quality per one-second segment, as samples stream in: the tracker that cuts the
analysed lead into segments, keeps the last seconds each verdict needs (band-passed, above
40 Hz, raw, leads-off flags) and a second QRS detector's view, and asks quality_signs for each
segment's state. Every name the gate had before the split is importable from here.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, fields

import numpy as np

from edge_monitor.iir import SosBank, butter_sos
from edge_monitor.qrs_blocks import block_peaks
from edge_monitor.quality_signs import (
    BAD_VALUES,
    FLAT,
    GOOD,
    LEADS_OFF,
    MESSAGES,
    MODEL_INVALID,
    NO_SIGNAL,
    NOISY,
    SATURATED,
    UNREADABLE,
    QualitySpec,
    Verdict,
    _mean,
    assess_segment,
    kurtosis,
)
from edge_monitor.vf import SHARP_BAND_HZ, mains_amplitude, qrs_interval, vf_frequency

__all__ = [
    "BAD_VALUES", "FLAT", "GOOD", "LEADS_OFF", "MESSAGES", "MODEL_INVALID", "NO_SIGNAL",
    "NOISY", "SATURATED", "UNREADABLE", "QualitySpec", "QualityTracker", "SegmentQuality",
    "Verdict", "_mean", "assess_segment", "detector_agreement", "kurtosis", "mains_amplitude",
    "vf_frequency",
]  # fmt: skip


@dataclass(frozen=True)
class SegmentQuality:
    start: int  # first sample (source numbering)
    end: int  # one past the last
    state: str
    kurtosis: float
    ptp_mv: float
    agreement: float = 1.0
    # a noisy segment: the signs that fired and the VF filter's reading (quality_signs.Verdict)
    reason: str = ""
    leakage: float = float("nan")
    vf_hz: float = float("nan")
    hf_ratio: float = float("nan")
    # organised QRS under a VF-like oscillation (a tremor; quality_signs.Verdict.organised),
    # and that oscillation with or without them (Verdict.oscillation)
    organised: bool = False
    oscillation: bool = False

    @property
    def ok(self) -> bool:
        return self.state == GOOD

    def as_json(self) -> dict:
        """Every field, NaN as None (JSON has no NaN): a logged verdict replays as it was."""
        out = asdict(self)
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v
                for k, v in out.items()}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict) -> SegmentQuality:
        kept = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        return cls(**{k: float("nan") if v is None else v for k, v in kept.items()})


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
        # the sharp band (QRS energy, little tremor) over the last seconds: organised QRS under
        # an oscillation mark the second `organised`, a tremor and not VF (quality_signs)
        self._sharp = np.zeros(0)
        self._sharp_n = max(self._ctx, int(round(self.spec.qrs_context_s * fs)))
        # the sharp-band windows of the last `qrs_persist` seconds and, once asked, their QRS
        # interval (None: not computed yet; most seconds never need it)
        self._sharp_windows: deque[list] = deque(maxlen=max(1, self.spec.qrs_persist))
        self._raw_ctx = np.zeros(0)
        self._off_ctx = np.zeros(0, bool)
        # the lead above the ECG band, the sharp band (if asked) and the second detector's band,
        # filtered as one system (one run a second, not one per filter)
        bands = [butter_sos(2, min(self.spec.hf_cut_hz, 0.45 * fs), "highpass", fs)]
        if self.spec.organised_qrs:  # off: the sharp band is not filtered at all
            bands.append(
                butter_sos(2, (SHARP_BAND_HZ[0], min(SHARP_BAND_HZ[1], 0.45 * fs)), "bandpass", fs)
            )
        bands.append(butter_sos(2, (8.0, min(20.0, 0.45 * fs)), "bandpass", fs))
        self._bands = SosBank(bands)
        # the first detector's recent peaks (source numbering)
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

    @property
    def detectors_compared(self) -> bool:
        """Whether any graded second was judged by the two detectors' agreement too: it needs
        `agreement_warmup_s` of signal, so a short record (PTB-XL's 10 s) is judged by its
        amplitude and spectrum alone, which muscle or motion noise can pass."""
        return self._uses_peaks and self._seen - self._pending >= self._warmup

    @property
    def agreement_warmup_s(self) -> float:
        """The signal the first second judged by the agreement needs: the warm-up rounded up to
        a whole graded second (seconds are judged as they end)."""
        return -(-self._warmup // self._seg) * self._seg / self.fs

    @property
    def segment_samples(self) -> int:
        """The samples of one graded second (`segment_s`), graded from `start` on."""
        return self._seg

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
        bands = self._bands(np.nan_to_num(raw))
        self._hf = np.concatenate([self._hf, bands[0]])
        if self.spec.organised_qrs:
            self._sharp = np.concatenate([self._sharp, bands[1]])
        self._raw_ctx = np.concatenate([self._raw_ctx, raw])
        self._off_ctx = np.concatenate([self._off_ctx, off])
        self._band = np.concatenate([self._band, bands[-1]])
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
            self._sharp_windows.append([self._sharp[:upto][-self._sharp_n :], None])
            raw_ctx = self._raw_ctx[:upto][-self._ctx :]
            off_ctx = self._off_ctx[:upto][-self._ctx :]
            agreement = self._agreement(end, len(self._band) - (self._pending - self._seg))
            v = assess_segment(
                r, ctx, o, self.spec, self.rails, hf_ctx, agreement, fs=self.fs,
                raw_context=raw_ctx, vf_hint=vf_hint, off_context=off_ctx,
                qrs_interval_s=self._qrs_interval,
            )  # fmt: skip
            self.current = SegmentQuality(
                self._next_start, end, v.state, v.kurtosis, v.ptp_mv, agreement, v.reason,
                v.leakage, v.vf_hz, v.hf_ratio, v.organised, v.oscillation,
            )  # fmt: skip
            done.append(self.current)
            self._next_start = end
            self._pending -= self._seg
        self._filtered = self._filtered[-(self._ctx + self._pending) :]
        self._hf = self._hf[-(self._ctx + self._pending) :]
        self._sharp = self._sharp[-(self._sharp_n + self._pending) :]
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

    def _qrs_interval(self) -> float:
        """The shortest interval (s) of organised QRS complexes in the sharp band when each of
        the last `qrs_persist` seconds found them, else 0: one second of VF's sharp content may
        stand out by chance (cudb, MIT-BIH 207), a rhythm keeps doing so. Computed when the
        gate asks (a VF-like oscillation), each second's window at most once."""
        windows = self._sharp_windows
        if not self.spec.organised_qrs or len(windows) < windows.maxlen:
            return 0.0
        for w in windows:
            if w[1] is None:
                w[1] = qrs_interval(w[0], self.fs)
        p = np.asarray([w[1] for w in windows])
        return float(p.min()) if (p > 0).all() else 0.0

    def _take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        raw, off = np.concatenate(self._raw), np.concatenate(self._off)
        self._raw, self._off = [raw[n:]], [off[n:]]
        return raw[:n], off[:n]
