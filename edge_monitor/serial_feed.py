"""Decoded serial samples -> the blocks the Monitor takes: millivolts, a leads-off mask, and
filler rows for samples the counter says were lost, so the sample clock stays true."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_monitor.recorder import INVALID
from edge_monitor.wire import Sample


@dataclass(frozen=True)
class Block:
    mv: np.ndarray  # (samples, channels), NaN where nothing valid arrived
    adc: np.ndarray  # (samples, channels) int, INVALID where nothing valid arrived
    leads_off: np.ndarray  # (samples,) bool
    filled: int  # rows inserted for dropped samples


class SampleAssembler:
    def __init__(
        self, n_channels: int, adc_gain: float, baseline: int, counter_modulo: int = 1 << 16
    ) -> None:
        self.n_channels, self.adc_gain, self.baseline = n_channels, adc_gain, baseline
        self.modulo = counter_modulo
        self._expected: int | None = None
        self.filled = 0

    def assemble(self, samples: list[Sample]) -> Block:
        rows: list[tuple[int, ...] | None] = []
        filled = 0
        for s in samples:
            if s.counter is not None:
                if self._expected is not None and s.counter != self._expected:
                    gap = (s.counter - self._expected) % self.modulo
                    if gap < self.modulo // 2:
                        rows.extend([None] * gap)
                        filled += gap
                self._expected = (s.counter + 1) % self.modulo
            rows.append(s.values)
        self.filled += filled
        adc = np.full((len(rows), self.n_channels), INVALID, dtype=np.int32)
        off = np.ones(len(rows), dtype=bool)
        for i, r in enumerate(rows):
            if r is not None:
                adc[i], off[i] = r, False
        mv = (adc - self.baseline) / self.adc_gain
        mv[off] = np.nan
        return Block(mv, adc, off, filled)
