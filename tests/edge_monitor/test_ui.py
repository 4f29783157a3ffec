"""The UI's render function is pure: a View in, the panels out."""

import numpy as np
from rich.console import Console

from edge_monitor.ui import View, render, trace_lines


def view(**kw):
    base = dict(
        source="/dev/ttyUSB0",
        source_state="connected",
        fs=250.0,
        seconds=75.5,
        trace=np.sin(np.linspace(0, 20, 300)),
        trace_seconds=6.0,
        heart_rate=72.4,
        quality="good",
        quality_message="signal good",
        rhythm="no alert",
        recent_beats="NNNVNN",
        probs={"N": 0.9, "S": 0.05, "V": 0.04, "F": 0.01},
        alerts=[{"time": "0:01:02", "level": "critical", "message": "ventricular run"}],
        latency_ms=(0.1, 0.2, 0.3),
        rss_mb=95.0,
        peak_rss_mb=101.0,
        cpu_percent=12.0,
        samples_per_s=250.0,
        lag_s=0.02,
        dropped=3,
        bad_lines=1,
    )
    return View(**{**base, **kw})


def text_of(v: View) -> str:
    console = Console(record=True, width=120)
    console.print(render(v))
    return console.export_text()


def test_render_shows_rate_alerts_and_profiling():
    out = text_of(view())
    for needle in (
        "HR 72 bpm",
        "ventricular run",
        "critical",
        "0.10/0.20/0.30 ms",
        "RSS 95 MB",
        "dropped 3",
        "bad lines 1",
        "NNNVNN",
        "V 0.04",
        "connected",
    ):
        assert needle in out, needle


def test_render_without_signal_or_rate():
    out = text_of(
        view(
            heart_rate=None,
            trace=np.zeros(0),
            alerts=[],
            quality="leads_off",
            quality_message="leads off: check the electrodes",
            rhythm="inconclusive",
        )
    )
    assert "HR -- bpm" in out and "check the electrodes" in out and "no alerts" in out


def test_trace_lines_keep_a_flat_line_flat():
    rows = trace_lines(np.full(100, 0.3), width=20, height=5)
    assert len(rows) == 5 and all(len(r) == 20 for r in rows)
    assert sum(r.strip() != "" for r in rows) == 1


def test_before_the_first_inference_the_profiling_says_dashes_not_nan():
    out = text_of(view(latency_ms=(float("nan"),) * 3))
    assert "--/--/-- ms" in out and "nan" not in out
