"""The null-modem cable between two pseudo-terminals: the pty pairs, the relay that moves bytes
from one master to the other with back-pressure, and the reader of the monitor's stdout."""

from __future__ import annotations

import contextlib
import json
import os
import select
import threading
import time
import tty
from pathlib import Path


class Pty:
    def __init__(self, link: Path):
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        self.link = link
        link.symlink_to(os.ttyname(self.slave))

    def close(self) -> None:
        self.link.unlink(missing_ok=True)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class Relay(threading.Thread):
    """Bytes from one pty master to another, blocking when the reader side is full."""

    def __init__(self, src: int, dst: int):
        super().__init__(daemon=True)
        self.src, self.dst = src, dst
        self.bytes = self.lines = 0
        self.stop = threading.Event()
        self.abandon = threading.Event()  # the monitor is gone: drop what is left
        self.idle_since = time.monotonic()
        self.error: str | None = None
        os.set_blocking(dst, False)

    def run(self) -> None:
        try:
            while True:
                ready = select.select([self.src], [], [], 0.05)[0]
                if not ready:
                    if self.stop.is_set():
                        return
                    continue
                data = os.read(self.src, 65536)
                view = memoryview(data)
                while view:
                    if not select.select([], [self.dst], [], 0.5)[1]:
                        if self.abandon.is_set():
                            self.error = "monitor stopped reading"
                            return
                        continue
                    try:
                        k = os.write(self.dst, view)
                    except BlockingIOError:
                        continue
                    view = view[k:]
                self.bytes += len(data)
                self.lines += data.count(b"\n")
                self.idle_since = time.monotonic()
        except OSError as exc:
            self.error = str(exc)


class LineReader(threading.Thread):
    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[tuple[float, str]] = []

    def run(self) -> None:
        for line in self.stream:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def stalled_since(self, t: float, quiet_s: float = 3.0) -> bool:
        """A 'stalled' status after `t`, or the monitor still stalled `quiet_s` after it (it
        never saw a sample to come back from)."""
        states = [
            (w, json.loads(x).get("state"))
            for w, x in list(self.lines)
            if x.startswith('{"type": "status"')
        ]
        if any(w >= t and s == "stalled" for w, s in states):
            return True
        return bool(states) and states[-1][1] == "stalled" and time.monotonic() > t + quiet_s

    def status_after(self, state: str, t: float) -> bool:
        for when, line in list(self.lines):
            if when >= t and '"status"' in line and f'"{state}"' in line:
                return True
        return False
