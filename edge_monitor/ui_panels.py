"""The screen's parts other than the trace, each as lines of rich Text from a View: the status
line (with the one clock), the alarm banner, the vitals (large heart rate, rhythm, quality), the
alert log and the profiling panel. Alarm colours follow the priority: critical red in reverse
video, warning yellow, inconclusive grey with its reason.

Plain lines, not rich Tables and Layouts: a frame costs a few milliseconds instead of tens, which
matters 4 times a second on a Raspberry Pi (benchmarks/ui_capture.py measures it)."""

from __future__ import annotations

import math

from rich.text import Span, Text

from edge_monitor.alarm_latch import ACK
from edge_monitor.safe_text import one_line
from edge_monitor.ui_digits import ROWS as DIGIT_ROWS
from edge_monitor.ui_digits import big_lines
from edge_monitor.ui_trace import BEAT_STYLE, clock_text
from edge_monitor.ui_view import View

LEVEL_STYLE = {
    "critical": "bold reverse red",
    "warning": "bold yellow",
    "inconclusive": "grey62",
    "cleared": "green",
    ACK: "cyan",
}
BANNER_STYLE = {
    "critical": "bold reverse red",
    "warning": "bold black on yellow",
    "inconclusive": "bold black on grey62",
}
STATE_STYLE = {"connected": "green", "replaying": "green", "finished": "bold cyan"}
KEYS = "a ack · q quit"
DIGITS_WIDTH = 21  # three 6-cell digits and their gaps


def fit(text: Text, width: int) -> Text:
    """Exactly `width` cells: cut with an ellipsis, or padded with spaces. The base style
    becomes the lowest span, as `Text.render` (used for speed) ignores a base style."""
    text = text.copy()
    text.truncate(width, overflow="ellipsis", pad=True)
    if text.style:
        text.spans = [Span(0, len(text), text.style), *text.spans]
        text.style = ""
    return text


def status_line(view: View, width: int) -> Text:
    """State and source left; the one clock (named) and the keys right."""
    state = view.source_state or "starting"
    left = Text.assemble(
        ("ecg-edge ", "bold cyan"),
        (state.upper() if view.finished else state, STATE_STYLE.get(state, "yellow")),
        (f"  {one_line(str(view.source))}", "dim"),
        (f"  rec {one_line(str(view.recording))}" if view.recording != "off" else "", "dim"),
    )
    right = Text.assemble(
        (f"{view.clock_name} ", "dim"),
        (clock_text(view.clock_s), "bold"),
        ("" if view.finished else f"  {KEYS}", "dim"),
    )
    return fit(left, max(width - len(right) - 1, 0)) + " " + right


def banner(view: View, width: int) -> Text:
    """One full-width line, never empty: an unacknowledged critical alarm (latched), else a
    critical alarm acknowledged but still active (silenced, not hidden), else the warnings on
    now, else an inconclusive signal's reason, else 'no active alarm'."""
    if view.alarms:
        newest = view.alarms[-1]
        more = f" (+{len(view.alarms) - 1} more)" if len(view.alarms) > 1 else ""
        action = "" if view.finished else " · a: acknowledge"
        line = f" ALARM {newest.label} {newest.time}{more}{action} · {newest.message}"
        return fit(Text(line, BANNER_STYLE["critical"]), width)
    critical = [label for label, level in view.active if level == "critical"]
    if critical:  # acknowledged (silenced) but still going on: red, without reverse video
        acks = [a for a in view.alerts if a["level"] == ACK]
        when = f" {acks[-1]['time']}" if acks else ""
        line = f" ALARM {', '.join(critical)} (acknowledged{when}) · still active"
        return fit(Text(line, "bold red"), width)
    warnings = [label for label, level in view.active if level == "warning"]
    if warnings:
        return fit(Text(f" WARNING {', '.join(warnings)}", BANNER_STYLE["warning"]), width)
    if view.quality != "good":
        line = f" INCONCLUSIVE {view.quality_message}"
        return fit(Text(line, BANNER_STYLE["inconclusive"]), width)
    return fit(Text(" no active alarm", "dim"), width)


