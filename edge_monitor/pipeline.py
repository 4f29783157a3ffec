"""The streaming pipeline: samples in, beats / windows / quality / alerts out, in source numbering.

One `Monitor` serves every source (serial port, WFDB replay, an emulated device): it is pushed
blocks of (samples, channels) in millivolts with a leads-off mask and never sees where they came
from. The beat model runs the trainer's own preprocessing (the same filter, resampler and beat
context builder), so streaming a record reproduces the training path up to the R-peak detector.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from edge_monitor.alerts import AlertEngine, AlertEvent, AlertSpec, WindowAlerter
from edge_monitor.beats import BeatContext, BeatContextBuilder, refine_r_peak
from edge_monitor.bundle import Bundle
from edge_monitor.contract import BeatInput, WindowInput
from edge_monitor.dsp import FilterSpec, StreamFilter, StreamResampler, design_sos
from edge_monitor.errors import InputError
from edge_monitor.inference import aggregate_windows, open_session, probabilities
from edge_monitor.qrs import QRSDetector
from edge_monitor.quality import (
    GOOD,
    NO_SIGNAL,
    QualitySpec,
    QualityTracker,
    SegmentQuality,
)

# a beat model trained on MIT-BIH's modified lead II accepts a standard lead II, and a one-lead
# front end whose channel is simply called ECG
LEAD_ALIASES = {"MLII": ("MLII", "II", "ECG", "ECG1")}
# QRSDetector's marks trail the reference R annotations by a fixed 50 ms (median over the 22
# DS1 records at 360 Hz: 18 samples, per record 17-20; measured on DS1, not on the DS2 test set)
DETECTOR_DELAY_S = 0.050
SETTLE_S = 2.0  # after bad signal, filters and the detector's thresholds settle this long


@dataclass(frozen=True)
class BeatEvent:
    """`label` and `probs` are None when the model's output was invalid (NaN, inf, or not a
    probability): such a beat is reported, never labelled."""

    sample: int
    label: str | None
    probs: dict[str, float] | None
    model: str

    def to_json(self) -> dict:
        return {"type": "beat", "sample": self.sample, "label": self.label, "probs": self.probs}


@dataclass(frozen=True)
class WindowEvent:
    start: int
    end: int
    probs: dict[str, float] | None  # None: the model's output was invalid
    model: str
    quality_ok: bool

    def to_json(self) -> dict:
        return {"type": "window", "start": self.start, "end": self.end, "probs": self.probs}


@dataclass(frozen=True)
class QualityEvent:
    segment: SegmentQuality

    def to_json(self) -> dict:
        s = self.segment
        return {"type": "quality", "start": s.start, "end": s.end, "state": s.state}


Event = BeatEvent | WindowEvent | QualityEvent | AlertEvent


def find_channel(sig_name: list[str], lead: str) -> int | None:
    names = [s.upper() for s in sig_name]
    for candidate in LEAD_ALIASES.get(lead.upper(), (lead,)):
        if candidate.upper() in names:
            return names.index(candidate.upper())
    return None


class _Timed:
    """An onnxruntime session with its per-inference latencies kept for the profiling panel."""

    def __init__(self, bundle: Bundle, threads: tuple[int, int]) -> None:
        self.bundle = bundle
        self.session = open_session(bundle.model_path, *threads)
        self.latencies: deque[float] = deque(maxlen=2048)
        self.count = 0
        self.capture: list | None = None  # the bench collects real inputs here

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray | None:
        """Class probabilities, or None when the model answered something that is not one (a
        damaged model must not read as normal sinus rhythm through argmax of NaN)."""
        if self.capture is not None:
            self.capture.append(feed)
        t0 = time.perf_counter()
        out = self.session.run(None, feed)[0][0]
        self.latencies.append(time.perf_counter() - t0)
        self.count += 1
        if not np.isfinite(out).all():  # a sigmoid would turn an infinite logit into 0 or 1
            return None
        with np.errstate(all="ignore"):
            probs = probabilities(self.bundle.contract, out)
        if probs.shape != (len(self.bundle.contract.classes),) or not valid_probabilities(probs):
            return None
        return probs


def valid_probabilities(p: np.ndarray) -> bool:
    p = np.asarray(p)
    return bool(np.isfinite(p).all() and (p >= -1e-6).all() and (p <= 1 + 1e-6).all())


class BeatStream:
    """R peaks on the raw lead at the source rate, beat contexts at the model rate, one inference
    per beat. A beat leaves once the signal reaches the end of its window and its successor's R
    peak is known (its post-RR), about half a second after it happened."""

    def __init__(
        self, bundle: Bundle, fs: float, threads: tuple[int, int], origin: int = 0
    ) -> None:
        contract = bundle.contract
        assert isinstance(contract.input, BeatInput)
        self.origin = origin  # source index of the first sample pushed
        self.model = _Timed(bundle, threads)
        self.classes = contract.classes
        self.fs = fs
        self.spec = contract.input.beat
        self.filter = StreamFilter(design_sos(contract.filter, fs), 1)
        self.resampler = StreamResampler(fs, self.spec.fs, 1)
        self.builder = BeatContextBuilder(self.spec)
        self._buf = np.zeros(0, dtype=np.float32)  # model-rate filtered signal
        self._buf_start = 0
        self._pending: deque[tuple[int, int]] = deque()  # (source index, model index)
        self._src = np.zeros(0)  # raw lead at the source rate, for R refinement
        self._src_start = origin
        self._delay = int(round(DETECTOR_DELAY_S * fs))
        self._pushed: deque[tuple[int, int]] = deque(maxlen=2)
        self._keep = int(self.spec.fs * 4) + self.spec.length

    def refine(self, peak: int) -> int:
        """The detector marks the QRS energy, a fixed delay after the R wave; step back by it
        and snap to the largest deflection of the raw lead, as training did with the reference
        annotations (all samples needed are already here: decisions lag by >= 150 ms)."""
        return refine_r_peak(self._src, peak - self._delay, self.fs, self._src_start)

    def push(self, filtered: np.ndarray, peaks: list[int], raw: np.ndarray) -> list[BeatEvent]:
        model_rate = self.resampler(filtered.reshape(-1, 1))[:, 0].astype(np.float32)
        self._buf = np.concatenate([self._buf, model_rate])
        self._src = np.concatenate([self._src, raw])
        for p in peaks:
            r = self.refine(p)
            self._pending.append((r, int(round((r - self.origin) * self.spec.fs / self.fs))))
        keep_src = int(2 * self.fs)
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
        if drop > 0:
            self._buf, self._buf_start = self._buf[drop:], self._buf_start + drop
        return events

    def finish(self) -> list[BeatEvent]:
        """Close the last beat with a virtual successor one RR later, as training does."""
        events = []
        while self._pending:
            events += self._push_peak(*self._pending.popleft())
        if self._pushed:
            last_src, last_model = self._pushed[-1]
            prev_src, prev_model = self._pushed[0] if len(self._pushed) > 1 else self._pushed[-1]
            step = max(last_model - prev_model, 1) if len(self._pushed) > 1 else int(self.spec.fs)
            step_src = max(last_src - prev_src, 1) if len(self._pushed) > 1 else int(self.fs)
            events += self._push_peak(last_src + step_src, last_model + step)
        return events

    def _push_peak(self, source_index: int, model_index: int) -> list[BeatEvent]:
        ctx = self.builder.push(model_index, self._buf, self._buf_start)
        self._pushed.append((source_index, model_index))
        if ctx is None:
            return []
        beat_source = self._pushed[0][0]
        return [self._classify(ctx, beat_source)]

    def _classify(self, ctx: BeatContext, source_index: int) -> BeatEvent:
        feed = {
            "beat": np.stack([ctx.window, ctx.template])[None].astype(np.float32),
            "rr": ctx.rr[None].astype(np.float32),
        }
        probs = self.model.run(feed)
        if probs is None:
            return BeatEvent(source_index, None, None, self.model.bundle.name)
        label = self.classes[int(np.argmax(probs))]
        return BeatEvent(
            source_index,
            label,
            {c: round(float(p), 4) for c, p in zip(self.classes, probs, strict=True)},
            self.model.bundle.name,
        )


class WindowStream:
    """Fixed windows of the contract's leads at the model rate, one inference every stride."""

    def __init__(
        self,
        bundle: Bundle,
        fs: float,
        channels: list[int],
        threads: tuple[int, int],
        origin: int = 0,
    ) -> None:
        c = bundle.contract
        assert isinstance(c.input, WindowInput)
        self.origin = origin
        self.spec = c.input
        self.model = _Timed(bundle, threads)
        self.classes = c.classes
        self.fs, self.fs_model = fs, float(c.fs)
        self.channels = channels
        self.window, self.stride = c.input.window, c.input.stride
        self.filter = StreamFilter(design_sos(c.filter, fs), len(channels))
        self.resampler = StreamResampler(fs, self.fs_model, len(channels))
        self._buf = np.zeros((0, len(channels)), dtype=np.float32)
        self._buf_start = 0
        self._next = 0  # model-rate start of the next window
        alert_classes = [k for k in c.classes if k != "NORM"]
        thresholds = c.thresholds or [0.5] * len(c.classes)
        self.alerter = WindowAlerter(
            alert_classes, [thresholds[c.classes.index(k)] for k in alert_classes]
        )
        self.record_probs: list[np.ndarray] = []
        # the thresholds were tuned on record-level probabilities: alerts compare them with the
        # aggregate of the last record's worth of windows, as the contract aggregates
        self._recent: deque[np.ndarray] = deque(maxlen=c.input.windows_per_record)

    def aggregate(self, probs: list[np.ndarray] | deque) -> np.ndarray:
        return aggregate_windows(np.stack(list(probs)), self.spec.aggregate)

    def push(self, x: np.ndarray, quality_ok: bool) -> list[WindowEvent | AlertEvent]:
        model_rate = self.resampler(self.filter(x[:, self.channels]))
        self._buf = np.vstack([self._buf, model_rate.astype(np.float32)])
        events: list[WindowEvent | AlertEvent] = []
        while self._buf_start + len(self._buf) >= self._next + self.window:
            a = self._next - self._buf_start
            win = np.ascontiguousarray(self._buf[a : a + self.window].T[None])
            probs = self.model.run({"ecg": win})
            start = self.origin + int(round(self._next * self.fs / self.fs_model))
            end = self.origin + int(round((self._next + self.window) * self.fs / self.fs_model))
            self._next += self.stride
            if probs is None:
                events.append(WindowEvent(start, end, None, self.model.bundle.name, quality_ok))
                continue
            self.record_probs.append(probs)
            events.append(
                WindowEvent(
                    start,
                    end,
                    {k: round(float(p), 4) for k, p in zip(self.classes, probs, strict=True)},
                    self.model.bundle.name,
                    quality_ok,
                )
            )
            self._recent.append(probs)
            idx = [self.classes.index(k) for k in self.alerter.classes]
            events += self.alerter.on_window(end, self.aggregate(self._recent)[idx], quality_ok)
        drop = self._next - self._buf_start
        if drop > 0:
            self._buf, self._buf_start = self._buf[drop:], self._buf_start + drop
        return events


