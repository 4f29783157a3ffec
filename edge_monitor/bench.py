"""`edge-monitor bench`: what the monitor costs on this machine, against the profile's budgets.

Each figure comes from a fresh child process where a process's footprint matters (peak RSS and
cold start include the imports a user pays for), and from this process for per-inference
latency (real beat/window inputs captured from the sample record, batch 1, the threads the
monitor opens each model with: the profile's, or one intra-op thread for a small model; the
JSON key `latency_profile_threads` keeps its name for readers of older results).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import tty
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_monitor.bundle import Bundle, as_beat_model
from edge_monitor.errors import CheckFailedError, InputError
from edge_monitor.inference import open_session, session_threads, time_session
from edge_monitor.profiles import Budgets, DeviceProfile

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def capture_feeds(bundle: Bundle, record: Path, limit: int = 400) -> list[dict[str, np.ndarray]]:
    """Real model inputs: the pipeline run over a record, its feeds kept."""
    from edge_monitor.pipeline import Monitor
    from edge_monitor.wfdb_io import read_header, read_signal

    header = read_header(record)
    x, meta = read_signal(record)
    monitor = Monitor([as_beat_model(bundle)], float(meta["fs"]), list(header.sig_name))
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
    used = session_threads(bundle.manifest, threads)  # what the monitor opens
    session = open_session(bundle.model_source, *used)
    timed = time_session(session, feeds, runs=runs).to_dict()
    valid = valid_share(session, feeds, bundle.contract.output)
    return {"inputs": len(feeds), "threads": list(used), "valid_share": valid, **timed}


def valid_share(session, feeds: list[dict[str, np.ndarray]], output: str | None = None) -> float:
    """The share of real inputs the model answers with finite numbers only, on `output` (the one
    the monitor reads; default every output): a model that gives NaN is fast and small, and
    would pass every other budget (the monitor then labels nothing)."""
    names = [output] if output else None
    ok = sum(all(np.isfinite(out).all() for out in session.run(names, feed)) for feed in feeds)
    return ok / len(feeds) if feeds else 0.0


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
        raise CheckFailedError(f"{' '.join(cmd)} failed: {err.strip()[-300:]}")
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
    profile_arg: str | None = None,
) -> dict:
    """Every figure the profile budgets, for every model: `bundles` on `record`, and when they
    are the embedded defaults, the other embedded models too (the diagnostic one on the
    12-lead sample record, since the default record has one lead). `profile_arg`: how the
    child commands are given the profile (a TOML path for a profile file; default its name)."""
    bundles = with_embedded(bundles)
    exe = [sys.executable, "-m", "edge_monitor"]
    prof = ["--profile", profile_arg or profile.name]
    result: dict = {"profile": profile.name, "record": str(record), "host": host(), "models": {}}
    for b in bundles:
        fed_by = record_for(b, record)
        result["models"][b.name] = {"task": b.task, "bytes": b.model_path.stat().st_size}
        if fed_by is None:
            continue  # no record with its leads: its latency stays unmeasured (and fails)
        result["models"][b.name].update(
            record=str(fed_by),
            latency_profile_threads=latency(b, fed_by, profile.runtime.threads, runs),
            latency_1_thread=latency(b, fed_by, (1, 1), runs),
        )
    on_record = [b for b in bundles if fits(b, record)]
    if not on_record:
        raise InputError(
            f"no model given has the leads of {record.name}; give a --record with them"
        )
    result["replay_headless"] = replay_headless(exe, prof, record, on_record)
    result["replay_headless_more"] = {}
    left = [b for b in bundles if b not in on_record]
    for other in sample_records():  # a replay of their own for the models the record cannot feed
        if left and any(fits(b, other) for b in left):
            runs_here = [b for b in bundles if fits(b, other)]
            result["replay_headless_more"][other.name] = replay_headless(
                exe, prof, other, runs_here
            )
            left = [b for b in left if b not in runs_here]
    # the serial leg feeds the record's first lead to the profile's front end: only the models
    # that front end can feed run there (a 12-lead model cannot)
    fs = _record_fs(record)
    wired = [b for b in on_record if fits_leads(b, fs, profile.sensor.sig_name)]
    if wired:
        models = [a for b in wired for a in ("--model", str(b.path))]
        args = [*models, *prof]
        result["run_serial"] = serial_footprint(exe, args, profile, record, serial_seconds)
    else:
        leads = ", ".join(profile.sensor.sig_name)
        result["run_serial"] = {"skipped": f"no model given runs on the front end's lead {leads}"}
    result["checks"] = {c.key: c.to_dict() for c in budget_checks(result, profile.budgets)}
    return result


def host() -> dict:
    """Where the figures were measured, and how busy it was (timings on a loaded host are
    slower than the same host idle)."""
    import platform

    return {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_1min_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def replay_headless(exe: list[str], prof: list[str], record: Path, bundles) -> dict:
    """`classify --json` in a child: wall time, peak RSS, first beat (a window model alone: its
    first window), pipeline throughput."""
    from edge_monitor.contract import BeatInput

    models = [a for b in bundles for a in ("--model", str(b.path))]
    cmd = [*exe, "classify", str(record), "--json", *prof, *models]
    beats = any(isinstance(b.contract.input, BeatInput) for b in bundles)
    got = child_run(cmd, '"beat"' if beats else '"window"')
    summary = json.loads(got["last"])
    return {
        "record": str(record),
        "models": [b.name for b in bundles],
        "signal_s": summary["signal_seconds"],
        "wall_s_process": got["wall_s"],
        "wall_s_pipeline": summary["wall_seconds"],
        "realtime_factor_process": summary["signal_seconds"] / got["wall_s"],
        "realtime_factor_pipeline": summary["realtime_factor"],
        "peak_rss_mb": got["peak_rss_mb"],
        "cold_start_to_first_beat_s": got["first_s"],
        "first_answer": "beat" if beats else "window",  # what that cold start waited for
    }


def fits(bundle: Bundle, record: Path) -> bool:
    """Whether the record has the leads the bundle's model needs."""
    from edge_monitor.wfdb_io import read_header

    header = read_header(record)
    return fits_leads(bundle, float(header.fs), list(header.sig_name))


