"""Fault injection on the serial path, with exact accounting.

`edge-monitor run --counter --record` (the real CLI process) reads a pseudo-terminal behind a
stable symlink while a scripted front end writes MIT-BIH DS2 record 200 in the wire format and
misbehaves on a plan: many unplug/replug cycles (the front end keeps sampling while unplugged, so
the counter jumps), stalls, one-shot bursts of many seconds, a writer far faster than real time,
wrong-baud garbage (lines of bytes outside ASCII), text garbage, over-long lines and samples the
front end itself lost (counter gaps; it goes on sampling, so their time passes on the wall clock
too, as the monitor requires before it believes a gap: edge_monitor/serial_feed.py). Before each
unplug or loss the writer waits until the monitor has read what was sent (the terminal's input
queue is empty), so every count below is known exactly:

    decoded samples == valid samples written;  lost == the counter jumps;  bad lines == the bad
    lines written;  no counter reset, no late line;  recorded == decoded + lost + stalled and
    invalid recorded rows == lost + stalled (the recording keeps true time: a silence the wall
    clock measured, the 5 s stall less the burst that follows it, which looks like the board's
    backlog, and the time unplugged beyond the counter's jump, is stored as invalid rows too;
    reported as stalled_s);  the recorded values equal the values written, in order;  Ctrl-C
    after the last byte is read ends the monitor with 130 and its summary.

    python benchmarks/serial_faults.py --mitdb ../shared/data/mitdb

Writes benchmarks/results/serial_faults.json (about 2 minutes).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from pathlib import Path

import numpy as np
import wfdb

from edge_monitor.wire import Sample, encode

FS, GAIN, BASELINE = 360, 200.0, 1024


class PtyPort:
    """A pseudo-terminal behind a symlink, as udev names a USB adapter; unplug removes both."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = self.slave = -1

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        if self.link.is_symlink() or self.link.exists():
            self.link.unlink()
        self.link.symlink_to(os.ttyname(self.slave))

    def unplug(self) -> None:
        self.link.unlink()
        os.close(self.master)
        os.close(self.slave)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.master, view)
            view = view[n:]

    def unread(self) -> int:
        """Bytes written but not yet read by the monitor."""
        buf = bytearray(4)
        fcntl.ioctl(self.slave, termios.FIONREAD, buf)
        return int.from_bytes(buf, sys.byteorder)

    def wait_read(self, timeout: float = 10.0, quiet_s: float = 0.5) -> None:
        """Until the input queue has stayed empty for `quiet_s`: after a large write the kernel
        feeds the queue from its buffers in steps, so one empty look proves nothing."""
        deadline = time.monotonic() + timeout
        empty_since = None
        while time.monotonic() < deadline:
            if self.unread():
                empty_since = None
            elif empty_since is None:
                empty_since = time.monotonic()
            elif time.monotonic() - empty_since >= quiet_s:
                return
            time.sleep(0.01)


class FrontEnd:
    """Writes ADC samples with a 16-bit counter; remembers exactly what it wrote."""

    def __init__(self, port: PtyPort, adc: np.ndarray) -> None:
        self.port, self.adc = port, adc
        self.pos = 0  # next source sample
        self.counter = 0
        self.written: list[int] = []  # the valid ADC values, in order
        self.dropped = 0
        self.bad_lines = 0

    def samples(self, n: int, pace_s: float = 0.0, chunk: int = 90) -> None:
        """n samples in chunks, `pace_s` seconds apart (0: as fast as the port takes them)."""
        for a in range(0, n, chunk):
            values = self.adc[self.pos : self.pos + min(chunk, n - a)].tolist()
            self.pos += len(values)
            lines = [encode(Sample((v,), (self.counter + i) % 65536)) for i, v in enumerate(values)]
            self.counter += len(values)
            self.written += values
            self.port.write(b"".join(lines))
            if pace_s:
                time.sleep(pace_s)

    def lose(self, n: int) -> None:
        """The front end sampled n values it never sent (its buffer overflowed, or unplugged)."""
        self.pos += n
        self.counter += n
        self.dropped += n

    def garbage(self, lines: list[bytes]) -> None:
        self.port.write(b"".join(line + b"\n" for line in lines))
        self.bad_lines += len(lines)


