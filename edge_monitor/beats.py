"""What the arrhythmia model sees of one beat: a window around its R peak plus RR-interval context.

Inter-patient S-beat detection lives on RR timing relative to *this* patient's rhythm (a PAC is
early against the local and long-run RR, not against a population norm), so RR features are
ratios to running averages; the beat window is scaled by this patient's running QRS amplitude, not
per beat, so a large ventricular beat stays large next to its neighbours. Beside the beat the model
gets this patient's dominant beat (the median of the previous beats), the way bedside analysers
compare each QRS with the patient's template: a wide QRS in a bundle-branch-block patient is then
normal for *them*, while a PVC differs from its own template. Only beats that came on time feed the
template: where premature beats outnumber sinus beats (MIT-BIH 232) a template of all beats would
be the ectopic beat itself and hide it. The builder is streaming:
a beat is emitted when the next R peak arrives (its post-RR is then known). Training runs the same
builder over whole records.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


def median(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    """np.median to the bit (the same partition call, the middle pair averaged in the input's
    dtype, NaN wherever a NaN is) without its generic machinery: it runs three times per beat.
    For non-empty float arrays (the beat windows, amplitudes and raw segments)."""
    x = np.asarray(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    n = x.shape[axis]
    k = (n - 1) // 2
    part = np.partition(x, [k, n // 2, -1] if n % 2 == 0 else [k, -1], axis=axis)
    mid = np.take(part, k, axis=axis) + 0.0  # np.median sums from 0: a -0.0 comes out +0.0
    if n % 2 == 0:
        mid = (mid + np.take(part, n // 2, axis=axis)) / 2
    last = np.take(part, -1, axis=axis)  # a NaN sorts last; np.median answers it
    return np.where(np.isnan(last), last, mid)[()]


RR_FEATURES = (
    "pre_rr_local",  # previous RR / mean of the last local_beats RR
    "post_rr_local",
    "pre_rr_long",  # previous RR / mean RR of the last long_beats (de Chazal's average RR)
    "post_rr_long",
    "local_rr_long",
    "local_rr_cv",  # irregularity of the local rhythm (std / mean): high in AF
    # the same, robust: median |successive RR difference| / mean. One pause or compensatory
    # interval inflates the cv; atrial runs at a steady coupling (MIT-BIH 232) then read as
    # irregular as AF. The median ignores them (docs/preregistrations/2026-12-06-rr-msd.md)
    "local_rr_msd",
)
# Append-only: a bundle's contract names the features its model reads and the device feeds those
# (`BeatStream`); the first six are what every bundle before local_rr_msd was trained on.


@dataclass(frozen=True)
class BeatSpec:
    """Beat context geometry at the model rate `fs` (Hz)."""

    fs: float = 180.0
    before: int = 54  # samples before the R peak (0.30 s at 180 Hz: the P wave is in)
    after: int = 74  # samples from the R peak on (0.41 s: the QRS and most of the T wave)
    local_beats: int = 10  # RR average over the last beats ("local rhythm")
    long_beats: int = 300  # RR mean over roughly the last minutes ("this patient's rhythm")
    amplitude_beats: int = 32  # QRS amplitude median over the last beats
    template_beats: int = 16  # the dominant-beat template is the median of the last beats...
    template_min_rr: float = 0.85  # ...that came on time: pre-RR >= this share of the mean RR
    upright: bool = False  # read the lead with its dominant QRS pointing up (`upright_polarity`)

    @property
    def length(self) -> int:
        return self.before + self.after

    def as_dict(self) -> dict[str, float]:
        """Every field; `upright` only when on, so the bundles and data caches made before it
        existed keep their contracts and cache keys."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if not self.upright:
            del out["upright"]
        return out


UPRIGHT_SHARE = 0.6  # a dominant beat's R sample beyond this share of its span sets the polarity