def fits_leads(bundle: Bundle, fs: float, leads: list[str]) -> bool:
    """Whether a source of these leads at `fs` feeds the bundle's model (the Monitor decides)."""
    from edge_monitor.errors import EcgEdgeError
    from edge_monitor.pipeline import Monitor

    try:
        Monitor([as_beat_model(bundle)], fs, list(leads))
    except EcgEdgeError:
        return False
    return True


def record_for(bundle: Bundle, record: Path) -> Path | None:
    """The record that feeds a model: the one asked for, else a shipped sample with its leads."""
    return next((r for r in (record, *sample_records()) if fits(bundle, r)), None)


def sample_records() -> list[Path]:
    """The records shipped with the package (a one-lead MIT-BIH excerpt, a 12-lead PTB-XL one)."""
    folder = Path(str(resources.files("edge_monitor") / "sample_data"))
    return sorted(p.with_suffix("") for p in folder.glob("*.hea"))


def embedded_paths() -> list[Path]:
    """The bundles this package ships, by name (the beat model and its companion, the VT/VF and
    the diagnostic model): not whatever folder sits beside them in default_models/."""
    from edge_monitor.bundle import embedded_beat_bundles, embedded_bundle
    from edge_monitor.errors import EcgEdgeError

    paths = list(embedded_beat_bundles())
    for task in ("ventricular", "diagnostic"):
        with contextlib.suppress(EcgEdgeError):
            paths.append(embedded_bundle(task))
    return [p.resolve() for p in paths]


def with_embedded(bundles: list[Bundle]) -> list[Bundle]:
    """The embedded defaults are benched whole: every embedded model joins when all the given
    bundles are embedded ones; bundles given by path are benched as given (a copy placed in
    default_models/ too: it once joined the embedded beat model, and two beat models are
    refused)."""
    from edge_monitor.bundle import load_bundle

    shipped = embedded_paths()
    if not bundles or any(b.path.resolve() not in shipped for b in bundles):
        return bundles
    have = {b.path.resolve() for b in bundles}
    more = [load_bundle(p, probe=False) for p in shipped if p not in have]
    return [*bundles, *more]


def serial_footprint(exe, args, profile: DeviceProfile, record: Path, seconds: float) -> dict:
    """`edge-monitor run` (with `args`: the profile and models options) on a pseudo-terminal
    fed with the record at twice real time."""
    from edge_monitor.pipeline import find_channel
    from edge_monitor.sources import replay_record
    from edge_monitor.wfdb_io import read_header
    from edge_monitor.wire import encode_block, to_adc

    master, slave = os.openpty()
    tty.setraw(master)
    s = profile.sensor
    sent = [0]
    header = read_header(record)
    # the lead a one-lead front end would carry: lead II where the record has it (a 12-lead
    # record's first column is lead I)
    lead = find_channel(list(header.sig_name), "MLII") or 0

    def feed() -> None:
        time.sleep(1.0)
        try:
            for chunk in replay_record(record, chunk_s=0.1, speed=2.0, stop_s=seconds * 2):
                adc = to_adc(chunk.samples[:, lead : lead + 1], s.adc_gain, s.baseline, s.adc_bits)
                os.write(master, encode_block(adc))
                sent[0] += len(adc)
        except OSError:
            pass

    fs = float(header.fs)
    cmd = [*exe, "run", "--source", os.ttyname(slave), "--no-ui"]
    cmd += ["--fs", str(fs), "--duration", str(seconds), *args]
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


# ---- the budgets: measured figures against the profile -------------------------------------


