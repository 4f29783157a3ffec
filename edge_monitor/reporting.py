"""What a monitoring session reports: strict JSON lines, the `Tracker` behind the screen and the
summary (beats, alerts, quality time), the periodic stats line and the screen's `View`."""

from __future__ import annotations

import json
import math
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge_monitor.alerts import AlertEvent
from edge_monitor.pipeline import BeatEvent, Event, Monitor, QualityEvent, WindowEvent
from edge_monitor.quality import MESSAGES
from edge_monitor.stats import CpuMeter, LatencyStats, rss_mb
from edge_monitor.ui import View

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
    """Strict JSON: NaN and infinities (no latency yet, an invalid model output) become null,
    which every JSON reader accepts; Python's default `NaN` token is not JSON."""
    return json.dumps(finite(obj), allow_nan=False)


def finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return finite(obj.item())
    return obj


@dataclass
class Tracker:
    """What the UI and the summary need, updated from events."""

    fs: float
    trace_seconds: float = 6.0
    display_hz: float = 50.0
    beats: deque = field(default_factory=lambda: deque(maxlen=60))
    beat_counts: dict = field(default_factory=dict)
    # the newest alerts for the screen; counts by level cover all of them (a long run's history
    # is in the recording's alerts file, not in memory)
    alerts: deque = field(default_factory=lambda: deque(maxlen=ALERT_HISTORY))
    alert_levels: dict = field(default_factory=dict)
    probs: dict = field(default_factory=dict)
    windows: int = 0
    quality_seconds: dict = field(default_factory=dict)
    trace: deque = field(default_factory=deque)
    wall_start: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._decim = max(1, int(round(self.fs / self.display_hz)))
        self.trace = deque(maxlen=int(self.trace_seconds * self.fs / self._decim))
        self._phase = 0

    def on_samples(self, lead: np.ndarray) -> None:
        picked = lead[(-self._phase) % self._decim :: self._decim]
        self._phase = (self._phase + len(lead)) % self._decim
        self.trace.extend(picked.tolist())

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, BeatEvent):
            label = ev.label or INVALID_BEAT
            self.beats.append(ev.label or "?")
            self.beat_counts[label] = self.beat_counts.get(label, 0) + 1
            self.probs = ev.probs or {}
        elif isinstance(ev, WindowEvent):
            self.windows += 1
            self.probs = ev.probs or {}
        elif isinstance(ev, QualityEvent):
            s = ev.segment
            self.quality_seconds[s.state] = self.quality_seconds.get(s.state, 0) + (
                (s.end - s.start) / self.fs
            )
        elif isinstance(ev, AlertEvent):
            self.alerts.append({**ev.to_json(), "time": clock_text((ev.sample) / self.fs)})
            self.alert_levels[ev.level] = self.alert_levels.get(ev.level, 0) + 1


def clock_text(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def make_view(
    monitor: Monitor,
    tracker: Tracker,
    source: str,
    source_state: str,
    cpu: CpuMeter,
    lag_s: float = 0.0,
    dropped: int = 0,
    bad_lines: int = 0,
    recording: str = "off",
) -> View:
    rss, peak = rss_mb()
    seconds = (monitor.position - monitor.start) / monitor.fs
    wall = max(time.monotonic() - tracker.wall_start, 1e-6)
    lat = LatencyStats.from_ms(monitor.latencies_ms())
    active = [k for k in monitor.engine.active if k != "signal"]
    for w in monitor.windows:
        active += list(w.alerter.active)
    q = monitor.signal_state
    return View(
        source=source,
        source_state=source_state,
        fs=monitor.fs,
        seconds=seconds,
        trace=np.asarray(tracker.trace),
        trace_seconds=tracker.trace_seconds,
        heart_rate=monitor.heart_rate,
        quality=q,
        quality_message=MESSAGES[q],
        rhythm=", ".join(active) if active else ("no alert" if q == "good" else "inconclusive"),
        recent_beats="".join(tracker.beats),
        probs=tracker.probs,
        alerts=list(tracker.alerts)[-6:],
        latency_ms=(lat.p50_ms, lat.p95_ms, lat.p99_ms),
        rss_mb=rss,
        peak_rss_mb=peak,
        cpu_percent=cpu.read(),
        samples_per_s=monitor.samples_seen / wall,
        lag_s=lag_s,
        dropped=dropped,
        bad_lines=bad_lines,
        leads_off=monitor.leads_off_samples,
        recording=recording,
    )


def stats_line(monitor: Monitor, **extra) -> dict:
    """The periodic {"type": "stats"} line of `run` and `replay --no-ui`."""
    lat = LatencyStats.from_ms(monitor.latencies_ms())
    rss, peak = rss_mb()
    return {
        "type": "stats",
        "sample": monitor.position,
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
        "beats": dict(sorted(tracker.beat_counts.items())),
        "windows": tracker.windows,
        "alerts": levels,
        "quality_seconds": {k: round(v, 1) for k, v in tracker.quality_seconds.items()},
        "signal_seconds": round(seconds, 3),
        "wall_seconds": round(wall_s, 3),
        "realtime_factor": round(seconds / wall_s, 1) if wall_s > 0 else None,
        "latency_ms": {"p50": lat.p50_ms, "p95": lat.p95_ms, "p99": lat.p99_ms},
        "peak_rss_mb": round(rss_mb()[1], 1),
        **(extra or {}),
    }


def not_quality(ev: Event) -> bool:
    """Quality segments feed the tracker and the alerts, not the JSON lines."""
    return not isinstance(ev, QualityEvent)


def handle(events: list[Event], emit: Emit | None, tracker: Tracker, keep) -> None:
    for ev in events:
        tracker.on_event(ev)
        if emit is not None and keep(ev):
            emit(ev.to_json())
