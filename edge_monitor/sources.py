"""ECG sources: a serial port that survives its cable, and a WFDB record replayed in chunks.

Any pyserial URL works (`/dev/ttyUSB0`, `socket://host:port`, `loop://`). When the port vanishes
(unplugged, board reset, network drop) the source reports "reconnecting" and retries with
exponential backoff; the caller keeps polling and never sees an exception. Clock and port opener
are injectable so tests drive it deterministically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import serial

from edge_monitor.errors import DataNotFoundError, InputError, first_line
from edge_monitor.wire import LineDecoder, Sample

CONNECTED, RECONNECTING = "connected", "reconnecting"


@dataclass(frozen=True)
class Poll:
    """What one poll brought: decoded samples and the link state after it."""

    samples: list[Sample]
    state: str


class SerialSource:
    def __init__(
        self,
        url: str,
        decoder: LineDecoder,
        baud: int = 115200,
        read_bytes: int = 4096,
        read_timeout_s: float = 0.05,
        backoff_s: tuple[float, float] = (0.25, 5.0),
        clock: Callable[[], float] = time.monotonic,
        opener: Callable[..., serial.SerialBase] = serial.serial_for_url,
    ) -> None:
        self.url, self.baud, self.decoder = url, baud, decoder
        self.read_bytes, self.read_timeout_s = read_bytes, read_timeout_s
        self.backoff_min, self.backoff_max = backoff_s
        self._clock, self._opener = clock, opener
        self._port: serial.SerialBase | None = None
        self._backoff = self.backoff_min
        self._next_attempt = 0.0
        self.state = RECONNECTING
        self.disconnects = 0
        self.connects = 0
        self.last_error = ""

    def poll(self) -> Poll:
        if self._port is None and not self._try_open():
            return Poll([], self.state)
        assert self._port is not None
        try:
            data = self._port.read(self.read_bytes)
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)
            return Poll([], self.state)
        return Poll(self.decoder.feed(data) if data else [], self.state)

    def connect(self) -> bool:
        """Try to open the port now (the first attempt of a session)."""
        return self._port is not None or self._try_open()

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    def _try_open(self) -> bool:
        now = self._clock()
        if now < self._next_attempt:
            return False
        try:
            self._port = self._opener(self.url, baudrate=self.baud, timeout=self.read_timeout_s)
        except (serial.SerialException, OSError, ValueError) as exc:
            self.last_error = first_line(exc)
            self._next_attempt = now + self._backoff
            self._backoff = min(2 * self._backoff, self.backoff_max)
            return False
        self.state = CONNECTED
        self.connects += 1
        self._backoff = self.backoff_min
        return True

    def _lost(self, exc: Exception) -> None:
        self.last_error = first_line(exc)
        self.close()
        self.state = RECONNECTING
        self.disconnects += 1
        self._next_attempt = self._clock()  # try again at once; back off if that fails


@dataclass(frozen=True)
class Chunk:
    """Samples of a replayed record: (n, channels) in physical units, from absolute `start`."""

    samples: np.ndarray
    start: int
    fs: float
    sig_name: list[str]


def replay_record(
    path: str | Path,
    chunk_s: float = 1.0,
    speed: float = 1.0,
    start_s: float = 0.0,
    stop_s: float | None = None,
    channels: list[int] | None = None,
    read_s: float = 60.0,
    read_values: int = 4_000_000,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Chunk]:
    """A WFDB record read chunk by chunk (never whole) and paced by its sample clock.

    `speed` 1 is real time, 0 as fast as possible. Sample indices stay in the record's own
    numbering, so results can be matched against its annotations.
    """
    from edge_monitor.wfdb_io import check_signal_files, read_block, read_header

    record = _record_path(path)
    header = read_header(record)
    check_signal_files(header, record)
    if channels is not None and any(not 0 <= c < header.n_sig for c in channels):
        names = ", ".join(header.sig_name)
        raise InputError(f"{record} has {header.n_sig} signals ({names}): no channel {channels}")
    fs = float(header.fs)
    first = int(round(start_s * fs))
    last = header.sig_len if stop_s is None else min(header.sig_len, int(round(stop_s * fs)))
    if not 0 <= first < last:
        raise InputError(
            f"--start/--stop select no samples of {record} ({header.sig_len / fs:.0f} s)"
        )
    step = max(1, int(round(chunk_s * fs)))
    # read blocks of many chunks (wfdb parses the header on every read), hand out chunks, and
    # at most ~`read_values` values (32 MB as float64): a read takes every signal of a frame
    frames = min(read_s * fs, read_values / header.n_sig)
    block = step * max(1, int(np.ceil(frames / step)))
    names = [header.sig_name[c] for c in channels] if channels else list(header.sig_name)
    t0 = clock()
    for a0 in range(first, last, block):
        b0 = min(a0 + block, last)
        try:
            x = read_block(header, record, a0, b0, channels)
        except Exception as exc:
            raise InputError(
                f"cannot read samples {a0}-{b0} of {record}: {first_line(exc)}"
            ) from exc
        if x is None or len(x) != b0 - a0:
            raise InputError(f"{record} ends early: samples {a0}-{b0} are missing")
        x = np.asarray(x, dtype=np.float64)
        for a in range(a0, b0, step):
            b = min(a + step, b0)
            if speed > 0:  # wait until the chunk's last sample would have arrived
                due = t0 + (b - first) / fs / speed
                if (wait := due - clock()) > 0:
                    sleep(wait)
            yield Chunk(x[a - a0 : b - a0], a, fs, names)


def _record_path(path: str | Path) -> Path:
    """`100`, `100.hea` and `100.dat` all name record 100 (`.mat`: a challenge's records;
    `.xyz`: the PTB Diagnostic database's Frank leads file)."""
    p = Path(path)
    if p.suffix.lower() in (".hea", ".dat", ".atr", ".mat", ".xyz"):
        p = p.with_suffix("")
    hea = p.parent / (p.name + ".hea")
    if not hea.exists() and not hea.is_symlink():
        other = [f for f in p.parent.glob(p.name + ".*") if f.suffix.lower() == ".hea"]
        if other:  # a database copied through a tool that changed the case of its names
            raise DataNotFoundError(
                f"WFDB record not found: {hea} (there is {other[0].name}: WFDB names are "
                "case-sensitive, so rename its files to lower-case extensions)"
            )
        raise DataNotFoundError(f"WFDB record not found: {hea}")
    return p
