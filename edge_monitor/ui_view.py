"""The snapshot the screen draws: everything `ui.render` needs, and nothing it must compute from
the clock, the source or the models (so a picture can be tested from a View alone)."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge_monitor.alarm_latch import Alarm
from edge_monitor.trace_buffer import TraceSnapshot

NAN = float("nan")


@dataclass(frozen=True)
class Profiling:
    """What the profiling panel measures, each figure named for what it times. NaN: no data
    yet (the panel shows `--`); `lag_s` None: not a live link."""

    model_p50_ms: float = NAN  # one onnxruntime call, over the last 2048 calls
    model_p95_ms: float = NAN
    pipeline_ms_per_beat: float = NAN  # the whole Monitor.push per beat, last 5 s of wall time
    samples_per_s: float = NAN  # samples taken in over the last 5 s of wall time
    cpu_percent: float = NAN  # this process, share of one core since the last frame
    rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    lag_s: float | None = None
    dropped: int = 0
    bad_lines: int = 0
    leads_off: int = 0


@dataclass(frozen=True)
class View:
    source: str
    source_state: str  # connected, replaying, stalled, finished...
    clock_s: float  # the screen's one clock: record time (replay) or stream time (serial)
    clock_name: str
    trace: TraceSnapshot
    heart_rate: float | None
    quality: str
    quality_message: str
    active: tuple[tuple[str, str], ...] = ()  # (label, level) of the alerts on now
    recent_beats: str = ""  # newest last, e.g. "NNNVNN"
    probs: dict[str, float] = field(default_factory=dict)  # the newest beat's
    window_probs: dict[str, dict[str, float]] = field(default_factory=dict)  # by window model
    alarms: tuple[Alarm, ...] = ()  # unacknowledged critical alarms, oldest first
    alarms_raised: int = 0  # critical alarms so far: a new one rings the bell once
    alerts: tuple[dict, ...] = ()  # the log: time, level, label, message; newest last
    profiling: Profiling = field(default_factory=Profiling)
    recording: str = "off"
    finished: bool = False