class Events:
    """The monitor's JSON lines, read as they come (the writer waits on its status lines)."""

    def __init__(self, stream) -> None:
        self.lines: list[dict] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            if line.startswith("{"):
                self.lines.append(json.loads(line))

    def count(self, state: str) -> int:
        return sum(1 for e in list(self.lines) if e.get("type") == "status" and e["state"] == state)

    def wait(self, state: str, times: int, timeout: float = 15.0) -> None:
        """Until the monitor has said `state` `times` times: pyserial empties the input queue
        when it opens a port, so a front end that writes before the monitor reopened loses
        those bytes (counted by the counter, but not known in advance here)."""
        deadline = time.monotonic() + timeout
        while self.count(state) < times and time.monotonic() < deadline:
            time.sleep(0.02)

    def wait_reconnected(self, since: int, timeout: float = 15.0) -> None:
        """Until a "connected" status follows a "reconnecting" one among the lines after the
        first `since`: a count of "connected" lines would also count the one that says a
        stall is over (samples back on a link that never dropped), and a writer that went on
        before the port was reopened would lose its bytes to pyserial's flush at open."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [e["state"] for e in list(self.lines)[since:] if e.get("type") == "status"]
            if "reconnecting" in states and "connected" in states[states.index("reconnecting") :]:
                return
            time.sleep(0.02)

    def join(self) -> None:
        self._thread.join(timeout=10)


def wrong_baud_lines(rng: random.Random, n: int) -> list[bytes]:
    """What a UART at the wrong rate delivers: bytes with the high bit set, no valid digits."""
    return [
        bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randrange(1, 40))) for _ in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--replugs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serial_faults.json"))
    args = parser.parse_args()
    adc = wfdb.rdrecord(str(args.mitdb / "200"), channels=[0], physical=False).d_signal[:, 0]
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        port = PtyPort(Path(tmp) / "ttyECG")
        port.plug()
        duration = 600 + 10 * args.replugs  # a bound only: Ctrl-C ends it after the plan
        cmd = [sys.executable, "-m", "edge_monitor", "run", "--source", str(port.link)]
        cmd += ["--profile", "host", "--no-ui", "--counter", "--record", str(Path(tmp) / "rec")]
        cmd += ["--duration", str(duration)]
        t0 = time.monotonic()
        mon = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        events = Events(mon.stdout)
        events.wait("connected", 1, timeout=30)  # imports and the first open
        fe = FrontEnd(port, adc)
        plan: list[str] = []

        plan.append("10 s at real time")
        fe.samples(10 * FS, pace_s=0.25)
        plan.append("60 s of signal as fast as the port takes it (about 2 s)")
        fe.samples(60 * FS)
        plan.append("a 5 s stall, the port open")
        time.sleep(5.0)
        plan.append("one 20 s burst in a single write")
        fe.samples(20 * FS, chunk=20 * FS)
        plan.append("200 lines at the wrong baud rate, 50 of text garbage, 3 over-long lines")
        fe.garbage(wrong_baud_lines(rng, 200))
        fe.garbage([b"12,abc", b"ERR sensor", b"1,2,3,4"] * 16 + [b"--", b";"])
        fe.garbage([b"9" * 300] * 3)
        fe.samples(10 * FS)
        plan.append("the front end loses 45, 1000 and 7 samples (counter gaps)")
        for n in (45, 1000, 7):
            port.wait_read()  # the monitor's last read before the gap is behind us
            time.sleep(n / FS)  # the lost samples' time
            fe.lose(n)
            fe.samples(5 * FS)
        plan.append(f"{args.replugs} unplug/replug cycles, 0.5-1.5 s out, sampling on meanwhile")
        for _ in range(args.replugs):
            port.wait_read()
            since = len(events.lines)
            port.unplug()
            out_s = rng.uniform(0.5, 1.5)
            time.sleep(out_s)
            fe.lose(int(out_s * FS))
            port.plug()
            events.wait_reconnected(since)  # the monitor retries with backoff
            fe.samples(3 * FS, pace_s=0.05)
        plan.append("10 s more at 4x real time")
        fe.samples(10 * FS, pace_s=0.0625)
        port.wait_read()
        mon.send_signal(signal.SIGINT)  # not --duration: a loaded host may take longer
        err = mon.stderr.read()
        mon.wait(timeout=60)
        events.join()
        wall = time.monotonic() - t0
        port.unplug()
        summary = events.lines[-1]
        rec = wfdb.rdrecord(str(summary["recording"]), physical=False)
        stored = rec.d_signal[:, 0]
        valid = stored[stored != -32768]
    wire = summary["wire"]
    link = summary["link"]
    expected = {
        "samples_decoded": len(fe.written),
        "dropped": fe.dropped,
        "bad_lines": fe.bad_lines,
        "recorded": len(fe.written) + fe.dropped + link["stalled"],
        "recorded_invalid": fe.dropped + link["stalled"],
        "disconnects": args.replugs,
        "resets": 0,
        "late": 0,
    }
    got = {
        "samples_decoded": wire["samples"],
        "dropped": link["lost"],
        "bad_lines": wire["garbage"] + wire["overlong"] + wire["not_text"],
        "recorded": int(rec.sig_len),
        "recorded_invalid": int(np.sum(stored == -32768)),
        "disconnects": summary["disconnects"],
        "resets": link["resets"],
        "late": link["late"],
    }
    result = {
        "plan": plan,
        "exit_code": mon.returncode,
        "traceback": "Traceback" in err,
        "expected": expected,
        "got": got,
        "bad_lines_by_kind": {k: wire[k] for k in ("garbage", "overlong", "not_text")},
        "link": link,
        "stalled_s": link["stalled"] / FS,
        "recorded_values_equal_written": bool(
            len(valid) == len(fe.written) and np.array_equal(valid, np.asarray(fe.written))
        ),
        "connects": summary["connects"],
        "beats": summary["beats"],
        "status_states": sorted({e["state"] for e in events.lines if e["type"] == "status"}),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),  # of the tree `-m edge_monitor` runs from (the current folder)
        "wall_s": wall,
        "monitor_duration_s": duration,
        "interrupted": summary.get("interrupted"),
    }
    result["exact"] = bool(
        expected == got
        and result["recorded_values_equal_written"]
        and mon.returncode == 130
        and summary.get("interrupted") is True
        and not result["traceback"]
    )
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if not result["exact"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
