"""The monitor never dies and never lies (issue 12): every number the CLI takes is checked, stop
signals end a command with its summary and 128 + the signal, a closed pipe ends it quietly, the
emulator fits a record to the ADC or says why not, and the trainer in the light install names the
extra it needs. Real CLI throughout: typer's CliRunner, or a subprocess where signals, pipes and
ports are the point."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import tty

import numpy as np
import pytest
import wfdb
from typer.testing import CliRunner

from edge_monitor.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, needle):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert needle in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def write_two_leads(folder, sample_record, names=("MLII", "V1"), seconds=20.0, repeat=1):
    x = wfdb.rdrecord(str(sample_record), sampto=int(seconds * 360)).p_signal
    x = np.tile(np.hstack([x, x]), (repeat, 1))
    wfdb.wrsamp(
        "two",
        fs=360,
        units=["mV", "mV"],
        sig_name=list(names),
        p_signal=x,
        fmt=["16", "16"],
        adc_gain=[200.0, 200.0],
        baseline=[0, 0],
        write_dir=str(folder),
    )
    return folder / "two"


@pytest.mark.parametrize(
    "args",
    [
        ["classify", "{sample}", "--start", "nan"],
        ["classify", "{sample}", "--start", "-1"],
        ["classify", "{sample}", "--stop", "inf"],
        ["classify", "{sample}", "--stop", "nan"],
        ["classify", "{sample}", "--channel", "-1"],
        ["replay", "{sample}", "--speed", "-1"],
        ["replay", "{sample}", "--speed", "nan"],
        ["replay", "{sample}", "--start", "inf"],
        ["run", "--fs", "inf"],
        ["run", "--fs", "0"],
        ["run", "--fs", "nan"],
        ["run", "--duration", "nan"],
        ["run", "--duration", "-5"],
        ["run", "--adc-bits", "-3"],
        ["run", "--adc-bits", "25"],
        ["run", "--baud", "0"],
        ["run", "--adc-gain", "0"],
        ["run", "--adc-gain", "nan"],
        ["run", "--baseline", "-1"],
        ["run", "--channel", "-2"],
        ["emulate", "{sample}", "--port", "/dev/null", "--loops", "0"],
        ["emulate", "{sample}", "--port", "/dev/null", "--speed", "-1"],
        ["bench", "--runs", "0"],
        # overflowed a time index or the clock (OverflowError) before they had ranges
        ["replay", "{sample}", "--no-ui", "--start", "1e308"],
        ["replay", "{sample}", "--no-ui", "--stop", "1e308"],
        ["classify", "{sample}", "--start", "1e308"],
        ["classify", "{sample}", "--stop", "1e308"],
        ["classify", "{sample}", "--stop", "1.1e7"],
        ["replay", "{sample}", "--no-ui", "--speed", "1e-300"],
        ["replay", "{sample}", "--no-ui", "--speed", "0.001"],
        ["emulate", "{sample}", "--port", "loop://", "--speed", "1e-300"],
        ["run", "--source", "loop://", "--no-ui", "--adc-gain", "1e-300"],
        ["run", "--source", "loop://", "--no-ui", "--adc-gain", "1e-7"],
        ["run", "--source", "loop://", "--no-ui", "--duration", "1", "--record", ""],
        ["run", "--source", "loop://", "--no-ui", "--duration", "1", "--record", "  "],
    ],
)
def test_bad_numbers_are_usage_errors(args, sample_record):
    r = invoke(*[a.format(sample=sample_record) for a in args])
    assert r.exit_code == 2, r.output
    assert "Invalid value" in r.output and "Traceback" not in r.output


def test_the_edges_of_the_ranges_are_accepted(sample_record):
    r = invoke("classify", sample_record, "--start", "1e7")  # in range, past the record's end
    assert_one_line_error(r, "--start/--stop select no samples")
    r = invoke("classify", sample_record, "--stop", "5", "--json")
    assert r.exit_code == 0, r.output
    r = invoke("replay", sample_record, "--no-ui", "--stop", "2", "--speed", "0")
    assert r.exit_code == 0, r.output


def test_a_channel_past_the_record_is_out_of_range(sample_record):
    r = invoke("classify", sample_record, "--channel", "3")
    assert_one_line_error(r, "--channel 3 is out of range")
    assert "1 signal (0 MLII)" in r.output
    r = invoke("emulate", sample_record, "--port", "/dev/null", "--channel", "1")
    assert_one_line_error(r, "--channel 1 is out of range")


def test_run_checks_channel_and_baseline_before_opening_the_port():
    r = invoke("run", "--source", "/dev/ttyECG-nope", "--profile", "host", "--channel", "1")
    assert_one_line_error(r, "--channel 1 is out of range: the source has 1 signal (0 MLII)")
    r = invoke("run", "--source", "/dev/ttyECG-nope", "--profile", "host", "--baseline", "5000")
    assert_one_line_error(r, "baseline 5000 is outside the 11-bit ADC's 0..2047")


def test_a_lead_the_beat_model_was_not_trained_on_is_said(tmp_path, sample_record):
    rec = write_two_leads(tmp_path, sample_record)
    r = invoke("classify", rec, "--channel", "1")
    assert r.exit_code == 0, r.output
    assert "warning: channel 1 is lead V1; the arrhythmia model expects MLII" in r.output
    r = invoke("classify", rec, "--channel", "0")
    assert r.exit_code == 0 and "warning: channel" not in r.output, r.output


def test_a_model_file_is_not_a_bundle_folder(tmp_path, sample_record):
    model = tmp_path / "some.onnx"
    model.write_bytes(b"onnx")
    r = invoke("classify", sample_record, "--model", model)
    assert_one_line_error(r, "a bundle is a folder holding model.onnx and manifest.json")


class Cli:
    """The CLI as its own process, its stdout read line by line on a thread."""

    def __init__(self, *args, stdin=None, hangup=signal.SIG_DFL):
        cmd = [sys.executable, "-m", "edge_monitor", *map(str, args)]
        self.proc = subprocess.Popen(
            cmd,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGHUP, hangup),  # not the suite's own
        )
        self.lines: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_line(self, timeout=60.0):
        line = self.lines.get(timeout=timeout)
        assert line is not None, self.proc.stderr.read()
        return line

    def stop(self, signum, timeout=60.0):
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout)
        rest = []
        while (line := self.lines.get_nowait()) is not None:
            rest.append(line)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, rest, err


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_stop_signals_end_replay_with_its_summary(sample_record, signum, code):
    cli = Cli("replay", sample_record, "--speed", "1", "--no-ui")
    json.loads(cli.next_line())  # it is streaming
    got, rest, err = cli.stop(signum)
    assert got == code, err
    summary = json.loads(rest[-1])
    assert summary["type"] == "summary" and summary["interrupted"] is True
    assert 0 < summary["signal_seconds"] < 180
    assert "Traceback" not in err and f"stopped by {signal.Signals(signum).name}" in err


@pytest.mark.slow
def test_a_monitor_started_under_nohup_outlives_its_terminal(sample_record):
    cli = Cli("replay", sample_record, "--speed", "1", "--no-ui", hangup=signal.SIG_IGN)
    json.loads(cli.next_line())
    cli.proc.send_signal(signal.SIGHUP)  # the terminal closed
    json.loads(cli.next_line())  # still streaming
    assert cli.proc.poll() is None
    got, rest, err = cli.stop(signal.SIGTERM)
    assert got == 143, err
    assert json.loads(rest[-1])["interrupted"] is True and "SIGHUP" not in err


def test_sigterm_ends_run_with_its_summary_and_recording(tmp_path):
    master, slave = os.openpty()
    try:
        cli = Cli(
            "run",
            "--source",
            os.ttyname(slave),
            "--profile",
            "host",
            "--no-ui",
            "--record",
            tmp_path,
        )
        assert json.loads(cli.next_line())["state"] == "connected"
        got, rest, err = cli.stop(signal.SIGTERM)
    finally:
        os.close(master)
        os.close(slave)
    assert got == 143, err
    summary = json.loads(rest[-1])
    assert summary["type"] == "summary" and summary["interrupted"] is True
    assert list(tmp_path.glob("ecg-*.hea")), "the recording was not closed"


def test_a_closed_pipe_ends_classify_quietly(tmp_path, sample_record):
    # 30 minutes of beats: far more JSON than a pipe buffers, so the reader's exit is seen
    rec = write_two_leads(tmp_path, sample_record, seconds=180.0, repeat=10)
    cmd = [sys.executable, "-m", "edge_monitor", "classify", str(rec), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert json.loads(proc.stdout.readline())["type"] == "beat"
    proc.stdout.close()  # `| head -1`
    code = proc.wait(timeout=120)
    err = proc.stderr.read()
    proc.stderr.close()
    assert code == 141, err
    assert err == "", err


def test_emulate_refuses_loop_with_nobody_reading(sample_record):
    r = invoke("emulate", sample_record, "--port", "loop://", "--speed", "0")
    assert_one_line_error(r, "loop:// loops back into this process and nobody here reads it")


class Pty:
    """A pseudo-terminal pair whose master side is drained into `data` on a thread."""

    def __init__(self, read=True):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.name = os.ttyname(self.slave)
        self.data = bytearray()
        if read:
            threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self.data.extend(chunk)

    def close(self):
        os.close(self.slave)
        os.close(self.master)


@pytest.mark.parametrize("fit", [True, False])
def test_emulate_fits_the_record_to_the_adc_or_says_it_clips(sample_record, fit):
    port = Pty()
    try:
        cmd = [sys.executable, "-m", "edge_monitor", "emulate", str(sample_record)]
        cmd += ["--port", port.name, "--speed", "0", "--fit" if fit else "--no-fit"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        sent = int(r.stdout.strip().splitlines()[-1].split()[1])
        lines = []
        for _ in range(600):  # the reader thread catches up with what was sent
            lines = bytes(port.data).decode().split()
            if len(lines) >= sent:
                break
            threading.Event().wait(0.05)
    finally:
        port.close()
    assert r.returncode == 0, r.stderr
    assert len(lines) == sent == 45000
    adc = np.array([int(v) for v in lines])
    # the rpi4 front end: 10 bits, 0 mV at 512, 341.3 counts per mV: +-1.50 mV
    assert "spans -2.39..+2.09 mV; the ADC holds -1.50..+1.50 mV" in r.stderr
    if fit:
        assert "scaled by 0.56" in r.stderr
        assert adc.min() > 0 and adc.max() < 1023
    else:
        assert "clips at the rails" in r.stderr
        assert (adc == 0).any() and (adc == 1023).any()


@pytest.mark.slow
def test_emulate_to_a_port_nobody_reads_is_one_line(sample_record):
    port = Pty(read=False)
    try:
        r = invoke("emulate", sample_record, "--port", port.name, "--speed", "0")
    finally:
        port.close()
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    warning, error = r.output.strip().splitlines()  # the fit warning, then the error
    assert error.startswith(f"error: serial port {port.name} took no more data after ")


def test_trainer_in_the_light_install_names_the_extra():
    block_torch = (
        "import sys; sys.modules['torch'] = None; sys.argv = ['trainer', 'models']; "
        "from trainer.cli import app; app()"
    )
    r = subprocess.run(
        [sys.executable, "-c", block_torch], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 1, r.stderr
    assert "install the train extra: pip install 'ecg-edge[train]'" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_one_default_profile_for_every_command_else_the_users(monkeypatch, tmp_path, sample_record):
    """rpi4 unless $ECG_EDGE_PROFILE names another (a shipped name or a TOML file); a bad value
    in the variable is refused like a bad --profile, not silently replaced."""
    from edge_monitor.cli_support import PROFILES
    from edge_monitor.profiles import default_profile

    monkeypatch.delenv("ECG_EDGE_PROFILE", raising=False)
    commands = {"replay", "classify", "run", "emulate", "bench"}
    for command in commands:
        params = {p.name: p for p in _click_command(command).params}
        assert params["profile"].default == "rpi4", command
        assert params["profile"].envvar == "ECG_EDGE_PROFILE", command
    assert default_profile() == "rpi4"
    own = tmp_path / "bench-rig.toml"
    own.write_text((_profile_dir() / "host.toml").read_text())
    monkeypatch.setenv("ECG_EDGE_PROFILE", str(own))
    assert default_profile() == str(own) and PROFILES.parse(str(own)) == str(own)
    r = invoke("classify", sample_record, "--stop", "10", "--json")  # the user's file, used
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("ECG_EDGE_PROFILE", "rpi9")
    r = invoke("classify", "no-record")
    assert r.exit_code == 2 and "'rpi9' is not a device profile" in r.output


def _click_command(name: str):
    import typer

    return typer.main.get_command(app).commands[name]


def _profile_dir():
    from importlib import resources
    from pathlib import Path

    return Path(str(resources.files("device_profiles")))


def test_a_bad_profile_in_the_variable_names_the_variable(monkeypatch, tmp_path):
    """A typo in $ECG_EDGE_PROFILE is one line naming the variable, not a box blaming --profile
    (which the user never typed); a typed --profile still wins over the variable."""
    monkeypatch.setenv("ECG_EDGE_PROFILE", "nosuch")
    r = invoke("classify", tmp_path / "x")
    assert r.exit_code == 2, r.output
    assert r.output.strip().splitlines() == [
        "error: $ECG_EDGE_PROFILE: 'nosuch' is not a device profile: choose one of host, "
        "rpi-zero-2w, rpi3, rpi4, rpi5 or an existing .toml profile file"
    ]
    r = invoke("classify", tmp_path / "x", "--profile", "host")  # typed: the variable unused
    assert_one_line_error(r, "WFDB record not found")
    monkeypatch.delenv("ECG_EDGE_PROFILE")
    r = invoke("classify", tmp_path / "x", "--profile", "nosuch")  # typed: typer's usage error
    assert r.exit_code == 2 and "Invalid value for '--profile'" in r.output
