"""A WFDB record as a monitoring session (`replay` at its own pace, `classify` as fast as
possible): blocks of the record feed the Monitor, events go to JSON lines and the tracker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_monitor.bundle import Bundle
from edge_monitor.pipeline import Monitor
from edge_monitor.reporting import (
    Emit,
    Tracker,
    handle,
    make_view,
    not_quality,
    stats_line,
    summary,
    timed_push,
)
from edge_monitor.stats import CpuMeter
from edge_monitor.wfdb_io import read_header


class ReplaySession:
    def __init__(
        self,
        path: Path,
        bundles: list[Bundle],
        threads: tuple[int, int],
        channel: int | None,
        emit: Emit | None,
        speed: float = 0.0,
        start_s: float = 0.0,
        stop_s: float | None = None,
        second_lead: int | str | None = None,
    ) -> None:
        header = read_header(path)
        self.path, self.bundles, self.emit = path, bundles, emit
        fs = float(header.fs)
        self.monitor = Monitor(
            bundles,
            fs,
            list(header.sig_name),
            channel=channel,
            threads=threads,
            start=int(round(start_s * fs)),
            second_lead=second_lead,
        )
        m = self.monitor
        self.tracker = Tracker(fs, m.sig_name[m.lead], m.start)
        second = [m.second.channel] if m.second is not None else []
        used = sorted({m.lead, *second, *(c for w in m.windows for c in w.channels)})
        self._blocks = record_blocks(path, speed, start_s, stop_s, used, m.n_channels)
        self._done = False

    def step(self) -> bool:
        if self._done:
            return False
        block = next(self._blocks, None)
        if block is None:
            self._finish()
            return False
        handle(timed_push(self.monitor, self.tracker, block), self.emit, self.tracker, not_quality)
        self.tracker.on_samples(block[:, self.monitor.lead])
        return True

    def stats_line(self) -> dict:
        return stats_line(self.monitor)

    def view(self, cpu: CpuMeter, finished: bool = False):
        state = "finished" if finished or self._done else "replaying"
        name = f"replay {self.path.name}"
        return make_view(self.monitor, self.tracker, name, state, cpu, finished=finished)

    def acknowledge(self) -> dict | None:
        """The user acknowledged the latched alarms: logged where the events go."""
        ack = self.tracker.acknowledge(self.monitor.received)
        if ack is not None and self.emit is not None:
            self.emit(ack)
        return ack

    def close(self) -> None:
        """Stopped before the record's end (`q`, Ctrl-C, `--duration`): what was read is
        analysed and reported all the same."""
        self._blocks.close()
        self._finish()

    def _finish(self) -> None:
        """Once: the monitor analyses what still waits and its last beats, reported."""
        if not self._done:
            self._done = True
            handle(self.monitor.finish(), self.emit, self.tracker, not_quality)

    def summary(self, wall_s: float) -> dict:
        extra = {"record": str(self.path), "models": [b.name for b in self.bundles]}
        return summary(self.monitor, self.tracker, wall_s, extra)


def record_blocks(
    path: Path, speed: float, start: float, stop: float | None, used: list[int], width: int
) -> Iterator[np.ndarray]:
    """mV blocks of the record reading only the channels the models use (a record may hold
    dozens); the others stay 0 in blocks as wide as the Monitor's sources."""
    from edge_monitor.sources import replay_record

    chunk_s = 0.5 if speed > 0 else 4.0  # live pace: what a serial reader sees; else bigger
    channels = None if len(used) == width else used
    for chunk in replay_record(path, chunk_s, speed, start, stop, channels=channels):
        if channels is None:
            yield chunk.samples
            continue
        x = np.zeros((len(chunk.samples), width))
        x[:, used] = chunk.samples
        yield x
