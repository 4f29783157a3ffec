"""Part 4: `edge-monitor replay RECORD --speed 0` with stdout a pipe, as a script or a log runs
it: its screen (no terminal) and `--no-ui`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from .output import TRACEBACK, error_line, last_summary, parse_lines

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
