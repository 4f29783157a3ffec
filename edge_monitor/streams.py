"""The two ways a model is fed from a stream: one inference per detected beat (`BeatStream`) or
one per window every stride (`WindowStream`). Each owns its filter, resampler and model session
and turns samples into events; the Monitor wires them to the R-peak detector and the alerts."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from edge_monitor.alerts import AlertEvent, WindowAlerter
from edge_monitor.beat_recipe import BeatRecipe
from edge_monitor.beats import RR_FEATURES, BeatContext
from edge_monitor.bundle import Bundle, check_companion
from edge_monitor.contract import BeatInput, WindowInput
from edge_monitor.dsp import StreamFilter, StreamResampler, design_sos
from edge_monitor.events import BeatEvent, WindowEvent
from edge_monitor.inference import (
    aggregate_windows,
    open_session,
    probabilities,
    session_threads,
)

# QRSDetector's marks trail the reference R annotations by a fixed 50 ms (median over the 22
# DS1 records at 360 Hz: 18 samples, per record 17-20; measured on DS1, not on the DS2 test set)
DETECTOR_DELAY_S = 0.050
# a lead of a multi-lead window model whose band-passed window swings less than this (mV) is
# flat: digital zeros, or a missing lead held at its last value. Below one ADC step of common
# recorders (5 uV at a gain of 200/mV) and far below any lead's QRS: over the 1,987 shared
# PTB-XL records the smallest swing of a lead in a window, through this filter, is 0.094 mV
# (benchmarks/lead_swings.py)
FLAT_LEAD_MV = 0.005


class ModelRunner:
    """An onnxruntime session with its per-inference latencies kept for the profiling panel."""

    def __init__(self, bundle: Bundle, threads: tuple[int, int]) -> None:
        self.bundle = bundle
        self.threads = threads  # the profile's (a companion stream opens with the same)
        self.session = open_session(bundle.model_source, *session_threads(bundle.manifest, threads))
        self._outputs = [self.session.get_outputs()[0].name]  # the class logits
        self._shape = (len(bundle.contract.classes),)
        self.latencies: deque[float] = deque(maxlen=2048)
        self.count = 0
        self.capture: list | None = None  # the bench collects real inputs here

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray | None:
        """Class probabilities, or None when the model answered something that is not one (a
        damaged model must not read as normal sinus rhythm through argmax of NaN)."""
        if self.capture is not None:
            self.capture.append(feed)
        t0 = time.perf_counter()
        out = self.session.run(self._outputs, feed)[0][0]
        self.latencies.append(time.perf_counter() - t0)
        self.count += 1
        if out.shape != self._shape or not np.isfinite(out).all():
            return None  # (a sigmoid would turn an infinite logit into 0 or 1)
        with np.errstate(all="ignore"):
            probs = probabilities(self.bundle.contract, out)
        return probs if valid_probabilities(probs) else None


def valid_probabilities(p: np.ndarray) -> bool:
    """Finite and within [0, 1] (a NaN fails both comparisons)."""
    p = np.asarray(p)
    return p.size == 0 or bool(p.min() >= -1e-6 and p.max() <= 1 + 1e-6)


def rounded(classes: list[str], probs: np.ndarray) -> dict[str, float]:
    """The probabilities as events carry them: per class, 4 decimals."""
    return {c: round(p, 4) for c, p in zip(classes, probs.tolist(), strict=True)}


class BeatStream:
    """R peaks on the raw lead at the source rate, beat contexts at the model rate, one inference
    per beat. A beat leaves once the signal reaches the end of its window and its successor's R
    peak is known (its post-RR), about half a second after it happened."""

    def __init__(
        self,
        bundle: Bundle,
        fs: float,
        threads: tuple[int, int],
        origin: int = 0,
        down: Bundle | None = None,
    ) -> None:
        """`down`: a companion model that reads the beats whose dominant QRS points down (an
        inverted lead); it must take exactly this model's input (`check_companion`)."""
        contract = bundle.contract
        assert isinstance(contract.input, BeatInput)
        self.origin = origin  # source index of the first sample pushed
        self.model = ModelRunner(bundle, threads)
        if down is not None:
            check_companion(bundle, down)
        self.down_model = ModelRunner(down, threads) if down is not None else None
        self.classes = contract.classes
        self.fs = fs
        self.spec = contract.input.beat
        # the RR features the contract names, in its order (bundles trained before a feature
        # was added name fewer; contract_ranges refused any name not computed here)
        self._rr_columns = [RR_FEATURES.index(n) for n in contract.input.rr_features]
        self.recipe = BeatRecipe(contract.filter, self.spec)
        self.filter = self.recipe.stream_filter(fs)
        self.resampler = self.recipe.stream_resampler(fs)
        self.builder = self.recipe.context_builder()
        self._buf = np.zeros(0, dtype=np.float32)  # model-rate filtered signal
        self._buf_start = 0
        self._pending: deque[tuple[int, int]] = deque()  # (source index, model index)
        self._src = np.zeros(0)  # raw lead at the source rate, for R refinement
        self._src_start = origin
        self._delay = int(round(DETECTOR_DELAY_S * fs))
        self._pushed: deque[tuple[int, int]] = deque(maxlen=2)
        self._keep = int(self.spec.fs * 4) + self.spec.length
        self._gaps: deque[float] = deque()  # middles of gaps not yet passed by a beat
        self._hold_max = int(self.spec.fs * 60)

    @property
    def runners(self) -> list[ModelRunner]:
        return [self.model] if self.down_model is None else [self.model, self.down_model]

    @property
    def recent_raw(self) -> np.ndarray:
        """The raw lead's last 4 s at the source rate (R re-centring reads them)."""
        return self._src

    def refine(self, peak: int) -> int:
        """The detector marks the QRS energy, a fixed delay after the R wave; step back by it
        and snap to the largest deflection of the raw lead, as training did with the reference
        annotations (all samples needed are already here: decisions lag by >= 150 ms)."""
        return self.recipe.refine(self._src, peak - self._delay, self.fs, self._src_start)

    def push(
        self,
        filtered: np.ndarray,
        peaks: list[int],
        raw: np.ndarray,
        gaps: Sequence[tuple[int, int]] = (),
    ) -> list[BeatEvent]:
        """`gaps`: (start, end) source indices of runs without signal that ended in this block
        and after which the R-peak detector learnt anew: no RR interval spans them."""
        model_rate = self.resampler(filtered.reshape(-1, 1))[:, 0].astype(np.float32)
        self._buf = np.concatenate([self._buf, model_rate])
        self._src = np.concatenate([self._src, raw])
        self._gaps.extend((a + b) / 2 for a, b in gaps)
        for p in peaks:
            r = self.refine(p)
            self._pending.append((r, int(round((r - self.origin) * self.spec.fs / self.fs))))
        # the raw lead for R re-centring, kept as long as the detector may take to decide a beat
        # (after a gap: settle 0.5 + learning 2 + lookahead and integration 0.3 s): with 2 s a
        # beat decided then was re-centred on a clipped window, differently with the push sizes
        keep_src = int(4 * self.fs)
        if len(self._src) > keep_src:
            self._src_start += len(self._src) - keep_src
            self._src = self._src[-keep_src:]
        events = []
        end = self._buf_start + len(self._buf)
        while self._pending:
            ready = not self._pushed or end >= self._pushed[-1][1] + self.spec.after
            if not ready:
                break
            events += self._push_peak(*self._pending.popleft())
        drop = len(self._buf) - self._keep
        if self._pushed:  # the beat still held keeps its window through a gap of up to a minute
            held = self._pushed[-1][1] - self.spec.before - self._buf_start
            drop = min(drop, max(held, len(self._buf) - self._keep - self._hold_max))
        if drop > 0:
            self._buf, self._buf_start = self._buf[drop:], self._buf_start + drop
        return events

    def finish(self) -> list[BeatEvent]:
        """Close the last beat with a virtual successor one RR later, as training does."""
        events = []
        while self._pending:
            events += self._push_peak(*self._pending.popleft())
        return events + self._close(self._src_start + len(self._src))

    def _push_peak(self, source_index: int, model_index: int) -> list[BeatEvent]:
        events = self._break_before(source_index)
        ctx = self.builder.push(model_index, self._buf, self._buf_start)
        self._pushed.append((source_index, model_index))
        if ctx is None:
            return events  # the first beat after a gap: the one before it, if any, closed
        beat_source = self._pushed[0][0]
        return [*events, self._classify(ctx, beat_source)]

    def _break_before(self, source_index: int) -> list[BeatEvent]:
        """Close the rhythm at a gap that lies between the last beat pushed and this one."""
        events: list[BeatEvent] = []
        while self._gaps and self._gaps[0] < source_index:
            middle = self._gaps.popleft()
            if self._pushed and self._pushed[-1][0] <= middle:
                events += self._close(source_index)
        return events

    def _close(self, next_source: int) -> list[BeatEvent]:
        """The beat still held, closed with a successor one RR later (the builder starts anew).
        Where the signal came back (`next_source`: the next beat, or the stream's end) more than
        a minute after it, it is reported Q (unclassifiable): its window may have left the
        buffer, and whether it had depended on how the stream was pushed; it is never read
        from the zeros in its place."""
        if not self._pushed:
            return []
        source_index, model_index = self._pushed[-1]
        ctx = self.builder.break_rhythm(self._buf, self._buf_start)
        self._pushed.clear()
        if ctx is None:
            return []
        gone = model_index - self.spec.before < self._buf_start
        if gone or next_source - source_index > self._hold_max * self.fs / self.spec.fs:
            return [BeatEvent(source_index, "Q", None, self.model.bundle.name)]
        return [self._classify(ctx, source_index)]

    def _classify(self, ctx: BeatContext, source_index: int) -> BeatEvent:
        # the largest deflection negative, as recorded
        down = bool(ctx.template[self.spec.before] * ctx.polarity < 0)
        feed = {
            "beat": np.stack([ctx.window, ctx.template])[None].astype(np.float32, copy=False),
            "rr": ctx.rr[self._rr_columns][None].astype(np.float32, copy=False),
        }
        runner = self.down_model if down and self.down_model is not None else self.model
        probs = runner.run(feed)
        if probs is None:
            return BeatEvent(source_index, None, None, self.model.bundle.name, qrs_down=down)
        label = self.classes[int(probs.argmax())]
        probs_out = rounded(self.classes, probs)
        return BeatEvent(source_index, label, probs_out, self.model.bundle.name, qrs_down=down)


