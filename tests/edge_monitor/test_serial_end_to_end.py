"""`edge-monitor run` and `emulate` over real pseudo-terminals, through the real CLI processes.

The monitor opens a stable path (a symlink, as udev gives a USB adapter); unplugging closes the
terminal pair and removes the link, replugging makes a new pair behind the same path.
"""

import json
import os
import subprocess
import sys
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


def adc_lines(x_mv, start_counter, gain=200.0, baseline=1024):
    values = np.clip(np.round(x_mv * gain + baseline), 0, 2047).astype(int)
    return [encode(Sample((int(v),), (start_counter + i) % 65536)) for i, v in enumerate(values)]


def test_run_survives_garbage_drops_and_replugs_and_records_everything(tmp_path, sample_record):
    x = wfdb.rdrecord(str(sample_record)).p_signal[:, 0]
    plug = Plug(tmp_path / "ttyECG")
    plug.plug()
    rec_dir = tmp_path / "rec"
    cmd = [sys.executable, "-m", "edge_monitor", "run", "--source", str(plug.link)]
    cmd += ["--profile", "host", "--no-ui", "--counter", "--record", str(rec_dir)]
    cmd += ["--duration", "14"]
    mon = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)  # imports and the first open
    sent = 0
    counter = 0
    quarter = 90  # samples per write: a quarter second at 360 Hz
    for k in range(36):  # 9 s of signal in about 3 s
        if k == 8:
            plug.send(b"\xff\xfe garbage\n12,abc\n" + b"9" * 200 + b"\n")
        if k == 12:
            counter += 45  # the front end lost 45 samples on its side: never sent
        if k == 20:
            plug.unplug()
            time.sleep(1.5)
            plug.plug()
            time.sleep(1.5)  # the monitor retries with backoff
        chunk = adc_lines(x[sent : sent + quarter], counter)
        plug.send(b"".join(chunk))
        counter += len(chunk)
        sent += len(chunk)
        time.sleep(0.08)
    out, err = mon.communicate(timeout=60)
    assert mon.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    summary = events[-1]
    assert summary["type"] == "summary"
    wire = summary["wire"]
    assert wire["samples"] == sent  # nothing sent after the replug was missed
    assert wire["not_text"] == 1 and wire["garbage"] >= 1 and wire["overlong"] == 1
    assert summary["link"]["lost"] == 45 and summary["link"]["resets"] == 0
    assert summary["disconnects"] >= 1 and summary["connects"] >= 2
    states = [e["state"] for e in events if e["type"] == "status"]
    assert "reconnecting" in states and "connected" in states[states.index("reconnecting") :]
    assert states[-1] == "stalled"  # the sender stopped before --duration: no signal, said so
    assert summary["beats"], summary
    # the recording holds every sample received plus the filler, in true time: the 45 samples
    # the counter says were lost, and the 3 s or so the cable was out (the wall clock's measure)
    rec = wfdb.rdrecord(str(summary["recording"]))
    stalled = summary["link"]["stalled"]
    assert 2.5 * 360 <= stalled <= 6 * 360, summary["link"]
    assert rec.sig_len == sent + 45 + stalled
    assert np.isnan(rec.p_signal[:, 0]).sum() == 45 + stalled


def test_emulate_writes_the_wire_format_at_the_front_end_rate(tmp_path, sample_record):
    plug = Plug(tmp_path / "ttyEMU")
    plug.plug()
    cmd = [sys.executable, "-m", "edge_monitor", "emulate", str(sample_record), "--port"]
    cmd += [str(plug.link), "--profile", "rpi4", "--speed", "0", "--counter"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got = b""
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline:
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
    import signal

    x = wfdb.rdrecord(str(sample_record)).p_signal[:, 0]
    plug = Plug(tmp_path / "ttyECG")
    plug.plug()
    cmd = [sys.executable, "-m", "edge_monitor", "run", "--source", str(plug.link)]
    cmd += ["--profile", "host", "--no-ui", "--counter", "--record", str(tmp_path / "rec")]
    mon = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    lines = adc_lines(x[: 360 * 6], 0)
    for a in range(0, len(lines), 180):
        plug.send(b"".join(lines[a : a + 180]))
        time.sleep(0.05)
    time.sleep(1.0)  # let the monitor read what was sent
    mon.send_signal(signal.SIGINT)
    out, err = mon.communicate(timeout=30)
    assert mon.returncode == 130, err  # as a shell reports a process ended by SIGINT
    assert "Traceback" not in err
    summary = json.loads(out.splitlines()[-1])
    assert summary["wire"]["samples"] == len(lines)
    rec = wfdb.rdrecord(str(summary["recording"]))
    assert rec.sig_len == len(lines)
    assert np.allclose(rec.p_signal[:, 0], np.round(x[: len(lines)] * 200) / 200, atol=0.006)


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
    cmd = [sys.executable, "-m", "edge_monitor", "run", "--source", str(plug.link), "--counter"]
    cmd += ["--profile", "host", "--no-ui", "--duration", "16"]
    mon = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    for a in range(0, len(lines), fs):  # 1 s of signal every 0.12 s: about 8x real time
        plug.send(b"".join(lines[a : a + fs]))
        time.sleep(0.12)
    out, err = mon.communicate(timeout=60)
    assert mon.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    alerts = [e for e in events if e["type"] == "alert"]
    summary = events[-1]
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
