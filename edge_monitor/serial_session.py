"""A serial port as a monitoring session (`edge-monitor run`; a record is a ReplaySession): port
-> line decoder -> sample assembler -> Monitor, the recorder beside it.

The session never leaves on bad input: garbage lines are counted by the decoder, a vanished port
is retried with backoff by the source, a leads-off stream becomes an `inconclusive` state, and a
front end that goes silent (a hung board, a pulled cable) becomes "no signal" after the
profile's stall time instead of showing the last heart rate. It ends on Ctrl-C, SIGTERM or after
`--duration`, and always closes the recording cleanly. A recording that cannot start (a full
disk, a path that is a file) is reported in one line; monitoring goes on without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_monitor.alarm_latch import ACK
from edge_monitor.bundle import Bundle
from edge_monitor.quality import NO_SIGNAL, UNREADABLE
from edge_monitor.recorder import WfdbRecorder, open_recorder
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
from edge_monitor.serial_feed import LinkTiming, SampleAssembler
from edge_monitor.sources import CONNECTED, SerialSource
from edge_monitor.stats import CpuMeter
from edge_monitor.wire import LineDecoder

STALLED = "stalled"  # status: the port is open but nothing arrives
UNREADABLE_LINK = "unreadable"  # status: bytes arrive but no valid sample decodes from them


@dataclass(frozen=True)
class SerialSettings:
    url: str
    baud: int
    fs: float
    adc_gain: float
    baseline: int
    adc_bits: int
    sig_name: list[str]
    counter: bool = False
    stall_s: float = 1.0  # no sample for this long: "no signal from the front end"


class SerialSession:
    """One monitored serial link: source -> decoder -> assembler -> Monitor, recorder, events."""

    def __init__(
        self,
        settings: SerialSettings,
        bundles: list[Bundle],
        threads: tuple[int, int],
        channel: int | None,
        emit: Emit | None,
        record_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        second_lead: int | str | None = None,
    ) -> None:
        from edge_monitor.pipeline import Monitor

        s = self.settings = settings
        self.bundles, self.emit, self.clock = bundles, emit, clock
        self.decoder = LineDecoder(len(s.sig_name), counter=s.counter)
        self.source = SerialSource(s.url, self.decoder, baud=s.baud)
        timing = LinkTiming(s.fs, stall_s=s.stall_s)
        self.assembler = SampleAssembler(
            len(s.sig_name), s.adc_gain, s.baseline, s.adc_bits, timing
        )
        top = 2**s.adc_bits - 1
        rails = ((0 - s.baseline) / s.adc_gain, (top - s.baseline) / s.adc_gain)
        self.monitor = Monitor(
            bundles, s.fs, s.sig_name, channel, threads, rails=rails, second_lead=second_lead
        )
        m = self.monitor
        self.tracker = Tracker(s.fs, m.sig_name[m.lead], m.start)
        self.recorder: WfdbRecorder | None = None
        self.recording_error: str | None = None
        if record_dir is not None:
            try:
                self.recorder = open_recorder(record_dir, s.fs, s.sig_name, s.adc_gain, s.baseline)
            except OSError as exc:
                self.recording_error = f"cannot record into {record_dir}: {exc.strerror or exc}"
        self.state: str | None = None
        self._reported_recording = False
        self._finished = False
        self._bad_at_sample = 0  # the decoder's bad lines when the last valid sample came

    def out(self, obj: dict) -> None:
        """Recorded first: a closed stdout must not keep an alert from the recording."""
        if self.recorder is not None and obj.get("type") in ("alert", ACK):
            self.recorder.write_alert(obj)
        if self.emit is not None:
            self.emit(obj)

    def _status(self, state: str, error: str | None) -> None:
        """A link or recording change, at the next sample the monitor expects."""
        at = self.monitor.received
        self.out({"type": "status", "sample": at, "state": state, "error": error})

    def open(self) -> bool:
        ok = self.source.connect()
        self.assembler.start(self.clock())  # silence is timed from the first attempt
        if self.recording_error:
            self._report_recording(self.recording_error)
        return ok

    def step(self) -> bool:
        """One read of the port and everything that follows from it (a port has no end)."""
        poll = self.source.poll()
        now = self.clock()
        if poll.state != self.state:
            self.state = poll.state
            error = "" if poll.state == CONNECTED else self.source.last_error
            self._status(poll.state, error)
        if poll.samples:
            self._bad_at_sample = self.decoder.stats.bad()
            self._take(self.assembler.assemble(poll.samples, now))
        stalled = self.assembler.stalled(now)
        # bytes that decode to no sample (a wrong baud rate) are not silence
        unreadable = self.decoder.stats.bad() > self._bad_at_sample
        reason = UNREADABLE if unreadable else NO_SIGNAL
        want = reason if stalled else None
        if want != self.monitor.stall_state:
            handle(self.monitor.on_stall(stalled, reason), self.out, self.tracker, not_quality)
            self._status(self.link_state(), self._why())
        return True

    def link_state(self) -> str:
        """The source's state, or why no sample arrives while the link is stalled."""
        state = self.monitor.stall_state
        if state == UNREADABLE:
            return UNREADABLE_LINK
        return STALLED if state is not None else (self.state or "")

    def _why(self) -> str:
        stall_s = f"{self.settings.stall_s:g} s or more"
        if self.monitor.stall_state == UNREADABLE:
            return f"bytes arrive but no valid sample for {stall_s}: check the baud rate"
        if self.monitor.stall_state is not None:
            return f"no samples for {stall_s}"
        return ""

    def _take(self, block) -> None:
        if self.recorder is not None:
            self.recorder.write_adc(block.adc)
            if not self.recorder.ok:
                self._report_recording(self.recorder.error)
        m = self.monitor
        events = timed_push(m, self.tracker, block.mv, block.leads_off, block.missing, block.bad)
        handle(events, self.out, self.tracker, not_quality)
        self.tracker.on_samples(block.mv[:, m.lead])  # NaN (never arrived): a gap on the screen

    def _report_recording(self, error: str | None) -> None:
        if not self._reported_recording:
            self._reported_recording = True
            self._status("recording stopped", error)

    def lag_s(self) -> float:
        return self.assembler.lag_s(self.clock())

    def stats_line(self) -> dict:
        return stats_line(
            self.monitor,
            lag_s=round(self.lag_s(), 3),
            wire=self.decoder.stats.__dict__,
            link=self.assembler.stats.as_dict(),
            source_state=self.link_state() if self.monitor.stalled else self.source.state,
        )

    def view(self, cpu: CpuMeter, finished: bool = False):
        link = self.assembler.stats
        state = self.link_state()
        return make_view(
            self.monitor,
            self.tracker,
            self.settings.url,
            "finished" if finished else state,
            cpu,
            clock_name="stream time",
            lag_s=self.lag_s(),
            dropped=link.lost + link.stalled,
            bad_lines=self.decoder.stats.bad() + link.out_of_range,
            recording=self.recording_text(),
            finished=finished,
        )

    def acknowledge(self) -> dict | None:
        """The user acknowledged the latched alarms: logged with the alerts (and recorded)."""
        ack = self.tracker.acknowledge(self.monitor.received)
        if ack is not None:
            self.out(ack)
        return ack

    def recording_text(self) -> str:
        if self.recorder is None:
            return f"STOPPED: {self.recording_error}" if self.recording_error else "off"
        if self.recorder.error:
            return f"STOPPED: {self.recorder.error}"
        return f"{self.recorder.name} ({self.recorder.samples:,} samples)"

    def close(self) -> None:
        """A silence still going on is recorded up to now (true time), then all is closed."""
        try:
            tail = self.assembler.close(self.clock())
            if len(tail.adc):
                self._take(tail)
            self._finish()  # the last second's events are emitted and recorded like the rest
        finally:  # a closed pipe on stdout must not leave the recording unflushed
            self.source.close()
            if self.recorder is not None:
                self.recorder.close()

    def _finish(self) -> None:
        """The monitor analyses what still waits (up to a second's rows) and its last beats."""
        if not self._finished:
            self._finished = True
            handle(self.monitor.finish(), self.out, self.tracker, not_quality)

    def summary(self, wall_s: float) -> dict:
        self._finish()
        rec = self.recorder
        extra = {
            "source": self.settings.url,
            "wire": self.decoder.stats.__dict__,
            "link": self.assembler.stats.as_dict(),
            "lag_s": round(self.lag_s(), 3),
            "connects": self.source.connects,
            "disconnects": self.source.disconnects,
            "recorded_samples": rec.samples if rec else 0,
            "recording": None if rec is None else str(rec.folder / rec.name),
            "recording_error": self.recording_error if rec is None else rec.error,
            "models": [b.name for b in self.bundles],
        }
        return summary(self.monitor, self.tracker, wall_s, extra)


def open_session(
    settings: SerialSettings,
    bundles: list[Bundle],
    threads: tuple[int, int],
    channel: int | None,
    emit: Emit | None,
    record_dir: Path | None = None,
    wait_for_port: bool = False,
    second_lead: int | str | None = None,
) -> SerialSession:
    """A port missing at start is an error (a typo, most likely) unless `wait_for_port`; one
    that goes away later is waited for."""
    from edge_monitor.errors import InputError

    session = SerialSession(
        settings, bundles, threads, channel, emit, record_dir, second_lead=second_lead
    )
    if not session.open() and not wait_for_port:
        session.close()
        raise InputError(f"cannot open serial port {settings.url}: {session.source.last_error}")
    return session