class Monitor:
    """Push (samples, channels) blocks in mV with a leads-off mask; get events back."""

    def __init__(
        self,
        bundles: list[Bundle],
        fs: float,
        sig_name: list[str],
        channel: int | None = None,
        threads: tuple[int, int] = (1, 1),
        quality: QualitySpec | None = None,
        alerts: AlertSpec | None = None,
        rails: tuple[float, float] | None = None,
        start: int = 0,
    ) -> None:
        if not bundles:
            raise InputError("no model bundle to run")
        self.fs, self.sig_name = float(fs), list(sig_name)
        self.n_channels = len(sig_name)
        self.beats: list[BeatStream] = []
        self.windows: list[WindowStream] = []
        beat_lead = None
        for b in bundles:
            high = b.contract.filter.high_hz
            if self.fs < high / 0.45:  # the band-pass edge must sit below 0.9 x Nyquist
                raise InputError(
                    f"the {b.name} model needs its {high:g} Hz band: the source's {self.fs:g} Hz "
                    f"is too slow (at least {high / 0.45:.0f} Hz)"
                )
            if isinstance(b.contract.input, BeatInput):
                lead = b.contract.input.lead
                idx = channel if channel is not None else find_channel(self.sig_name, lead)
                if idx is None or not 0 <= idx < self.n_channels:
                    raise InputError(
                        f"the {b.name} model needs lead {lead}; the source has "
                        f"{', '.join(self.sig_name) or 'none'} (choose one with --channel)"
                    )
                beat_lead = idx
                self.beats.append(BeatStream(b, self.fs, threads, start))
            else:
                b.contract.check_leads(self.sig_name)
                upper = [s.upper() for s in self.sig_name]
                chans = [upper.index(lead.upper()) for lead in b.contract.leads]
                self.windows.append(WindowStream(b, self.fs, chans, threads, start))
        if beat_lead is None:
            fallback = find_channel(self.sig_name, "MLII") or 0
            beat_lead = channel if channel is not None else fallback
        self.lead = beat_lead
        qspec = quality or QualitySpec()
        self.quality = QualityTracker(self.fs, qspec, rails, start)
        self.detector = QRSDetector(self.fs)
        self.engine = AlertEngine(self.fs, alerts, verify=self._verify)
        self._v_probs: deque[float] = deque(maxlen=self.engine.spec.vt_beats)
        # the lead's own band-pass for quality and the VF detector (the beat model's, if any)
        self._filter = (
            self.beats[0].filter
            if self.beats
            else StreamFilter(design_sos(FilterSpec(0.5, 40.0), self.fs), 1)
        )
        self.position = start  # next sample index, source numbering
        self.start = start
        self.r_peaks: deque[int] = deque(maxlen=64)
        self._hold = np.zeros(self.n_channels)
        self.samples_seen = 0
        self.leads_off_samples = 0
        # beats near a bad stretch carry RR intervals and filter transients across it: they are
        # labelled and reported, but not trusted for alerts
        self._bad_until: int | None = None
        self._settle = int(round(SETTLE_S * self.fs))
        self.stalled = False  # the source says nothing arrives (a stalled or unplugged link)
        self._missing: deque[tuple[int, int]] = deque(maxlen=256)  # runs of rows never received
        self._model_ok: dict[str, bool] = {}

    @property
    def heart_rate(self) -> float | None:
        """From the last R peaks, and only while the signal can be seen: a stalled front end or
        a loose lead shows no rate rather than the last one."""
        if len(self.r_peaks) < 2 or self.signal_state != GOOD:
            return None
        rr = np.diff(np.asarray(self.r_peaks)[-9:])
        return 60.0 * self.fs / float(np.median(rr))

    @property
    def signal_state(self) -> str:
        return NO_SIGNAL if self.stalled else self.quality.current.state

    def on_stall(self, stalled: bool) -> list[Event]:
        """The source reports that samples stopped (or came back). Stopping freezes the rules
        with an `inconclusive` "no signal" at once; what comes back is judged by the quality
        gate as usual (its first good segment clears the state)."""
        if stalled == self.stalled:
            return []
        self.stalled = stalled
        if not stalled:
            return []
        self._bad_until = self.position
        return list(self.engine.on_quality(NO_SIGNAL, self.position))

    def push(
        self,
        x: np.ndarray,
        leads_off: np.ndarray | None = None,
        missing: np.ndarray | None = None,
    ) -> list[Event]:
        """`leads_off`: the front end flagged these rows; `missing`: nothing arrived for them
        (lost on the link, or a stall): both hold the last value for the filters, and a
        segment made mostly of missing rows reads `no_signal` rather than leads off."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.n_channels)
        n = len(x)
        if n == 0:
            return []
        off = np.zeros(n, bool) if leads_off is None else np.asarray(leads_off, bool).reshape(-1)
        if missing is not None:
            gone = np.asarray(missing, bool).reshape(-1)
            off = off | gone
            self._note_missing(gone)
        off = off | ~np.isfinite(x).all(axis=1)
        x = self._fill(x, off)
        self.samples_seen += n
        self.leads_off_samples += int(off.sum())
        raw = x[:, self.lead]
        filtered = self._filter(raw.reshape(-1, 1))[:, 0]
        events: list[Event] = []
        peaks = [p + self.start for p in self.detector(raw)]
        for seg in self.quality.push(raw, filtered, off, peaks):
            if not seg.ok and self._missing_share(seg) >= self.quality.spec.leads_off_share:
                seg = dataclasses.replace(seg, state=NO_SIGNAL)
            events.append(QualityEvent(seg))
            if not seg.ok:
                self._bad_until = seg.end
            events += self.engine.on_quality(seg.state, seg.end)
        self.r_peaks.extend(peaks)
        for p in peaks:
            events += self.engine.on_r_peak(p)
        for stream in self.beats:
            for beat in stream.push(filtered, peaks, raw):
                events.append(beat)
                events += self._alert_on(beat)
        self.position += n
        events += self.engine.on_time(self.position, filtered)
        for wstream in self.windows:
            for ev in wstream.push(x, self.quality.current.ok):
                events.append(ev)
                if isinstance(ev, WindowEvent):
                    events += self._model_answer(ev.model, ev.probs is not None, ev.end)
        return events

    def _note_missing(self, gone: np.ndarray) -> None:
        """Keep the runs of missing rows (source numbering) for the quality relabelling."""
        if not gone.any():
            return
        edges = np.flatnonzero(np.diff(np.concatenate([[0], gone.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            start, end = self.position + int(a), self.position + int(b)
            if self._missing and self._missing[-1][1] == start:
                start = self._missing.pop()[0]
            self._missing.append((start, end))

    def _missing_share(self, seg: SegmentQuality) -> float:
        span = max(seg.end - seg.start, 1)
        overlap = sum(max(0, min(b, seg.end) - max(a, seg.start)) for a, b in self._missing)
        return overlap / span

    def _model_answer(self, model: str, valid: bool, sample: int) -> list[AlertEvent]:
        """Every model must answer properly for the beat rules to run."""
        self._model_ok[model] = valid
        return self.engine.on_model(all(self._model_ok.values()), sample)

    def finish(self) -> list[Event]:
        events: list[Event] = []
        for stream in self.beats:
            for beat in stream.finish():
                events.append(beat)
                events += self._alert_on(beat)
        return events

    def _alert_on(self, beat: BeatEvent) -> list[AlertEvent]:
        """A beat drives the rhythm rules only if trusted; one the second detector does not see
        counts as unclassifiable (Q): it breaks a run or a pattern instead of making one."""
        events = self._model_answer(beat.model, beat.label is not None, beat.sample)
        if beat.label is None or not self.trusted(beat.sample):
            return events
        label = beat.label if self.quality.confirms(beat.sample) else "Q"
        self._v_probs.append((beat.probs or {}).get("V", 0.0))
        return events + self.engine.on_beat(beat.sample, label)

    def _verify(self, label: str, sample: int) -> bool:
        """A ventricular-run alarm needs both detectors to agree on the beats before it, more
        strictly than analysis at all does, and the beat model to be sure of the run: most false
        VT alarms are real beats deformed by noise (as in the PhysioNet/CinC 2015 false-alarm
        challenge), which the detectors agree on but the model labels V with less conviction.
        VF makes the detectors disagree by nature and asystole leaves both silent, so only VT
        is checked."""
        if label != "VT":
            return True
        sure = self.run_confidence() >= self.engine.spec.vt_confidence
        agree = self.quality.alarm_agreement(sample) >= self.quality.spec.min_alarm_agreement
        return sure and agree

    def run_confidence(self) -> float:
        """Mean V probability of the last beats that went to the rules (a VT run's length)."""
        return float(np.mean(self._v_probs)) if self._v_probs else 1.0

    def trusted(self, sample: int) -> bool:
        """No bad signal from a second before this beat (its pre-RR) up to now, nor in the
        settling time before it."""
        return self._bad_until is None or self._bad_until + self._settle < sample - self.fs

    def record_probs(self) -> dict[str, dict[str, float]]:
        """Window probabilities aggregated over the record as each model's contract says."""
        out = {}
        for w in self.windows:
            if w.record_probs:
                agg = w.aggregate(w.record_probs)
                out[w.model.bundle.name] = {
                    k: round(float(p), 4) for k, p in zip(w.classes, agg, strict=True)
                }
        return out

    def latencies_ms(self) -> np.ndarray:
        lat = [t for s in (*self.beats, *self.windows) for t in s.model.latencies]
        return 1e3 * np.asarray(lat)

    def _fill(self, x: np.ndarray, off: np.ndarray) -> np.ndarray:
        """Leads-off and missing samples hold the last good value: the filters see no steps."""
        if not off.any():
            self._hold = x[-1].copy()
            return x
        x = x.copy()
        for i in range(len(x)):
            if off[i] or not np.isfinite(x[i]).all():
                x[i] = np.where(np.isfinite(x[i]), x[i], self._hold) if not off[i] else self._hold
            self._hold = x[i]
        return x
