"""The one loop behind `replay`, `classify` and `run`: step a session until its source ends, the
duration is up or the user (or the service manager) stops it; meanwhile a stats line every few
seconds and a screen four times a second. Sessions differ only in where samples come from
(`ReplaySession`: a WFDB record; `SerialSession`: a serial port)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from edge_monitor.reporting import Emit
from edge_monitor.stats import CpuMeter
from edge_monitor.ui_view import View

VIEW_EVERY_S = 0.25  # the screen repaints at most four times a second
ACK_KEY, QUIT_KEY = "a", "q"


class Session(Protocol):
    def step(self) -> bool:
        """Take what the source has; False once it has nothing more, ever."""

    def stats_line(self) -> dict: ...

    def view(self, cpu: CpuMeter, finished: bool = False) -> View: ...

    def acknowledge(self) -> dict | None:
        """The user acknowledged the latched alarms (logged where the session's events go)."""

    def close(self) -> None: ...

    def summary(self, wall_s: float) -> dict: ...


def run_loop(
    session: Session,
    duration_s: float | None = None,
    emit_stats: Emit | None = None,
    stats_every_s: float = 5.0,
    on_view: Callable[[View], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    keys: Callable[[], str] | None = None,
) -> dict:
    """The session's summary with `interrupted` (Ctrl-C, `q`, or SIGTERM / SIGHUP turned into a
    KeyboardInterrupt by the CLI). The session is closed (the recording flushed) in any case,
    and the screen's last frame says the run is over. `keys` (a terminal's key presses since
    the last call, see keys.py) is read between steps: `a` acknowledges the latched alarms."""
    cpu = CpuMeter()
    t0 = last_stats = clock()
    last_view = t0 - VIEW_EVERY_S
    interrupted = False
    try:
        while duration_s is None or clock() - t0 < duration_s:
            if not session.step():
                break
            pressed = keys() if keys is not None else ""
            if ACK_KEY in pressed:
                session.acknowledge()
                last_view = float("-inf")  # show it at once
            if QUIT_KEY in pressed:
                interrupted = True
                break
            now = clock()
            if emit_stats is not None and now - last_stats >= stats_every_s:
                last_stats = now
                emit_stats(session.stats_line())
            if on_view is not None and now - last_view >= VIEW_EVERY_S:
                last_view = now
                on_view(session.view(cpu))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        session.close()
    result = {**session.summary(clock() - t0), "interrupted": interrupted}
    if on_view is not None:
        on_view(session.view(cpu, finished=True))
    return result
