"""The screen: every panel present at 80x24 and 160x50, a latched critical alarm until it is
acknowledged, the sweep and its braille dots, profiling that says `--` before data."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from edge_monitor.alarm_latch import ACK
from edge_monitor.alerts import CRITICAL, WARNING, AlertEvent
from edge_monitor.reporting import Tracker
from edge_monitor.trace_buffer import TraceBuffer, TraceSnapshot
from edge_monitor.ui import View, plan, render
from edge_monitor.ui_digits import big_lines
from edge_monitor.ui_live import LiveScreen
from edge_monitor.ui_trace import GAP_S, Sweep, braille, clock_text, column_ranges
from edge_monitor.ui_view import Profiling

FS = 360.0
SIZES = [(80, 24), (160, 50)]


def ecg_like(seconds: float, fs: float = FS) -> np.ndarray:
    """Narrow 1.2 mV spikes at 75 bpm on a wandering baseline (mV)."""
    t = np.arange(int(seconds * fs)) / fs
    beat = np.exp(-(((t % 0.8) - 0.4) ** 2) / (2 * 0.012**2)) * 1.2
    return beat + 0.3 * np.sin(2 * np.pi * 0.2 * t)


def tracker_with(alerts: list[AlertEvent], seconds: float = 301.0) -> Tracker:
    tracker = Tracker(FS, "MLII", start=int(290 * FS))
    tracker.on_samples(ecg_like(seconds - 290))
    for ev in alerts:
        tracker.on_event(ev)
    return tracker


def view_of(tracker: Tracker, **kw) -> View:
    base = dict(
        source="replay 205",
        source_state="replaying",
        clock_s=tracker.trace.snapshot().end_s,
        clock_name="record time",
        trace=tracker.trace.snapshot(),
        heart_rate=191.2,
        quality="good",
        quality_message="signal good",
        active=(("VT", CRITICAL), ("run", WARNING)),
        recent_beats="NNNVVVVVV",
        probs={"N": 0.02, "S": 0.01, "V": 0.96, "F": 0.01},
        alarms=tuple(tracker.latch.pending),
        alarms_raised=tracker.latch.raised,
        alerts=tuple(tracker.alerts),
        profiling=Profiling(0.07, 0.23, 0.9, 360.0, 12.0, 95.0, 101.0),
    )
    return View(**{**base, **kw})


def screen_text(view: View, width: int, height: int) -> str:
    console = Console(record=True, width=width, height=height, file=io.StringIO())
    console.print(render(view))
    return console.export_text()


TEN_ALERTS = [
    AlertEvent(int((291 + i) * FS), WARNING, "PVC", f"frequent PVCs: {i}") for i in range(9)
]
VT = AlertEvent(int(300.2 * FS), CRITICAL, "VT", "ventricular tachycardia: 5 ventricular beats")


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_every_panel_is_on_the_screen(width, height):
    out = screen_text(view_of(tracker_with([*TEN_ALERTS, VT])), width, height)
    lines = out.splitlines()
    assert len(lines) == height and max(map(len, lines)) <= width
    for needle in (
        "MLII",  # the lead
        "1 mV",  # the scale bar
        "┴",  # the 1 s ticks
        "HR",
        "bpm",
        "rhythm",
        "signal good",
        "ALARM",  # the banner
        "alert log (record time)",
        "model call p50",
        "pipeline/beat",
        "samples/s, 5 s",
        "record time 0:05:01",  # the one clock
    ):
        assert needle in out, (needle, width, height)
    assert big_lines("191")[0] in out  # the heart rate, large
    assert any(0x2800 < ord(c) <= 0x28FF for c in out)  # the trace's braille dots
    logged = [line for line in lines if line.startswith("0:0")]
    assert len(logged) >= 8  # at least 8 alert log rows, on the record clock


def test_a_critical_alarm_stays_until_acknowledged_and_the_ack_is_logged():
    tracker = tracker_with([VT])
    cleared = AlertEvent(int(301 * FS), "cleared", "VT", "VT ended")
    tracker.on_event(cleared)  # the rhythm ended: the alarm still waits for a person
    before = screen_text(view_of(tracker, active=()), 80, 24)
    assert "ALARM VT 0:05:00 · a: acknowledge · ventricular tachycardia" in before
    ack = tracker.acknowledge(int(301 * FS))
    assert ack["type"] == ACK and ack["labels"] == ["VT"] and ack["record_time"] == "0:05:01"
    assert ack["acknowledged_at"]  # the wall time it was made
    after = screen_text(view_of(tracker, active=()), 80, 24)
    assert "ALARM" not in after and "acknowledged: VT" in after
    assert tracker.acknowledge(int(302 * FS)) is None  # nothing left to acknowledge


def test_priorities_have_their_colours():
    tracker = tracker_with([VT])
    console = Console(
        record=True, width=80, height=24, file=io.StringIO(), color_system="truecolor"
    )
    console.print(render(view_of(tracker)))
    banner = next(line for line in console.export_text(styles=True).splitlines() if "ALARM" in line)
    assert "\x1b[1;7;31m" in banner  # bold, reverse video, red
    warning = screen_text(view_of(tracker_with([]), active=(("run", WARNING),)), 80, 24)
    assert "WARNING run" in warning
    grey = view_of(
        tracker_with([]),
        active=(),
        quality="leads_off",
        quality_message="leads off: check",
        heart_rate=None,
    )
    out = screen_text(grey, 80, 24)
    assert "INCONCLUSIVE leads off: check" in out and "not assessed" in out


def test_the_bell_rings_once_per_new_critical_alarm():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, height=24)
    from rich.live import Live

    tracker = tracker_with([VT])
    with Live(console=console, auto_refresh=False, transient=True) as live:
        screen = LiveScreen(console, live, None)
        screen.show(view_of(tracker))
        screen.show(view_of(tracker))
        tracker.on_event(AlertEvent(int(305 * FS), CRITICAL, "VF", "VF suspected"))
        screen.show(view_of(tracker))
    assert out.getvalue().count("\a") == 2


def test_before_any_data_the_profiling_says_dashes_not_nan():
    empty = View(
        "socket://x", "", 0.0, "stream time", TraceSnapshot.empty("II"), None, "good", "signal good"
    )
    out = screen_text(empty, 80, 24)
    assert "--" in out and "nan" not in out.lower()
    assert "no active alarm" in out and "no alerts yet" in out


@pytest.mark.parametrize("height", [24, 30, 50, 80])
def test_the_plan_fills_the_terminal_and_keeps_8_log_rows(height):
    p = plan(80, height)
    assert 2 + p.trace + 5 + p.bottom == height
    assert p.bottom - 1 >= 8


@pytest.mark.parametrize(("width", "height"), [(160, 50), (200, 60), (300, 100)])
@pytest.mark.parametrize("alerts", [0, 1, 10, 40])
def test_a_big_terminal_has_no_blank_rows_whatever_the_log_holds(width, height, alerts):
    """The log's rows its alerts leave empty (beyond the 8 it always keeps) go to the trace:
    a big terminal had a blank band under a short log (12 rows at 200x60)."""
    tracker = tracker_with(
        [AlertEvent(int((291 + i / 5) * FS), WARNING, "PVC", f"PVC {i}") for i in range(alerts)]
    )
    for k in range(13):  # labelled beats over the whole sweep: the label row is not blank
        tracker.trace.on_beat(int((290 + 0.8 * k) * FS), "N")
    lines = screen_text(view_of(tracker, active=()), width, height).splitlines()
    assert len(lines) == height and max(map(len, lines)) <= width
    assert [i for i, line in enumerate(lines) if not line.strip()] == []
    logged = [line for line in lines if line.startswith("0:0")]
    assert len(logged) == min(alerts, plan(width, height).bottom - 1)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 40).map(lambda n: n * 4))
def test_braille_sets_exactly_the_dots_of_the_canvas(seed, width):
    dots = np.random.default_rng(seed).random((8, width)) < 0.3
    back = np.zeros_like(dots)
    bits = {0x01: (0, 0), 0x02: (1, 0), 0x04: (2, 0), 0x08: (0, 1), 0x10: (1, 1), 0x20: (2, 1)}
    bits |= {0x40: (3, 0), 0x80: (3, 1)}
    for r, line in enumerate(braille(dots)):
        for c, ch in enumerate(line):
            for bit, (dy, dx) in bits.items():
                back[4 * r + dy, 2 * c + dx] = bool((ord(ch) - 0x2800) & bit)
    assert (back == dots).all()


@settings(max_examples=80, deadline=None)
@given(st.floats(0.5, 1e5), st.integers(4, 10), st.integers(20, 600))
def test_the_sweep_overwrites_from_left_to_right_with_a_gap_ahead_of_the_head(end, seconds, cols):
    sweep = Sweep(seconds, cols, end)
    head = sweep.column(np.array([end]))[0]
    assert 0 <= head < cols
    times = end - np.linspace(0, seconds - GAP_S - 1e-6, 400)
    cols_of = sweep.column(times)
    assert (cols_of >= 0).all()
    # just behind the head: the newest data; a gap ahead of it: the oldest second is gone
    assert sweep.column(np.array([end - seconds + GAP_S / 2]))[0] == -1
    # a whole second always lands on the same column (ticks stay put while the trace sweeps)
    assert Sweep(seconds, cols, end + 1.0).column(np.array([end]))[0] == head


def test_a_narrow_peak_survives_any_width_and_a_gap_stays_a_gap():
    buf = TraceBuffer(FS, "MLII")
    x = np.zeros(int(6 * FS))
    x[int(3 * FS)] = 2.0  # one sample wide
    x[int(4 * FS) : int(4.5 * FS)] = np.nan  # nothing arrived
    buf.push(x)
    snap = buf.snapshot()
    for cols in (60, 140, 400):
        lo, hi = column_ranges(snap, Sweep(6, cols, snap.end_s))
        assert np.nanmax(hi) == np.nanmax(snap.hi) > 0.3  # the band-passed peak, whole
        assert np.isnan(lo).sum() >= 0.5 / 6 * cols - 2  # the gap and the sweep's own


def test_the_clock_is_hours_minutes_seconds():
    assert clock_text(300.9) == "0:05:00" and clock_text(3725) == "1:02:05"


@settings(max_examples=20, deadline=None)
@given(st.integers(20, 300), st.integers(5, 100))
def test_any_terminal_size_renders_to_exactly_its_size(width, height):
    """Resize-safe: a tiny or huge terminal gets a frame of its size, never an exception."""
    lines = screen_text(view_of(tracker_with([VT])), width, height).splitlines()
    assert len(lines) == height and max(map(len, lines)) <= width


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 3000), min_size=1, max_size=40), st.integers(0, 10**6))
def test_the_trace_keeps_its_clock_whether_watched_or_not(chunks, start):
    """Pushing only stores blocks (classify pays nothing for the screen); a backlog beyond the
    history is dropped, and the newest bin still ends where the samples end."""
    buf = TraceBuffer(FS, "MLII", start=start)
    x = ecg_like(sum(chunks) / FS + 1)
    at = 0
    for n in chunks:
        buf.push(x[at : at + n])
        at += n
    snap = buf.snapshot()
    assert (start + at) / FS - buf.decim / FS < snap.end_s <= (start + at) / FS
    assert len(snap.lo) <= buf.history // buf.decim


def test_a_window_model_has_its_own_line_beside_the_beat_probabilities():
    """The embedded PTB-XL sample through the replay pipeline with both embedded models: the
    beat's probabilities and the diagnostic window's are shown apart, never one over the other."""
    from importlib import resources
    from pathlib import Path

    from edge_monitor.bundle import embedded_bundle, load_bundle
    from edge_monitor.replay_session import ReplaySession
    from edge_monitor.stats import CpuMeter

    record = Path(str(resources.files("edge_monitor") / "sample_data" / "ptbxl-00063"))
    tasks = ("arrhythmia", "diagnostic")
    bundles = [load_bundle(embedded_bundle(t), probe=False) for t in tasks]
    session = ReplaySession(record, bundles, (1, 1), None, None)
    while session.step():
        pass
    out = screen_text(session.view(CpuMeter(), finished=True), 100, 24)
    assert "probs  N " in out and "window diagnostic: NORM" in out
    assert "II  0.5-40 Hz" in out and "FINISHED" in out


def test_an_acknowledged_critical_alarm_still_active_stays_on_the_banner_silenced():
    tracker = tracker_with([VT])
    tracker.acknowledge(int(301 * FS))
    view = view_of(tracker, active=(("run", WARNING), ("VT", CRITICAL)))
    console = Console(
        record=True, width=100, height=24, file=io.StringIO(), color_system="truecolor"
    )
    console.print(render(view))
    banner = next(line for line in console.export_text(styles=True).splitlines() if "ALARM" in line)
    assert "ALARM VT (acknowledged 0:05:01) · still active" in banner
    assert "WARNING" not in banner
    assert "\x1b[1;31m" in banner and "\x1b[1;7;31m" not in banner  # red, no reverse video
    # a new critical alarm latches again, in reverse video, with its own acknowledge prompt
    tracker.on_event(AlertEvent(int(301 * FS), CRITICAL, "VF", "VF suspected"))
    out = screen_text(view_of(tracker, active=(("VT", CRITICAL), ("VF", CRITICAL))), 100, 24)
    assert "ALARM VF" in out and "a: acknowledge" in out


def test_a_lead_name_from_a_strangers_header_is_drawn_as_text():
    """A WFDB header's signal name reaches the trace header: its escape sequences must not
    recolour or retitle the terminal."""
    from edge_monitor.ui_trace import trace_lines

    header = trace_lines(TraceSnapshot.empty("\x1b[31mV5\x1b]0;pwned\x07"), 80, 8)[0]
    assert "\x1b" not in header.plain and "\\x1b[31mV5\\x1b]0;pwned\\x07" in header.plain
