"""edge-monitor commands through the real CLI: JSON lines, summaries, one-line errors."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from edge_monitor.bundle import embedded_bundle
from edge_monitor.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, needle):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert needle in result.output
    assert len(result.output.strip().splitlines()) <= 2


def test_classify_json_lines_follow_the_documented_shapes(sample_record):
    r = invoke("classify", sample_record, "--json", "--stop", "60")
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.output.splitlines()]
    kinds = {x["type"] for x in lines}
    assert {"beat", "summary"} <= kinds and lines[-1]["type"] == "summary"
    beat = next(x for x in lines if x["type"] == "beat")
    assert set(beat) == {"type", "sample", "label", "probs"}
    assert set(beat["probs"]) == {"N", "S", "V", "F"}
    alerts = [x for x in lines if x["type"] == "alert"]
    assert all(set(a) == {"type", "sample", "level", "label", "message"} for a in alerts)
    # the VT/VF model's windows: which model, and the sample where each was complete
    windows = [x for x in lines if x["type"] == "window"]
    assert windows and {w["model"] for w in windows} == {"ventricular"}
    keys = {"type", "sample", "model", "start", "end", "probs", "good_signal"}
    assert all(set(w) == keys for w in windows)
    assert {w["good_signal"] for w in windows} <= {True, False}
    assert all(w["sample"] == w["end"] > w["start"] for w in windows)
    # every line but the summary is about a sample of the record
    assert all(isinstance(x["sample"], int) for x in lines[:-1])
    assert lines[-1]["signal_seconds"] == 60.0


def test_replay_without_ui_and_with_start_stop(sample_record):
    r = invoke("replay", sample_record, "--no-ui", "--speed", "0", "--start", "30", "--stop", "50")
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.output.splitlines()]
    beats = [x["sample"] for x in lines if x["type"] == "beat"]
    assert beats and min(beats) >= 30 * 360 and max(beats) < 50 * 360


def test_replay_with_the_live_ui_renders_panels(sample_record):
    r = invoke("replay", sample_record, "--speed", "0", "--stop", "15")
    assert r.exit_code == 0, r.output
    assert "profiling" in r.output and "alerts" in r.output and "beats" in r.output


def test_bad_inputs_are_one_line_errors(tmp_path, sample_record):
    assert_one_line_error(invoke("classify", tmp_path / "nothing.dat"), "not found")
    truncated = tmp_path / "cut"
    shutil.copy(sample_record.with_suffix(".hea"), truncated.with_suffix(".hea"))
    data = sample_record.with_suffix(".dat").read_bytes()
    truncated.with_suffix(".dat").write_bytes(data[:1000])
    hea = truncated.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("mitdb-200-excerpt", "cut"))
    assert_one_line_error(invoke("classify", truncated), "cut")
    assert_one_line_error(invoke("classify", sample_record, "--model", tmp_path), "no manifest")
    odd = tmp_path / "two\nlines"  # a stranger's path: its line break is shown, not printed
    odd.mkdir()
    r = invoke("classify", sample_record, "--model", odd)
    assert_one_line_error(r, "no manifest")
    assert "two\\nlines" in r.output.replace("\n", "")
    assert_one_line_error(
        invoke("run", "--source", "/dev/ttyECG-nope", "--profile", "host", "--no-ui"),
        "cannot open serial port",
    )
    nope = invoke("replay", sample_record, "--profile", "nope")  # a usage error: typer's exit 2
    assert nope.exit_code == 2 and "'nope' is not a device profile" in nope.output
    assert "rpi4" in nope.output and "Traceback" not in nope.output


def test_a_strangers_names_reach_the_terminal_as_text(tmp_path, sample_record):
    """Lead names and folders with escape sequences or line breaks are shown escaped: a
    header must not clear the screen or retitle the terminal, nor split a line."""
    folder = tmp_path / "d\nx"
    folder.mkdir()
    hea = sample_record.with_suffix(".hea").read_text()
    for name in ("MLII", "V1"):
        hea = hea.replace(f" {name}\n", f" \x1b[31m{name}\x1b]0;pwned\x07\n")
    (folder / "rec.hea").write_text(hea.replace("mitdb-200-excerpt", "rec"))
    shutil.copy(sample_record.with_suffix(".dat"), folder / "rec.dat")
    r = invoke("classify", folder / "rec", "--channel", "0", "--stop", "20")
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "\x07" not in r.output
    assert "\\x1b[31mMLII" in r.output  # the warning names the lead, escaped
    assert f"{tmp_path}/d\\nx/rec: " in r.output  # the headline: one line


def test_a_model_without_a_contract_is_refused(tmp_path, sample_record):
    import onnx

    b = tmp_path / "b"
    shutil.copytree(embedded_bundle("arrhythmia"), b)
    proto = onnx.load(str(b / "model.onnx"))
    del proto.metadata_props[:]
    onnx.save(proto, str(b / "model.onnx"))
    manifest = json.loads((b / "manifest.json").read_text())
    from edge_monitor.bundle import sha256_file

    manifest["model"]["sha256"] = sha256_file(b / "model.onnx")
    manifest["model"]["bytes"] = (b / "model.onnx").stat().st_size
    (b / "manifest.json").write_text(json.dumps(manifest))
    assert_one_line_error(invoke("classify", sample_record, "--model", b), "no ecg-edge contract")


def test_two_beat_models_are_refused_in_one_line(tmp_path, sample_record):
    """Both would drive the rhythm rules with every beat (the heart rate then divided by a zero
    interval: a traceback, found by the review)."""
    twin = tmp_path / "twin"
    shutil.copytree(embedded_bundle("arrhythmia"), twin)
    r = invoke("classify", sample_record, "--model", embedded_bundle("arrhythmia"), "--model", twin)
    assert_one_line_error(r, "one beat model at a time, not 2")


def test_a_source_too_slow_for_the_model_is_refused(tmp_path):
    import numpy as np
    import wfdb

    x = np.random.default_rng(0).normal(0, 0.1, (3000, 1))
    wfdb.wrsamp(
        "slow",
        fs=50,
        units=["mV"],
        sig_name=["MLII"],
        p_signal=x,
        fmt=["16"],
        write_dir=str(tmp_path),
    )
    assert_one_line_error(invoke("classify", tmp_path / "slow"), "too slow")


@pytest.mark.slow
def test_ctrl_c_ends_a_replay_with_its_summary(sample_record, tmp_path):
    import queue
    import signal
    import subprocess
    import sys
    import threading
    import time

    cmd = [sys.executable, "-m", "edge_monitor", "replay", str(sample_record), "--no-ui"]
    with open(tmp_path / "stderr.txt", "w+") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, text=True)
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        out: list[str] = []
        # real-time pace: wait for the first periodic stats line (5 s of wall clock after the
        # replay starts) with a deadline generous enough for a busy machine, then press Ctrl-C
        deadline = time.monotonic() + 60
        try:
            while not any('"stats"' in x for x in out):
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise AssertionError(f"no stats line within 60 s; stdout: {out}") from None
                assert line is not None, f"replay ended before its first stats line: {out}"
                out.append(line)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        while (line := lines.get(timeout=60)) is not None:  # the rest, up to end of output
            out.append(line)
        err_file.seek(0)
        err = err_file.read()
    assert proc.returncode in (0, 130), err  # 130: the CLI is moving to the shell's Ctrl-C code
    assert "Traceback" not in err
    summary = json.loads(out[-1])
    assert summary["type"] == "summary", out[-1]
    assert summary["interrupted"] is True and 0 < summary["signal_seconds"] < 60
    stats = [json.loads(x) for x in out if '"stats"' in x]
    assert stats and stats[0]["quality"] == "good"


def test_a_header_that_lies_about_length_or_format_is_refused(tmp_path, sample_record):
    hea = sample_record.with_suffix(".hea").read_text()
    data = sample_record.with_suffix(".dat").read_bytes()
    name = "mitdb-200-excerpt"
    longer = tmp_path / "long"
    longer.with_suffix(".hea").write_text(
        hea.replace(f"{name} 1 360 64800", f"{name} 1 360 648000")
    )
    longer.with_suffix(".dat").write_bytes(data)
    (tmp_path / f"{name}.dat").write_bytes(data)
    assert_one_line_error(invoke("classify", longer), "promises 648000 samples")
    wrong_format = tmp_path / "fmt"
    wrong_format.with_suffix(".hea").write_text(hea.replace(f"{name}.dat 212", f"{name}.dat 16"))
    assert_one_line_error(invoke("classify", wrong_format), "the file holds")


def _edge_monitor(*args: str, stdout, prelude: str = "", before_app: str = "") -> subprocess.Popen:
    """The real CLI in a child process, as the console script runs it, after `prelude`
    (`before_app`: between the import of the CLI and its run)."""
    code = f"import sys\n{prelude}\nsys.argv = ['edge-monitor', *sys.argv[1:]]\n"
    code += f"from edge_monitor.cli import app\n{before_app}\napp()\n"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_closed_pipe_ends_the_plain_verdict_with_141(sample_record):
    """`classify RECORD | head -1`: the reader is gone before the verdict's rich lines are
    written (the read end is closed at once, so it never depends on timing): 141, no message."""
    for args in ([str(sample_record)], [str(sample_record), "--json"]):
        read_end, write_end = os.pipe()
        proc = _edge_monitor("classify", *args, stdout=write_end)
        os.close(write_end)
        os.close(read_end)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 141, (args, err)
        assert err == "", (args, err)


# Ctrl-C at a known point of loading, by a real SIGINT sent from an import hook: while the CLI's
# own modules load (typer) and inside onnxruntime's native init, imported lazily by a command
# (pybind11 turns the KeyboardInterrupt into "ImportError: initialization failed"). Both must
# end 130 without a traceback.
# Ctrl-C is restored first: a test run started in the background (`cmd &` in a script) inherits
# SIGINT ignored, and a monitor started that way rightly never installs a handler for it
_SIGINT_ON_IMPORT = """
import builtins, os, signal
signal.signal(signal.SIGINT, signal.default_int_handler)
_real, _sent = builtins.__import__, []
def _hook(name, *a, **k):
    if name == {name!r} and {inside!r} in sys.modules and not _sent:
        _sent.append(1)
        os.kill(os.getpid(), signal.SIGINT)
    return _real(name, *a, **k)
