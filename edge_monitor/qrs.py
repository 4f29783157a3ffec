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

from edge_monitor.dsp import StillRuns, StreamFilter, mask_runs
from edge_monitor.iir import FirFilter, butter_sos, running_max


@dataclass(frozen=True)
class QRSConfig:
    """The detector's settings, named (Pan & Tompkins 1985 unless said). Times in seconds."""

    band_hz: tuple[float, float] = (5.0, 15.0)  # the QRS band
    integration_s: float = 0.150  # moving-window integration of the squared slope
    lookahead_s: float = 0.15  # a candidate is the energy's maximum within +- this
    learn_s: float = 2.0  # thresholds learnt from the first seconds
    qrs_span_s: float = 0.20  # how far back from the energy peak the R wave lies
    refractory_s: float = 0.20
    twave_window_s: float = 0.36  # a candidate this soon after a QRS may be its T wave...
    twave_slope_ratio: float = 0.5  # ...unless its slope is at least this share of the QRS's
    threshold_share: float = 0.25  # threshold = noise level + this share of (signal - noise)
    learning_rate: float = 0.125  # running signal / noise levels
    signal_cap: float = 2.0  # one huge ectopic beat lifts the signal level at most this many times
    searchback_rr: float = 1.66  # no beat for this many mean RR: search back...
    searchback_share: float = 0.5  # ...for a candidate above this share of the threshold
    silence_s: float = 3.0  # after this long without a beat the levels halve every second
    min_qrs_mv: float = 0.02  # a QRS moves the QRS band at least this much (see QRSDetector)
    # After the signal was missing this long (leads off, a dropout), the thresholds are learnt
    # again, as at the start: the silence had halved them, and the T waves after the gap rose
    # above them (beats counted twice, false PACs and runs: benchmarks/leads_off_gaps.py)
    relearn_gap_s: float = 2.0
    settle_s: float = 0.5  # after such a gap the filters' step response sets no threshold
    # No beat for 1.66 mean RR because the signal was held (leads off, a dropout) this long is no
    # missed beat: the searchback took the T wave before the gap for one (a false beat, mostly S,
    # before 89 of 830 gaps: benchmarks/gap_edges.py). It searches back only if the signal
    # went after hold_search_rr mean RR (a beat was overdue by then), and only before the gap.
    hold_min_s: float = 0.1
    hold_search_rr: float = 1.2
    # Where the signal comes back after such a hold, the QRS band filter starts again as at a
    # record's start: the step from the held value rang like a QRS (a beat 10-30 ms after the
    # return, 21 of 830 gaps: gap_edges.py). A QRS the gap cut in half is no longer found.
    # One value repeated for still_s is held too, unflagged (a recorder writing a constant with
    # the leads off, an ADC rail; dsp.StillRuns): known as such still_s after it began.
    still_s: float = 0.5

    def __post_init__(self) -> None:
        low, high = self.band_hz
        if not 0 < low < high:
            raise ValueError(f"QRSConfig.band_hz {self.band_hz} is not a band")
        for name in ("integration_s", "lookahead_s", "learn_s", "qrs_span_s", "refractory_s"):
            if not 0 < getattr(self, name) <= 10:
                raise ValueError(f"QRSConfig.{name} must lie in (0, 10] s")
        shares = ("twave_slope_ratio", "threshold_share", "learning_rate", "searchback_share")
        if not all(0 < getattr(self, name) <= 1 for name in shares):
            raise ValueError(f"QRSConfig: {', '.join(shares)} must lie in (0, 1]")
        if self.signal_cap < 1 or self.searchback_rr <= 1 or self.silence_s <= 0:
            raise ValueError("QRSConfig: signal_cap >= 1, searchback_rr > 1, silence_s > 0")
        if self.relearn_gap_s <= 0 or not 0 <= self.settle_s <= 10 or self.hold_min_s <= 0:
            raise ValueError("QRSConfig: relearn_gap_s > 0, settle_s in [0, 10], hold_min_s > 0")
        if not 0 < self.still_s <= 60:
            raise ValueError("QRSConfig.still_s must lie in (0, 60] s")
        if not 1 <= self.hold_search_rr <= self.searchback_rr:
            raise ValueError("QRSConfig: hold_search_rr must lie in [1, searchback_rr]")
        if self.min_qrs_mv < 0 or self.twave_window_s < self.refractory_s:
            raise ValueError("QRSConfig: min_qrs_mv >= 0 and twave_window_s >= refractory_s")


@dataclass
class _Candidate:
    index: int  # absolute sample index of the R peak estimate
    energy_index: int  # where the integrated energy peaked (decisions are ordered by it)
    energy: float  # height of the integrated-energy peak
    slope: float  # steepest slope of the QRS band signal around it
    amplitude: float  # largest deflection (mV) of the QRS band signal around it


