"""A serial ECG source that survives its cable: decode what arrives, reconnect when it goes.

Any pyserial URL works (`/dev/ttyUSB0`, `socket://host:port`, `loop://`). When the port vanishes
(unplugged, board reset, network drop) the source reports "reconnecting" and retries with
exponential backoff; the caller keeps polling and never sees an exception. Clock and port opener
are injectable so tests drive it deterministically.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

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
            self.last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._next_attempt = now + self._backoff
            self._backoff = min(2 * self._backoff, self.backoff_max)
            return False
        self.state = CONNECTED
        self.connects += 1
        self._backoff = self.backoff_min
        return True

    def _lost(self, exc: Exception) -> None:
        self.last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.close()
        self.state = RECONNECTING
        self.disconnects += 1
        self._next_attempt = self._clock()  # try again at once; back off if that fails
