"""Process figures for the profiling panel and the bench: RSS from /proc (Linux, as on a Pi),
CPU share from process time, latency percentiles, and the recent sample rate and pipeline cost
per beat (each over the last seconds, not since start)."""

from __future__ import annotations

import resource
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


def rss_mb() -> tuple[float, float]:
    """Current and peak resident set size, MB."""
    try:
        status = Path("/proc/self/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in status if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak


class CpuMeter:
    """CPU use of this process since the previous reading, percent of one core."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.monotonic(), time.process_time()

    def read(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        dw = wall - self._wall
        share = 100.0 * (cpu - self._cpu) / dw if dw > 0 else 0.0
        self._wall, self._cpu = wall, cpu
        return share


@dataclass(frozen=True)
class LatencyStats:
    """Latency figures of a run of calls, in milliseconds (NaN when there were none)."""

    runs: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def from_ms(cls, ms: list[float] | np.ndarray) -> LatencyStats:
        ms = np.asarray(ms, dtype=float)
        if ms.size == 0:
            return cls(0, *(float("nan"),) * 5)
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        return cls(len(ms), float(ms.mean()), float(p50), float(p95), float(p99), float(ms.max()))

    @classmethod
    def from_seconds(cls, seconds: list[float] | np.ndarray) -> LatencyStats:
        return cls.from_ms(np.asarray(seconds, dtype=float) * 1e3)

    def to_dict(self) -> dict:
        return asdict(self)


class RecentRate:
    """A count per second over the last `window_s` of wall time: what the source delivers now,
    not an average since start that hides a stall. NaN until two readings span some time."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._total = 0.0
        self._points: deque[tuple[float, float]] = deque()  # (time, running total)

    def add(self, now: float, count: float) -> None:
        self._total += count
        self._points.append((now, self._total))
        while len(self._points) > 2 and self._points[1][0] <= now - self.window_s:
            self._points.popleft()  # keep one reading at or before the window's start

    def per_second(self) -> float:
        if len(self._points) < 2:
            return float("nan")
        (t0, n0), (t1, n1) = self._points[0], self._points[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan")


class PipelineCost:
    """Wall time of the whole pipeline (filters, detector, beat context, models, quality,
    alerts: one `Monitor.push`) per beat it produced, over the last `window_s`. The model call
    alone is the `LatencyStats` of the streams; this is what a beat costs end to end."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._pushes: deque[tuple[float, float, int]] = deque()  # (time, seconds, beats)

    def add(self, now: float, seconds: float, beats: int) -> None:
        self._pushes.append((now, seconds, beats))
        while self._pushes and self._pushes[0][0] < now - self.window_s:
            self._pushes.popleft()

    def ms_per_beat(self) -> float:
        beats = sum(b for _, _, b in self._pushes)
        if beats == 0:
            return float("nan")
        return 1e3 * sum(s for _, s, _ in self._pushes) / beats
