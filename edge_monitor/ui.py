"""The live terminal UI: a pure `render(view)` from a snapshot to rich renderables.

Nothing here reads the clock, the source or the models: the runner fills a `View` and rich's Live
repaints it at a bounded rate, so the picture is testable by rendering a View into a recording
console.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

LEVEL_STYLE = {
    "critical": "bold white on red",
    "warning": "bold yellow",
    "cleared": "green",
    "inconclusive": "bold magenta",
}
ALERT_ROWS = 3  # the whole view fits a 24-line terminal; the alert log keeps the rest
BEAT_STYLE = {"N": "green", "S": "yellow", "V": "bold red", "F": "magenta", "Q": "dim"}


@dataclass(frozen=True)
class View:
    source: str
    source_state: str
    fs: float
    seconds: float  # signal time shown so far
    trace: np.ndarray  # last seconds of the analysed lead, mV, decimated for display
    trace_seconds: float
    heart_rate: float | None
    quality: str
    quality_message: str
    rhythm: str  # active alert labels, or "sinus / no alert"
    recent_beats: str  # newest last, e.g. "NNNVNN"
    probs: dict[str, float]  # newest beat's or window's class probabilities
    alerts: list[dict] = field(default_factory=list)  # newest last, each with "time" text
    latency_ms: tuple[float, float, float] = (float("nan"),) * 3
    rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_percent: float = 0.0
    samples_per_s: float = 0.0
    lag_s: float = 0.0
    dropped: int = 0
    bad_lines: int = 0
    leads_off: int = 0
    recording: str = "off"


def trace_lines(trace: np.ndarray, width: int = 72, height: int = 5) -> list[str]:
    """The trace as rows of characters, one column per time bin (min-max per bin)."""
    y = np.asarray(trace, dtype=float)
    y = y[np.isfinite(y)]
    rows = [[" "] * width for _ in range(height)]
    if y.size < 2:
        return ["".join(r) for r in rows]
    lo, hi = float(np.min(y)), float(np.max(y))
    span = max(hi - lo, 0.2)  # a flat line stays flat, not amplified noise
    bins = np.array_split(y, width)
    for col, b in enumerate(bins):
        if b.size == 0:
            continue
        top = int(round((float(b.max()) - lo) / span * (height - 1)))
        bottom = int(round((float(b.min()) - lo) / span * (height - 1)))
        for level in range(bottom, top + 1):
            rows[height - 1 - level][col] = "█" if top == bottom else "│"
    return ["".join(r) for r in rows]


def render(view: View) -> Group:
    hr = f"{view.heart_rate:.0f}" if view.heart_rate else "--"
    header = Table.grid(expand=True)
    header.add_column()
    header.add_column(justify="right")
    qstyle = "green" if view.quality == "good" else "bold magenta"
    header.add_row(
        Text.assemble(("HR ", "bold"), (f"{hr} bpm", "bold cyan"), "   ", (view.rhythm, "bold")),
        Text.assemble(
            (f"{view.source} ", "dim"),
            (view.source_state, "green" if view.source_state == "connected" else "yellow"),
            f"  t={view.seconds:,.1f} s",
        ),
    )
    header.add_row(Text(view.quality_message, style=qstyle), Text(f"rec: {view.recording}"))
    trace = Text("\n".join(trace_lines(view.trace)), style="green")
    beats = Text("beats ")
    for label in view.recent_beats[-40:]:
        beats.append(label, style=BEAT_STYLE.get(label, ""))
    probs = Text("  ".join(f"{k} {v:.2f}" for k, v in view.probs.items()) or "no prediction yet")

    alerts = Table(show_header=False, box=None, pad_edge=False)
    alerts.add_column(width=10)
    alerts.add_column(width=13)
    alerts.add_column()
    for a in view.alerts[-ALERT_ROWS:]:
        alerts.add_row(
            a["time"], Text(a["level"], style=LEVEL_STYLE.get(a["level"], "")), a["message"]
        )
    if not view.alerts:
        alerts.add_row("", "", Text("no alerts", style="dim"))

    p50, p95, p99 = view.latency_ms
    prof = Table.grid(padding=(0, 2))
    for _ in range(4):
        prof.add_column()
    prof.add_row(
        f"model call p50/p95/p99 {_ms(p50)}/{_ms(p95)}/{_ms(p99)} ms",
        f"RSS {view.rss_mb:.0f} MB (peak {view.peak_rss_mb:.0f})",
        f"CPU {view.cpu_percent:.0f}%",
        f"{view.samples_per_s:,.0f} samples/s",
    )
    prof.add_row(
        f"lag {view.lag_s:.2f} s",
        f"dropped {view.dropped}",
        f"bad lines {view.bad_lines}",
        f"leads-off samples {view.leads_off}",
    )
    return Group(
        Panel(header, title="ecg-edge monitor", border_style="cyan"),
        Panel(trace, title=f"lead, last {view.trace_seconds:.0f} s", border_style="green"),
        Panel(Group(beats, probs), title="beats and probabilities"),
        Panel(alerts, title="alerts"),
        Panel(prof, title="profiling", border_style="dim"),
    )


def _ms(value: float) -> str:
    """`--` before the first inference, not `nan`."""
    return f"{value:.2f}" if math.isfinite(value) else "--"
