"""Part 1: `edge-monitor classify RECORD --json` over every record, as a user runs it, each row
scored against the record's reference annotations."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import wfdb

from .annotations import reference
from .discovery import records_of
from .output import (
    TRACEBACK,
    alert_counts,
    beat_count,
    error_line,
    last_summary,
    parse_lines,
    sample_order,
)
from .scoring import score_alerts


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
