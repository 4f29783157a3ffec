"""What a source says about the rows it could not deliver (nothing arrived, values outside the
ADC's range, a stalled link), kept so that the quality gate's verdict on a segment names why the
signal is missing instead of calling every silence "leads off"."""

from __future__ import annotations

import dataclasses
from collections import deque

import numpy as np

from edge_monitor.dsp import mask_runs
from edge_monitor.quality import BAD_VALUES, NO_SIGNAL, SegmentQuality


class SourceGaps:
    """The runs of missing and bad rows (source numbering) and the last stall of the link."""

    def __init__(self, leads_off_share: float) -> None:
        self.share = leads_off_share  # a bad segment this much missing or bad says so
        # the source says no sample arrives (a stalled or unplugged link: NO_SIGNAL; bytes that
        # decode to nothing: UNREADABLE), None while samples flow
        self.stall_state: str | None = None
        # where the last stall began and where real samples came back (None: not yet): a
        # segment graded good that reaches into the stall never says the signal is good again
        self._stall_from: int | None = None
        self._resume_at: int | None = None
        self._stall_reason = NO_SIGNAL
        self._runs: dict[str, deque[tuple[int, int]]] = {
            NO_SIGNAL: deque(maxlen=256),
            BAD_VALUES: deque(maxlen=256),
        }

    def stall(self, stalled: bool, reason: str, position: int) -> str | None:
        """The stall state to report where samples stopped (or the reason changed), else None:
        samples came back, or nothing changed."""
        state = reason if stalled else None
        if state == self.stall_state:
            return None
        was, self.stall_state = self.stall_state, state
        if state is None:
            return None
        if was is None:
            self._stall_from, self._resume_at = position, None
        self._stall_reason = state
        return state

    def note(
        self, position: int, n: int, missing: np.ndarray | None, bad: np.ndarray | None
    ) -> np.ndarray:
        """The block's rows flagged missing or bad (to be held); their runs are kept, and where
        real samples came back after a stall."""
        off = np.zeros(n, bool)
        for state, mask in ((NO_SIGNAL, missing), (BAD_VALUES, bad)):
            if mask is not None:
                rows = np.asarray(mask, bool).reshape(-1)
                if rows.any():  # most seconds have none: no runs to note
                    off = off | rows
                    self._note_runs(self._runs[state], rows, position)
        if self._stall_from is not None and self._resume_at is None:
            arrived = np.ones(n, bool) if missing is None else ~np.asarray(missing, bool)
            if arrived.any():
                self._resume_at = position + int(np.argmax(arrived.reshape(-1)))
        return off

    @staticmethod
    def _note_runs(runs: deque[tuple[int, int]], rows: np.ndarray, position: int) -> None:
        for start, end in mask_runs(rows, position):
            if runs and runs[-1][1] == start:
                start = runs.pop()[0]
            runs.append((start, end))

    def relabel(self, seg: SegmentQuality) -> SegmentQuality:
        """A bad segment made mostly (`share`) of missing or bad rows says so; any segment
        reaching into the last stall says the stall's reason."""
        if seg.ok:
            if self._in_stall(seg):
                return dataclasses.replace(seg, state=self._stall_reason)
            return seg
        span = max(seg.end - seg.start, 1)
        for state, runs in self._runs.items():
            overlap = sum(max(0, min(b, seg.end) - max(a, seg.start)) for a, b in runs)
            if overlap / span >= self.share:
                if state == NO_SIGNAL and self._in_stall(seg):
                    state = self._stall_reason  # the silence of an unreadable link
                return dataclasses.replace(seg, state=state)
        return seg

    def _in_stall(self, seg: SegmentQuality) -> bool:
        """The segment reaches into the last stall (up to its first real sample, or now). Once
        real samples came back, a segment wholly after the first is out of it, though the
        source has not yet said that samples flow again (it says so after pushing them, and a
        board may send its backlog in one read: how much came in that read must not matter)."""
        if self._stall_from is None or seg.end <= self._stall_from:
            return False
        return self._resume_at is None or seg.start < self._resume_at
