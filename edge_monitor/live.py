"""`edge-monitor run` and `edge-monitor emulate`: the serial side of the monitor.

The run loop never leaves on bad input: garbage lines are counted by the decoder, a vanished port
is retried with backoff by the source, a leads-off stream becomes an `inconclusive` state. It ends
on Ctrl-C or after `--duration`, and always closes the recording cleanly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_monitor.bundle import Bundle
from edge_monitor.recorder import WfdbRecorder
from edge_monitor.runner import Emit, Tracker, handle, make_view, not_quality, stats_line, summary
from edge_monitor.serial_feed import SampleAssembler
from edge_monitor.sources import SerialSource
from edge_monitor.stats import CpuMeter
from edge_monitor.wire import LineDecoder


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


def run_serial(
    settings: SerialSettings,
    bundles: list[Bundle],
    threads: tuple[int, int],
    channel: int | None,
    emit: Emit | None,
    record_dir: Path | None = None,
    duration_s: float | None = None,
    on_view: Callable | None = None,
    stats_every_s: float = 5.0,
    wait_for_port: bool = False,
) -> dict:
    """A port missing at start is an error (a typo, most likely) unless `wait_for_port`; one
    that goes away later is waited for."""
    from edge_monitor.errors import InputError
    from edge_monitor.pipeline import Monitor

    s = settings
    decoder = LineDecoder(len(s.sig_name), counter=s.counter)
    source = SerialSource(s.url, decoder, baud=s.baud)
    assembler = SampleAssembler(len(s.sig_name), s.adc_gain, s.baseline)
    top = 2**s.adc_bits - 1
    rails = ((0 - s.baseline) / s.adc_gain, (top - s.baseline) / s.adc_gain)
    monitor = Monitor(bundles, s.fs, s.sig_name, channel=channel, threads=threads, rails=rails)
    tracker = Tracker(s.fs)
    recorder = None
    if record_dir is not None:
        name = time.strftime("ecg-%Y%m%d-%H%M%S")
        recorder = WfdbRecorder(record_dir, name, s.fs, s.sig_name, s.adc_gain, s.baseline)
    cpu = CpuMeter()
    t0 = time.monotonic()
    first_sample_at: float | None = None
    state = None
    last_stats = last_view = t0
    reported_error = False

    def out(obj: dict) -> None:
        if emit is not None:
            emit(obj)
        if recorder is not None and obj.get("type") == "alert":
            recorder.write_alert(obj)

    def lag() -> float:
        if first_sample_at is None:
            return 0.0
        return max(0.0, time.monotonic() - first_sample_at - monitor.samples_seen / s.fs)

    if not source.connect() and not wait_for_port:
        source.close()
        if recorder is not None:
            recorder.close()
        raise InputError(f"cannot open serial port {s.url}: {source.last_error}")
    try:
        while duration_s is None or time.monotonic() - t0 < duration_s:
            poll = source.poll()
            if poll.state != state:
                state = poll.state
                out({"type": "status", "state": state, "error": source.last_error})
            if poll.samples:
                if first_sample_at is None:
                    first_sample_at = time.monotonic()
                block = assembler.assemble(poll.samples)
                if recorder is not None:
                    recorder.write_adc(block.adc)
                    if not recorder.ok and not reported_error:
                        reported_error = True
                        out({"type": "status", "state": state, "error": recorder.error})
                handle(monitor.push(block.mv, block.leads_off), out, tracker, not_quality)
                tracker.on_samples(np.nan_to_num(block.mv[:, monitor.lead]))
            now = time.monotonic()
            if emit is not None and now - last_stats >= stats_every_s:
                last_stats = now
                out(
                    stats_line(
                        monitor,
                        lag_s=round(lag(), 3),
                        wire=decoder.stats.__dict__,
                        filled_for_dropped=assembler.filled,
                        source_state=source.state,
                    )
                )
            if on_view is not None and now - last_view >= 0.25:
                last_view = now
                on_view(
                    make_view(
                        monitor,
                        tracker,
                        s.url,
                        state or "",
                        cpu,
                        lag_s=lag(),
                        dropped=decoder.stats.dropped,
                        bad_lines=decoder.stats.bad(),
                        recording=_recording_text(recorder),
                    )
                )
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
        if recorder is not None:
            recorder.close()
    handle(monitor.finish(), None, tracker, lambda ev: True)
    extra = {
        "source": s.url,
        "wire": decoder.stats.__dict__,
        "filled_for_dropped": assembler.filled,
        "connects": source.connects,
        "disconnects": source.disconnects,
        "recorded_samples": recorder.samples if recorder else 0,
        "recording": None if recorder is None else str(recorder.folder / recorder.name),
        "recording_error": None if recorder is None else recorder.error,
        "models": [b.name for b in bundles],
    }
    return summary(monitor, tracker, time.monotonic() - t0, extra)


def _recording_text(recorder: WfdbRecorder | None) -> str:
    if recorder is None:
        return "off"
    if recorder.error:
        return f"STOPPED: {recorder.error}"
    return f"{recorder.name} ({recorder.samples:,} samples)"
