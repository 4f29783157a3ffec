"""The streaming pipeline: samples in, beats / windows / quality / alerts out, in source numbering.

One `Monitor` serves every source (serial port, WFDB replay, an emulated device): it is pushed
blocks of (samples, channels) in millivolts with a leads-off mask and never sees where they came
from, and analyses them one graded second at a time, so how a source cuts the stream never
changes what it says. The beat model runs the trainer's own preprocessing (the same filter,
resampler and beat context builder), so streaming a record reproduces the training path up to
the R-peak detector.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, deque

import numpy as np

from edge_monitor.alerts import AlertEngine, AlertEvent, AlertSpec
from edge_monitor.bundle import Bundle, check_model_set, reads
from edge_monitor.contract import BeatInput
from edge_monitor.dsp import FilterSpec, StreamFilter, design_sos, hold_last, sane
from edge_monitor.errors import InputError
from edge_monitor.events import BeatEvent, Event, QualityEvent, WindowEvent
from edge_monitor.leads import find_channel, one_channel
from edge_monitor.qrs import QRSDetector
from edge_monitor.quality import GOOD, NO_SIGNAL, QualitySpec, QualityTracker
from edge_monitor.second_lead import SecondLead
from edge_monitor.source_gaps import SourceGaps
from edge_monitor.streams import BeatStream, WindowStream
from edge_monitor.ventricular import TASK as VENTRICULAR
from edge_monitor.ventricular import FusionSpec, ModelView, VentricularFusion

__all__ = [
    "BeatEvent",
    "Event",
    "Monitor",
    "QualityEvent",
    "WindowEvent",
    "find_channel",
]

SETTLE_S = 2.0  # after bad signal, filters and the detector's thresholds settle this long
# Below this a source cannot carry a QRS: the detectors' bands (5-15 and 8-20 Hz) and the
# quality gate's sharp band (from 15 Hz) must lie below 0.45 x its rate
MIN_SOURCE_HZ = 50.0
GRADES_KEPT = 64  # seconds of quality grades kept between blocks for the windows' judgement


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
        fusion: FusionSpec | None = None,
        s_in_af_as_n: bool = False,
        second_lead: int | str | None = None,
    ) -> None:
        """`s_in_af_as_n` (off by default): an S beat that comes while the AF warning stands is
        reported N, its `model_label` keeping the model's S. MIT-BIH and AAMI EC57 label every
        beat of AF N, and the beat model reads AF's short intervals as S. Measured on unseen
        patients (docs/beat_data.md) it removes most false S in AF records but the AF warning
        also stands in frequent supraventricular ectopy (MIT-BIH 232, svdb 861 and 891), where
        it turns true S beats N: held-out svdb S Se 0.74 -> 0.34 with the distilled student.
        `second_lead` (a channel, "auto" or None: off, as callers must say; the CLI's default is
        auto): the beat model also reads each beat there (`edge_monitor.second_lead`).
        A beat bundle whose contract `reads` "qrs_down" is the beat model's companion: it reads,
        on each lead, the beats whose dominant QRS points down (`streams.BeatStream`)."""
        check_model_set(bundles)
        down = next((b for b in bundles if reads(b) == "qrs_down"), None)
        bundles = [b for b in bundles if b is not down]
        self.fs, self.sig_name = float(fs), list(sig_name)
        self.s_in_af_as_n = s_in_af_as_n
        self.n_channels = len(sig_name)
        if not self.fs >= MIN_SOURCE_HZ:  # NaN too
            raise InputError(
                f"the source's {self.fs:g} Hz is too slow for QRS detection "
                f"(at least {MIN_SOURCE_HZ:g} Hz)"
            )
        self.beats: list[BeatStream] = []
        self.windows: list[WindowStream] = []
        for b in bundles:
            high = b.contract.filter.high_hz
            if self.fs < high / 0.45:  # the band-pass edge must sit below 0.9 x Nyquist
                raise InputError(
                    f"the {b.name} model needs its {high:g} Hz band: the source's {self.fs:g} Hz "
                    f"is too slow (at least {high / 0.45:.0f} Hz)"
                )
        beat_lead = None
        for b in bundles:
            if isinstance(b.contract.input, BeatInput):
                beat_lead = self._lead_of(b, b.contract.input.lead, channel)
                self.beats.append(BeatStream(b, self.fs, threads, start, down))
        if beat_lead is None:
            fallback = find_channel(self.sig_name, "MLII") or 0
            beat_lead = channel if channel is not None else fallback
        rhythm = self._window_streams(bundles, channel, threads, start)
        self.lead = beat_lead
        self.second = SecondLead.of(self.beats, second_lead, self.lead, self.sig_name)
        qspec = quality or QualitySpec()
        self.quality = QualityTracker(self.fs, qspec, rails, start)
        self.detector = QRSDetector(self.fs)
        self.engine = AlertEngine(self.fs, alerts, verify=self._verify)
        self.fusion = (  # the VT/VF alarm fused with the rhythm model (ventricular.py)
            VentricularFusion(rhythm, self.fs, fusion, active=self.engine.active)
            if rhythm is not None
            else None
        )
        self._v_probs: deque[float] = deque(maxlen=self.engine.spec.vt_beats)
        # the lead's own band-pass for quality and the VF detector (the beat model's, if any)
        self._filter = (
            self.beats[0].filter
            if self.beats
            else StreamFilter(design_sos(FilterSpec(0.5, 40.0), self.fs), 1)
        )
        # a one-lead window model on the lead, with the lead filter's very coefficients, is
        # fed the lead's filtered samples instead of running the same filter a second time
        self._shared = [
            w.channels == [self.lead] and np.array_equal(w.filter.sos, self._filter.sos)
            for w in self.windows
        ]
        self.position = start  # next sample index, source numbering
        self.start = start
        self.r_peaks: deque[int] = deque(maxlen=64)
        self._hold = np.zeros(self.n_channels)
        self.samples_seen = self.leads_off_samples = 0
        self.qrs_down: Counter[bool] = Counter()  # beats the rules took, by QRS pointing down
        # beats labelled but not trusted (bad signal near them): the summary says how many, so
        # counts read on noise are never shown as a patient's beats without a word
        self.beats_on_bad_signal = 0
        # (end, good) of the seconds graded lately: each window is judged by the grades complete
        # when its last sample arrived (`_quality_ok_at`), whatever the blocks
        self._graded: deque[tuple[int, bool]] = deque()
        self._trimmed = False
        # beats near a bad stretch carry RR intervals and filter transients across it: they are
        # labelled and reported, but not trusted for alerts
        self._bad_until: int | None = None
        self._settle = int(round(SETTLE_S * self.fs))
        self.source_gaps = SourceGaps(self.quality.spec.leads_off_share)  # missing rows, stalls
        self._signal = GOOD  # the last segment's state, relabelled
        self._model_ok: dict[str, bool] = {}
        # rows received but not yet analysed: the monitor analyses one graded second at a time
        # (`push`), so what it says never depends on how the source cut the stream
        self.tick = self.quality.segment_samples
        self._queued: list[np.ndarray] | None = None

    def _window_streams(
        self, bundles: list[Bundle], channel: int | None, threads: tuple[int, int], start: int
    ) -> ModelView | None:
        """A WindowStream per window model; the one-lead ventricular detector reads the beat
        model's lead (MLII, II or ECG alike) and is returned for the fusion."""
        rhythm = None
        for b in bundles:
            if isinstance(b.contract.input, BeatInput):
                continue
            if b.contract.task == VENTRICULAR and len(b.contract.leads) == 1:
                chans = [self._lead_of(b, b.contract.leads[0], channel)]
                self.windows.append(WindowStream(b, self.fs, chans, threads, start, True))
                rhythm = ModelView.of(b.name, b.contract)
                continue
            chans = b.contract.check_leads(self.sig_name, f"the {b.name} model")
            self.windows.append(WindowStream(b, self.fs, chans, threads, start))
        return rhythm

    def _lead_of(self, bundle: Bundle, lead: str, channel: int | None) -> int:
        idx = channel if channel is not None else one_channel(self.sig_name, lead)
        if idx is None or not 0 <= idx < self.n_channels:
            raise InputError(
                f"the {bundle.name} model needs lead {lead}; the source has "
                f"{', '.join(self.sig_name) or 'none'} (choose one with --channel)"
            )
        return idx

    @property
    def heart_rate(self) -> float | None:
        """From the last R peaks, and only while the signal can be seen: a stalled front end or
        a loose lead shows no rate rather than the last one."""
        if len(self.r_peaks) < 2 or self.signal_state != GOOD:
            return None
        rr = np.diff(np.asarray(self.r_peaks)[-9:])
        return 60.0 * self.fs / float(np.median(rr))

    @property
    def stall_state(self) -> str | None:
        return self.source_gaps.stall_state

    @property
    def stalled(self) -> bool:
        return self.stall_state is not None

    @property
    def signal_state(self) -> str:
        return self.stall_state or self._signal

    def on_stall(self, stalled: bool, reason: str = NO_SIGNAL) -> list[Event]:
        """The source reports that samples stopped (or came back); `reason`: nothing arrives
        (NO_SIGNAL) or bytes arrive that decode to no sample (UNREADABLE). Stopping freezes
        the rules with an `inconclusive` state at once; what comes back is judged by the
        quality gate, and only a good segment wholly after the first real sample that came
        back clears the state: a partly filled second before the stall never does. Real
        samples end the stall for the gate as soon as they are pushed (a backlog may come in
        one read); a source says `on_stall(False)` once they flow, for `stall_state`."""
        # what arrived before the stall is analysed first, so the stall starts where it did
        events = self._flush() if stalled else []
        state = self.source_gaps.stall(stalled, reason, self.position)
        if state is None:
            return events
        self._bad_until = self.position
        return events + self._fuse(list(self.engine.on_quality(state, self.position)))

    def push(
        self,
        x: np.ndarray,
        leads_off: np.ndarray | None = None,
        missing: np.ndarray | None = None,
        bad: np.ndarray | None = None,
    ) -> list[Event]:
        """`leads_off`: the front end flagged these rows; `missing`: nothing arrived for them
        (lost on the link, or a stall); `bad`: values outside the ADC's range arrived. All
        three hold the last value for the filters; a segment made mostly of missing rows reads
        `no_signal`, of bad ones `bad_values`, rather than leads off.

        The rows are analysed a graded second (`tick` samples, counted from `start`) at a
        time, the rest kept until its second is complete (or the source stalls, or `finish`):
        a serial line's few samples, `replay`'s half seconds and `classify`'s 4 s blocks give
        the same events, at the price of up to a second's wait for the newest rows. Each
        decision (a beat, a grade, a window's judgement, an alarm) then sees exactly what it
        would have seen had the source sent a second at a time."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.n_channels)
        n = len(x)
        if n == 0:
            return []
        rows = [x, *(self._rows(mask, n) for mask in (leads_off, missing, bad))]
        self.samples_seen += n  # received; analysed: `position - start`
        if self._queued is not None:
            rows = [np.concatenate([q, r]) for q, r in zip(self._queued, rows, strict=True)]
        # detached while analysing: a stop (Ctrl-C) inside it drops the rest unanalysed (it is
        # recorded) instead of `finish` feeding the detector the same rows a second time
        self._queued = None
        events: list[Event] = []
        done, due = 0, self.tick - (self.position - self.start) % self.tick
        while len(rows[0]) - done >= due:
            events += self._advance(*(r[done : done + due] for r in rows))
            done, due = done + due, self.tick
        # copies: a source may reuse its buffers for the next read
        self._queued = [r[done:].copy() for r in rows] if done < len(rows[0]) else None
        return events

    @staticmethod
    def _rows(mask: np.ndarray | None, n: int) -> np.ndarray:
        if mask is None:
            return np.zeros(n, bool)
        rows = np.asarray(mask, bool)
        if rows.shape not in ((n,), (n, 1)):
            raise ValueError(f"a mask of shape {rows.shape} for {n} rows: one flag per row")
        return rows.reshape(-1)

    @property
    def queued(self) -> int:
        """Rows received and not yet analysed (fewer than `tick`)."""
        return 0 if self._queued is None else len(self._queued[0])

    @property
    def received(self) -> int:
        """The next sample to arrive (source numbering); `position` is the next to analyse."""
        return self.position + self.queued

    def _flush(self) -> list[Event]:
        """Analyse what is queued now, though its second is incomplete (a stall, the end)."""
        if self._queued is None:
            return []
        rows, self._queued = self._queued, None
        return self._advance(*rows)

    def _advance(
        self, x: np.ndarray, leads_off: np.ndarray, missing: np.ndarray, bad: np.ndarray
    ) -> list[Event]:
        """Analyse rows that follow `position` directly (at most up to a tick's end)."""
        x = sane(x)
        n = len(x)
        off = self.source_gaps.note(self.position, n, missing, bad) | leads_off
        not_finite = ~np.isfinite(x)
        lead2_off = self.second.own_gaps(~not_finite) if self.second is not None else off
        # a sample missing on the beat lead is leads off; one missing on a lead only a
        # multi-lead window model reads keeps that model's windows from a verdict (streams.py)
        # and is held, never the beat lead's loss: one dead chest lead of a 12-lead record
        # stopped the beats and rhythm alarms of lead II
        off = off | not_finite[:, self.lead]
        x, self._hold = hold_last(x, off, self._hold)
        self.leads_off_samples += int(off.sum())
        raw = x[:, self.lead]
        filtered = self._filter(raw.reshape(-1, 1))[:, 0]
        events: list[Event] = []
        peaks = [p + self.start for p in self.detector(raw, off)]
        gaps = [(a + self.start, b + self.start) for a, b in self.detector.gaps]
        hint = self.fusion is not None and self.fusion.vf_hint()
        for seg in self.quality.push(raw, filtered, off, peaks, vf_hint=hint):
            seg = self.source_gaps.relabel(seg)
            self._graded.append((seg.end, seg.ok))
            self._signal = seg.state
            events.append(QualityEvent(seg))
            if not seg.ok:
                self._bad_until = seg.end
            events += self.engine.on_quality(seg.state, seg.end)
        self.r_peaks.extend(peaks)
        for p in peaks:
            events += self.engine.on_r_peak(p)
        for k, stream in enumerate(self.beats):
            beats = stream.push(filtered, peaks, raw, gaps)
            if k == 0 and self.second is not None:
                beats = self.second.push(beats, x, off | lead2_off, peaks, gaps)
            events += self._reported(beats)
        self.position += n
        events += self.engine.on_time(self.position, filtered)
        for wstream, shared in zip(self.windows, self._shared, strict=True):
            lead = filtered if shared else None
            for ev in wstream.push(x, self._quality_ok_at, lead, not_finite):
                events.append(ev)
                if isinstance(ev, WindowEvent) and not wstream.per_window:
                    events += self._model_answer(ev.model, ev.probs is not None, ev.end)
        while len(self._graded) > GRADES_KEPT:  # a window ends at most a sample before its block
            self._graded.popleft()
            self._trimmed = True
        return self._fuse(events)

    def _quality_ok_at(self, sample: int) -> bool:
        """The grade of the last second graded by `sample` (good before any was: the tracker
        starts so), whatever the block that completed it. A window never asks for a sample
        before the previous block's end (trimming keeps GRADES_KEPT seconds behind it)."""
        for end, ok in reversed(self._graded):
            if end <= sample:
                return ok
        return not self._trimmed  # older than every grade kept: unknown, so not good

    def _fuse(self, events: list[Event]) -> list[Event]:
        """The rules' VT/VF alarms through the rhythm model's fusion (ventricular.py), if any:
        the ventricular model's own validity never freezes the beat rules, it only falls back
        to them."""
        return self.fusion.process(events) if self.fusion is not None else events

    def _model_answer(self, model: str, valid: bool, sample: int) -> list[AlertEvent]:
        """Every model must answer properly for the beat rules to run."""
        self._model_ok[model] = valid
        return self.engine.on_model(all(self._model_ok.values()), sample)

    def stream(self, x: np.ndarray, block_s: float = 1.0) -> list[Event]:
        """Every event of a whole recording pushed in blocks, as a source would deliver it, and
        finished (for benchmarks and tools that hold the record in memory)."""
        step = max(1, int(round(block_s * self.fs)))
        events: list[Event] = []
        for a in range(0, len(x), step):
            events += self.push(x[a : a + step])
        return events + self.finish()

    def finish(self) -> list[Event]:
        flushed = self._flush()  # already fused
        events: list[Event] = []
        for k, stream in enumerate(self.beats):
            beats = stream.finish()
            if k == 0 and self.second is not None:
                beats = self.second.finish(beats)
            events += self._reported(beats)
        return flushed + self._fuse(events)

    def _reported(self, beats: list[BeatEvent]) -> list[Event]:
        events: list[Event] = []
        for beat in map(self._as_reported, beats):
            events += [beat, *self._alert_on(beat)]
        return events

    def _as_reported(self, beat: BeatEvent) -> BeatEvent:
        """The beat as the monitor reports it: S inside a standing AF warning is N (the warning
        stands from the beats before this one, so the choice is causal)."""
        if self.s_in_af_as_n and beat.label == "S" and "AF" in self.engine.active:
            return dataclasses.replace(beat, label="N", model_label="S")
        return beat

    def _alert_on(self, beat: BeatEvent) -> list[AlertEvent]:
        """A beat drives the rhythm rules only if trusted; one the second detector does not see
        counts as unclassifiable (Q): it breaks a run or a pattern instead of making one."""
        events = self._model_answer(beat.model, beat.label is not None, beat.sample)
        if beat.label is None:
            return events
        if not self.trusted(beat.sample):
            self.beats_on_bad_signal += 1
            return events
        self.qrs_down[beat.qrs_down] += 1
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
        """Window probabilities aggregated over the record as each model's contract says, from
        the windows that ended in good signal."""
        out = {}
        for w in self.windows:
            if w.record_probs:
                agg = w.aggregate(w.record_probs)
                out[w.model.bundle.name] = {
                    k: round(float(p), 4) for k, p in zip(w.classes, agg, strict=True)
                }
        return out

    def unjudged(self) -> list[str]:
        """Window models that ran but saw no window of good signal: no record verdict (a flat
        or disconnected 12-lead record used to get one, from its flat windows)."""
        return [
            w.model.bundle.name for w in self.windows if w.windows_judged and not w.record_probs
        ]

    def dead_leads(self) -> dict[str, dict[str, int]]:
        """Per multi-lead window model, the leads found flat or missing and in how many of its
        windows: those windows judged nothing, the beat lead went on."""
        return {
            w.model.bundle.name: {self.sig_name[ch]: n for ch, n in sorted(w.dead_leads.items())}
            for w in self.windows
            if w.dead_leads
        }

    def latencies_ms(self) -> np.ndarray:
        runners = [r for s in self.beats for r in s.runners] + [w.model for w in self.windows]
        lat = [t for r in runners for t in r.latencies]
        return 1e3 * np.asarray(lat)
