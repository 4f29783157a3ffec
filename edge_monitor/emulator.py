"""`edge-monitor emulate`: a WFDB record played onto a serial port in the front end's wire format,
so the whole live path can be tried without hardware."""

from __future__ import annotations

import queue
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_monitor.wire import encode_block, to_adc


def emulate(
    record: Path,
    port: str,
    baud: int,
    adc_gain: float,
    baseline: int,
    adc_bits: int,
    fs: float | None = None,
    speed: float = 1.0,
    counter: bool = False,
    loops: int = 1,
    channel: int | None = None,
    say: Callable[[str], None] = print,
    fit: bool = True,
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """Play a record onto a serial port in the wire format, paced by its sample clock, resampled
    to the front end's rate `fs` (a 360 Hz MIT-BIH record becomes a 250 Hz AD8232 board).

    A record wider than the ADC's range would sit at its rails (the monitor then, rightly, calls
    the signal unusable): with `fit` it is scaled down to fit, else sent clipped; either way
    `warn` says so with the numbers. The wire keeps the front end's true gain."""
    import serial

    from edge_monitor.dsp import StreamResampler
    from edge_monitor.errors import InputError, first_line
    from edge_monitor.sources import replay_record

    if port.lower().startswith("loop://"):
        raise InputError(
            "loop:// loops back into this process and nobody here reads it (it blocks after "
            "4 KiB): give a port a monitor reads, e.g. one end of a pty pair or socket://"
        )
    channels = None if channel is None else [channel]
    top = 2**adc_bits - 1
    scale = _fit_scale(record, channels, adc_gain, baseline, top, fit, warn)
    try:
        link = serial.serial_for_url(port, baudrate=baud, write_timeout=5)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise InputError(f"cannot open {port}: {first_line(exc)}") from exc
    sent = 0
    try:
        for loop in range(loops):
            resampler = None
            for chunk in replay_record(record, chunk_s=0.02, speed=speed, channels=channels):
                x = chunk.samples * scale
                if fs is not None and fs != chunk.fs:
                    resampler = resampler or StreamResampler(chunk.fs, fs, x.shape[1])
                    x = resampler(np.nan_to_num(x))
                adc = to_adc(x, adc_gain, baseline, adc_bits)
                link.write(encode_block(adc, sent if counter else None))
                sent += len(adc)
            say(f"loop {loop + 1}: sent {sent} samples")
    except KeyboardInterrupt:
        pass
    except serial.SerialTimeoutException as exc:
        raise InputError(
            f"serial port {port} took no more data after {sent} samples (is anything reading it?)"
        ) from exc
    except (serial.SerialException, OSError, queue.Full) as exc:
        why = first_line(exc)
        raise InputError(f"serial port {port} failed after {sent} samples: {why}") from exc
    finally:
        link.close()
    return sent


def record_range(record: Path, channels: list[int] | None) -> tuple[float, float]:
    """Lowest and highest value of the record's channels (physical units), in one quick pass."""
    from edge_monitor.sources import replay_record

    lo, hi = np.inf, -np.inf
    for chunk in replay_record(record, chunk_s=60.0, speed=0, channels=channels):
        x = chunk.samples[np.isfinite(chunk.samples)]
        if x.size:
            lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
    return lo, hi


def _fit_scale(
    record: Path,
    channels: list[int] | None,
    adc_gain: float,
    baseline: int,
    top: int,
    fit: bool,
    warn: Callable[[str], None],
    margin: float = 0.9,
) -> float:
    """1.0 when the record fits the ADC's range, else (with `fit`) the factor that brings its
    extremes to `margin` of the rails; `warn` gets one line with the numbers either way."""
    low, high = (0 - baseline) / adc_gain, (top - baseline) / adc_gain  # the rails in mV
    lo, hi = record_range(record, channels)
    if not np.isfinite([lo, hi]).all() or (low <= lo and hi <= high):
        return 1.0
    spans = f"{record} spans {lo:+.2f}..{hi:+.2f} mV; the ADC holds {low:+.2f}..{high:+.2f} mV"
    sides = [high / hi if hi > high else np.inf, low / lo if lo < low else np.inf]
    scale = margin * min(sides)
    if not fit:
        warn(f"warning: {spans}: sent as is, it clips at the rails (--fit scales it down)")
        return 1.0
    if not 0 < scale < 1:  # a range that does not hold 0 mV: no scale helps
        warn(f"warning: {spans}: it clips at the rails (no scale fits it)")
        return 1.0
    warn(
        f"warning: {spans}: sending it scaled by {scale:.3g} to fit (--no-fit sends it as is; "
        "the wire keeps the front end's gain)"
    )
    return scale
