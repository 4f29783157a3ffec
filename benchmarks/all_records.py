"""Every record of every database through the real CLI: does the monitor ever die or lie?

1. `edge-monitor classify RECORD --json` (a subprocess, as a user runs it) over every record
   (every `.hea`) of each database folder given: exit code, a traceback on stderr, each stdout line
   parsed as strict JSON (NaN / Infinity tokens and unparsable lines are invalid lines), beats,
   alerts by level, signal seconds, wall time.
2. Every MIT-BIH record through the rpi4 front end over pseudo-terminals: `edge-monitor run
   --source <pty> --profile rpi4 --no-ui --counter`, then, once it says "connected",
   `edge-monitor emulate RECORD --port <pty> --profile rpi4 --speed 0 --counter` (the real emulator
   and its encoder). The emulator writes to one pty pair and the monitor reads another; this
   script only moves bytes from the first pair's master to the second's (a null-modem cable),
   with back-pressure: when the monitor falls behind, the emulator blocks. When the emulator is
   done and its bytes delivered, the monitor must report "stalled"; then SIGINT, and its summary.
4. `edge-monitor replay RECORD --speed 0` on a few records (--replay-records) with stdout a pipe,
   as a script or a log runs it: its screen (no terminal) and `--no-ui`: exit code, traceback,
   strict JSON lines, a summary.
3. From the classify outputs and the reference annotations (`wfdb.rdann(..., "atr")`):
   (a) the AF rule on MIT-BIH: every AF/AFL episode (rhythm `(AFIB` / `(AFL` until the next
       rhythm annotation; adjacent AFIB and AFL stretches are one episode) of >= 30 s is warned
       when an AF alert is raised inside it; episode sensitivity, and AF alerts raised outside
       every AF/AFL episode per hour of the time outside them, over all MIT-BIH records;
   (b) critical alarms per hour overall, and those raised inside annotated noise: from a `~`
       annotation that marks any signal noisy or unreadable (subtype != 0) to the next `~`,
       rhythm `(NOISE` where present; for the nstdb test records (118e24 ...) also the protocol's
       noisy stretches (minute 5 on, 2 min on / 2 min off, which their `.atr` - a copy of 118's -
       does not mark); nstdb's noise recordings (bw, ma: no `.atr`) are noise throughout.
       cudb's VF episodes run from `[` to `]` (or the record's end).

Data folders: --mitdb/--svdb/--cudb/--nstdb/--ptbxl, else $ECG_EDGE_MITDB ..., else
$ECG_EDGE_DATA/<name>; --folder adds any other WFDB folder. PTB-XL's shared copy (a compact .npz)
is restored as WFDB files for the folds asked for (--ptbxl-folds, default the test fold 10).
Each classify row also says how far its JSON lines stray from sample order (a beat, an alert:
its `sample`; a window: its `end`).

    python benchmarks/all_records.py --jobs 1                     # with $ECG_EDGE_DATA set
    python benchmarks/all_records.py --mitdb ../shared/data/mitdb --nstdb ../shared/data/nstdb \
        --databases mitdb nstdb --limit-records 3 --parts classify

Writes benchmarks/results/all_records.json (about 20 min classify, 40 min serial on 2 cores).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import wfdb

DATABASES = ("mitdb", "svdb", "cudb", "nstdb", "ptbxl")
PTBXL_TEST_FOLD = 10  # the publishers' test fold: 255 of the shared 1987 ten-second records
DATA_ENV = "ECG_EDGE_DATA"
AF_RHYTHMS = ("(AFIB", "(AFL")
MIN_AF_EPISODE_S = 30.0
NST_CLEAN_S, NST_SEGMENT_S = 300.0, 120.0  # trainer/datasets/nstdb.py: the protocol's stretches
NST_TEST_RECORD = re.compile(r"^\d+e_?\d+$")  # 118e24, 118e_6, ...
NOISE_RECORDS = ("bw", "ma", "em")
TRACEBACK = "Traceback (most recent call last)"


# ---------------------------------------------------------------------------------------------
# where things are


def database_dirs(args) -> dict[str, Path]:
    """name -> folder, for the databases asked for (all those found when none is named)."""
    found: dict[str, Path] = {}
    for name in DATABASES:
        path = getattr(args, name)
        if path is None:
            path = os.environ.get(f"ECG_EDGE_{name.upper()}")
        if path is None and DATA_ENV in os.environ:
            path = Path(os.environ[DATA_ENV]) / name
        if path is not None:
            found[name] = Path(path)
    for folder in args.folder or []:
        found[Path(folder).name] = Path(folder)
    wanted = args.databases or list(found)
    out = {}
    for name in wanted:
        if name not in found:
            sys.exit(f"no folder for {name}: pass --{name} / --folder, or set ${DATA_ENV}")
        if not found[name].is_dir():
            if args.databases:
                sys.exit(f"{name} folder not found: {found[name]}")
            print(f"skipping {name}: {found[name]} is not a folder", flush=True)
            continue
        out[name] = found[name]
    if "ptbxl" in out:
        out["ptbxl"] = ptbxl_wfdb(out["ptbxl"], args.ptbxl_folds, args.scratch)
    if not out:
        sys.exit(f"no database folders: pass --mitdb ... or set ${DATA_ENV}")
    return out


def ptbxl_wfdb(folder: Path, folds: list[int], scratch: Path) -> Path:
    """PTB-XL's shared copy is a compact .npz with its own restore script: the records of
    `folds` written back as the published WFDB files (checksums verified by the script), into one
    flat folder under `scratch`. A folder that already holds WFDB headers is used as it is."""
    if any(folder.glob("*.hea")):
        return folder
    restore, table = folder / "restore_wfdb.py", folder / "ptbxl_database.csv"
    if not restore.is_file() or not table.is_file():
        sys.exit(f"ptbxl: {folder} has neither WFDB headers nor restore_wfdb.py + the table")
    with table.open(newline="") as f:
        ids = [r["ecg_id"] for r in csv.DictReader(f) if int(float(r["strat_fold"])) in folds]
    restored, flat = scratch / "ptbxl_restored", scratch / "ptbxl"
    subprocess.run(
        [sys.executable, str(restore), str(restored), "--ids", *ids],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    flat.mkdir(exist_ok=True)
    for path in restored.glob("records100/*/*_lr.*"):
        path.replace(flat / path.name)
    print(f"ptbxl: {len(ids)} records of folds {folds} restored as WFDB in {flat}", flush=True)
    return flat


def records_of(folder: Path, limit: int | None, only: list[str] | None) -> list[str]:
    names = sorted(p.stem for p in folder.glob("*.hea"))
    if only:
        names = [n for n in names if n in only]
    return names[:limit] if limit else names


def code_under_test(env: dict) -> dict:
    """Which edge_monitor the subprocesses import, and its git commit (dirty or not)."""
    out = subprocess.run(
        [sys.executable, "-c", "import edge_monitor; print(edge_monitor.__file__)"],
        capture_output=True,
        text=True,
        env=env,
    )
    path = out.stdout.strip()
    info = {"edge_monitor": path, "python": sys.executable}
    if path:
        root = Path(path).parent
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True)
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "."], capture_output=True
        )
        info["commit"] = rev.stdout.decode().strip()
        info["edge_monitor_dirty"] = bool(dirty.stdout.strip())
    return info


# ---------------------------------------------------------------------------------------------
# output checks


def _no_constant(token: str):
    raise ValueError(f"{token} is not JSON")


def parse_lines(text: str) -> tuple[list[dict], list[str]]:
    """Strict JSON objects and the lines that are not (NaN / Infinity tokens included)."""
    events, invalid = [], []
    for line in text.splitlines():
        try:
            obj = json.loads(line, parse_constant=_no_constant)
        except ValueError:
            invalid.append(line[:200])
            continue
        if isinstance(obj, dict):
            events.append(obj)
        else:
            invalid.append(line[:200])
    return events, invalid


def error_line(stderr: str) -> str | None:
    """The exception line of a traceback, else the first line of stderr."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return None
    if TRACEBACK in stderr:
        after = stderr[stderr.rindex(TRACEBACK) :].splitlines()
        tail = [line for line in after if line.strip() and not line.startswith((" ", "\t"))]
        return tail[-1][:300] if len(tail) > 1 else lines[-1][:300]
    return lines[0][:300]


