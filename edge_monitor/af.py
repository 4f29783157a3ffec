"""Atrial fibrillation from the beat sequence: RR irregularity that survives ectopy, and the
absence of a repeating P wave.

AF is irregularly irregular: every RR interval is unrelated to the ones before it. Ectopy is
regularly irregular: a PVC's short coupling interval and long compensatory pause, bigeminy's two
alternating intervals, trigeminy's pattern of three. So the detector

1. leaves out every RR interval that touches an ectopic beat (by default V, F and Q: a PVC's
   coupling interval and its compensatory pause),
2. measures the irregularity of the rest by the median absolute difference between an interval
   and the one `lag` beats before it, for lag 1 and 2, and keeps the smaller (an alternating
   pattern is regular at lag 2, whatever the beat labels say), normalised by the median RR,
3. measures atrial activity: the band-passed lead over the 280-60 ms before each QRS,
   resampled to a fixed grid; in sinus rhythm these stretches hold the same P wave and their
   mean keeps their energy, in AF they hold unrelated f waves and the mean averages out. The
   coherence is the mean stretch's energy over the stretches' mean energy (1 for identical
   stretches, about 1/n for unrelated ones),

and combines the two in a logistic model (the share of turning points and of ectopic beats
added nothing in leave-one-record-out cross-validation over MIT-BIH, so they were dropped:
docs/af.md); the coefficients and threshold ship as fitted on all MIT-BIH records by
benchmarks/af_rule.py, which also gives their cross-validated estimate. Per beat
the work is a few vector operations over one window of beats: no model runs, no allocation
beyond the window.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

FEATURES = ("irregularity", "p_coherence")


@dataclass(frozen=True)
class AfParams:
    """The detector's window, what counts as ectopic, the atrial stretch, and the logistic
    model (weights in FEATURES order, on the features as `AfFeatures.vector` gives them)."""

    beats: int = 64  # intervals judged at a time...
    min_beats: int = 32  # ...once this many have come (after a start or a stretch of noise)
    ectopic: str = "VFQ"  # beat labels whose neighbouring intervals are left out
    min_clean: float = 0.5  # at least this share of the window's intervals must remain
    p_from_s: float = 0.28  # atrial stretch: from this long before the R peak...
    p_to_s: float = 0.06  # ...to this long before it
    p_points: int = 23  # resampled to this many points (every 10 ms)
    min_p_beats: int = 8  # fewer measured stretches: coherence unknown (read as 0.5)
    # fitted on all 46 MIT-BIH records with an MLII lead by benchmarks/af_rule.py (window 64);
    # its leave-one-record-out estimate for an unseen record is in docs/af.md
    weights: tuple[float, ...] = (3.0929, -6.3003)
    bias: float = 8.5807
    threshold: float = 0.5  # probability of AF above this: the window reads as AF

    def __post_init__(self) -> None:
        if not 8 <= self.min_beats <= self.beats or not 0 < self.min_clean <= 1:
            raise ValueError("AfParams: needs 8 <= min_beats <= beats and 0 < min_clean <= 1")
        if len(self.weights) != len(FEATURES):
            raise ValueError(f"AfParams: one weight for each of {FEATURES}")
        if not 0 <= self.p_to_s < self.p_from_s or self.p_points < 4:
            raise ValueError("AfParams: needs 0 <= p_to_s < p_from_s and p_points >= 4")
        if not all(math.isfinite(v) for v in (*self.weights, self.bias, self.threshold)):
            raise ValueError("AfParams: weights, bias and threshold must be finite")


@dataclass(frozen=True)
class AfFeatures:
    """One window's measures (see the module docstring)."""

    irregularity: float  # median |RR_i - RR_i-lag| / median RR, the smaller of lag 1 and 2
    p_coherence: float  # energy of the mean atrial stretch over their mean energy, 0..1

    def vector(self) -> np.ndarray:
        """The logistic model's inputs: irregularity on a log scale (it spans decades)."""
        return np.array([math.log(max(self.irregularity, 1e-3)), self.p_coherence])


def irregularity(rr: np.ndarray, clean: np.ndarray) -> float:
    """Median absolute difference between clean intervals `lag` apart over the median clean
    interval, the smaller of lag 1 and lag 2 (0 when too few pairs remain)."""
    values = []
    for lag in (1, 2):
        pairs = clean[lag:] & clean[:-lag]
        if pairs.sum() < 4:
            return 0.0
        values.append(_median(np.abs(rr[lag:] - rr[:-lag])[pairs]))
    typical = _median(rr[clean])
    return min(values) / typical if typical > 0 else 0.0