def vitals(view: View, width: int) -> list[Text]:
    """The heart rate in large digits; beside it rhythm, signal quality, beats, probabilities."""
    critical = any(level == "critical" for _, level in view.active)
    if view.heart_rate is None:
        digits, style = "---", "grey50"
    else:
        digits, style = f"{min(view.heart_rate, 999):3.0f}", "bold red" if critical else "green"
    big = big_lines(digits)
    labels = ["HR", "", "bpm", "", ""]
    side = _rhythm(view, width - DIGITS_WIDTH - 6)
    lines = []
    for i in range(DIGIT_ROWS):
        line = Text.assemble((big[i].ljust(DIGITS_WIDTH), style), " ", (labels[i].ljust(5), "bold"))
        lines.append(fit(line + (side[i] if i < len(side) else Text("")), width))
    return lines


def _rhythm(view: View, width: int) -> list[Text]:
    if view.active:
        rhythm = Text.assemble(("rhythm ", "dim"))
        for i, (label, level) in enumerate(view.active):
            rhythm.append(", " if i else "")
            rhythm.append(label, LEVEL_STYLE.get(level, ""))
    elif view.quality == "good":
        rhythm = Text.assemble(("rhythm ", "dim"), ("no rhythm alarm", "green"))
    else:
        rhythm = Text.assemble(("rhythm ", "dim"), ("not assessed", "grey62"))
    qstyle = "green" if view.quality == "good" else "grey62"
    signal = Text.assemble(("signal ", "dim"), (view.quality_message, qstyle))
    beats = Text.assemble(("beats  ", "dim"))
    for label in view.recent_beats[-max(width - 8, 1) :]:
        beats.append(label, BEAT_STYLE.get(label, ""))
    probs = "  ".join(f"{k} {v:.2f}" for k, v in view.probs.items()) or "no prediction yet"
    windows = Text.assemble(("window ", "dim"))
    for i, (model, p) in enumerate(view.window_probs.items()):
        top = sorted(p.items(), key=lambda kv: -kv[1])[:4]
        shown = "  ".join(f"{k} {v:.2f}" for k, v in top) or "invalid output"
        windows.append(("  ·  " if i else "") + f"{model}: {shown}")
    lines = [rhythm, signal, beats, Text.assemble(("probs  ", "dim"), probs)]
    return lines + ([windows] if view.window_probs else [])


def alert_log(view: View, rows: int, width: int) -> list[Text]:
    """A title and `rows` alerts, newest first, on the screen's clock."""
    title = Text(f"{'time':8}{'level':13}alert log ({view.clock_name})", "bold")
    lines = [fit(title, width)]
    for a in list(view.alerts)[::-1][:rows]:
        level = a["level"]
        if level in ("inconclusive", ACK):
            message = a["message"]  # the reason, or what was acknowledged
        else:
            message = f"{a['label']}: {a['message']}"
        line = Text.assemble(
            (f"{a['time']:8}", "dim"), (level, LEVEL_STYLE.get(level, "")), " " * (13 - len(level))
        )
        lines.append(fit(line + message, width))
    if len(lines) == 1:
        lines.append(fit(Text(f"{'':21}no alerts yet", "dim"), width))
    return lines + [Text(" " * width)] * (rows + 1 - len(lines))


def profiling(view: View, width: int) -> list[Text]:
    """Each figure says what it times; `--` before there is anything to measure."""
    p = view.profiling
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
    lines = [fit(Text("profiling", "bold"), width)]
    for label, value in rows:
        pad = max(width - len(label) - len(value), 1)
        lines.append(fit(Text.assemble((label, "dim"), " " * pad, value), width))
    return lines


def _num(value: float | None, unit: str, digits: int) -> str:
    """`--` before the first measurement, not `nan`."""
    if value is None or not math.isfinite(value):
        return "--"
    return f"{value:,.{digits}f} {unit}".rstrip()
