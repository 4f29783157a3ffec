"""Streaming R-peak detection after Pan & Tompkins (1985), with searchback and a T-wave check.

Written here because the libraries' detectors (wfdb.processing.XQRS, neurokit) work on a whole
record: a monitor must decide from the past alone, chunk by chunk. Candidate peaks are found with
vectorised numpy on each chunk; only the decision rules (a few per beat) run in Python, so a
30-minute record takes well under a second.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from edge_monitor.dsp import StreamFilter
from edge_monitor.iir import FirFilter, butter_sos, running_max


@dataclass
class _Candidate:
    index: int  # absolute sample index of the R peak estimate
    energy_index: int  # where the integrated energy peaked (decisions are ordered by it)
    energy: float  # height of the integrated-energy peak
    slope: float  # steepest slope of the QRS band signal around it
    amplitude: float  # largest deflection (mV) of the QRS band signal around it


class QRSDetector:
    """Feed (samples,) chunks of one lead at `fs`; get the absolute indices of new R peaks back.

    Decisions lag the signal by `lookahead_s` plus the integration window (about 0.3 s).
    Pan-Tompkins' thresholds are relative and decay through a long silence, so on a flat line they
    end up at the filters' rounding residue and "find" it; a QRS must also move the 5-15 Hz band
    by `min_qrs_mv` (the smallest beat the detector finds in MIT-BIH moves it by 0.055 mV).
    """

    def __init__(
        self, fs: float, learn_s: float = 2.0, lookahead_s: float = 0.15, min_qrs_mv: float = 0.02
    ) -> None:
        self.fs = float(fs)
        self.min_qrs_mv = min_qrs_mv
        sos = butter_sos(2, (5.0, min(15.0, 0.45 * fs)), "bandpass", fs)
        self._band = StreamFilter(sos, 1)
        self._deriv = FirFilter(np.array([2.0, 1.0, 0.0, -1.0, -2.0]) * fs / 8.0)
        n_mwi = max(1, int(round(0.150 * fs)))
        self._mwi = FirFilter(np.ones(n_mwi) / n_mwi)
        self._half = max(1, int(round(lookahead_s * fs)))
        self._qrs_span = int(round(0.20 * fs))  # how far back from the energy peak the QRS lies
        self._refractory = int(round(0.20 * fs))
        self._twave_limit = int(round(0.36 * fs))
        self._learn_end = int(round(learn_s * fs))
        self._keep = int(round(3.0 * fs))
        # Rolling buffers of the band signal and the integrated energy, with absolute start index.
        self._band_buf = np.zeros(0)
        self._mwi_buf = np.zeros(0)
        self._buf_start = 0
        self._total = 0
        self._scanned = 1  # next absolute index that may become a candidate
        self._pending: list[_Candidate] = []  # candidates seen during learning
        self._learning = True
        self._learn_sum = 0.0  # integrated energy summed over the learning period
        self.spki = 0.0
        self.npki = 0.0
        self._last_qrs: _Candidate | None = None
        self._rr: deque[int] = deque(maxlen=8)
        self._noise_since_qrs: list[_Candidate] = []
        self._next_decay = 0

    @property
    def threshold(self) -> float:
        return self.npki + 0.25 * (self.spki - self.npki)

    def __call__(self, chunk: np.ndarray) -> list[int]:
        x = np.asarray(chunk, dtype=np.float64).reshape(-1)
        if len(x) == 0:
            return []
        band = self._band(x)[:, 0]
        deriv = self._deriv(band)
        mwi = self._mwi(deriv * deriv)
        self._band_buf = np.concatenate([self._band_buf, band])
        self._mwi_buf = np.concatenate([self._mwi_buf, mwi])
        self._total += len(x)
        if self._learning:
            first = self._total - len(x)
            self._learn_sum += float(mwi[: max(0, self._learn_end - first)].sum())
        found: list[int] = []
        for cand in self._new_candidates():
            if self._learning:
                self._pending.append(cand)
                continue
            found += self._decide(cand)
        if self._learning and self._scanned >= self._learn_end:
            found += self._finish_learning()
        if not self._learning:
            found += self._advance_to(self._scanned)
        self._trim()
        return found

    def _new_candidates(self) -> list[_Candidate]:
        """Local maxima of the energy over +-lookahead whose whole neighbourhood has arrived."""
        last = self._total - self._half  # exclusive upper bound of decidable indices
        if last <= self._scanned:
            return []
        lo = max(self._scanned - self._half, self._buf_start)
        seg = self._mwi_buf[lo - self._buf_start : last + self._half - self._buf_start]
        local_max = running_max(seg, 2 * self._half + 1)
        offset = self._scanned - lo
        core = seg[offset : offset + (last - self._scanned)]
        prev = seg[offset - 1 : offset - 1 + len(core)] if offset > 0 else np.r_[core[0], core[:-1]]
        is_peak = (core == local_max[offset : offset + len(core)]) & (core > prev) & (core > 0)
        self._scanned = last
        return [
            self._candidate(lo + offset + int(i), float(core[i])) for i in np.flatnonzero(is_peak)
        ]

    def _candidate(self, energy_index: int, energy: float) -> _Candidate:
        lo = max(energy_index - self._qrs_span, self._buf_start)
        seg = self._band_buf[lo - self._buf_start : energy_index - self._buf_start + 1]
        r = lo + int(np.argmax(np.abs(seg)))
        slope = float(np.max(np.abs(np.diff(seg)))) if len(seg) > 1 else 0.0
        return _Candidate(r, energy_index, energy, slope, float(np.max(np.abs(seg))))

    def _finish_learning(self) -> list[int]:
        self._learning = False
        # Only the learning period sets the thresholds, whatever the chunk sizes were.
        peak = max(
            (c.energy for c in self._pending if c.energy_index < self._learn_end), default=0.0
        )
        self.spki = peak / 3.0
        self.npki = 0.5 * self._learn_sum / self._learn_end
        found: list[int] = []
        for cand in self._pending:
            found += self._decide(cand)
        self._pending = []
        return found

    def _decide(self, cand: _Candidate) -> list[int]:
        found = self._advance_to(cand.energy_index)
        last = self._last_qrs
        if last is not None and cand.index - last.index < self._refractory:
            return found
        is_qrs = cand.energy > self.threshold and cand.amplitude >= self.min_qrs_mv
        if is_qrs and last is not None and cand.index - last.index < self._twave_limit:
            is_qrs = cand.slope >= 0.5 * last.slope  # a T wave rises slowly
        if is_qrs:
            # A huge ectopic beat must not lift the threshold over the small beats after it.
            capped = min(cand.energy, 2.0 * self.spki) if self.spki > 0 else cand.energy
            self.spki = 0.125 * capped + 0.875 * self.spki
            found.append(self._accept(cand))
        else:
            self.npki = 0.125 * cand.energy + 0.875 * self.npki
            self._noise_since_qrs.append(cand)
        return found

    def _accept(self, cand: _Candidate) -> int:
        if self._last_qrs is not None:
            self._rr.append(cand.index - self._last_qrs.index)
        self._last_qrs = cand
        self._noise_since_qrs = []
        self._next_decay = 0
        return cand.index

    def _advance_to(self, now: int) -> list[int]:
        """Apply the time-driven rules due before energy index `now`: searchback, then decay.

        Their moments are set by the last beat and the RR average, never by when a chunk
        happened to end, so the result does not depend on chunk sizes.
        """
        found: list[int] = []
        while self._last_qrs is not None and self._rr:
            due = self._last_qrs.index + int(1.66 * sum(self._rr) / len(self._rr))
            if now < due:
                return found
            beat = self._search_back(due)
            if beat is None:
                break
            found.append(beat)
        if self._last_qrs is not None:
            # Long silence (a pause or a gain change): let the thresholds come down to the signal.
            self._next_decay = max(self._next_decay, self._last_qrs.index + int(3.0 * self.fs))
            while now >= self._next_decay:
                self.spki *= 0.5
                self.npki *= 0.5
                self._next_decay += int(self.fs)
        return found

    def _search_back(self, due: int) -> int | None:
        """No beat for 1.66 mean RR: take the largest earlier candidate above half the threshold."""
        assert self._last_qrs is not None
        eligible = [
            c
            for c in self._noise_since_qrs
            if c.index - self._last_qrs.index >= self._refractory
            and c.energy > 0.5 * self.threshold
            and c.amplitude >= self.min_qrs_mv
            and c.energy_index < due
        ]
        if not eligible:
            return None
        best = max(eligible, key=lambda c: c.energy)
        self.spki = 0.25 * best.energy + 0.75 * self.spki
        later = [c for c in self._noise_since_qrs if c.index > best.index]
        index = self._accept(best)
        self._noise_since_qrs = later
        return index

    def _trim(self) -> None:
        drop = len(self._mwi_buf) - self._keep
        if drop > 0:
            self._band_buf = self._band_buf[drop:]
            self._mwi_buf = self._mwi_buf[drop:]
            self._buf_start += drop


def detect_r_peaks(x: np.ndarray, fs: float, chunk: int = 4096) -> np.ndarray:
    """R-peak indices of a whole record, computed with the streaming detector."""
    detector = QRSDetector(fs)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    peaks: list[int] = []
    for start in range(0, len(x), chunk):
        peaks += detector(x[start : start + chunk])
    return np.asarray(peaks, dtype=np.int64)


def block_peaks(band: np.ndarray, fs: float, beta: float = 0.08) -> np.ndarray:
    """A second, independent opinion on where the QRS complexes of a few seconds are: Elgendi's
    two-moving-average blocks (Elgendi 2013, PLoS ONE 8(9) e73557) on a 8-20 Hz band-passed
    signal. It shares no thresholds or memory with QRSDetector, so the two agree on clean ECG
    and disagree on artefact: the agreement is the beat-matching SQI of quality.py (Li, Clifford &
    Mark 2008). Whole-buffer, not streaming: the quality gate reruns it on its last seconds."""
    band = np.asarray(band, dtype=np.float64)
    if len(band) < int(fs):
        return np.zeros(0, dtype=np.int64)
    energy = band * band
    w_qrs, w_beat = max(1, int(round(0.097 * fs))), max(1, int(round(0.611 * fs)))
    ma_qrs, ma_beat = _centred_mean(energy, w_qrs), _centred_mean(energy, w_beat)
    inside = ma_qrs > ma_beat + beta * float(energy.mean())
    edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(np.int8), [0]])))
    peaks = []
    last = -len(band)
    refractory = int(round(0.25 * fs))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a < w_qrs:
            continue
        p = a + int(np.argmax(np.abs(band[a:b])))
        if p - last >= refractory:
            peaks.append(p)
            last = p
    return np.asarray(peaks, dtype=np.int64)


def _centred_mean(x: np.ndarray, w: int) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(len(x))
    lo, hi = np.clip(idx - w // 2, 0, len(x)), np.clip(idx - w // 2 + w, 0, len(x))
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
