"""The serial line protocol of an ECG front end, both ways: one codec for the monitor and emulator.

One line per sample, ASCII integers: `512,498\\n` (one value per channel, as Arduino-class AD8232
sketches print them), `!` for leads-off, and optionally a leading sample counter
(`1041,512,498\\n`) so that lost samples can be told (serial_feed weighs the counter against the
wall clock). A live link delivers garbage (a wrong baud rate), cut lines (a reset mid-line), and
bytes that are not text; the decoder counts and skips each, never raises, and never grows
without bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sample:
    """One decoded line. `values` is None when the front end reported leads-off."""

    values: tuple[int, ...] | None
    counter: int | None = None


@dataclass
class WireStats:
    """What arrived, by kind."""

    samples: int = 0
    leads_off: int = 0
    garbage: int = 0  # not integers, or the wrong number of fields
    overlong: int = 0  # no newline within max_line bytes
    not_text: int = 0  # bytes outside printable ASCII
    bytes: int = 0

    def bad(self) -> int:
        return self.garbage + self.overlong + self.not_text


class LineDecoder:
    """Feed raw bytes as they come; get the complete samples back."""

    def __init__(
        self,
        n_channels: int,
        counter: bool = False,
        counter_modulo: int = 1 << 16,
        max_line: int = 64,
    ) -> None:
        self.n_channels = n_channels
        self.counter = counter
        self.counter_modulo = counter_modulo
        self.max_line = max_line
        self.stats = WireStats()
        self._buffer = bytearray()
        self._skipping = False  # inside an overlong line: drop bytes until its newline

    def feed(self, data: bytes) -> list[Sample]:
        self.stats.bytes += len(data)
        out: list[Sample] = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                self._append(data[start:])
                return out
            self._append(data[start:newline])
            if self._skipping:
                self._skipping = False
            else:
                sample = self._decode(bytes(self._buffer))
                if sample is not None:
                    out.append(sample)
            self._buffer.clear()
            start = newline + 1

    def _append(self, chunk: bytes) -> None:
        if self._skipping or not chunk:
            return
        self._buffer += chunk
        if len(self._buffer) > self.max_line:
            self.stats.overlong += 1
            self._buffer.clear()
            self._skipping = True

    def _decode(self, raw: bytes) -> Sample | None:
        line = raw.strip(b"\r \t")
        if not line:
            return None
        if any(b < 0x20 or b > 0x7E for b in line):
            self.stats.not_text += 1
            return None
        fields = line.decode("ascii").split(",")
        counter = None
        if self.counter:
            if len(fields) < 2 or not _is_int(fields[0]):
                self.stats.garbage += 1
                return None
            counter = int(fields[0]) % self.counter_modulo
            fields = fields[1:]
        if fields == ["!"]:
            self.stats.leads_off += 1
            return Sample(None, counter)
        if len(fields) != self.n_channels or not all(_is_int(f) for f in fields):
            # a damaged line's counter is not trusted either: it must not fake a gap
            self.stats.garbage += 1
            return None
        self.stats.samples += 1
        return Sample(tuple(int(f) for f in fields), counter)


def encode(sample: Sample) -> bytes:
    """The line a front end (or the emulator) sends for one sample."""
    body = "!" if sample.values is None else ",".join(str(int(v)) for v in sample.values)
    if sample.counter is not None:
        body = f"{sample.counter},{body}"
    return (body + "\n").encode("ascii")


def _is_int(text: str) -> bool:
    t = text.strip()
    digits = t[1:] if t.startswith("-") else t
    return digits.isdigit() and len(digits) <= 10


def to_adc(mv: np.ndarray, adc_gain: float, baseline: int, adc_bits: int) -> np.ndarray:
    """Millivolts -> the counts a front end's ADC reports, clipped at its rails as the hardware
    clips; NaN (no sample) stays NaN."""
    top = 2**adc_bits - 1
    return np.clip(np.round(np.asarray(mv, dtype=np.float64) * adc_gain + baseline), 0, top)


def encode_block(adc: np.ndarray, first_counter: int | None = None) -> bytes:
    """Many samples (rows of ADC counts; a row with NaN is leads-off) as the front end sends them,
    with a 16-bit counter from `first_counter` when given."""
    rows = np.asarray(adc, dtype=np.float64).reshape(len(adc), -1)
    out = []
    for i, row in enumerate(rows):
        values = tuple(int(v) for v in row) if np.isfinite(row).all() else None
        counter = None if first_counter is None else (first_counter + i) % (1 << 16)
        out.append(encode(Sample(values, counter)))
    return b"".join(out)
