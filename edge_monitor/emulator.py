"""`edge-monitor emulate`: a WFDB record played onto a serial port in the front end's wire format,
so the whole live path can be tried without hardware."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_monitor.wire import Sample, encode


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
) -> int:
    """Play a record onto a serial port in the wire format, paced by its sample clock, resampled
    to the front end's rate `fs` (a 360 Hz MIT-BIH record becomes a 250 Hz AD8232 board)."""
    import serial

    from edge_monitor.dsp import StreamResampler
    from edge_monitor.errors import InputError
    from edge_monitor.sources import replay_record

    try:
        link = serial.serial_for_url(port, baudrate=baud, write_timeout=5)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise InputError(f"cannot open {port}: {str(exc).splitlines()[0]}") from exc
    top = 2**adc_bits - 1
    sent = 0
    try:
        for loop in range(loops):
            channels = None if channel is None else [channel]
            resampler = None
            for chunk in replay_record(record, chunk_s=0.02, speed=speed, channels=channels):
                x = chunk.samples
                if fs is not None and fs != chunk.fs:
                    resampler = resampler or StreamResampler(chunk.fs, fs, x.shape[1])
                    x = resampler(np.nan_to_num(x))
                adc = np.clip(np.round(x * adc_gain + baseline), 0, top)
                lines = []
                for row in adc:
                    if np.isfinite(row).all():
                        values: tuple[int, ...] | None = tuple(int(v) for v in row)
                    else:
                        values = None
                    lines.append(encode(Sample(values, sent % (1 << 16) if counter else None)))
                    sent += 1
                link.write(b"".join(lines))
            say(f"loop {loop + 1}: sent {sent} samples")
    except KeyboardInterrupt:
        pass
    except (serial.SerialException, OSError) as exc:
        raise InputError(f"serial port {port} failed after {sent} samples: {exc}") from exc
    finally:
        link.close()
    return sent
