"""The last seconds of the analysed lead as the screen draws them: band-passed for display as a
monitor does (0.5-40 Hz, causal, so what is drawn never changes afterwards) and kept as the
minimum and maximum of short bins, so that a narrow R peak survives any screen width (picking
every n-th sample would cut peaks)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from edge_monitor.dsp import FilterSpec, StreamFilter, design_sos

BINS_HZ = 100.0  # about; at least what the widest sweep draws per second
HISTORY_S = 12.0  # the longest sweep (10 s) and its gap


@dataclass(frozen=True)
class TraceSnapshot:
    """What the trace panel draws. `lo`/`hi` are per-bin minimum and maximum in mV (NaN: no
    valid sample in the bin), newest last; the newest bin ends at `end_s` on the screen's
    clock; `beats` are (clock seconds, label) of the recent classified beats."""

    lead: str
    lo: np.ndarray
    hi: np.ndarray
    hz: float
    end_s: float
    beats: tuple[tuple[float, str], ...] = ()

    @classmethod
    def empty(cls, lead: str = "", hz: float = BINS_HZ) -> TraceSnapshot:
        return cls(lead, np.zeros(0), np.zeros(0), hz, 0.0)


class TraceBuffer:
    """Samples of one lead in, `TraceSnapshot`s out; `start` is the first sample's number on the
    clock (a replay that starts 300 s into a record shows record time).

    The work is done when a snapshot is asked for: `push` only keeps the blocks, so a session
    nobody watches (`classify`, `--no-ui`) pays nothing for the screen. A backlog longer than the
    history is dropped and the display filter starts again from what is left."""

    def __init__(self, fs: float, lead: str, start: int = 0, history_s: float = HISTORY_S):
        self.fs, self.lead = float(fs), lead
        self.decim = max(1, int(round(self.fs / BINS_HZ)))
        self.hz = self.fs / self.decim
        size = int(history_s * self.hz)
        self.history = size * self.decim  # samples
        self.lo: deque[float] = deque(maxlen=size)
        self.hi: deque[float] = deque(maxlen=size)
        self.beats: deque[tuple[float, str]] = deque(maxlen=64)
        self._pending: deque[np.ndarray] = deque()
        self._pending_n = 0
        self._binned = int(start)  # sample number at the end of the newest complete bin
        self._sos = design_sos(FilterSpec(0.5, 40.0), self.fs)
        self._restart()

    def _restart(self) -> None:
        self._filter: StreamFilter | None = None  # made when a block is taken
        self._rest = np.zeros(0)  # filtered samples of a bin not yet complete
        self._held: float | None = None  # the last valid value: a gap must not step the filter

    def push(self, lead: np.ndarray) -> None:
        x = np.array(lead, dtype=np.float64).reshape(-1)
        if x.size == 0:
            return
        self._pending.append(x)
        self._pending_n += x.size
        while self._pending_n - len(self._pending[0]) >= self.history:
            dropped = self._pending.popleft()
            self._pending_n -= dropped.size
            self._binned += len(self._rest) + dropped.size  # sample at the kept blocks' start
            self.lo.clear()
            self.hi.clear()
            self._restart()

    def _take(self, x: np.ndarray) -> None:
        valid = np.isfinite(x)
        if not valid.all():
            held = np.maximum.accumulate(np.where(valid, np.arange(x.size), -1))
            first = self._held if self._held is not None else 0.0
            x = np.where(held >= 0, x[np.maximum(held, 0)], first)
        self._held = float(x[-1])
        if self._filter is None:
            self._filter = StreamFilter(self._sos, 1)
        y = self._filter(x.reshape(-1, 1))[:, 0]
        y[~valid] = np.nan
        y = np.concatenate([self._rest, y])
        whole = (y.size // self.decim) * self.decim
        bins, self._rest = y[:whole].reshape(-1, self.decim), y[whole:]
        if len(bins):
            with np.errstate(invalid="ignore"):
                lo, hi = bins.min(axis=1), bins.max(axis=1)  # NaN in a bin: the bin is a gap
            self.lo.extend(lo.tolist())
            self.hi.extend(hi.tolist())
            self._binned += whole

    def on_beat(self, sample: int, label: str) -> None:
        self.beats.append((sample / self.fs, label))

    def snapshot(self) -> TraceSnapshot:
        while self._pending:
            block = self._pending.popleft()
            self._pending_n -= block.size
            self._take(block)
        return TraceSnapshot(
            self.lead,
            np.asarray(self.lo),
            np.asarray(self.hi),
            self.hz,
            self._binned / self.fs,
            tuple(self.beats),
        )