def _median(x: np.ndarray) -> float:
    """np.median without its overhead (a tenth of the time on a window of beats)."""
    s = np.sort(x)
    n = len(s)
    return 0.5 * float(s[(n - 1) // 2] + s[n // 2])


def coherence(stretches: np.ndarray, centred: bool = False) -> float:
    """Energy of the mean of mean-removed stretches over their mean energy (rows: stretches;
    `centred`: their means are removed already)."""
    n, m = stretches.shape
    x = stretches if centred else stretches - stretches.sum(axis=1, keepdims=True) / m
    energy = float((x * x).sum()) / n
    if energy <= 0:
        return 1.0
    mean = x.sum(axis=0) / n
    return float(mean @ mean) / energy


class AfDetector:
    """Judges the newest window of beats each time it is asked; keeps only the atrial
    stretches of the beats still in the window (measured once, when their signal has come)."""

    def __init__(self, fs: float, params: AfParams | None = None) -> None:
        self.fs = float(fs)
        self.params = params or AfParams()
        p = self.params
        offsets = -np.linspace(p.p_from_s, p.p_to_s, p.p_points) * self.fs
        self._base = np.floor(offsets).astype(np.int64)  # R samples are whole: the fractions
        self._frac = offsets - self._base  # of the linear interpolation never change
        # each beat's mean-removed stretch, in a ring of rows; R sample -> row (-1: lost)
        self._rows = np.zeros((2 * (p.beats + 2), p.p_points))
        self._next_row = 0
        self._stretch: dict[int, int] = {}
        self._supra = np.ones(256, bool)  # one-letter labels -> not ectopic
        self._supra[list(p.ectopic.encode())] = False
        self._measured: deque[int] = deque()  # the keys of _stretch, oldest first
        self._waiting: deque[int] = deque()  # beats whose stretch has not come yet
        self._seen = -1  # newest beat handed over so far
        self.last: AfFeatures | None = None

    @classmethod
    def with_window(cls, fs: float, beats: int) -> AfDetector:
        """The shipped detector judging up to `beats` intervals (AlertSpec.af_beats)."""
        p = AfParams()
        return cls(fs, replace(p, beats=beats, min_beats=min(p.min_beats, beats)))

    def __call__(
        self, samples: Sequence[int], labels: Sequence[str], recent: np.ndarray, recent_end: int
    ) -> bool:
        """AF-like? `samples`/`labels`: the newest beats (oldest first); `recent`: the newest
        band-passed samples of the lead, ending before source index `recent_end`."""
        self.last = self.features(samples, labels, recent, recent_end)
        return self.last is not None and self.probability(self.last) > self.params.threshold

    def probability(self, f: AfFeatures) -> float:
        z = self.params.bias + float(np.dot(self.params.weights, f.vector()))
        return 1.0 / (1.0 + math.exp(-min(max(z, -50.0), 50.0)))

    def features(
        self, samples: Sequence[int], labels: Sequence[str], recent: np.ndarray, recent_end: int
    ) -> AfFeatures | None:
        """The window's measures, or None when it is too short or too ectopic to judge."""
        p = self.params
        n = min(len(samples), len(labels), p.beats + 1)
        if n < p.min_beats + 1:
            return None
        r = np.asarray(list(samples)[-n:])
        supra = self._not_ectopic(list(labels)[-n:])
        clean = supra[1:] & supra[:-1]
        if clean.sum() < p.min_clean * (n - 1):
            return None
        rr = np.diff(r) / self.fs
        self._measure(r, recent, recent_end)
        rows = [i for s in r[supra].tolist() if (i := self._stretch.get(s, -1)) >= 0]
        p_coh = coherence(self._rows[rows], centred=True) if len(rows) >= p.min_p_beats else 0.5
        return AfFeatures(irregularity(rr, clean), p_coh)

    def _not_ectopic(self, labels: list[str]) -> np.ndarray:
        joined = "".join(labels).encode("ascii", "replace")
        if len(joined) != len(labels):  # a label of other than one letter
            return np.array([x not in self.params.ectopic for x in labels])
        return self._supra[np.frombuffer(joined, np.uint8)]

    def _measure(self, r: np.ndarray, recent: np.ndarray, recent_end: int) -> None:
        """Cut the atrial stretch of each new beat once its signal has come; forget beats that
        left the window. Beats come in time order, so only the newest few are looked at."""
        if int(r[-1]) < self._seen:  # the source's numbering began again: forget it all
            self._stretch.clear()
            self._measured.clear()
            self._waiting.clear()
            self._seen = -1
        self._waiting.extend(r[r > self._seen].tolist())
        self._seen = max(self._seen, int(r[-1]))
        start = recent_end - len(recent)
        while self._waiting:
            i = self._waiting[0] - start + self._base  # positions in `recent`
            if i[0] < 0:
                row = -1  # the signal before it is gone (or never came)
            elif i[-1] + 1 < len(recent):
                row = self._next_row
                self._next_row = (row + 1) % len(self._rows)
                x = recent[i] * (1.0 - self._frac) + recent[i + 1] * self._frac
                self._rows[row] = x - x.sum() / len(x)
            else:
                break  # not here yet, nor for the beats after it
            s = self._waiting.popleft()
            self._stretch[s] = row
            self._measured.append(s)
        first = int(r[0])
        while self._measured and self._measured[0] < first:
            del self._stretch[self._measured.popleft()]
