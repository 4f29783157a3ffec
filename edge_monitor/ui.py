"""The live terminal screen: a pure `render(view)` from a snapshot to a rich renderable that
fills whatever size the terminal has, every panel present from 80x24 up.

Nothing here reads the clock, the source or the models: the runner fills a `View` and rich's
Live repaints it at a bounded rate on the alternate screen, so the picture is testable by
rendering a View into a recording console.

    status line     source, state, the one clock, keys
    alarm banner    latched critical alarm / warnings / inconclusive reason / none
    trace           sweeping braille trace, lead, 1 mV bar, beat labels, 1 s ticks
    vitals          heart rate in large digits; rhythm, quality, beats, probabilities
    alert log | profiling
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.text import Text

from edge_monitor.ui_digits import ROWS as DIGIT_ROWS
from edge_monitor.ui_panels import alert_log, banner, fit, profiling, status_line, vitals
from edge_monitor.ui_trace import trace_lines
from edge_monitor.ui_view import Profiling, View

__all__ = ["Profiling", "Screen", "View", "plan", "render"]

MIN_LOG_ROWS = 8  # the alert log shows at least this many alerts at 80x24


@dataclass(frozen=True)
class Plan:
    """Rows of each band for a terminal of `height` rows, and the profiling column's width."""

    trace: int
    bottom: int  # the alert log's and profiling's band: a title row and the entries
    profiling_width: int


def plan(width: int, height: int, alerts: int | None = None) -> Plan:
    """At 24 rows: 1 status, 1 banner, 8 trace, 5 vitals, 9 alert log (8 entries). Taller
    terminals give the trace three fifths of the extra rows, the log the rest (up to 20). Rows
    the log would leave empty (fewer `alerts` than its rows, beyond the 8 it always keeps, as
    tall as the profiling beside it) go to the trace: no blank band at 160x50 or 300x100."""
    fixed = 2 + DIGIT_ROWS
    rest = max(height - fixed, 8)
    bottom = min(max(MIN_LOG_ROWS + 1, (rest * 2) // 5), 21)
    if alerts is not None:
        bottom = min(bottom, max(MIN_LOG_ROWS, alerts) + 1)
    trace = max(rest - bottom, 4)
    return Plan(trace, bottom, 34 if width < 120 else 42)


class Screen:
    """The whole screen, laid out for the size rich renders it at (the terminal's, so a resize
    takes effect at the next repaint): exactly `height` lines of `width` cells."""

    def __init__(self, view: View) -> None:
        self.view = view

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        height = options.height or console.height
        for line in self.lines(width, height):
            yield from line.render(console)
            yield Segment.line()

    def lines(self, width: int, height: int) -> list[Text]:
        v = self.view
        p = plan(width, height, len(v.alerts))
        log_width = max(width - p.profiling_width, 0)
        bottom = [
            log + Text("  ") + prof
            for log, prof in zip_longest(
                alert_log(v, p.bottom - 1, log_width - 2),
                profiling(v, p.profiling_width),
                fillvalue=Text(""),
            )
        ]
        lines = [
            status_line(v, width),
            banner(v, width),
            *trace_lines(v.trace, width, p.trace),
            *vitals(v, width),
            *bottom[: p.bottom],
        ]
        lines += [Text("")] * (height - len(lines))
        return [fit(line, width) for line in lines[:height]]


def render(view: View) -> Screen:
    return Screen(view)
