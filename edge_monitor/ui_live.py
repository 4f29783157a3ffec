"""The live screen around a run: rich's Live on the alternate screen (so resizing and Ctrl-C
leave the terminal as it was), the terminal bell once per new critical alarm, the keys of
keys.py while it is up, and the last frame ('finished') kept on the normal screen afterwards,
above the summary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from rich.console import Console
from rich.live import Live

from edge_monitor.keys import key_reader
from edge_monitor.ui import render
from edge_monitor.ui_view import View


class LiveScreen:
    def __init__(self, console: Console, live: Live, keys) -> None:
        self.console, self.live, self.keys = console, live, keys
        self.rung = 0  # critical alarms already announced by the bell
        self.last: View | None = None

    def show(self, view: View) -> None:
        if view.alarms_raised > self.rung:
            self.rung = view.alarms_raised
            self.console.bell()
        self.last = view
        self.live.update(render(view), refresh=True)


@contextmanager
def live_screen(console: Console) -> Iterator[LiveScreen]:
    """The screen for one run; `show` each View, read `keys` (None unless stdin is a TTY)."""
    with ExitStack() as stack:
        keys = stack.enter_context(key_reader())
        live = Live(console=console, screen=True, auto_refresh=False, transient=True)
        screen = LiveScreen(console, live, keys)
        with live:
            yield screen
        if screen.last is not None:  # the final frame, on the normal screen (or the pipe)
            console.print(render(screen.last))
