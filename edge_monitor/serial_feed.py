"""Decoded serial samples -> the blocks the Monitor takes: millivolts, a leads-off mask, and
invalid rows for samples that never arrived, so the sample clock stays true.

Two witnesses say how much time passed: the front end's sample counter (when it sends one) and
the host's wall clock. Neither is trusted alone:

1. A forward counter jump of `gap` samples is a loss only if the wall clock allows it: `gap` must
   fit in the silence since the previous arrival (plus a small slack for the link's bursts).
   Anything larger is a reset or a corrupted counter, never hours of fake leads-off.
2. A backward jump within what was just filled or a few lines is a late (replayed, reordered)
   sample: its time is already accounted for, so it is dropped and counted. Any other backward
   jump is a reset (the board rebooted): the counter is followed from there, no time is invented.
3. Without samples for `stall_s`, the link is stalled: the caller shows "no signal". When samples
   return, the silence becomes invalid rows, as long as the wall clock measured it (or the
   counter's gap, when that is longer): the recording keeps true time whether the board hung
   (its counter frozen) or lost samples (its counter ran on). A board that buffered during the
   stall and then sends its backlog in the first read takes the gap's place (the rows due in
   the silence less those that arrived); a backlog spread over several reads is kept after a
   gap that is too long. No received sample is dropped for its timing, except a late duplicate.

A value outside the ADC's range (`0 .. 2**adc_bits - 1`) is a bad sample: counted, stored as
invalid, never clipped into a plausible one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edge_monitor.recorder import INVALID
from edge_monitor.wire import Sample

COUNTER_MODULO = 1 << 16


@dataclass(frozen=True)
class Block:
    mv: np.ndarray  # (samples, channels), NaN where nothing valid arrived
    adc: np.ndarray  # (samples, channels) int, INVALID where nothing valid arrived
    leads_off: np.ndarray  # (samples,) bool: the front end said leads off (`!`)
    missing: np.ndarray  # (samples,) bool: nothing arrived (lost on the link, a stall)
    bad: np.ndarray  # (samples,) bool: a value outside the ADC's range arrived

    @property
    def filled(self) -> int:
        """Rows inserted for lost or stalled time (the missing ones)."""
        return int(self.missing.sum())


@dataclass
class LinkStats:
    """What the assembler had to decide, by kind (all in samples)."""

    lost: int = 0  # rows filled for a counter gap the wall clock allows
    stalled: int = 0  # rows filled for wall-clock silence without a counter to say more
    out_of_range: int = 0  # values outside the ADC's range: stored as invalid
    late: int = 0  # arrived after their time was accounted for: dropped
    resets: int = 0  # counter jumps the wall clock cannot explain (a reboot, a bad counter)
    stalls: int = 0  # times the link went silent for the stall time

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LinkTiming:
    """How far the wall clock is trusted. `slack_s` covers the link's bursts: a USB-serial
    adapter delivers in packets, so a sample may arrive a little after the next read began."""

    fs: float
    stall_s: float = 1.0
    slack_s: float = 0.25
    rate_tolerance: float = 0.02  # a front end's crystal runs within a few hundred ppm
    reorder_lines: int = 16  # a backward jump this small is a late line, not a reset


class SampleAssembler:
    def __init__(
        self,
        n_channels: int,
        adc_gain: float,
        baseline: int,
        adc_bits: int = 16,
        timing: LinkTiming | None = None,
        counter_modulo: int = COUNTER_MODULO,
    ) -> None:
        self.n_channels, self.adc_gain, self.baseline = n_channels, adc_gain, baseline
        self.top = (1 << adc_bits) - 1
        self.timing = timing
        self.modulo = counter_modulo
        self.stats = LinkStats()
        self._expected: int | None = None  # the next counter value
        self._late_span = (timing or LinkTiming).reorder_lines
        self._last_time: float | None = None  # when the last rows were accounted for
        self._first_time: float | None = None
        self._rows = 0  # rows produced so far
        self._in_stall = False

    @property
    def filled(self) -> int:
        return self.stats.lost + self.stats.stalled

    def stalled(self, now: float) -> bool:
        """The link has been silent for the stall time (since the last sample, or since `start`
        was called when none came yet)."""
        if self.timing is None or self._last_time is None:
            return False
        return now - self._last_time >= self.timing.stall_s

    def start(self, now: float) -> None:
        """The link opened: the recording's time starts here, and a silence before the first
        sample is a stall like any other."""
        if self._last_time is None:
            self._last_time = self._first_time = now

    def close(self, now: float) -> Block:
        """The rows of a silence still going on when monitoring stops (a stalled board, then
        Ctrl-C): the recording ends at the stop, in true time."""
        t = self.timing
        if t is None or self._last_time is None or now - self._last_time < t.stall_s:
            return self._block([], [])
        gap = int(round((now - self._last_time) * t.fs))
        self.stats.stalls += 1
        self.stats.stalled += gap
        self._last_time = now
        return self._block([None] * gap, [2] * gap)

    def lag_s(self, now: float) -> float:
        """How far the rows produced trail the wall clock since the link opened."""
        if self.timing is None or self._first_time is None:
            return 0.0
        return max(0.0, now - self._first_time - self._rows / self.timing.fs)

    def assemble(self, samples: list[Sample], now: float | None = None) -> Block:
        """`now` is the wall-clock time of the read (monotonic seconds); without it (replayed
        files, tests of the counter alone) counter gaps are believed up to half the modulo."""
        rows: list[tuple[int, ...] | None] = []
        flags: list[int] = []  # 0 sample, 1 leads off, 2 missing, 3 out of the ADC's range
        if not samples:
            return self._block(rows, flags)
        silence = 0.0 if now is None or self._last_time is None else now - self._last_time
        t = self.timing
        stall_gap = t is not None and self._last_time is not None and silence >= t.stall_s
        if stall_gap:
            self.stats.stalls += 1
        budget = self._budget(silence, now)
        # the samples of this read were made within the silence too (a hung board's first fresh
        # ones, or a buffering board's backlog): the rest of it is the gap
        due = int(round(silence * t.fs)) if stall_gap and t is not None else 0
        silent_rows = max(0, due - len(samples))
        for s in samples:
            lost = 0
            if s.counter is not None and self._expected is not None:
                step = self._counter_step(s.counter, budget)
                if step is None:  # late: its time is already accounted for
                    self.stats.late += 1
                    continue
                lost = step
                budget -= step
            gap = max(lost, silent_rows)
            if gap:
                rows.extend([None] * gap)
                flags.extend([2] * gap)
                self.stats.lost += lost
                self.stats.stalled += gap - lost
            silent_rows = 0  # only before the first sample after the silence
            if s.counter is not None:
                self._expected = (s.counter + 1) % self.modulo
            rows.append(s.values)
            flags.append(1 if s.values is None else 0)
        if now is not None:
            self._last_time = now
            if self._first_time is None:
                self._first_time = now
        return self._block(rows, flags)

    def _budget(self, silence: float, now: float | None) -> float:
        """Samples of counter gap the wall clock allows in this read."""
        if self.timing is None or now is None or self._last_time is None:
            return float(self.modulo // 2)
        t = self.timing
        return silence * t.fs * (1 + t.rate_tolerance) + t.slack_s * t.fs

    def _counter_step(self, counter: int, budget: float) -> int | None:
        """Rows to fill before this sample; None when it is late."""
        assert self._expected is not None
        forward = (counter - self._expected) % self.modulo
        if forward == 0:
            return 0
        backward = self.modulo - forward
        if forward > self.modulo // 2 and backward <= self._late_span:
            return None
        if forward <= budget and forward < self.modulo // 2:
            return forward
        self.stats.resets += 1  # a jump no silence explains: follow the counter from here
        return 0

    def _block(self, rows: list, flags: list[int]) -> Block:
        n = len(rows)
        adc = np.full((n, self.n_channels), INVALID, dtype=np.int32)
        flag = np.asarray(flags, dtype=np.int8).reshape(n)
        for i, r in enumerate(rows):
            if r is None:
                continue
            if len(r) != self.n_channels or not all(0 <= v <= self.top for v in r):
                self.stats.out_of_range += 1
                flag[i] = 3
                continue
            adc[i] = r
        mv = (adc - self.baseline) / self.adc_gain
        bad = flag != 0
        mv[bad] = np.nan
        adc[bad] = INVALID
        self._rows += n
        return Block(mv, adc, flag == 1, flag == 2, flag == 3)