builtins.__import__ = _hook
"""


@pytest.mark.parametrize(
    "module, inside", [("typer", "sys"), ("numpy._core._multiarray_umath", "onnxruntime")]
)
def test_ctrl_c_while_loading_exits_130_quietly(sample_record, module, inside):
    proc = _edge_monitor(
        "replay",
        "--no-ui",
        "--speed",
        "0",  # a missed interrupt ends in seconds, not after the record's 3 minutes
        str(sample_record),
        stdout=subprocess.PIPE,
        prelude=_SIGINT_ON_IMPORT.format(name=module, inside=inside),
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Error" not in err, err


# The command is quiet from the package's first line (edge_monitor/__init__.py), not only once
# cli.py has installed a handler: a SIGINT at the first import cli.py makes (its first line), and
# one after the CLI has loaded but before a command has taken Ctrl-C over (click would print
# "Aborted!" and exit 1, Python a traceback), both end 130 without a word
_SIGINT_AT_THE_CLI_FIRST_LINE = """
import builtins, os, signal
signal.signal(signal.SIGINT, signal.default_int_handler)
_real, _sent = builtins.__import__, []
def _hook(name, *a, **k):
    if sys._getframe(1).f_globals.get("__name__") == "edge_monitor.cli" and not _sent:
        _sent.append(1)
        os.kill(os.getpid(), signal.SIGINT)
    return _real(name, *a, **k)