def upright_polarity(template: np.ndarray, before: int, current: float) -> float:
    """The sign that turns a lead's dominant QRS upright: swapped electrodes, a Holter channel of
    the other polarity or a lead whose QRS is mostly negative then reach the model alike (an
    inverted lead cost DS2 V Se 0.94 -> 0.66: docs/beat_leads.md). Read on the dominant-beat
    template, so a PVC keeps its polarity against the patient's own beats. `current` is 0 when
    undecided (a record's start, after a gap): the sign of the R sample then decides, so a lead
    and its negation are read the same. After that it turns only when the R sample lies beyond
    UPRIGHT_SHARE of the template's span in the other direction: a biphasic QRS never flips the
    lead back and forth. A flat template (span 0, or an R sample at exactly 0 on a lead not yet
    decided: digital zeros) decides nothing, so the identity holds there too."""
    centre = float(template[before])
    span = float(np.ptp(template))
    if current == 0.0:
        if centre == 0.0:  # the largest deflection's sign (the first of equal ones), if any
            centre = float(template[int(np.argmax(np.abs(template)))])
        return -1.0 if centre < 0 else 1.0 if centre > 0 else 0.0
    if centre < -UPRIGHT_SHARE * span:
        return -1.0
    if centre > UPRIGHT_SHARE * span:
        return 1.0
    return current


@dataclass(frozen=True)
class BeatContext:
    """One beat ready for the model: `window` and `template` (length,) float32, `rr` features."""

    r_index: int  # absolute sample index of the R peak at the model rate
    window: np.ndarray
    template: np.ndarray  # median of earlier on-time beats' windows (the beat itself at first)
    rr: np.ndarray
    polarity: float = 1.0  # the sign window and template were read with (-1: turned upright)


class BeatContextBuilder:
    """Push R peaks (model-rate indices, increasing) with access to the filtered signal."""

    def __init__(self, spec: BeatSpec) -> None:
        self.spec = spec
        self._peaks: deque[int] = deque(maxlen=2)
        self._rr_local: deque[float] = deque(maxlen=spec.local_beats)
        self._rr_long: deque[float] = deque(maxlen=spec.long_beats)
        self._amplitudes: deque[float] = deque(maxlen=spec.amplitude_beats)
        self._recent: deque[np.ndarray] = deque(maxlen=spec.template_beats)
        self._polarity = 0.0  # undecided (`upright_polarity`)

    def push(self, r_index: int, signal: np.ndarray, signal_start: int = 0) -> BeatContext | None:
        """Register a new R peak; return the context of the previous beat, now complete.

        `signal` holds the filtered samples from absolute index `signal_start` on and must reach
        the previous beat's window (the caller keeps a ring buffer of a few seconds).
        """
        self._peaks.append(int(r_index))
        if len(self._peaks) < 2:
            return None
        beat, nxt = self._peaks[0], self._peaks[1]
        post = (nxt - beat) / self.spec.fs
        ctx = self._context(signal, signal_start, beat, post)
        self._rr_local.append(post)
        self._rr_long.append(post)
        if ctx.rr[RR_FEATURES.index("pre_rr_long")] >= self.spec.template_min_rr:
            self._recent.append(ctx.window * ctx.polarity)  # as recorded
        return ctx

    def break_rhythm(self, signal: np.ndarray, signal_start: int = 0) -> BeatContext | None:
        """The signal broke off (leads off, a dropout) after the last R peak pushed: close that
        beat with a successor one RR later, as at a record's end, and start again as at a
        record's start (RR, amplitude and template histories forgotten; on the training records
        that read the beats after a gap better than keeping the last two: docs/monitor.md).
        Without it, the interval across a 30 s gap entered the RR means (a 300-beat mean grew
        by a tenth) and beats read premature for minutes: PAC warnings after each leads-off."""
        ctx = None
        if self._peaks:
            beat = self._peaks[-1]
            step = self._rr_local[-1] if self._rr_local else 1.0
            ctx = self._context(signal, signal_start, beat, step)
        self._peaks.clear()
        for history in (self._rr_local, self._rr_long, self._amplitudes, self._recent):
            history.clear()
        self._polarity = 0.0
        return ctx

    def _context(
        self, signal: np.ndarray, signal_start: int, beat: int, post: float
    ) -> BeatContext:
        window = self._window(signal, signal_start, beat)
        pre = self._rr_local[-1] if self._rr_local else post
        rr = self._features(pre, post)
        template = (
            median(np.stack(self._recent), axis=0).astype(np.float32) if self._recent else window
        )
        if not self.spec.upright:
            return BeatContext(beat, window, template, rr)
        polarity = upright_polarity(template, self.spec.before, self._polarity)
        if polarity == 0.0:  # a flat template (zeros before the lead came on): the beat decides
            polarity = upright_polarity(window, self.spec.before, 0.0)
        self._polarity = polarity
        if polarity < 0:
            return BeatContext(beat, -window, -template, rr, -1.0)
        return BeatContext(beat, window, template, rr, 1.0)  # upright, or flat: undecided

    def _features(self, pre: float, post: float) -> np.ndarray:
        """Ratios only: absolute RR in seconds ties the model to the training patients' heart
        rates (it lowered S sensitivity in leave-patients-out checks within DS1). The long
        reference is a mean, not a median: where ectopic beats outnumber sinus beats (record
        232) a median is an ectopic interval and hides the prematurity."""
        local_rr = np.asarray(self._rr_local) if self._rr_local else np.asarray([pre])
        local = max(float(local_rr.mean()), 1e-3)
        long = max(
            float(np.fromiter(self._rr_long, float).mean()) if self._rr_long else local, 1e-3
        )
        cv = float(local_rr.std()) / local
        msd = float(median(np.abs(np.diff(local_rr)))) / local if len(local_rr) > 1 else 0.0
        feats = [pre / local, post / local, pre / long, post / long, local / long, cv, msd]
        return np.clip(np.asarray(feats, dtype=np.float32), 0.0, 5.0)

    def _window(self, signal: np.ndarray, signal_start: int, beat: int) -> np.ndarray:
        spec = self.spec
        lo, hi = beat - spec.before - signal_start, beat + spec.after - signal_start
        window = np.zeros(spec.length, dtype=np.float32)
        src_lo, src_hi = max(lo, 0), min(hi, len(signal))
        if src_hi > src_lo:  # beats at the record edges are zero-padded
            window[src_lo - lo : src_hi - lo] = signal[src_lo:src_hi]
        window -= median(window)
        qrs = window[spec.before - int(0.05 * spec.fs) : spec.before + int(0.05 * spec.fs) + 1]
        self._amplitudes.append(float(np.ptp(qrs)))
        scale = max(float(median(np.fromiter(self._amplitudes, float))), 1e-3)
        return window / scale