@dataclass(frozen=True)
class BudgetCheck:
    """One budget of the profile against what was measured; no figure is a failure (a budget
    that could not be checked is not met)."""

    key: str  # its name in the JSON's "checks"
    label: str  # what a person reads in the table
    measured: float | None
    limit: float | None
    unit: str
    at_least: bool = False  # a floor (real-time factor), not a ceiling

    @property
    def ok(self) -> bool:
        if self.measured is None or self.limit is None or self.measured != self.measured:
            return False
        return self.measured >= self.limit if self.at_least else self.measured <= self.limit

    def to_dict(self) -> dict:
        return {
            "value": self.measured,
            "limit": self.limit,
            "unit": self.unit,
            "ok": self.ok,
            "label": self.label,
            "at_least": self.at_least,
        }


def budget_checks(result: dict, b: Budgets) -> list[BudgetCheck]:
    """Every budget of the profile against `bench`'s figures: each model's p95 latency, peak RSS
    of `run` and of each replay, cold start of each replay, the pipeline's real-time factor."""
    checks = []
    for name, m in result["models"].items():
        p95 = m.get("latency_profile_threads", {}).get("p95_ms")
        checks.append(
            BudgetCheck(
                f"latency_p95_ms/{name}", f"{name}: model call p95", p95, b.latency_p95_ms, "ms"
            )
        )
        if "valid_share" in m.get("latency_profile_threads", {}):  # on the record's inputs
            share = 100 * m["latency_profile_threads"]["valid_share"]
            label = f"{name}: finite answers"
            checks.append(BudgetCheck(f"valid_answers/{name}", label, share, 100.0, "%", True))
        if m.get("task") in b.model_kb:  # the profile budgets the model file of its task
            kb = m["bytes"] / 1024 if isinstance(m.get("bytes"), int | float) else None
            limit = b.model_kb[m["task"]]
            checks.append(BudgetCheck(f"model_kb/{name}", f"{name}: model file", kb, limit, "KB"))
    replays = {"": result["replay_headless"], **result.get("replay_headless_more", {})}
    for record, r in replays.items():
        key = f"/{record}" if record else ""
        where = f" ({record})" if record else ""
        checks += [
            BudgetCheck(
                f"peak_rss_mb_replay{key}",
                f"peak RSS, replay{where}",
                r["peak_rss_mb"],
                b.peak_rss_mb,
                "MB",
            ),
            BudgetCheck(
                f"cold_start_s{key}",
                f"cold start to the first {r.get('first_answer', 'beat')}{where}",
                r["cold_start_to_first_beat_s"],
                b.cold_start_s,
                "s",
            ),
        ]
    if "skipped" not in result["run_serial"]:  # no model given runs on the front end's lead
        run = result["run_serial"]["peak_rss_mb"]
        checks.append(
            BudgetCheck("peak_rss_mb_run", "peak RSS, run (serial)", run, b.peak_rss_mb, "MB")
        )
    rtf = result["replay_headless"]["realtime_factor_pipeline"]
    label = "pipeline real-time factor"
    checks.append(
        BudgetCheck("realtime_factor", label, rtf, b.min_realtime_factor, "x", at_least=True)
    )
    return checks


def checks_of(result: dict) -> list[BudgetCheck]:
    """The checks back from `bench`'s JSON (what `--out` writes)."""
    return [
        BudgetCheck(key, c["label"], c["value"], c["limit"], c["unit"], c["at_least"])
        for key, c in result["checks"].items()
    ]


def _figure(value: float | None, unit: str, budget: bool = False) -> str:
    if value is None or value != value:
        return "not measured"
    if budget:
        return f"{value:g} {unit}"
    digits = 3 if unit == "ms" else (0 if unit in ("MB", "x") else 2)
    return f"{value:.{digits}f} {unit}"


def budget_table(checks: list[BudgetCheck], profile: str) -> Table:
    """Budget, measured, pass or fail: one row per check."""
    from rich.table import Table

    table = Table(title=f"budgets of the {profile} profile", title_justify="left")
    for name, justify in (("check", "left"), ("budget", "right"), ("measured", "right")):
        table.add_column(name, justify=justify)
    table.add_column("result")
    for c in checks:
        bound = ">=" if c.at_least else "<="
        verdict = "[green]pass[/green]" if c.ok else "[bold red]FAIL[/bold red]"
        table.add_row(
            c.label,
            f"{bound} {_figure(c.limit, c.unit, True)}",
            _figure(c.measured, c.unit),
            verdict,
        )
    return table


def print_budgets(checks: list[BudgetCheck], profile: str, console: Console) -> bool:
    """The checks as a table on a terminal, plain lines in a pipe; True when every one passed."""
    if console.is_terminal:
        console.print(budget_table(checks, profile))
    else:
        for c in checks:
            bound = ">=" if c.at_least else "<="
            line = (
                f"{c.label}: {_figure(c.measured, c.unit)} (budget {bound} "
                f"{_figure(c.limit, c.unit, True)}) {'pass' if c.ok else 'FAIL'}"
            )
            console.print(line, soft_wrap=True, markup=False, highlight=False)
    return all(c.ok for c in checks)
