"""Screenshot-like captures of the monitor during a VT alarm: MIT-BIH record 205 (its ventricular
tachycardia at about 5:00) replayed at real time through the whole replay pipeline (the same
ReplaySession, Tracker, models, profile and render as `edge-monitor replay`), the screen
rendered by rich's recording console at 80x24 and 160x50 a moment after the alarm, saved as SVG
and plain text.

    python benchmarks/ui_capture.py            # MIT-BIH from $ECG_EDGE_MITDB / $ECG_EDGE_DATA
    python benchmarks/ui_capture.py --mitdb ../shared/data/mitdb --out docs/img

Writes docs/img/monitor-WxH.svg and .txt, and benchmarks/results/ui_capture.json (the figures on
the screen, the alarm's record time, what one repaint costs at each size, and the command).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from edge_monitor.alerts import CRITICAL
from edge_monitor.replay_session import ReplaySession
from edge_monitor.stats import CpuMeter
from edge_monitor.ui import render
from edge_monitor.ui_view import View

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((80, 24), (160, 50))


def replay_until_alarm(record: Path, start_s: float, after_s: float, speed: float) -> View:
    """The screen `after_s` of signal after the first critical alarm (or at the record's end)."""
    from edge_monitor.cli_leads import bundles_for  # the models `replay` runs by default
    from edge_monitor.profiles import default_profile, load_profile
    from edge_monitor.wfdb_io import read_header

    profile = load_profile(default_profile())
    bundles = bundles_for(None, list(read_header(record).sig_name), profile)
    threads = profile.runtime.threads
    session = ReplaySession(record, bundles, threads, None, None, speed, start_s)
    cpu = CpuMeter()
    alarm_s = None
    while session.step():
        m = session.monitor
        if alarm_s is None and any(a["level"] == CRITICAL for a in session.tracker.alerts):
            alarm_s = m.position / m.fs
        if alarm_s is not None and m.position / m.fs >= alarm_s + after_s:
            break
    view = session.view(cpu)
    session.close()
    return view


def save(view: View, out: Path, width: int, height: int, title: str) -> list[Path]:
    console = Console(
        record=True,
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
    )
    console.print(render(view))
    svg, txt = out / f"monitor-{width}x{height}.svg", out / f"monitor-{width}x{height}.txt"
    console.save_svg(str(svg), title=title, clear=False)
    console.save_text(str(txt))
    return [svg, txt]


def frame_ms(view: View, width: int, height: int, frames: int = 40) -> dict:
    """What one repaint of the screen costs (render and write to a terminal-like console): CPU
    time of this thread per frame, ms, which a busy shared host inflates far less than wall
    time. The screen repaints at most 4 times a second, so 4 x p50 is its share of a core."""
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="256"
    )
    times = []
    for _ in range(frames):
        t0 = time.thread_time()
        console.print(render(view))
        times.append(1e3 * (time.thread_time() - t0))
        console.file = io.StringIO()
    return {"cpu_p50_ms": round(float(np.median(times)), 2), "cpu_max_ms": round(max(times), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mitdb", help="MIT-BIH folder (default: $ECG_EDGE_MITDB, $ECG_EDGE_DATA)")
    ap.add_argument("--record", default="205")
    ap.add_argument("--start", type=float, default=288.0, help="seconds into the record")
    ap.add_argument("--after", type=float, default=1.5, help="seconds shown after the alarm")
    ap.add_argument("--speed", type=float, default=1.0, help="1 real time (rates as live)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    from edge_monitor.errors import EcgEdgeError
    from trainer.datasets.mitdb import resolve_dir

    try:
        record = resolve_dir(args.mitdb) / args.record
        t0 = time.monotonic()
        view = replay_until_alarm(record, args.start, args.after, args.speed)
    except EcgEdgeError as exc:
        sys.exit(f"error: {exc}")
    args.out.mkdir(parents=True, exist_ok=True)
    title = f"edge-monitor replay mitdb {args.record} (VT alarm)"
    files = [p for w, h in SIZES for p in save(view, args.out, w, h, title)]
    p = view.profiling
    result = {
        "command": "python " + " ".join(sys.argv),
        "record": args.record,
        "start_s": args.start,
        "speed": args.speed,
        "wall_s": round(time.monotonic() - t0, 2),
        "clock_s": round(view.clock_s, 2),
        "alarms": [a.__dict__ for a in view.alarms],
        "active": [list(a) for a in view.active],
        "heart_rate": view.heart_rate,
        "profiling": p.__dict__,
        "frame_render": {f"{w}x{h}": frame_ms(view, w, h) for w, h in SIZES},
        "files": [str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f) for f in files],
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "ui_capture.json").write_text(json.dumps(result, indent=2, default=str))
    shown = ("clock_s", "alarms", "frame_render", "files")
    print(json.dumps({k: result[k] for k in shown}, default=str))


if __name__ == "__main__":
    main()
