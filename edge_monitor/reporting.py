"""What a monitoring session reports: strict JSON lines, the `Tracker` behind the screen and the
summary (beats, alerts, quality time, acknowledged alarms), the periodic stats line and the
screen's `View`."""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge_monitor import strict_json
from edge_monitor.alarm_latch import ACK, AlarmLatch
from edge_monitor.alerts import AlertEvent
from edge_monitor.pipeline import BeatEvent, Event, Monitor, QualityEvent, WindowEvent
from edge_monitor.quality import MESSAGES
from edge_monitor.stats import CpuMeter, LatencyStats, PipelineCost, RecentRate, rss_mb
from edge_monitor.trace_buffer import TraceBuffer
from edge_monitor.ui_trace import clock_text
from edge_monitor.ui_view import Profiling, View

Emit = Callable[[dict], None]
ALERT_HISTORY = 200
INVALID_BEAT = "invalid"  # the count of beats whose model output was not a probability


def json_lines(stream=None) -> Emit:
    out = stream or sys.stdout

    def emit(obj: dict) -> None:
        out.write(json_text(obj) + "\n")
        out.flush()  # a log reader or a pipe sees each event as it happens

    return emit


def json_text(obj) -> str:
    """One event or summary as a strict JSON line (`strict_json`: null, never NaN)."""
    return strict_json.dumps(obj)


@dataclass
class Tracker:
    """What the screen and the summary need, updated from the session's samples and events."""

    fs: float
    lead: str = ""
    start: int = 0  # the first sample's number: the screen's clock is source numbering
    beats: deque = field(default_factory=lambda: deque(maxlen=60))
    beat_counts: dict = field(default_factory=dict)
    # the newest alerts for the screen; counts by level cover all of them (a long run's history
    # is in the recording's alerts file, not in memory)
    alerts: deque = field(default_factory=lambda: deque(maxlen=ALERT_HISTORY))
    alert_levels: dict = field(default_factory=dict)
    probs: dict = field(default_factory=dict)  # the newest beat's
    window_probs: dict = field(default_factory=dict)  # model -> its newest window's
    windows: int = 0
    quality_seconds: dict = field(default_factory=dict)
    latch: AlarmLatch = field(default_factory=AlarmLatch)
    rate: RecentRate = field(default_factory=RecentRate)
    cost: PipelineCost = field(default_factory=PipelineCost)

    def __post_init__(self) -> None:
        self.trace = TraceBuffer(self.fs, self.lead, self.start)

    def on_samples(self, lead: np.ndarray) -> None:
        self.trace.push(lead)

    def on_push(self, now: float, seconds: float, samples: int, beats: int) -> None:
        """One `Monitor.push`: its wall time, the samples it took and the beats it gave."""
        self.rate.add(now, samples)
        self.cost.add(now, seconds, beats)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, BeatEvent):
            label = ev.label or INVALID_BEAT
            self.beats.append(ev.label or "?")
            self.beat_counts[label] = self.beat_counts.get(label, 0) + 1
            self.probs = ev.probs or {}
            self.trace.on_beat(ev.sample, ev.label or "?")
        elif isinstance(ev, WindowEvent):
            self.windows += 1
            self.window_probs[ev.model] = ev.probs or {}
        elif isinstance(ev, QualityEvent):
            s = ev.segment
            self.quality_seconds[s.state] = self.quality_seconds.get(s.state, 0) + (
                (s.end - s.start) / self.fs
            )
        elif isinstance(ev, AlertEvent):
            time_text = clock_text(ev.sample / self.fs)
            self.alerts.append({**ev.to_json(), "time": time_text})
            self.alert_levels[ev.level] = self.alert_levels.get(ev.level, 0) + 1
            self.latch.on_alert(ev, time_text)

    def acknowledge(self, sample: int) -> dict | None:
        """The user acknowledged the latched alarms at `sample`: the event to log (or None)."""
        time_text = clock_text(sample / self.fs)
        ack = self.latch.acknowledge(sample, time_text)
        if ack is not None:
            self.alerts.append({**ack, "level": ACK, "label": ACK, "time": time_text})
        return ack


def timed_push(monitor: Monitor, tracker: Tracker, *args, **kwargs) -> list[Event]:
    """`monitor.push` with its wall time, samples and beats counted for the profiling panel."""
    t0 = time.perf_counter()
    events = monitor.push(*args, **kwargs)
    t1 = time.perf_counter()
    beats = sum(isinstance(ev, BeatEvent) for ev in events)
    tracker.on_push(time.monotonic(), t1 - t0, len(args[0]), beats)
    return events


def make_view(
    monitor: Monitor,
    tracker: Tracker,
    source: str,
    source_state: str,
    cpu: CpuMeter,
    clock_name: str = "record time",
    lag_s: float | None = None,
    dropped: int = 0,
    bad_lines: int = 0,
    recording: str = "off",
    finished: bool = False,
) -> View:
    rss, peak = rss_mb()
    lat = LatencyStats.from_ms(monitor.latencies_ms())
    active = [(k, v) for k, v in monitor.engine.active.items() if k != "signal"]
    for w in monitor.windows:
        active += list(w.alerter.active.items())
    q = monitor.signal_state
    prof = Profiling(
        model_p50_ms=lat.p50_ms,
        model_p95_ms=lat.p95_ms,
        pipeline_ms_per_beat=tracker.cost.ms_per_beat(),
        samples_per_s=tracker.rate.per_second(),
        cpu_percent=cpu.read(),
        rss_mb=rss,
        peak_rss_mb=peak,
        lag_s=lag_s,
        dropped=dropped,
        bad_lines=bad_lines,
        leads_off=monitor.leads_off_samples,
    )
    return View(
        source=source,
        source_state=source_state,
        clock_s=monitor.received / monitor.fs,  # what arrived, as the trace shows
        clock_name=clock_name,
        trace=tracker.trace.snapshot(),
        heart_rate=monitor.heart_rate,
        quality=q,
        quality_message=MESSAGES[q],
        active=tuple(active),
        recent_beats="".join(tracker.beats),
        probs=tracker.probs,
        window_probs=dict(tracker.window_probs),
        alarms=tuple(tracker.latch.pending),
        alarms_raised=tracker.latch.raised,
        alerts=tuple(list(tracker.alerts)[-40:]),
        profiling=prof,
        recording=recording,
        finished=finished,
    )


