"""`edge-monitor bench`: what the monitor costs on this machine, against the profile's budgets.

Each figure comes from a fresh child process where a process's footprint matters (peak RSS and
cold start include the imports a user pays for), and from this process for per-inference
latency (real beat/window inputs captured from the sample record, batch 1, the profile's
threads).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

import numpy as np

from edge_monitor.bundle import Bundle
from edge_monitor.inference import open_session, time_session
from edge_monitor.profiles import DeviceProfile


def capture_feeds(bundle: Bundle, record: Path, limit: int = 400) -> list[dict[str, np.ndarray]]:
    """Real model inputs: the pipeline run over a record, its feeds kept."""
    from edge_monitor.pipeline import Monitor
    from edge_monitor.wfdb_io import read_header, read_signal

    header = read_header(record)
    x, meta = read_signal(record)
    monitor = Monitor([bundle], float(meta["fs"]), list(header.sig_name))
    feeds: list[dict[str, np.ndarray]] = []
    for stream in (*monitor.beats, *monitor.windows):
        stream.model.capture = feeds
    step = int(meta["fs"])
    for a in range(0, len(x), step):
        monitor.push(x[a : a + step])
        if len(feeds) >= limit:
            break
    return feeds[:limit]


def latency(bundle: Bundle, record: Path, threads: tuple[int, int], runs: int) -> dict:
    feeds = capture_feeds(bundle, record)
    session = open_session(bundle.model_path, *threads)
    return {"inputs": len(feeds), **time_session(session, feeds, runs=runs).to_dict()}


def child_run(
    cmd: list[str], first_line: str | None = None, feed=None, env: dict | None = None
) -> dict:
    """Run a CLI child; its wall time and when `first_line` appeared. Peak RSS is what the child
    reports from /proc (VmHWM starts afresh at exec; wait4's maxrss would include the pages of
    this parent that the child held between fork and exec)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if feed is not None:
        threading.Thread(target=feed, daemon=True).start()
    first_at = None
    out_lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if first_at is None and first_line and first_line in line:
            first_at = time.perf_counter() - t0
        out_lines.append(line)
    status = proc.wait()
    wall = time.perf_counter() - t0
    err = proc.stderr.read() if proc.stderr else ""
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.strip()[-300:]}")
    last = out_lines[-1] if out_lines else ""
    try:
        peak = json.loads(last).get("peak_rss_mb")
    except json.JSONDecodeError:
        peak = None
    return {"wall_s": wall, "peak_rss_mb": peak, "first_s": first_at, "last": last}


def bench(
    bundles: list[Bundle],
    profile: DeviceProfile,
    record: Path,
    runs: int = 1000,
    serial_seconds: float = 8.0,
) -> dict:
    threads = profile.runtime.threads
    exe = [sys.executable, "-m", "edge_monitor"]
    models = [a for b in bundles for a in ("--model", str(b.path))]
    result: dict = {"profile": profile.name, "record": str(record), "models": {}}
    for b in bundles:
        result["models"][b.name] = {
            "task": b.task,
            "bytes": b.model_path.stat().st_size,
            "latency_profile_threads": latency(b, record, threads, runs),
            "latency_1_thread": latency(b, record, (1, 1), runs),
        }
    classify = child_run(
        [*exe, "classify", str(record), "--json", "--profile", profile.name, *models], '"beat"'
    )
    summary = json.loads(classify["last"])
    result["replay_headless"] = {
        "signal_s": summary["signal_seconds"],
        "wall_s_process": classify["wall_s"],
        "wall_s_pipeline": summary["wall_seconds"],
        "realtime_factor_process": summary["signal_seconds"] / classify["wall_s"],
        "realtime_factor_pipeline": summary["realtime_factor"],
        "peak_rss_mb": classify["peak_rss_mb"],
        "cold_start_to_first_beat_s": classify["first_s"],
    }
    result["run_serial"] = serial_footprint(exe, models, profile, record, serial_seconds)
    b = profile.budgets
    worst_p95 = max(m["latency_profile_threads"]["p95_ms"] for m in result["models"].values())
    result["checks"] = {
        "latency_p95_ms": {"value": worst_p95, "limit": b.latency_p95_ms},
        "peak_rss_mb_run": {"value": result["run_serial"]["peak_rss_mb"], "limit": b.peak_rss_mb},
        "peak_rss_mb_replay": {
            "value": result["replay_headless"]["peak_rss_mb"],
            "limit": b.peak_rss_mb,
        },
    }
    for c in result["checks"].values():
        c["ok"] = c["value"] <= c["limit"]
    return result


def serial_footprint(exe, models, profile: DeviceProfile, record: Path, seconds: float) -> dict:
    """`edge-monitor run` on a pseudo-terminal fed with the record at twice real time."""
    from edge_monitor.sources import replay_record
    from edge_monitor.wire import encode_block, to_adc

    master, slave = os.openpty()
    tty.setraw(master)
    s = profile.sensor
    sent = [0]

    def feed() -> None:
        time.sleep(1.0)
        try:
            for chunk in replay_record(record, chunk_s=0.1, speed=2.0, stop_s=seconds * 2):
                adc = to_adc(chunk.samples[:, :1], s.adc_gain, s.baseline, s.adc_bits)
                os.write(master, encode_block(adc))
                sent[0] += len(adc)
        except OSError:
            pass

    fs = _record_fs(record)
    cmd = [*exe, "run", "--source", os.ttyname(slave), "--profile", profile.name, "--no-ui"]
    cmd += ["--fs", str(fs), "--duration", str(seconds), *models]
    try:
        got = child_run(cmd, '"beat"', feed=feed)
    finally:
        os.close(master)
        os.close(slave)
    summary = json.loads(got["last"])
    return {
        "seconds": seconds,
        "samples_sent": sent[0],
        "samples_received": summary["wire"]["samples"],
        "peak_rss_mb": got["peak_rss_mb"],
        "beats": summary["beats"],
    }


def _record_fs(record: Path) -> float:
    from edge_monitor.wfdb_io import read_header

    return float(read_header(record).fs)
