"""The screen's parts other than the trace, each a small rich renderable from a View: the status
line (with the one clock), the alarm banner, the vitals (large heart rate, rhythm, quality), the
alert log and the profiling panel. Alarm colours follow the priority: critical red in reverse
video, warning yellow, inconclusive grey with its reason."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from edge_monitor.alarm_latch import ACK
from edge_monitor.ui_digits import big_text
from edge_monitor.ui_trace import BEAT_STYLE, clock_text
from edge_monitor.ui_view import View

LEVEL_STYLE = {
    "critical": "bold reverse red",
    "warning": "bold yellow",
    "inconclusive": "grey62",
    "cleared": "green",
    ACK: "cyan",
}
BANNER_STYLE = {"critical": "bold reverse red", "warning": "bold black on yellow"}
STATE_STYLE = {"connected": "green", "replaying": "green", "finished": "bold cyan"}
KEYS = "a ack · q quit"


def status_line(view: View) -> Table:
    """Source and its state left; the one clock (named) and the recording right."""
    grid = Table.grid(expand=True)
    grid.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    grid.add_column(no_wrap=True, justify="right")
    state = view.source_state or "starting"
    left = Text.assemble(
        ("ecg-edge ", "bold cyan"),
        (state.upper() if view.finished else state, STATE_STYLE.get(state, "yellow")),
        (f"  {view.source}", "dim"),
        (f"  rec {view.recording}" if view.recording != "off" else "", "dim"),
    )
    right = Text.assemble(
        (f"{view.clock_name} ", "dim"),
        (clock_text(view.clock_s), "bold"),
        ("" if view.finished else f"  {KEYS}", "dim"),
    )
    grid.add_row(left, right)
    return grid


def banner(view: View) -> Text:
    """One line that is never empty: an unacknowledged critical alarm (latched), else the
    warnings on now, else an inconclusive signal's reason, else 'no active alarm'."""
    if view.alarms:
        newest = view.alarms[-1]
        more = f" (+{len(view.alarms) - 1} more)" if len(view.alarms) > 1 else ""
        action = "" if view.finished else " · a: acknowledge"
        line = f" ALARM {newest.label} {newest.time}{more}{action} · {newest.message} "
        return Text(line, style=BANNER_STYLE["critical"], no_wrap=True, overflow="ellipsis")
    warnings = [label for label, level in view.active if level == "warning"]
    if warnings:
        line = f" WARNING {', '.join(warnings)} "
        return Text(line, style=BANNER_STYLE["warning"], no_wrap=True, overflow="ellipsis")
    if view.quality != "good":
        line = f" INCONCLUSIVE {view.quality_message} "
        return Text(line, style="bold black on grey62", no_wrap=True, overflow="ellipsis")
    return Text(" no active alarm", style="dim", no_wrap=True)


def vitals(view: View, width: int) -> Table:
    """The heart rate in large digits; beside it rhythm, signal quality, beats, probabilities."""
    critical = any(level == "critical" for _, level in view.active)
    if view.heart_rate is None:
        digits, style = "---", "grey50"
    else:
        digits, style = f"{min(view.heart_rate, 999):3.0f}", "bold red" if critical else "green"
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=21, no_wrap=True)
    grid.add_column(width=4, no_wrap=True)
    grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    grid.add_row(big_text(digits, style), Text("HR\n\nbpm", style="bold"), _rhythm(view, width))
    return grid


def _rhythm(view: View, width: int) -> Group:
    if view.active:
        rhythm = Text.assemble(("rhythm ", "dim"))
        for i, (label, level) in enumerate(view.active):
            rhythm.append((", " if i else "") + label, LEVEL_STYLE.get(level, ""))
    elif view.quality == "good":
        rhythm = Text.assemble(("rhythm ", "dim"), ("no rhythm alarm", "green"))
    else:
        rhythm = Text.assemble(("rhythm ", "dim"), ("not assessed", "grey62"))
    qstyle = "green" if view.quality == "good" else "grey62"
    signal = Text.assemble(("signal ", "dim"), (view.quality_message, qstyle))
    beats = Text.assemble(("beats  ", "dim"))
    for label in view.recent_beats[-max(width - 40, 8) :]:
        beats.append(label, BEAT_STYLE.get(label, ""))
    probs = "  ".join(f"{k} {v:.2f}" for k, v in view.probs.items()) or "no prediction yet"
    lines = [rhythm, signal, beats, Text.assemble(("probs  ", "dim"), probs)]
    for line in lines:
        line.no_wrap, line.overflow = True, "ellipsis"
    return Group(*lines)


def alert_log(view: View, rows: int) -> Table:
    """The newest alerts, newest first, on the screen's clock."""
    table = Table(box=None, pad_edge=False, expand=True, show_edge=False, padding=(0, 1))
    table.add_column("time", width=7, no_wrap=True, style="dim")
    table.add_column("level", width=12, no_wrap=True)
    title = f"alert log ({view.clock_name})"
    table.add_column(Text(title, style="bold"), ratio=1, no_wrap=True, overflow="ellipsis")
    shown = list(view.alerts)[::-1][:rows]
    for a in shown:
        level = a["level"]
        message = a["message"] if level == "inconclusive" else f"{a['label']}: {a['message']}"
        if level == ACK:
            message = a["message"]
        table.add_row(a["time"], Text(level, LEVEL_STYLE.get(level, "")), message)
    for i in range(rows - len(shown)):
        table.add_row("", "", Text("no alerts yet" if i == 0 and not shown else "", "dim"))
    return table


def profiling(view: View) -> Table:
    """Each figure says what it times; `--` before there is anything to measure."""
    p = view.profiling
    table = Table(box=None, pad_edge=False, expand=True, show_edge=False, padding=(0, 1))
    table.add_column(Text("profiling", style="bold"), no_wrap=True, overflow="ellipsis", ratio=1)
    table.add_column("", justify="right", no_wrap=True)
    rows = [
        ("model call p50", _num(p.model_p50_ms, "ms", 3)),
        ("model call p95", _num(p.model_p95_ms, "ms", 3)),
        ("pipeline/beat, 5 s", _num(p.pipeline_ms_per_beat, "ms", 2)),
        ("samples/s, 5 s", _num(p.samples_per_s, "", 0)),
        ("CPU, one core", "--" if view.finished else _num(p.cpu_percent, "%", 0)),
        ("RSS / peak", f"{p.rss_mb:.0f} / {p.peak_rss_mb:.0f} MB"),
        ("lag behind link", "--" if p.lag_s is None else _num(p.lag_s, "s", 2)),
        ("lost / bad / off", f"{p.dropped} / {p.bad_lines} / {p.leads_off}"),
    ]
    for label, value in rows:
        table.add_row(Text(label, style="dim"), value)
    return table


def _num(value: float, unit: str, digits: int) -> str:
    """`--` before the first measurement, not `nan`."""
    if value is None or not math.isfinite(value):
        return "--"
    return f"{value:,.{digits}f} {unit}".rstrip()