def alert_counts(events: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in events:
        if e.get("type") == "alert":
            counts[str(e.get("level"))] = counts.get(str(e.get("level")), 0) + 1
    return dict(sorted(counts.items()))


def beat_count(summary: dict | None, events: list[dict]) -> int:
    beats = (summary or {}).get("beats")
    if isinstance(beats, dict):
        return int(sum(v for v in beats.values() if isinstance(v, int | float)))
    if isinstance(beats, int | float):
        return int(beats)
    return sum(1 for e in events if e.get("type") == "beat")


def event_sample(event: dict) -> int | None:
    """The sample a line is about: a beat's or an alert's `sample`, a window's `end`."""
    value = event.get("sample", event.get("end"))
    return int(value) if isinstance(value, int | float) else None


def sample_order(events: list[dict], fs: float) -> dict:
    """How far the lines stray from sample order: lines about an earlier sample than a line
    before them, and the largest step back (seconds)."""
    late, back, newest = 0, 0, None
    for e in events:
        s = event_sample(e)
        if s is None:
            continue
        if newest is not None and s < newest:
            late, back = late + 1, max(back, newest - s)
        newest = s if newest is None else max(newest, s)
    return {"lines_out_of_sample_order": late, "max_step_back_s": round(back / fs, 3)}


def last_summary(events: list[dict]) -> dict | None:
    summaries = [e for e in events if e.get("type") == "summary"]
    return summaries[-1] if summaries else None


# ---------------------------------------------------------------------------------------------
# 1. classify


def classify_record(
    db: str, folder: Path, name: str, env: dict, timeout: float, profile: str, extra=()
):
    record = folder / name
    cmd = [sys.executable, "-m", "edge_monitor", "classify", str(record), "--json"]
    cmd += ["--profile", profile, *extra]
    t0 = time.perf_counter()
    timed_out = False
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        timed_out = True
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        rc = None
    wall = time.perf_counter() - t0
    events, invalid = parse_lines(out)
    summary = last_summary(events)
    header = wfdb.rdheader(str(record))
    traceback = TRACEBACK in err
    row = {
        "database": db,
        "record": name,
        "args": list(extra),
        "exit_code": rc,
        "timed_out": timed_out,
        "traceback": traceback,
        "crash": timed_out or rc != 0 or traceback,
        # exit 1 with one "error:" line is the CLI refusing an input it cannot use, not a death
        "refused": rc == 1 and not traceback and err.lstrip().startswith("error:"),
        "error": error_line(err) if (rc != 0 or traceback or timed_out) else None,
        "lines": len(events) + len(invalid),
        "invalid_lines": len(invalid),
        "invalid_examples": invalid[:3],
        "summary": summary is not None,
        "beats": beat_count(summary, events) if events else 0,
        "alerts": alert_counts(events),
        "signal_seconds": (summary or {}).get("signal_seconds"),
        "record_seconds": header.sig_len / float(header.fs) if header.sig_len else None,
        "fs": float(header.fs),
        **sample_order(events, float(header.fs)),
        "wall_seconds": round(wall, 2),
    }
    return row, events


# ---------------------------------------------------------------------------------------------
# 3. reference annotations


def spans_until_next(samples, keys, is_on, end: int) -> list[tuple[int, int]]:
    """[a, b) stretches that start at an annotation for which is_on(key) and end at the next."""
    spans, start = [], None
    for s, k in zip(samples, keys, strict=True):
        if start is not None:
            spans.append((start, int(s)))
            start = None
        if is_on(k):
            start = int(s)
    if start is not None:
        spans.append((start, end))
    return [(a, b) for a, b in spans if b > a]


def merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def inside(sample: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= sample < b for a, b in spans)


def span_seconds(spans, fs: float) -> float:
    return sum(b - a for a, b in spans) / fs


def reference(db: str, folder: Path, name: str) -> dict:
    """Rhythm, AF/AFL, VF and noise spans of a record, in its own samples."""
    record = folder / name
    header = wfdb.rdheader(str(record))
    n, fs = int(header.sig_len), float(header.fs)
    ref: dict = {"n": n, "fs": fs, "annotated": False, "af": [], "vf": [], "noise": []}
    noise_source = []
    if (folder / f"{name}.atr").exists():
        ann = wfdb.rdann(str(record), "atr")
        ref["annotated"] = True
        samples = np.asarray(ann.sample)
        aux = [(a or "").strip("\x00 ") for a in ann.aux_note]
        rhythm = [(int(s), a) for s, a in zip(samples, aux, strict=True) if a.startswith("(")]
        r_s, r_a = [s for s, _ in rhythm], [a for _, a in rhythm]
        ref["af"] = merge(spans_until_next(r_s, r_a, lambda a: a in AF_RHYTHMS, n))
        ref["vf"] = merge(
            spans_until_next(r_s, r_a, lambda a: a.startswith(("(VF", "(VFL", "(VT")), n)
            + spans_until_next(
                [int(s) for s, y in zip(samples, ann.symbol, strict=True) if y in "[]"],
                [y for y in ann.symbol if y in "[]"],
                lambda y: y == "[",
                n,
            )
        )
        tilde = [
            (int(s), int(t))
            for s, y, t in zip(samples, ann.symbol, ann.subtype, strict=True)
            if y == "~"
        ]
        noise = spans_until_next([s for s, _ in tilde], [t for _, t in tilde], lambda t: t != 0, n)
        noise += spans_until_next(r_s, r_a, lambda a: a.startswith("(NOISE"), n)
        if tilde:
            noise_source.append("~ annotations")
        if NST_TEST_RECORD.match(name):
            start, step = int(round(NST_CLEAN_S * fs)), int(round(NST_SEGMENT_S * fs))
            noise += [(a, min(a + step, n)) for a in range(start, n, 2 * step)]
            noise_source.append("nst protocol stretches")
        ref["noise"] = merge(noise)
    elif db == "nstdb" and name in NOISE_RECORDS:
        ref["noise"] = [(0, n)]
        noise_source.append("noise recording")
    ref["noise_source"] = noise_source
    return ref


def score_alerts(events: list[dict], ref: dict) -> dict:
    """AF raises in / outside AF episodes, critical alarms in noise, for one record."""
    fs = ref["fs"]
    raised = [
        e for e in events if e.get("type") == "alert" and e.get("level") in ("warning", "critical")
    ]
    af_raised = [int(e["sample"]) for e in raised if e.get("label") == "AF"]
    critical = [e for e in events if e.get("type") == "alert" and e.get("level") == "critical"]
    # when the AF alert stood: from a raise to the next AF 'cleared' (or the record's end)
    af_events = [
        (int(e["sample"]), e.get("level"))
        for e in events
        if e.get("type") == "alert" and e.get("label") == "AF"
    ]
    standing = spans_until_next(
        [s for s, _ in af_events],
        [lv for _, lv in af_events],
        lambda lv: lv in ("warning", "critical"),
        ref["n"],
    )
    episodes = []
    for a, b in ref["af"]:
        inside_raises = [s for s in af_raised if a <= s < b]
        episodes.append(
            {
                "start_s": round(a / fs, 1),
                "seconds": round((b - a) / fs, 1),
                "warned": bool(inside_raises),
                "alert_standing": any(x < b and a < y for x, y in standing),
                "delay_s": round((inside_raises[0] - a) / fs, 1) if inside_raises else None,
            }
        )
    crit_noise = [e for e in critical if inside(int(e["sample"]), ref["noise"])]
    return {
        "af_episodes": episodes,
        "af_raised": len(af_raised),
        "af_raised_outside": sum(1 for s in af_raised if not inside(s, ref["af"])),
        "af_seconds": round(span_seconds(ref["af"], fs), 1),
        "critical": len(critical),
        "critical_in_noise": len(crit_noise),
        "critical_in_noise_outside_vt_vf": sum(
            1 for e in crit_noise if not inside(int(e["sample"]), ref["vf"])
        ),
        "critical_in_noise_labels": sorted({str(e.get("label")) for e in crit_noise}),
        "noise_seconds": round(span_seconds(ref["noise"], fs), 1),
        "noise_source": ref["noise_source"],
        "annotated": ref["annotated"],
    }


def per_hour(count: int, seconds: float) -> float | None:
    return round(count / (seconds / 3600.0), 3) if seconds > 0 else None


def summarise_reference(rows: list[dict]) -> dict:
    out: dict = {}
    mit = [r for r in rows if r["database"] == "mitdb" and r.get("scored")]
    if mit:
        eps = [e for r in mit for e in r["scored"]["af_episodes"]]
        long_eps = [e for e in eps if e["seconds"] >= MIN_AF_EPISODE_S]
        total_s = sum(r["record_seconds"] for r in mit)
        af_s = sum(r["scored"]["af_seconds"] for r in mit)
        outside = sum(r["scored"]["af_raised_outside"] for r in mit)
        delays = [e["delay_s"] for e in long_eps if e["delay_s"] is not None]
        out["af_mitdb"] = {
            "records": len(mit),
            "records_with_af": sorted(r["record"] for r in mit if r["scored"]["af_episodes"]),
            "episodes_ge_30s": len(long_eps),
            "episodes_ge_30s_warned": sum(e["warned"] for e in long_eps),
            "episode_sensitivity": round(sum(e["warned"] for e in long_eps) / len(long_eps), 3)
            if long_eps
            else None,
            "episodes_ge_30s_alert_standing": sum(e["alert_standing"] for e in long_eps),
            "all_episodes": len(eps),
            "all_episodes_warned": sum(e["warned"] for e in eps),
            "median_delay_s": float(np.median(delays)) if delays else None,
            "false_af_raised": outside,
            "hours_outside_af": round((total_s - af_s) / 3600.0, 3),
            "false_af_per_hour": per_hour(outside, total_s - af_s),
            "missed_episodes_ge_30s": [
                {"record": r["record"], **e}
                for r in mit
                for e in r["scored"]["af_episodes"]
                if e["seconds"] >= MIN_AF_EPISODE_S and not e["warned"]
            ],
        }
    noise: dict = {}
    for db in sorted({r["database"] for r in rows}):
        rs = [r for r in rows if r["database"] == db and r.get("scored")]
        if not rs:
            continue
        total_s = sum(r["record_seconds"] for r in rs)
        noise_s = sum(r["scored"]["noise_seconds"] for r in rs)
        crit = sum(r["scored"]["critical"] for r in rs)
        crit_noise = sum(r["scored"]["critical_in_noise"] for r in rs)
        noise[db] = {
            "records": len(rs),
            "hours": round(total_s / 3600.0, 3),
            "noise_hours": round(noise_s / 3600.0, 3),
            "critical": crit,
            "critical_per_hour": per_hour(crit, total_s),
            "critical_in_noise": crit_noise,
            "critical_in_noise_per_noise_hour": per_hour(crit_noise, noise_s),
            "critical_in_noise_per_hour": per_hour(crit_noise, total_s),
            "critical_in_noise_outside_vt_vf": sum(
                r["scored"]["critical_in_noise_outside_vt_vf"] for r in rs
            ),
        }
    out["critical_by_database"] = noise
    return out


# ---------------------------------------------------------------------------------------------
# 2. the rpi4 front end over ptys


class Pty:
    def __init__(self, link: Path):
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        self.link = link
        link.symlink_to(os.ttyname(self.slave))

    def close(self) -> None:
        self.link.unlink(missing_ok=True)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class Relay(threading.Thread):
    """Bytes from one pty master to another, blocking when the reader side is full."""

    def __init__(self, src: int, dst: int):
        super().__init__(daemon=True)
        self.src, self.dst = src, dst
        self.bytes = self.lines = 0
        self.stop = threading.Event()
        self.abandon = threading.Event()  # the monitor is gone: drop what is left
        self.idle_since = time.monotonic()
        self.error: str | None = None
        os.set_blocking(dst, False)

    def run(self) -> None:
        try:
            while True:
                ready = select.select([self.src], [], [], 0.05)[0]
                if not ready:
                    if self.stop.is_set():
                        return
                    continue
                data = os.read(self.src, 65536)
                view = memoryview(data)
                while view:
                    if not select.select([], [self.dst], [], 0.5)[1]:
                        if self.abandon.is_set():
                            self.error = "monitor stopped reading"
                            return
                        continue
                    try:
                        k = os.write(self.dst, view)
                    except BlockingIOError:
                        continue
                    view = view[k:]
                self.bytes += len(data)
                self.lines += data.count(b"\n")
                self.idle_since = time.monotonic()
        except OSError as exc:
            self.error = str(exc)


class LineReader(threading.Thread):
    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[tuple[float, str]] = []

    def run(self) -> None:
        for line in self.stream:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def stalled_since(self, t: float, quiet_s: float = 3.0) -> bool:
        """A 'stalled' status after `t`, or the monitor still stalled `quiet_s` after it (it
        never saw a sample to come back from)."""
        states = [
            (w, json.loads(x).get("state"))
            for w, x in list(self.lines)
            if x.startswith('{"type": "status"')
        ]
        if any(w >= t and s == "stalled" for w, s in states):
            return True
        return bool(states) and states[-1][1] == "stalled" and time.monotonic() > t + quiet_s

    def status_after(self, state: str, t: float) -> bool:
        for when, line in list(self.lines):
            if when >= t and '"status"' in line and f'"{state}"' in line:
                return True
        return False


def serial_record(
    folder: Path, name: str, env: dict, tmp: Path, timeouts: dict, all_channels: bool
) -> tuple:
    record = folder / name
    t0 = time.perf_counter()
    row: dict = {"database": "mitdb", "record": name}
    emu_pty = Pty(tmp / f"emu-{name}")
    mon_pty = Pty(tmp / f"mon-{name}")
    mon_cmd = [sys.executable, "-m", "edge_monitor", "run", "--source", str(mon_pty.link)]
    mon_cmd += ["--profile", "rpi4", "--no-ui", "--counter"]
    emu_cmd = [sys.executable, "-m", "edge_monitor", "emulate", str(record), "--port"]
    emu_cmd += [str(emu_pty.link), "--profile", "rpi4", "--speed", "0", "--counter"]
    channel = None
    if not all_channels:  # the rpi4 board is one lead: MLII where the record has it
        names = list(wfdb.rdheader(str(record)).sig_name)
        channel = names.index("MLII") if "MLII" in names else 0
        emu_cmd += ["--channel", str(channel)]
    row["channel"] = channel
    mon = subprocess.Popen(
        mon_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    reader = LineReader(mon.stdout)
    reader.start()
    err_chunks: list[str] = []
    err_thread = threading.Thread(target=lambda: err_chunks.append(mon.stderr.read()), daemon=True)
    err_thread.start()
    relay = Relay(emu_pty.master, mon_pty.master)
    problems = []
    emu = None
    emu_out = emu_err = ""
    try:
        deadline = time.monotonic() + timeouts["ready"]
        while not reader.status_after("connected", 0) and mon.poll() is None:
            if time.monotonic() > deadline:
                problems.append("monitor never said connected")
                break
            time.sleep(0.05)
        if mon.poll() is None and not problems:
            relay.start()
            emu = subprocess.Popen(
                emu_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            deadline = time.monotonic() + timeouts["emulate"]
            while emu.poll() is None:
                if mon.poll() is not None and not relay.abandon.is_set():
                    relay.abandon.set()
                    problems.append("monitor exited while the emulator was sending")
                if time.monotonic() > deadline:
                    emu.kill()
                    problems.append("emulate timed out")
                time.sleep(0.1)
            emu_out, emu_err = emu.communicate()
            # every byte out of the emulator's pty and into the monitor's
            deadline = time.monotonic() + timeouts["stall"]
            while time.monotonic() < deadline and relay.is_alive():
                if select.select([emu_pty.master], [], [], 0)[0] == [] and (
                    time.monotonic() - relay.idle_since > 0.5
                ):
                    break
                time.sleep(0.05)
            relay.stop.set()
            relay.join(timeout=5)
            delivered = time.monotonic()
            deadline = delivered + timeouts["stall"]
            while not reader.stalled_since(delivered) and mon.poll() is None:
                if time.monotonic() > deadline:
                    problems.append("no 'stalled' status after the emulator finished")
                    break
                time.sleep(0.05)
        if mon.poll() is None:
            mon.send_signal(signal.SIGINT)
        try:
            mon.wait(timeout=timeouts["exit"])
        except subprocess.TimeoutExpired:
            problems.append("monitor did not exit after SIGINT")
            mon.kill()
            mon.wait()
    finally:
        relay.abandon.set()
        relay.stop.set()
        reader.join(timeout=10)
        err_thread.join(timeout=10)
        emu_pty.close()
        mon_pty.close()
    err = "".join(err_chunks)
    events, invalid = parse_lines("\n".join(line for _, line in reader.lines))
    summary = last_summary(events)
    sent = re.search(r"sent (\d+) samples", emu_out or "")
    wire = (summary or {}).get("wire") or {}
    traceback = TRACEBACK in err
    row.update(
        {
            "exit_code": mon.returncode,
            "traceback": traceback,
            "crash": (mon.returncode not in (0, 130)) or traceback,
            "error": error_line(err) if (traceback or mon.returncode not in (0, 130)) else None,
            "problems": problems,
            "emulate_exit_code": None if emu is None else emu.returncode,
            "emulate_error": error_line(emu_err) if emu is not None and emu.returncode else None,
            "emulate_warning": error_line(emu_err)
            if emu is not None and not emu.returncode
            else None,
            "lines": len(events) + len(invalid),
            "invalid_lines": len(invalid),
            "invalid_examples": invalid[:3],
            "summary": summary is not None,
            "interrupted": (summary or {}).get("interrupted"),
            "samples_sent": int(sent.group(1)) if sent else None,
            "lines_relayed": relay.lines,
            "samples_decoded": wire.get("samples"),
            "wire": wire,
            "link": (summary or {}).get("link"),
            "states": [e.get("state") for e in events if e.get("type") == "status"][:20],
            "beats": beat_count(summary, events) if events else 0,
            "alerts": alert_counts(events),
            "signal_seconds": (summary or {}).get("signal_seconds"),
            "wall_seconds": round(time.perf_counter() - t0, 2),
        }
    )
    return row, events


# ---------------------------------------------------------------------------------------------


def totals(rows: list[dict]) -> dict:
    levels: dict[str, int] = {}
    ordered = [r for r in rows if "lines_out_of_sample_order" in r]
    for r in rows:
        for k, v in r["alerts"].items():
            levels[k] = levels.get(k, 0) + v
    out = {
        "records": len(rows),
        "crashes": sum(bool(r["crash"]) for r in rows),
        "refused": sum(bool(r.get("refused")) for r in rows),
        "hard_crashes": sum(bool(r["crash"]) and not r.get("refused") for r in rows),
        "channel_0_retries": sum(1 for r in rows if "channel_0_retry" in r),
        "channel_0_retry_crashes": sum(
            bool(r["channel_0_retry"]["crash"]) for r in rows if "channel_0_retry" in r
        ),
        "channel_0_retry_invalid_lines": sum(
            r["channel_0_retry"]["invalid_lines"] for r in rows if "channel_0_retry" in r
        ),
        "tracebacks": sum(bool(r["traceback"]) for r in rows),
        "nonzero_exit": sum(1 for r in rows if r["exit_code"] not in (0, 130)),
        "invalid_lines": sum(r["invalid_lines"] for r in rows),
        "records_with_invalid_lines": sum(1 for r in rows if r["invalid_lines"]),
        "no_summary": sum(1 for r in rows if not r["summary"]),
        "beats": sum(r["beats"] for r in rows),
        "alerts": dict(sorted(levels.items())),
        "signal_hours": round(sum(r["signal_seconds"] or 0 for r in rows) / 3600.0, 3),
        "wall_seconds": round(sum(r["wall_seconds"] for r in rows), 1),
        "max_wall_seconds": max((r["wall_seconds"] for r in rows), default=None),
        # classify rows only (the serial part does not measure it): None, never a false 0
        "lines_out_of_sample_order": sum(r["lines_out_of_sample_order"] for r in ordered)
        if ordered
        else None,
        "max_step_back_s": max((r["max_step_back_s"] for r in ordered), default=None),
        "failing": [
            {
                "database": r["database"],
                "record": r["record"],
                "exit_code": r["exit_code"],
                "invalid_lines": r["invalid_lines"],
                "error": r["error"],
                **({"problems": r["problems"]} if r.get("problems") else {}),
            }
            for r in rows
            if r["crash"] or r["invalid_lines"] or r.get("problems")
        ]
        + [
            {
                "database": r["database"],
                "record": r["record"],
                "args": ["--channel", "0"],
                "exit_code": t["exit_code"],
                "invalid_lines": t["invalid_lines"],
                "error": t["error"],
            }
            for r in rows
            if (t := r.get("channel_0_retry")) and (t["crash"] or t["invalid_lines"])
        ],
    }
    if any("samples_sent" in r for r in rows):
        out["samples_sent"] = sum(r["samples_sent"] or 0 for r in rows)
        out["samples_decoded"] = sum(r["samples_decoded"] or 0 for r in rows)
        out["records_not_all_decoded"] = [
            r["record"] for r in rows if r["samples_sent"] != r["samples_decoded"]
        ]
        out["records_with_problems"] = sum(1 for r in rows if r["problems"])
    return out


def by_database(rows: list[dict]) -> dict:
    return {
        db: {
            k: v
            for k, v in totals([r for r in rows if r["database"] == db]).items()
            if k != "failing"
        }
        for db in sorted({r["database"] for r in rows})
    }


def run_classify(dbs, args, env) -> list[dict]:
    tasks = [
        (db, folder, name)
        for db, folder in dbs.items()
        for name in records_of(folder, args.limit_records, args.records)
    ]
    print(f"classify: {len(tasks)} records, {args.jobs} at a time", flush=True)

    def one(task):
        db, folder, name = task
        row, events = classify_record(db, folder, name, env, args.timeout, args.profile)
        if row["refused"] and "--channel" in (row["error"] or ""):
            # a record without the model's lead (nstdb's noise recordings): channel 0, as a
            # user told to choose one would, so its alarms are still counted
            retry, events = classify_record(
                db, folder, name, env, args.timeout, args.profile, ("--channel", "0")
            )
            row["channel_0_retry"] = retry
        try:
            row["scored"] = score_alerts(events, reference(db, folder, name))
        except Exception as exc:  # a reference that cannot be read is noted, not fatal
            row["scored"] = None
            row["reference_error"] = f"{type(exc).__name__}: {exc}"
        mark = ("REFUSED " if row["refused"] else "CRASH ") if row["crash"] else ""
        if "channel_0_retry" in row:
            r = row["channel_0_retry"]
            mark += (
                f"(--channel 0: exit {r['exit_code']} invalid {r['invalid_lines']} beats "
                f"{r['beats']} alerts {r['alerts']}) "
            )
        print(
            f"  {db}/{name}: {mark}exit {row['exit_code']} invalid {row['invalid_lines']} "
            f"beats {row['beats']} alerts {row['alerts']} {row['wall_seconds']} s"
            + (f"  [{row['error']}]" if row["error"] else ""),
            flush=True,
        )
        return row

    with ThreadPoolExecutor(args.jobs) as pool:
        return list(pool.map(one, tasks))


def run_serial_part(dbs, args, env) -> list[dict]:
    if "mitdb" not in dbs:
        print("serial: no mitdb folder, skipped", flush=True)
        return []
    names = records_of(dbs["mitdb"], args.limit_records, args.records)
    print(f"serial (rpi4 over ptys): {len(names)} records, {args.jobs} at a time", flush=True)
    timeouts = {"ready": 60.0, "emulate": args.timeout, "stall": 120.0, "exit": 60.0}

    with tempfile.TemporaryDirectory(prefix="all_records_pty") as tmp:

        def one(name):
            row, _ = serial_record(dbs["mitdb"], name, env, Path(tmp), timeouts, args.all_channels)
            mark = "CRASH " if row["crash"] else ""
            print(
                f"  serial mitdb/{name}: {mark}exit {row['exit_code']} invalid "
                f"{row['invalid_lines']} decoded {row['samples_decoded']}/{row['samples_sent']} "
                f"beats {row['beats']} alerts {row['alerts']} {row['wall_seconds']} s"
                + (f"  [{row['error']}]" if row["error"] else "")
                + (f"  {row['problems']}" if row["problems"] else ""),
                flush=True,
            )
            return row

        with ThreadPoolExecutor(args.jobs) as pool:
            return list(pool.map(one, names))


REPLAY_RECORDS = ("mitdb/203", "mitdb/207", "cudb/cu01", "nstdb/118e_6", "svdb/800")


def replay_record(folder: Path, name: str, env: dict, timeout: float, ui: bool) -> dict:
    """`edge-monitor replay RECORD --speed 0` with stdout a pipe (no terminal): the live screen
    (its last frame only, rich draws no animation into a pipe) or `--no-ui`'s JSON lines."""
    cmd = [sys.executable, "-m", "edge_monitor", "replay", str(folder / name), "--speed", "0"]
    cmd += [] if ui else ["--no-ui"]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired:
        out, err, rc = "", "", None
    events, invalid = parse_lines(out) if not ui else ([], [])
    return {
        "record": f"{folder.name}/{name}",
        "ui": ui,
        "exit_code": rc,
        "traceback": TRACEBACK in err,
        "crash": rc != 0 or TRACEBACK in err,
        "error": error_line(err) if rc != 0 or TRACEBACK in err else None,
        "stdout_lines": len(out.splitlines()),
        "invalid_lines": len(invalid),
        "summary": (last_summary(events) is not None) if not ui else "FINISHED" in out,
        "wall_seconds": round(time.perf_counter() - t0, 2),
    }


def run_replay_part(dbs, args, env) -> list[dict]:
    rows = []
    for ref in args.replay_records:
        db, name = ref.split("/", 1)
        if db not in dbs:
            continue
        for ui in (True, False):
            row = replay_record(dbs[db], name, env, args.timeout, ui)
            print(
                f"  replay {ref} {'(screen)' if ui else '--no-ui'}: exit {row['exit_code']} "
                f"invalid {row['invalid_lines']} lines {row['stdout_lines']} "
                f"{row['wall_seconds']} s" + (f"  [{row['error']}]" if row["error"] else ""),
                flush=True,
            )
            rows.append(row)
    return rows


def print_table(result: dict) -> None:
    print()
    print(
        f"{'part':<10} {'db':<7} {'records':>7} {'crashes':>7} {'refused':>7} {'invalid':>7} "
        f"{'beats':>8} "
        f"{'critical':>8} {'crit/h':>7} {'crit in noise/noise h':>22}"
    )
    crit = result.get("reference", {}).get("critical_by_database", {})
    for db, t in result.get("classify", {}).get("by_database", {}).items():
        c = crit.get(db, {})
        noise = f"{c.get('critical_in_noise', '-')} / {c.get('noise_hours', '-')}"
        print(
            f"{'classify':<10} {db:<7} {t['records']:>7} {t['crashes']:>7} {t['refused']:>7} "
            f"{t['invalid_lines']:>7} {t['beats']:>8} {c.get('critical', '-'):>8} "
            f"{str(c.get('critical_per_hour', '-')):>7} "
            f"{noise:>22}"
        )
    s = result.get("serial", {}).get("totals")
    if s:
        print(
            f"{'serial':<10} {'mitdb':<7} {s['records']:>7} {s['crashes']:>7} {'':>7} "
            f"{s['invalid_lines']:>7} {s['beats']:>8}   decoded {s['samples_decoded']}"
            f"/{s['samples_sent']} samples"
        )
    af = result.get("reference", {}).get("af_mitdb")
    if af:
        print(
            f"AF (mitdb): episodes >= 30 s warned {af['episodes_ge_30s_warned']}/"
            f"{af['episodes_ge_30s']} (Se {af['episode_sensitivity']}), false AF "
            f"{af['false_af_raised']} in {af['hours_outside_af']} h = "
            f"{af['false_af_per_hour']}/h"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in DATABASES:
        parser.add_argument(
            f"--{name}",
            type=Path,
            help=f"{name} folder (else $ECG_EDGE_{name.upper()}, else ${DATA_ENV}/{name})",
        )
    parser.add_argument(
        "--folder",
        type=Path,
        action="append",
        help="any other WFDB folder (its name names the database); repeatable",
    )
    parser.add_argument("--databases", nargs="*", help="only these (default: every one found)")
    parser.add_argument("--limit-records", type=int, help="the first N records of each database")
    parser.add_argument("--records", nargs="*", help="only these record names")
    parser.add_argument(
        "--parts",
        nargs="*",
        choices=["classify", "serial", "replay"],
        default=["classify", "serial", "replay"],
    )
    parser.add_argument(
        "--all-channels",
        action="store_true",
        help="emulate every channel of the record (default: MLII, else channel 0, as the "
        "one-lead rpi4 board)",
    )
    parser.add_argument(
        "--replay-records",
        nargs="*",
        default=list(REPLAY_RECORDS),
        help="DB/NAME records `replay` runs piped, with its screen and with --no-ui",
    )
    parser.add_argument("--jobs", type=int, default=1, help="records at a time")
    parser.add_argument("--profile", default="host", help="classify's device profile")
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds a classify run or an emulation may take",
    )
    parser.add_argument(
        "--ptbxl-folds",
        type=int,
        nargs="*",
        default=[PTBXL_TEST_FOLD],
        help="PTB-XL strat_folds to restore and classify (default: the test fold)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/all_records.json"))
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="all_records_")
    args.scratch = Path(scratch.name)
    dbs = database_dirs(args)
    env = dict(os.environ)
    code = code_under_test(env)
    print(
        f"edge_monitor under test: {code.get('edge_monitor')} @ {code.get('commit')}"
        f"{' (dirty)' if code.get('edge_monitor_dirty') else ''}",
        flush=True,
    )
    t0 = time.perf_counter()
    result: dict = {
        "argv": sys.argv,
        "code": code,
        "databases": {k: str(v) for k, v in dbs.items()},
        "parts": args.parts,
        "limit_records": args.limit_records,
        "ptbxl_folds": args.ptbxl_folds if "ptbxl" in dbs else None,
        "definitions": {
            "crash": "non-zero exit (130 after SIGINT is the expected one for `run`), a "
            "traceback on stderr, or a timeout",
            "invalid line": "a stdout line json.loads rejects, NaN / Infinity tokens included",
            "af_episode": "(AFIB / (AFL until the next rhythm annotation, adjacent ones merged; "
            f"warned: an AF alert raised inside it; scored when >= {MIN_AF_EPISODE_S:g} s; "
            "alert_standing: an AF alert stood at some time inside it (raised there or before)",
            "false_af": "AF alerts raised outside every AF/AFL episode, per hour outside them",
            "noise": "~ with subtype != 0 (any signal noisy or unreadable) to the next ~; "
            "(NOISE rhythm; nst test records: also the protocol's noisy stretches; bw/ma: all",
            "critical": "alert events of level critical (raised, or upgraded to critical)",
        },
    }
    rows = []
    if "classify" in args.parts:
        rows = run_classify(dbs, args, env)
        result["classify"] = {
            "totals": totals(rows),
            "by_database": by_database(rows),
            "rows": rows,
        }
        result["reference"] = summarise_reference(rows)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    if "replay" in args.parts:
        rep = run_replay_part(dbs, args, env)
        result["replay"] = {
            "rows": rep,
            "crashes": sum(r["crash"] for r in rep),
            "invalid_lines": sum(r["invalid_lines"] for r in rep),
            "without_summary": sum(not r["summary"] for r in rep),
        }
    if "serial" in args.parts:
        srows = run_serial_part(dbs, args, env)
        result["serial"] = {"totals": totals(srows), "rows": srows}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print_table(result)
    print(f"wrote {args.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
