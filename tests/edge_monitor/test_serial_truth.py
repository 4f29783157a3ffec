"""`edge-monitor run` over real pseudo-terminals, on what a flaky front end does to time: a board
that stalls, a counter that resets, two monitors recording into one folder, a service manager's
SIGTERM. The tests wait for the monitor's own events (generous deadlines), never race a timer."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import wfdb

from tests.edge_monitor.test_serial_end_to_end import Plug, adc_lines

pytestmark = pytest.mark.slow
FS = 360  # the host profile's front end: 11-bit ADC, 200 counts per mV, baseline 1024


class Monitor:
    """A `run` process and its JSON lines, read as they come."""

    def __init__(self, link, *extra):
        cmd = [sys.executable, "-m", "edge_monitor", "run", "--source", str(link)]
        cmd += ["--profile", "host", "--no-ui", *map(str, extra)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[dict] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._queue.put(json.loads(line))
        self._queue.put(None)

    def mark(self) -> int:
        """Where the lines read so far end: wait_for(since=mark) sees only what comes later."""
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return len(self.lines)
            if event is None:
                self._queue.put(None)
                return len(self.lines)
            self.lines.append(event)

    def wait_for(self, match, deadline_s=60.0, since: int = 0) -> dict:
        end = time.monotonic() + deadline_s
        for seen in self.lines[since:]:
            if match(seen):
                return seen
        while time.monotonic() < end:
            try:
                event = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if event is None:
                break
            self.lines.append(event)
            if match(event):
                return event
        raise AssertionError(f"not seen within {deadline_s} s; got {self.lines[-5:]}")

    def stop(self, sig=signal.SIGINT) -> tuple[dict, str]:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)
        err = self.proc.stderr.read()
        summary = self.wait_for(lambda e: e["type"] == "summary", 10)
        return summary, err


def past_the_end(n: int):
    """The no-signal event of a stall after the n-th sample: all n were read."""
    return lambda e: e["type"] == "alert" and e["label"] == "no_signal" and e["sample"] >= n


def status(state):
    return lambda e: e["type"] == "status" and e["state"] == state


@pytest.fixture(scope="module")
def ecg(sample_record):
    return wfdb.rdrecord(str(sample_record), channels=[0]).p_signal[:, 0]


def send_paced(plug, lines, seconds_per_chunk=0.1):
    """At about real time: the wall clock is the witness here."""
    step = int(FS * seconds_per_chunk)
    t0 = time.monotonic()
    for k, a in enumerate(range(0, len(lines), step)):
        plug.send(b"".join(lines[a : a + step]))
        wait = t0 + (k + 1) * seconds_per_chunk - time.monotonic()
        if wait > 0:
            time.sleep(wait)


def test_a_stalled_board_shows_no_signal_and_the_recording_keeps_true_time(tmp_path, ecg):
    """No counter: 3 s of ECG, the board hangs for 4 s (port open, no bytes), 3 s more; then the
    service manager stops the monitor with SIGTERM."""
    plug = Plug(tmp_path / "ttyECG")
    plug.plug()
    mon = Monitor(plug.link, "--record", tmp_path / "rec")
    mon.wait_for(status("connected"))
    lines = [line.split(b",")[-1] for line in adc_lines(ecg[: 6 * FS], 0)]  # no counter
    t0 = time.monotonic()
    send_paced(plug, lines[: 3 * FS])
    since = mon.mark()  # a stall before the first sample is not the one under test
    mon.wait_for(status("stalled"), since=since)
    mon.wait_for(lambda e: e["type"] == "alert" and e["label"] == "no_signal", since=since)
    time.sleep(max(0.0, t0 + 7.0 - time.monotonic()))  # the hang lasts until 7 s in
    send_paced(plug, lines[3 * FS :])
    wall = time.monotonic() - t0
    mon.wait_for(status("connected"))  # data again
    summary, err = mon.stop(signal.SIGTERM)
    assert mon.proc.returncode == 143, err
    assert "Traceback" not in err
    assert summary["wire"]["samples"] == len(lines)
    rec = wfdb.rdrecord(summary["recording"])
    x = rec.p_signal[:, 0]
    valid = np.flatnonzero(np.isfinite(x))
    assert len(valid) == len(lines) and rec.sig_len == len(lines) + summary["link"]["stalled"]
    inside = x[valid[0] : valid[-1] + 1]  # silences before the first and after the last sample
    hang = np.isnan(inside).sum()  # are the open-to-data and data-to-stop times, also kept
    assert abs(hang / FS - 4.0) < 0.7, summary["link"]  # the hang, in samples of true time
    assert abs(len(inside) / FS - wall) < 0.7
    assert summary["lag_s"] < 0.5


def test_a_counter_reset_invents_no_time_and_two_monitors_record_apart(tmp_path, ecg):
    """Two monitors started together record into one folder; A's board reboots mid-stream
    (its counter restarts at 0), B's patient has an inverted lead. Each record holds its own
    patient only, and A's holds no fake gap."""
    plugs = [Plug(tmp_path / "ttyA"), Plug(tmp_path / "ttyB")]
    for p in plugs:
        p.plug()
    folder = tmp_path / "rec"
    mons = [Monitor(p.link, "--counter", "--record", folder) for p in plugs]
    for m in mons:
        m.wait_for(status("connected"))
    a = adc_lines(ecg[: 4 * FS], 40000) + adc_lines(ecg[4 * FS : 8 * FS], 0)
    b = adc_lines(-ecg[: 8 * FS], 0)
    for k in range(0, len(a), FS // 2):  # 8 s of signal in about 2 s
        plugs[0].send(b"".join(a[k : k + FS // 2]))
        plugs[1].send(b"".join(b[k : k + FS // 2]))
        time.sleep(0.12)
    for m, sent in zip(mons, (a, b), strict=True):  # silent once every line sent was read
        m.wait_for(past_the_end(len(sent)))
    results = [m.stop() for m in mons]
    for m in mons:
        assert m.proc.returncode == 130
    (sa, _), (sb, _) = results
    assert sa["recording"] != sb["recording"]
    assert sa["link"]["resets"] == 1 and sa["link"]["lost"] == 0
    ra, rb = (wfdb.rdrecord(s["recording"]).p_signal[:, 0] for s in (sa, sb))
    for r, s, sent in ((ra, sa, a), (rb, sb, b)):  # the silence until the stop is kept too
        assert len(r) == len(sent) + s["link"]["stalled"] and np.isnan(r[len(sent) :]).all()
    ra, rb = ra[: len(a)], rb[: len(b)]
    expected = np.round(ecg[: 8 * FS] * 200) / 200
    assert np.allclose(ra, expected, atol=0.006) and np.allclose(rb, -expected, atol=0.006)
    assert len(os.listdir(folder)) == 6  # .dat, .hea and .alerts.jsonl each: no shared record


def test_emulate_sends_a_one_lead_board_one_lead_of_a_two_lead_record(tmp_path):
    """The rpi4 board has one lead: the record's MLII goes out, one value a line, so that a
    monitor on the same profile decodes every line (sending both leads made all garbage)."""
    from tests.conftest import MITDB, need

    rec = wfdb.rdrecord(str(need(MITDB) / "100"), sampto=360 * 180)  # MLII and V5
    wfdb.wrsamp(
        "two",
        fs=360,
        units=rec.units,
        sig_name=rec.sig_name,
        p_signal=rec.p_signal,
        fmt=["16", "16"],
        write_dir=str(tmp_path),
    )
    plug = Plug(tmp_path / "ttyEMU")
    plug.plug()
    cmd = [sys.executable, "-m", "edge_monitor", "emulate", str(tmp_path / "two"), "--port"]
    cmd += [str(plug.link), "--profile", "rpi4", "--speed", "0", "--counter"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got = b""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        got += plug.drain()
        time.sleep(0.01)
    got += plug.drain()
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "sending channel 0 (MLII)" in err
    lines = got.decode().splitlines()
    assert len(lines) > 40_000 and all(line.count(",") == 1 for line in lines)


def test_a_sender_that_dies_never_makes_the_signal_good_again(tmp_path, ecg):
    """3.9 s of ECG with a counter, then the sender dies and its pty goes away: the stall says no
    signal, and nothing after it (the partly filled second, the silence up to the stop) says
    "signal good again"; the failed reopen never reads `connected`."""
    plug = Plug(tmp_path / "ttyDIES")
    plug.plug()
    mon = Monitor(plug.link, "--counter")
    mon.wait_for(status("connected"))
    lines = adc_lines(ecg[: int(3.9 * FS)], 0)
    send_paced(plug, lines)
    stall = mon.wait_for(past_the_end(len(lines)))
    at = mon.lines.index(stall)
    plug.unplug()  # the sender is gone, and its end of the link with it
    mon.wait_for(status("reconnecting"), since=at)
    summary, err = mon.stop()
    assert "Traceback" not in err and summary["wire"]["samples"] == len(lines)
    after = mon.lines[at:]
    assert not [e for e in after if e.get("label") == "signal" and e["level"] == "cleared"], after
    for e in mon.lines:
        if e["type"] == "status" and e["state"] == "connected":
            assert not e["error"], e


def test_garbage_bytes_say_unreadable_not_no_signal(tmp_path):
    """30 KB of random bytes (a wrong baud rate looks like this): bytes arrive, no sample decodes;
    the monitor says the data are unreadable and to check the baud rate."""
    plug = Plug(tmp_path / "ttyNOISE")
    plug.plug()
    mon = Monitor(plug.link)
    mon.wait_for(status("connected"))
    noise = np.random.default_rng(11).integers(0, 256, 30_000, dtype=np.uint8).tobytes()
    noise = noise.replace(b"\n", b"\n#")  # no line can happen to be a valid sample
    done = threading.Event()

    def sender():
        for k in range(0, len(noise), 1000):
            if done.is_set():
                return
            plug.send(noise[k : k + 1000])
            time.sleep(0.1)  # paced, so that bytes keep arriving through the stall time

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    alert = mon.wait_for(lambda e: e["type"] == "alert" and e["label"] == "unreadable")
    assert alert["level"] == "inconclusive" and "check the baud rate" in alert["message"]
    said = mon.wait_for(status("unreadable"))
    assert "check the baud rate" in said["error"]
    thread.join()
    plug.wait_read()
    summary, err = mon.stop()
    assert "Traceback" not in err
    assert summary["wire"]["samples"] == 0 and summary["wire"]["garbage"] > 0
    verdicts = [e for e in mon.lines if e["type"] == "alert" and e["level"] == "inconclusive"]
    assert verdicts[-1]["label"] == "unreadable", verdicts