R_SEARCH_S = 0.06  # half-width of the R-peak search window


def refine_r_peak(x: np.ndarray, index: int, fs: float, offset: int = 0) -> int:
    """The largest deflection from the local median within +-60 ms of `index`, on the raw lead.

    Training applies this to the reference annotations and the device to its detections (shifted
    back by the detector's delay first), so both centre a beat on the same sample: the beat model
    is sensitive to half-sample misalignments between a beat and its template. `x` holds samples
    from absolute index `offset` on."""
    half = int(round(R_SEARCH_S * fs))
    lo, hi = max(index - half, offset), min(index + half + 1, offset + len(x))
    if hi - lo < 3:
        return int(index)
    seg = np.asarray(x[lo - offset : hi - offset], dtype=np.float64)
    return lo + int(np.argmax(np.abs(seg - median(seg))))


def beat_contexts(
    signal: np.ndarray, r_indices: np.ndarray, spec: BeatSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows and templates (n, length) and RR features (n, k) of every beat of a whole record.

    The last beat has no successor; its post-RR is taken equal to its pre-RR.
    """
    builder = BeatContextBuilder(spec)
    x = np.asarray(signal, dtype=np.float32).reshape(-1)
    peaks = [int(i) for i in r_indices]
    if not peaks:
        empty = np.zeros((0, spec.length), np.float32)
        return empty, empty.copy(), np.zeros((0, len(RR_FEATURES)), np.float32)
    windows = np.zeros((len(peaks), spec.length), dtype=np.float32)
    templates = np.zeros_like(windows)
    rr = np.zeros((len(peaks), len(RR_FEATURES)), dtype=np.float32)
    for k, r in enumerate(peaks[1:] + [None]):
        if r is None:  # close the last beat with a virtual successor one pre-RR later
            last = peaks[-1]
            prev = peaks[-2] if len(peaks) > 1 else last - int(spec.fs)
            r = last + max(last - prev, 1)
        if k == 0:
            builder.push(peaks[0], x)
        ctx = builder.push(r, x)
        if ctx is not None:
            windows[k], templates[k], rr[k] = ctx.window, ctx.template, ctx.rr
    return windows, templates, rr
