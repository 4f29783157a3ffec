"""`edge-monitor run` and `emulate` over real pseudo-terminals, through the real CLI processes.

The monitor opens a stable path (a symlink, as udev gives a USB adapter); unplugging closes the
terminal pair and removes the link, replugging makes a new pair behind the same path.

No test races a timer: the sender waits for the monitor's own events (its first "connected"
status, its periodic stats lines) and for the terminal's input queue to be empty (the monitor
has read every byte), each with a deadline generous enough for a busy machine. Sleeps only pace
the sender.
"""

import fcntl
import json
import os
import queue
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import tty

import numpy as np
import pytest
import wfdb

from edge_monitor.wire import Sample, encode

pytestmark = pytest.mark.slow


class Plug:
    def __init__(self, link):
        self.link, self.master, self.slave = link, None, None

    def plug(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        if self.link.exists() or self.link.is_symlink():
            self.link.unlink()
        self.link.symlink_to(os.ttyname(self.slave))

    def unplug(self):
        self.link.unlink()
        os.close(self.master)
        os.close(self.slave)

    def send(self, data: bytes):
        os.write(self.master, data)

    def unread(self) -> int:
        """Bytes sent that the monitor has not read yet (the terminal's input queue)."""
        return struct.unpack("i", fcntl.ioctl(self.slave, termios.FIONREAD, b"\0\0\0\0"))[0]

    def wait_read(self, deadline_s: float = 60.0) -> float:
        """Wait until the monitor has read every byte sent; the time it was seen so."""
        end = time.monotonic() + deadline_s
        while self.unread():
            assert time.monotonic() < end, f"{self.unread()} bytes unread after {deadline_s} s"
            time.sleep(0.01)
        return time.monotonic()

    def drain(self):
        """Read what the other side wrote (keeps the terminal buffer from filling)."""
        import select

        got = b""
        while select.select([self.master], [], [], 0)[0]:
            try:
                got += os.read(self.master, 65536)
            except OSError:
                break
        return got


def nan_runs(x: np.ndarray) -> list[int]:
    """Lengths of the runs of NaN (samples that never arrived) in a recorded lead."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.isnan(x).astype(np.int8), [0]])))
    return [int(b - a) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def adc_lines(x_mv, start_counter, gain=200.0, baseline=1024):
    values = np.clip(np.round(x_mv * gain + baseline), 0, 2047).astype(int)
    return [encode(Sample((int(v),), (start_counter + i) % 65536)) for i, v in enumerate(values)]


class RunningMonitor:
    """A `run --no-ui` process whose JSON lines are read as they come. `wait_for` goes through
    them in order: each call looks only at the lines after the one the last call returned."""

    def __init__(self, link, *extra):
        cmd = [sys.executable, "-m", "edge_monitor", "run", "--source", str(link)]
        cmd += ["--profile", "host", "--no-ui", *map(str, extra)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events: list[dict] = []
        self._next = 0
        self._queue: queue.Queue = queue.Queue()
        self._err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self._err.extend(self.proc.stderr), daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._queue.put(json.loads(line))
        self._queue.put(None)

    def wait_for(self, match, deadline_s: float = 60.0) -> dict:
        end = time.monotonic() + deadline_s
        while True:
            while self._next < len(self.events):
                self._next += 1
                if match(self.events[self._next - 1]):
                    return self.events[self._next - 1]
            try:
                event = self._queue.get(timeout=max(0.0, min(0.1, end - time.monotonic())))
            except queue.Empty:
                assert time.monotonic() < end, f"not seen in {deadline_s} s: {self.events[-5:]}"
                continue
            assert event is not None, f"the monitor ended first: {self.events[-5:]}, {self.err}"
            self.events.append(event)

    def wait_for_stats(self, match) -> dict:
        """The first periodic stats line (one every 5 s) for which `match` holds: the monitor's
        own word on what it has taken, written after it handled it."""
        return self.wait_for(lambda e: e["type"] == "stats" and match(e))

    def stop(self, sig=signal.SIGINT) -> dict:
        """Signal the monitor, wait for it to end; its summary."""
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.wait_for(lambda e: e["type"] == "summary", 10)

    @property
    def err(self) -> str:
        return "".join(self._err)


def status(state):
    return lambda e: e["type"] == "status" and e["state"] == state


def test_run_survives_garbage_drops_and_replugs_and_records_everything(tmp_path, sample_record):
    x = wfdb.rdrecord(str(sample_record)).p_signal[:, 0]
    plug = Plug(tmp_path / "ttyECG")
    plug.plug()
    mon = RunningMonitor(plug.link, "--counter", "--record", tmp_path / "rec")
    mon.wait_for(status("connected"))  # the port is open: nothing sent from now on is flushed
    sent = 0
    counter = 0
    quarter = 90  # samples per write: a quarter second at 360 Hz
    sent_at = time.monotonic()  # when the last chunk went
    for k in range(36):  # 9 s of signal in about 3 s, and the cable out for a while
        if k == 8:
            plug.send(b"\xff\xfe garbage\n12,abc\n" + b"9" * 200 + b"\n")
        if k == 12:
            counter += 45  # the front end lost 45 samples on its side: never sent
        if k == 20:
            last_sent_at = sent_at
            out_at = plug.wait_read()  # the monitor has every byte sent before the cable goes
            plug.unplug()
            mon.wait_for(status("reconnecting"))
            time.sleep(1.5)  # the cable stays out a while
            plug.plug()
            mon.wait_for(status("connected"))  # reopened: the monitor retries with backoff
            back_at = time.monotonic()
        chunk = adc_lines(x[sent : sent + quarter], counter)
        plug.send(b"".join(chunk))
        sent_at = time.monotonic()
        counter += len(chunk)
        sent += len(chunk)
        if k == 20:
            read_again_at = plug.wait_read()  # the first read after the replug: this chunk only
        time.sleep(0.08)
    # the monitor's own stats line: it took every sample sent, and the link has gone quiet
    mon.wait_for_stats(lambda e: e["wire"]["samples"] == sent and e["source_state"] == "stalled")
    summary = mon.stop()
    assert mon.proc.returncode == 130, mon.err
    assert "Traceback" not in mon.err
    wire = summary["wire"]
    assert wire["samples"] == sent  # nothing sent after the replug was missed
    assert wire["not_text"] == 1 and wire["garbage"] >= 1 and wire["overlong"] == 1
    assert summary["link"]["lost"] == 45 and summary["link"]["resets"] == 0
    assert summary["disconnects"] >= 1 and summary["connects"] >= 2
    statuses = [e for e in mon.events if e["type"] == "status"]
    states = [e["state"] for e in statuses]
    # each change says where in the stream it came (the next sample the monitor expects: every
    # sample taken, plus the filler for those lost), never before the previous change
    at = [e["sample"] for e in statuses]
    assert at == sorted(at) and at[0] == 0 and at[-1] >= sent, statuses
    assert "reconnecting" in states and "connected" in states[states.index("reconnecting") :]
    assert states[-1] == "stalled"  # the sender stopped: no signal, said so
    assert summary["beats"], summary
    # the recording holds every sample received plus the filler, in true time: the 45 samples
    # the counter says were lost, and the silence while the cable was out as the wall clock
    # measured it: from the monitor's last read before the unplug (between `last_sent_at` and
    # `out_at`) to its first after (between `back_at` and `read_again_at`), less the samples of
    # that first read (a quarter second)
    rec = wfdb.rdrecord(str(summary["recording"]))
    x = rec.p_signal[:, 0]
    valid = np.flatnonzero(np.isfinite(x))
    # the silences before the first and after the last sample are kept as well (true time)
    runs = nan_runs(x[valid[0] : valid[-1] + 1])
    assert sorted(runs)[:-1] == [45]  # the counter's loss, and the outage (the longest run)
    stalled = max(runs) / 360
    slack = 0.5  # a read ends up to 50 ms after its bytes leave the queue, then the clock is read
    assert back_at - out_at - quarter / 360 - slack <= stalled, summary["link"]
    assert stalled <= read_again_at - last_sent_at + slack, summary["link"]
    assert rec.sig_len == sent + 45 + summary["link"]["stalled"]
    assert np.isnan(x).sum() == 45 + summary["link"]["stalled"] and len(valid) == sent


def test_emulate_writes_the_wire_format_at_the_front_end_rate(tmp_path, sample_record):
    plug = Plug(tmp_path / "ttyEMU")
    plug.plug()
    cmd = [sys.executable, "-m", "edge_monitor", "emulate", str(sample_record), "--port"]
    cmd += [str(plug.link), "--profile", "rpi4", "--speed", "0", "--counter"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got = b""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        got += plug.drain()
        time.sleep(0.01)
    got += plug.drain()
    assert proc.returncode == 0, proc.stderr.read()
    lines = got.decode().splitlines()
    # 180 s at 360 Hz replayed as a 250 Hz AD8232 board (10-bit, baseline 512)
    assert abs(len(lines) - 180 * 250) <= 2
    counters = [int(line.split(",")[0]) for line in lines]
    assert counters[:3] == [0, 1, 2] and counters[-1] == len(lines) - 1
    values = np.array([int(line.split(",")[1]) for line in lines])
    assert values.min() >= 0 and values.max() <= 1023 and abs(np.median(values) - 512) < 60


def test_ctrl_c_stops_cleanly_and_keeps_every_sample_recorded(tmp_path, sample_record):
    x = wfdb.rdrecord(str(sample_record)).p_signal[:, 0]
    plug = Plug(tmp_path / "ttyECG")
    plug.plug()
    mon = RunningMonitor(plug.link, "--counter", "--record", tmp_path / "rec")
    mon.wait_for(status("connected"))
    lines = adc_lines(x[: 360 * 6], 0)
    for a in range(0, len(lines), 180):
        plug.send(b"".join(lines[a : a + 180]))
        time.sleep(0.05)
    mon.wait_for_stats(lambda e: e["wire"]["samples"] == len(lines))  # it took every sample
    summary = mon.stop(signal.SIGINT)
    assert mon.proc.returncode == 130, mon.err  # as a shell reports a process ended by SIGINT
    assert "Traceback" not in mon.err
    assert summary["wire"]["samples"] == len(lines) and summary["interrupted"] is True
    rec = wfdb.rdrecord(str(summary["recording"]))
    got = rec.p_signal[:, 0]
    assert rec.sig_len == len(lines) + summary["link"]["stalled"]  # silences kept as time
    got = got[np.isfinite(got)]  # every sample received, in order, and nothing else
    assert np.allclose(got, np.round(x[: len(lines)] * 200) / 200, atol=0.006)


def test_duration_ends_a_run_by_itself_with_its_summary(tmp_path):
    """A front end that sends nothing: --duration still ends the run, exit 0, not interrupted."""
    plug = Plug(tmp_path / "ttyECG")
    plug.plug()
    mon = RunningMonitor(plug.link, "--duration", "2")
    summary = mon.wait_for(lambda e: e["type"] == "summary")
    assert mon.proc.wait(timeout=60) == 0, mon.err
    assert "Traceback" not in mon.err
    assert summary["interrupted"] is False and summary["wall_seconds"] >= 2
    assert summary["wire"]["samples"] == 0 and summary["beats"] == {}


def test_leads_off_flat_and_rail_say_check_electrodes_and_never_alarm(tmp_path, sample_record):
    """70 s through the real serial path: ECG, `!` lines, ECG, a flat line, ECG, the top rail,
    ECG. Each bad stretch must give its own inconclusive message, no arrhythmia alarm inside
    it, and a recovery after it."""
    x = wfdb.rdrecord(str(sample_record)).p_signal[:, 0]
    fs, sec = 360, 360
    plan = [
        ("ecg", 12),
        ("off", 8),
        ("ecg", 12),
        ("flat", 8),
        ("ecg", 12),
        ("rail", 8),
        ("ecg", 12),
    ]
    lines, t, bad = [], 0, []
    for kind, seconds in plan:
        n = seconds * sec
        if kind == "ecg":
            lines += adc_lines(x[t : t + n], len(lines))
        elif kind == "off":
            lines += [encode(Sample(None, (len(lines) + i) % 65536)) for i in range(n)]
        else:
            value = 1024 if kind == "flat" else 2047
            lines += [encode(Sample((value,), (len(lines) + i) % 65536)) for i in range(n)]
        if kind != "ecg":
            bad.append((kind, t, t + n))
        t += n
    plug = Plug(tmp_path / "ttyECG")
    plug.plug()
    mon = RunningMonitor(plug.link, "--counter")
    mon.wait_for(status("connected"))
    for a in range(0, len(lines), fs):  # 1 s of signal every 0.12 s: about 8x real time
        plug.send(b"".join(lines[a : a + fs]))
        time.sleep(0.12)
    mon.wait_for_stats(lambda e: e["wire"]["samples"] + e["wire"]["leads_off"] == len(lines))
    summary = mon.stop()
    assert mon.proc.returncode == 130, mon.err
    assert "Traceback" not in mon.err
    alerts = [e for e in mon.events if e["type"] == "alert"]
    assert summary["wire"]["samples"] + summary["wire"]["leads_off"] == len(lines)
    expected = {"off": "leads_off", "flat": "flat", "rail": "saturated"}
    for kind, start, end in bad:
        inside = [a for a in alerts if start <= a["sample"] < end + 2 * fs]
        states = {a["label"] for a in inside if a["level"] == "inconclusive"}
        assert expected[kind] in states, (kind, inside)
        assert not [a for a in inside if a["level"] in ("critical", "warning")], (kind, inside)
        assert any(
            a["level"] == "cleared" and a["label"] == "signal" and end <= a["sample"] < end + 4 * fs
            for a in alerts
        ), (kind, alerts)