def stats_line(monitor: Monitor, **extra) -> dict:
    """The periodic {"type": "stats"} line of `run` and `replay --no-ui`."""
    lat = LatencyStats.from_ms(monitor.latencies_ms())
    rss, peak = rss_mb()
    return {
        "type": "stats",
        "sample": monitor.received,
        "samples": monitor.samples_seen,
        "heart_rate": monitor.heart_rate,
        "quality": monitor.signal_state,
        "latency_ms": {"p50": lat.p50_ms, "p95": lat.p95_ms, "p99": lat.p99_ms},
        "rss_mb": round(rss, 1),
        "peak_rss_mb": round(peak, 1),
        **extra,
    }


def summary(monitor: Monitor, tracker: Tracker, wall_s: float, extra: dict | None = None) -> dict:
    lat = LatencyStats.from_ms(monitor.latencies_ms())
    seconds = (monitor.position - monitor.start) / monitor.fs
    levels = dict(tracker.alert_levels)
    return {
        "type": "summary",
        "record_probs": monitor.record_probs(),
        "no_verdict": monitor.unjudged(),  # window models without a window of good signal
        "dead_leads": monitor.dead_leads(),  # model -> lead -> windows it kept from a verdict
        "beats": dict(sorted(tracker.beat_counts.items())),
        # of them, those read in or just after bad signal: they drive no rule (Monitor.trusted)
        "beats_on_bad_signal": monitor.beats_on_bad_signal,
        # whether the gate ever compared two QRS detectors (it needs this many seconds first)
        "quality_detectors_compared": monitor.quality.detectors_compared,
        "quality_detectors_after_s": round(monitor.quality.agreement_warmup_s, 1),
        "windows": tracker.windows,
        "alerts": levels,
        # critical alarms latch until a person acknowledges them on the screen
        "alarms_acknowledged": tracker.latch.acknowledged,
        "alarms_unacknowledged": len(tracker.latch.pending),
        "quality_seconds": {k: round(v, 1) for k, v in tracker.quality_seconds.items()},
        "signal_seconds": round(seconds, 3),
        "wall_seconds": round(wall_s, 3),
        "realtime_factor": round(seconds / wall_s, 1) if wall_s > 0 else None,
        "latency_ms": {"p50": lat.p50_ms, "p95": lat.p95_ms, "p99": lat.p99_ms},
        "peak_rss_mb": round(rss_mb()[1], 1),
        "beat_leads": beat_leads(monitor),
        "beats_on_two_leads": monitor.second.fused if monitor.second is not None else 0,
        # of the beats in good signal, those whose dominant beat points down (verdict.py)
        "beat_lead_inverted_share": round(
            monitor.qrs_down[True] / max(monitor.qrs_down.total(), 1), 3
        ),
        # a beat model that reads every lead upright (BeatSpec.upright) reads it alike
        "beat_model_upright": any(stream.spec.upright for stream in monitor.beats),
        # the companion that reads the beats whose QRS points down, if one runs (streams.py)
        "inverted_beats_model": next(
            (s.down_model.bundle.name for s in monitor.beats if s.down_model is not None), None
        ),
        **(extra or {}),
    }


def beat_leads(monitor: Monitor) -> list[str]:
    """The leads the beat model read: the beat lead, and the second lead where one is read."""
    if not monitor.beats:
        return []
    second = [monitor.sig_name[monitor.second.channel]] if monitor.second is not None else []
    return [monitor.sig_name[monitor.lead], *second]


def not_quality(ev: Event) -> bool:
    """Quality segments feed the tracker and the alerts, not the JSON lines."""
    return not isinstance(ev, QualityEvent)


def event_line(ev: Event) -> dict:
    """An event's JSON line. Every line but the summary carries the `sample` it is about (a
    beat's R peak, the sample an alert was decided at, a window's end, where it was complete);
    a window line also names its `model` (the VT/VF and the diagnostic model both give
    windows) and says whether it ended in good signal (`good_signal`: a window of leads off or
    noise still gets the model's answer, which then means nothing). Lines come in the order
    the monitor learned them, not sorted by `sample`: an alarm goes out when it is decided,
    while a beat is known seconds after its R peak (docs/cli.md)."""
    line = ev.to_json()
    if isinstance(ev, WindowEvent):
        line = {"type": "window", "sample": ev.end, "model": ev.model, **line}
        return {**line, "good_signal": ev.quality_ok}
    return line


def handle(events: list[Event], emit: Emit | None, tracker: Tracker, keep) -> None:
    for ev in events:
        tracker.on_event(ev)
        if emit is not None and keep(ev):
            emit(event_line(ev))
