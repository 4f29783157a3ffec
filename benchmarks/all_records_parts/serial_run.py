"""Part 2: every MIT-BIH record through the rpi4 front end over pseudo-terminals. The emulator
writes to one pty pair, the monitor reads another, and a relay moves the bytes between them; when
the emulator is done and its bytes delivered the monitor must report "stalled", then SIGINT and
its summary."""

from __future__ import annotations

import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import wfdb

from .discovery import records_of
from .output import TRACEBACK, alert_counts, beat_count, error_line, last_summary, parse_lines
from .pty_relay import LineReader, Pty, Relay


@dataclass
class SerialRun:
    """One record's monitor, the relay into its pty, and what the emulator left behind."""

    mon: subprocess.Popen
    reader: LineReader
    relay: Relay
    emu_master: int
    problems: list[str] = field(default_factory=list)
    emu: subprocess.Popen | None = None
    emu_out: str = ""
    emu_err: str = ""


def commands(record: Path, mon_link: Path, emu_link: Path, all_channels: bool) -> tuple:
    """The monitor's and the emulator's command lines, and the channel emulated (None: all)."""
    mon_cmd = [sys.executable, "-m", "edge_monitor", "run", "--source", str(mon_link)]
    mon_cmd += ["--profile", "rpi4", "--no-ui", "--counter"]
    emu_cmd = [sys.executable, "-m", "edge_monitor", "emulate", str(record), "--port"]
    emu_cmd += [str(emu_link), "--profile", "rpi4", "--speed", "0", "--counter"]
    channel = None
    if not all_channels:  # the rpi4 board is one lead: MLII where the record has it
        names = list(wfdb.rdheader(str(record)).sig_name)
        channel = names.index("MLII") if "MLII" in names else 0
        emu_cmd += ["--channel", str(channel)]
    return mon_cmd, emu_cmd, channel


def wait_connected(run: SerialRun, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not run.reader.status_after("connected", 0) and run.mon.poll() is None:
        if time.monotonic() > deadline:
            run.problems.append("monitor never said connected")
            break
        time.sleep(0.05)


def emulate(run: SerialRun, emu_cmd: list[str], env: dict, timeouts: dict) -> None:
    """The emulator's whole record through the relay, then every byte delivered, then the
    monitor's 'stalled'."""
    mon, relay = run.mon, run.relay
    relay.start()
    run.emu = emu = subprocess.Popen(
        emu_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + timeouts["emulate"]
    while emu.poll() is None:
        if mon.poll() is not None and not relay.abandon.is_set():
            relay.abandon.set()
            run.problems.append("monitor exited while the emulator was sending")
        if time.monotonic() > deadline:
            emu.kill()
            run.problems.append("emulate timed out")
        time.sleep(0.1)
    run.emu_out, run.emu_err = emu.communicate()
    # every byte out of the emulator's pty and into the monitor's
    deadline = time.monotonic() + timeouts["stall"]
    while time.monotonic() < deadline and relay.is_alive():
        if select.select([run.emu_master], [], [], 0)[0] == [] and (
            time.monotonic() - relay.idle_since > 0.5
        ):
            break
        time.sleep(0.05)
    relay.stop.set()
    relay.join(timeout=5)
    delivered = time.monotonic()
    deadline = delivered + timeouts["stall"]
    while not run.reader.stalled_since(delivered) and mon.poll() is None:
        if time.monotonic() > deadline:
            run.problems.append("no 'stalled' status after the emulator finished")
            break
        time.sleep(0.05)


def stop_monitor(run: SerialRun, timeout: float) -> None:
    if run.mon.poll() is None:
        run.mon.send_signal(signal.SIGINT)
    try:
        run.mon.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.problems.append("monitor did not exit after SIGINT")
        run.mon.kill()
        run.mon.wait()


def serial_fields(run: SerialRun, err: str) -> tuple[dict, list[dict]]:
    """What the monitor printed and how it ended, as a row's fields, and its JSON events."""
    mon, emu, emu_err = run.mon, run.emu, run.emu_err
    events, invalid = parse_lines("\n".join(line for _, line in run.reader.lines))
    summary = last_summary(events)
    sent = re.search(r"sent (\d+) samples", run.emu_out or "")
    wire = (summary or {}).get("wire") or {}
    traceback = TRACEBACK in err
    fields = {
        "exit_code": mon.returncode,
        "traceback": traceback,
        "crash": (mon.returncode not in (0, 130)) or traceback,
        "error": error_line(err) if (traceback or mon.returncode not in (0, 130)) else None,
        "problems": run.problems,
        "emulate_exit_code": None if emu is None else emu.returncode,
        "emulate_error": error_line(emu_err) if emu is not None and emu.returncode else None,
        "emulate_warning": error_line(emu_err) if emu is not None and not emu.returncode else None,
        "lines": len(events) + len(invalid),
        "invalid_lines": len(invalid),
        "invalid_examples": invalid[:3],
        "summary": summary is not None,
        "interrupted": (summary or {}).get("interrupted"),
        "samples_sent": int(sent.group(1)) if sent else None,
        "lines_relayed": run.relay.lines,
        "samples_decoded": wire.get("samples"),
        "wire": wire,
        "link": (summary or {}).get("link"),
        "states": [e.get("state") for e in events if e.get("type") == "status"][:20],
        "beats": beat_count(summary, events) if events else 0,
        "alerts": alert_counts(events),
        "signal_seconds": (summary or {}).get("signal_seconds"),
    }
    return fields, events


def serial_record(
    folder: Path, name: str, env: dict, tmp: Path, timeouts: dict, all_channels: bool
) -> tuple:
    t0 = time.perf_counter()
    row: dict = {"database": "mitdb", "record": name}
    emu_pty = Pty(tmp / f"emu-{name}")
    mon_pty = Pty(tmp / f"mon-{name}")
    mon_cmd, emu_cmd, row["channel"] = commands(
        folder / name, mon_pty.link, emu_pty.link, all_channels
    )
    mon = subprocess.Popen(
        mon_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    reader = LineReader(mon.stdout)
    reader.start()
    err_chunks: list[str] = []
    err_thread = threading.Thread(target=lambda: err_chunks.append(mon.stderr.read()), daemon=True)
    err_thread.start()
    run = SerialRun(mon, reader, Relay(emu_pty.master, mon_pty.master), emu_pty.master)
    try:
        wait_connected(run, timeouts["ready"])
        if mon.poll() is None and not run.problems:
            emulate(run, emu_cmd, env, timeouts)
        stop_monitor(run, timeouts["exit"])
    finally:
        run.relay.abandon.set()
        run.relay.stop.set()
        reader.join(timeout=10)
        err_thread.join(timeout=10)
        emu_pty.close()
        mon_pty.close()
    fields, events = serial_fields(run, "".join(err_chunks))
    row.update({**fields, "wall_seconds": round(time.perf_counter() - t0, 2)})
    return row, events


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