class QRSDetector:
    """Feed (samples,) chunks of one lead at `fs`; get the absolute indices of new R peaks back.

    Steps: (1) band-pass the lead to the QRS band, differentiate, square, integrate over a
    moving window; (2) candidates are the energy's local maxima within +- lookahead; (3) the first
    `learn_s` set the signal and noise levels; (4) a candidate above the threshold (noise level +
    a share of the gap) that moves the QRS band by `min_qrs_mv` is a QRS, unless it falls in the
    refractory period, or in the T-wave window with a slope below half the last QRS's; (5) no beat
    for 1.66 mean RR: search back for the best candidate above half the threshold; (6) after a long
    silence the levels halve every second (a pause or a gain change).

    Decisions lag the signal by `lookahead_s` plus the integration window (about 0.3 s).
    Pan-Tompkins' thresholds are relative and decay through a long silence, so on a flat line they
    end up at the filters' rounding residue and "find" it; a QRS must also move the 5-15 Hz band
    by `min_qrs_mv` (the smallest beat the detector finds in MIT-BIH moves it by 0.055 mV).

    Reference: J. Pan, W. J. Tompkins, "A real-time QRS detection algorithm", IEEE Trans. Biomed.
    Eng. 32(3), 230-236 (1985).

    Example: `QRSDetector(360.0)(x_mv)` -> the R peaks found in the chunk `x_mv`.
    """

    def __init__(self, fs: float, config: QRSConfig | None = None) -> None:
        c = self.config = config or QRSConfig()
        self.fs = float(fs)
        self.min_qrs_mv = c.min_qrs_mv
        sos = butter_sos(2, (c.band_hz[0], min(c.band_hz[1], 0.45 * fs)), "bandpass", fs)
        self._band = StreamFilter(sos, 1)
        self._deriv = FirFilter(np.array([2.0, 1.0, 0.0, -1.0, -2.0]) * fs / 8.0)
        n_mwi = max(1, int(round(c.integration_s * fs)))
        self._mwi = FirFilter(np.ones(n_mwi) / n_mwi)
        # runs without signal (start, end, known from) at least hold_min_s long (or still open)
        # that a searchback may yet span, bounded in case no beat is ever found again; a flagged
        # run counts as a hold from hold_min_s in, a still one from where it was recognised
        self._holds: deque[tuple[int, int, int]] = deque(maxlen=4096)
        self._still = StillRuns(int(round(c.still_s * fs)))
        self._hold_min = max(1, int(round(c.hold_min_s * fs)))
        self._half = max(1, int(round(c.lookahead_s * fs)))
        self._qrs_span = int(round(c.qrs_span_s * fs))
        self._refractory = int(round(c.refractory_s * fs))
        self._twave_limit = int(round(c.twave_window_s * fs))
        self._learn_end = int(round(c.learn_s * fs))
        self._learn_start = 0  # where the learning began (later than 0 after a gap)
        self._gap_from = self._gap_end = 0  # the last gap: candidates inside it are dropped
        self._relearn_gap = max(1, int(round(c.relearn_gap_s * fs)))
        self._settle = int(round(c.settle_s * fs))
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
        self.gaps: list[tuple[int, int]] = []  # the relearning gaps that ended in the last chunk

    @property
    def threshold(self) -> float:
        return self.npki + self.config.threshold_share * (self.spki - self.npki)

    def __call__(self, chunk: np.ndarray, off: np.ndarray | None = None) -> list[int]:
        """The R peaks decided with this chunk. `off`: its samples that carry no signal (held
        by the caller; one value repeated for still_s counts as such, flagged or not): after a
        run of hold_min_s the QRS band filter starts again; after relearn_gap_s the detector
        learns anew, and `gaps` then names the run (the beat context starts again there too)."""
        x = np.asarray(chunk, dtype=np.float64).reshape(-1)
        self.gaps = []
        if len(x) == 0:
            return []
        flagged = np.zeros(len(x), bool) if off is None else np.asarray(off, bool).reshape(-1)
        if len(flagged) != len(x):
            raise ValueError(f"off has {len(flagged)} samples for a chunk of {len(x)}")
        still = self._still(x)
        # the chunk is cut where the signal comes back: the same moment whatever the chunks
        found: list[int] = []
        start, done = self._total, 0
        returns = self._note_holds(flagged | still, still & ~flagged)
        self.gaps = [(a, b) for a, b in returns if b - a >= self._relearn_gap]
        for a, b in returns:
            cut = b - start
            found += self._process(x[done:cut]) if cut > done else []
            done = max(done, cut)
            self._band.reset()  # no step from the held value: it made a beat at the return
            if b - a >= self._relearn_gap:
                self._relearn(a, b)
        return found + (self._process(x[done:]) if done < len(x) else [])

    def _process(self, x: np.ndarray) -> list[int]:
        band = self._band(x)[:, 0]
        deriv = self._deriv(band)
        mwi = self._mwi(deriv * deriv)
        self._band_buf = np.concatenate([self._band_buf, band])
        self._mwi_buf = np.concatenate([self._mwi_buf, mwi])
        self._total += len(x)
        if self._learning:
            first = self._total - len(x)
            learnt = mwi[max(0, self._learn_start - first) : max(0, self._learn_end - first)]
            self._learn_sum += float(learnt.sum())
        found: list[int] = []
        for cand in self._new_candidates():
            if self._learning and cand.energy_index >= self._gap_end:
                self._pending.append(cand)
                continue
            if self._learning and cand.energy_index >= self._gap_from:
                continue  # inside the gap
            found += self._decide(cand)
        if self._learning and self._scanned >= self._learn_end:
            found += self._finish_learning()
        if not self._learning:
            found += self._advance_to(self._scanned)
        self._trim()
        return found

    def _note_holds(self, held: np.ndarray, still: np.ndarray) -> list[tuple[int, int]]:
        """Keep the chunk's runs without signal (`still`: its samples held only by repeating one
        value), a run from the last chunk carried on; return those that ended in it once known
        as holds (the signal came back at their end). Short runs (a lost sample) are not kept,
        nor ones before the last beat: no searchback reaches them (a burst of dropouts pushed
        the gap out of a short list: the T wave was a beat)."""
        while self._holds and self._last_qrs and self._holds[0][1] <= self._last_qrs.index:
            self._holds.popleft()
        first, chunk_end = self._total, self._total + len(held)
        returns = []
        if self._holds and self._holds[-1][1] == first and not held[0]:  # ended with the last chunk
            a, b, known = self._holds[-1]
            returns += [(a, b)] if b >= known else []
        for a, b in mask_runs(held, first):
            if self._holds and self._holds[-1][1] == a:
                a, _, known = self._holds.pop()
            elif still[a - first]:  # the value was repeated since still_s before
                a, known = a - self._still.min_samples, a
            else:
                known = a + self._hold_min
            if b >= known or b == chunk_end:  # an open run may grow
                self._holds.append((a, b, known))
            if b >= known and b < chunk_end:
                returns.append((a, b))
        return returns

    def _hold_start(self, start: int, end: int) -> int | None:
        """Where the first hold that overlaps [start, end) began, among those known as holds
        `lookahead` after `end` (when the searchback is due, whatever the chunks)."""
        due_known = end + self._half + 1
        starts = [
            a for a, b, known in self._holds if a < end and b > start and known <= min(b, due_known)
        ]
        return min(starts, default=None)

    def _relearn(self, gap_from: int, gap_end: int) -> None:
        """Learn the thresholds again from `settle_s` after the gap, as at start-up; the beats
        in between are decided with what is learnt, and so are beats before the gap that a
        start-up learning it interrupted was still holding."""
        self._learning = True
        self._gap_from, self._gap_end = gap_from, gap_end
        self._learn_start = gap_end + self._settle
        self._learn_end = self._learn_start + int(round(self.config.learn_s * self.fs))
        self._learn_sum = 0.0
        self._pending = [c for c in self._pending if c.energy_index < gap_from]

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
            (
                c.energy
                for c in self._pending
                if self._learn_start <= c.energy_index < self._learn_end
            ),
            default=0.0,
        )
        self.spki = peak / 3.0
        self.npki = 0.5 * self._learn_sum / (self._learn_end - self._learn_start)
        # no RR across a gap (no-ops at start); the RR before it still times the searchback
        self._last_qrs, self._noise_since_qrs, self._next_decay = None, [], 0
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
            is_qrs = cand.slope >= self.config.twave_slope_ratio * last.slope  # T rises slowly
        if is_qrs:
            # A huge ectopic beat must not lift the threshold over the small beats after it.
            c = self.config
            capped = min(cand.energy, c.signal_cap * self.spki) if self.spki > 0 else cand.energy
            self.spki = c.learning_rate * capped + (1 - c.learning_rate) * self.spki
            found.append(self._accept(cand))
        else:
            rate = self.config.learning_rate
            self.npki = rate * cand.energy + (1 - rate) * self.npki
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
            mean_rr = sum(self._rr) / len(self._rr)
            due = self._last_qrs.index + int(self.config.searchback_rr * mean_rr)
            if now < due:
                return found
            held = self._hold_start(self._last_qrs.index, due)
            if held is not None:  # the signal went before the searchback was due
                if held < self._last_qrs.index + int(self.config.hold_search_rr * mean_rr):
                    break  # the next beat went missing with the signal: a T wave is no beat
                due = held  # a beat was overdue when the signal went: search before the gap
            beat = self._search_back(due)
            if beat is None:
                break
            found.append(beat)
        if self._last_qrs is not None:
            # Long silence (a pause or a gain change): let the thresholds come down to the signal.
            silence = int(self.config.silence_s * self.fs)
            self._next_decay = max(self._next_decay, self._last_qrs.index + silence)
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
            and c.energy > self.config.searchback_share * self.threshold
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