class WindowStream:
    """Fixed windows of the contract's leads at the model rate, one inference every stride."""

    def __init__(
        self,
        bundle: Bundle,
        fs: float,
        channels: list[int],
        threads: tuple[int, int],
        origin: int = 0,
        per_window: bool = False,
    ) -> None:
        """`per_window`: a detector whose windows are read one by one (the ventricular model,
        fused into the alarms elsewhere): no per-class warnings on a record's average, and no
        record probabilities kept."""
        c = bundle.contract
        assert isinstance(c.input, WindowInput)
        self.per_window = per_window
        self.origin = origin
        self.spec = c.input
        self.model = ModelRunner(bundle, threads)
        self.classes = c.classes
        self.fs, self.fs_model = fs, float(c.fs)
        self.ratio = self.fs / self.fs_model  # source samples per model sample
        self.channels = channels
        self.window, self.stride = c.input.window, c.input.stride
        self.filter = StreamFilter(design_sos(c.filter, fs), len(channels))
        self.resampler = StreamResampler(fs, self.fs_model, len(channels))
        self._buf = np.zeros((0, len(channels)), dtype=np.float32)
        self._buf_start = 0
        self._next = 0  # model-rate start of the next window
        alert_classes = [] if per_window else [k for k in c.classes if k != "NORM"]
        thresholds = c.thresholds or [0.5] * len(c.classes)
        self.alerter = WindowAlerter(
            alert_classes, [thresholds[c.classes.index(k)] for k in alert_classes]
        )
        self.record_probs: list[np.ndarray] = []  # windows of good signal
        self.windows_judged = 0
        # a multi-lead model's windows with one of its leads missing (NaN in the source) or
        # flat judge nothing; the beat lead goes on regardless (pipeline._advance)
        self.dead_leads: dict[int, int] = {}  # channel -> windows it kept from a verdict
        self._missing: deque[tuple[int, int, int]] = deque()  # (first, last, channel) missing
        self._source_end = origin  # source index of the next row pushed
        # the thresholds were tuned on record-level probabilities: alerts compare them with the
        # aggregate of the last record's worth of windows, as the contract aggregates
        self._recent: deque[np.ndarray] = deque(maxlen=c.input.windows_per_record)

    def aggregate(self, probs: list[np.ndarray] | deque) -> np.ndarray:
        return aggregate_windows(np.stack(list(probs)), self.spec.aggregate)

    def push(
        self,
        x: np.ndarray,
        quality_at: Callable[[int], bool],
        filtered: np.ndarray | None = None,
        missing: np.ndarray | None = None,
    ) -> list[WindowEvent | AlertEvent]:
        """`quality_at(sample)`: whether the signal was good by that source sample, asked for
        each window as its last sample arrives (not once per block: a block of several seconds
        gave every window in it the grade of its last second, so the alarms depended on how the
        source was read).
        `filtered`: this block of the one lead already through a filter identical to this
        stream's (the Monitor's lead filter), so that it is not run twice.
        `missing`: (rows, channels) of the source that were not finite before the Monitor held
        them (a multi-lead model's window holding one judges nothing)."""
        self._note_missing(missing, len(x))
        band = self.filter(x[:, self.channels]) if filtered is None else filtered.reshape(-1, 1)
        model_rate = self.resampler(band)
        self._buf = np.vstack([self._buf, model_rate.astype(np.float32)])
        events: list[WindowEvent | AlertEvent] = []
        while self._buf_start + len(self._buf) >= self._next + self.window:
            a = self._next - self._buf_start
            win = np.ascontiguousarray(self._buf[a : a + self.window].T[None])
            probs = self.model.run({"ecg": win})
            start = self.origin + int(round(self._next * self.fs / self.fs_model))
            end = self.origin + int(round((self._next + self.window) * self.fs / self.fs_model))
            # judged by the grades complete when its last sample arrived, whatever the blocks
            last = self.origin + int((self._next + self.window - 1) * self.ratio)
            quality_ok = quality_at(last + 1) and not self._dead_lead(win[0], start, last)
            self._next += self.stride
            if probs is None:
                events.append(WindowEvent(start, end, None, self.model.bundle.name, quality_ok))
                continue
            events.append(
                WindowEvent(
                    start, end, rounded(self.classes, probs), self.model.bundle.name, quality_ok
                )
            )
            if self.per_window:
                continue
            self.windows_judged += 1
            if quality_ok:  # a record's verdict comes from windows of good signal only
                self.record_probs.append(probs)
            self._recent.append(probs)
            idx = [self.classes.index(k) for k in self.alerter.classes]
            events += self.alerter.on_window(end, self.aggregate(self._recent)[idx], quality_ok)
        drop = self._next - self._buf_start
        if drop > 0:
            self._buf, self._buf_start = self._buf[drop:], self._buf_start + drop
        first = self.origin + int(self._next * self.ratio)  # no later window reaches back
        if self._missing:  # runs of several leads interleave: keep those a window may reach
            self._missing = deque(run for run in self._missing if run[1] >= first)
        return events

    def _note_missing(self, missing: np.ndarray | None, n: int) -> None:
        """Runs of rows with one of this model's leads missing, in source indices."""
        a = self._source_end
        self._source_end += n
        if missing is None or len(self.channels) < 2 or not missing.any():
            return
        for ch in self.channels:
            rows = missing[:, ch].astype(np.int8)
            edges = np.flatnonzero(np.diff(np.concatenate([[0], rows, [0]])))
            for lo, hi in zip(edges[::2], edges[1::2], strict=True):
                self._missing.append((a + int(lo), a + int(hi) - 1, ch))

    def _dead_lead(self, window: np.ndarray, start: int, last: int) -> bool:
        """Does a lead of a multi-lead window miss samples in it, or lie flat? Counted per
        channel, so the record's note can name it."""
        if len(self.channels) < 2:
            return False
        flat = np.ptp(window, axis=1) < FLAT_LEAD_MV
        dead = {self.channels[int(k)] for k in np.flatnonzero(flat)}
        dead |= {ch for a, b, ch in self._missing if a <= last and b >= start}
        for ch in dead:
            self.dead_leads[ch] = self.dead_leads.get(ch, 0) + 1
        return bool(dead)