builtins.__import__ = _hook
"""
_DEFAULT_SIGINT = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)"
_SIGINT_NOW = "import os, signal\nos.kill(os.getpid(), signal.SIGINT)"


@pytest.mark.parametrize(
    "prelude, before_app",
    [(_SIGINT_AT_THE_CLI_FIRST_LINE, ""), (_DEFAULT_SIGINT, _SIGINT_NOW)],
    ids=["cli-first-line", "before-the-command"],
)
def test_ctrl_c_before_a_command_starts_exits_130_quietly(sample_record, prelude, before_app):
    proc = _edge_monitor(
        *("replay", "--no-ui", "--speed", "0", str(sample_record)),
        stdout=subprocess.PIPE,
        prelude=prelude,
        before_app=before_app,
    )
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err, out) == (130, "", "")


def test_a_program_importing_the_cli_keeps_pythons_ctrl_c():
    """Only the edge-monitor command exits quietly: a program (a test run, a notebook) that
    imports the CLI gets Python's KeyboardInterrupt back once it has loaded."""
    code = (
        f"{_DEFAULT_SIGINT}\nimport edge_monitor.cli\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
        "assert not edge_monitor.QUIET_COMMAND"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# Ctrl-C while a running loop imports a module for the first time (a lazy import on the first
# write, say): the quiet exit meant for start-up (above) once took the summary and the
# recording's close with it (a fresh-clone review saw `run --no-ui` stop without its summary)
_SIGINT_INSIDE_THE_LOOP = """
import os, signal, sys, typer
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {folder!r})
from edge_monitor.cli_support import _lifecycle
from edge_monitor.run_loop import run_loop

class Session:
    def step(self):
        import sigint_on_import  # its first import sends the SIGINT
        return True
    def close(self):
        print("closed", flush=True)
    def summary(self, wall_s):
        return {{"type": "summary"}}

try:
    with _lifecycle():
        print(run_loop(Session()), flush=True)
except typer.Exit as exc:
    sys.exit(exc.exit_code)
"""


def test_ctrl_c_during_an_import_inside_a_running_loop_still_ends_it_properly(tmp_path):
    (tmp_path / "sigint_on_import.py").write_text(
        "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)\n"
    )
    code = _SIGINT_INSIDE_THE_LOOP.format(folder=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130, proc.stderr
    assert proc.stdout.splitlines() == [
        "closed",
        "{'type': 'summary', 'interrupted': True}",
    ], proc.stdout
    assert "Traceback" not in proc.stderr
