"""Process figures for the profiling panel and the bench: RSS from /proc (Linux, as on a Pi),
CPU share from process time, latency percentiles."""

from __future__ import annotations

import resource
import time
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
