"""bench's budget checks on given figures: every budget, every model, pass and fail, a table."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from edge_monitor.bench import (
    budget_checks,
    checks_of,
    fits_leads,
    print_budgets,
    record_for,
    with_embedded,
)
from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.profiles import available_profiles, load_profile

BUDGETS = load_profile("rpi4").budgets


def replay(rss: float | None = 140.0, cold: float | None = 0.7, rtf: float = 500.0) -> dict:
    return {
        "peak_rss_mb": rss,
        "cold_start_to_first_beat_s": cold,
        "realtime_factor_pipeline": rtf,
    }


def figures(**over) -> dict:
    """bench's result shape with figures well inside rpi4's budgets, `over` replacing parts."""
    result = {
        "models": {
            "arrhythmia": {"latency_profile_threads": {"p95_ms": 0.1}},
            "diagnostic": {"latency_profile_threads": {"p95_ms": 0.2}},
        },
        "replay_headless": replay(),
        "replay_headless_more": {"ptbxl-00063": replay(rss=150.0, rtf=300.0)},
        "run_serial": {"peak_rss_mb": 100.0},
    }
    result.update(over)
    return result


def test_every_budget_of_the_profile_is_checked_for_every_model_and_replay():
    keys = [c.key for c in budget_checks(figures(), BUDGETS)]
    assert keys == [
        "latency_p95_ms/arrhythmia",
        "latency_p95_ms/diagnostic",
        "peak_rss_mb_replay",
        "cold_start_s",
        "peak_rss_mb_replay/ptbxl-00063",
        "cold_start_s/ptbxl-00063",
        "peak_rss_mb_run",
        "realtime_factor",
    ]
    assert all(c.ok for c in budget_checks(figures(), BUDGETS))


def test_a_figure_over_its_budget_fails_and_only_that_one():
    slow = figures(replay_headless=replay(cold=BUDGETS.cold_start_s + 0.1, rtf=5.0))
    failed = {c.key for c in budget_checks(slow, BUDGETS) if not c.ok}
    assert failed == {"cold_start_s", "realtime_factor"}  # a real-time factor is a floor
    heavy = figures(run_serial={"peak_rss_mb": BUDGETS.peak_rss_mb + 1})
    assert {c.key for c in budget_checks(heavy, BUDGETS) if not c.ok} == {"peak_rss_mb_run"}


def test_a_figure_not_measured_is_not_a_pass():
    missing = figures(replay_headless=replay(rss=None))
    # no record had its leads (bench still knows its file's size)
    missing["models"]["diagnostic"] = {"task": "diagnostic", "bytes": 1000}
    failed = {c.key for c in budget_checks(missing, BUDGETS) if not c.ok}
    assert failed == {"peak_rss_mb_replay", "latency_p95_ms/diagnostic"}


@given(st.floats(0, 1e4, allow_nan=False), st.sampled_from(available_profiles()))
def test_a_latency_passes_exactly_when_within_its_budget(p95, profile):
    budgets = load_profile(profile).budgets
    result = figures()
    result["models"]["arrhythmia"]["latency_profile_threads"]["p95_ms"] = p95
    check = next(c for c in budget_checks(result, budgets) if c.key.endswith("/arrhythmia"))
    assert check.ok == (p95 <= budgets.latency_p95_ms)


def test_the_json_checks_read_back_as_the_same_table():
    checks = budget_checks(figures(), BUDGETS)
    stored = json.loads(json.dumps({"checks": {c.key: c.to_dict() for c in checks}}))
    assert checks_of(stored) == checks


def test_the_table_says_budget_measured_and_fail():
    result = figures(run_serial={"peak_rss_mb": 999.0})
    console = Console(record=True, width=100, force_terminal=True)
    assert not print_budgets(budget_checks(result, BUDGETS), "rpi4", console)
    text = console.export_text()
    assert "budgets of the rpi4 profile" in text and "┃" in text
    row = next(line for line in text.splitlines() if "run (serial)" in line)
    assert "<= 300 MB" in row and "999 MB" in row and "FAIL" in row
    assert ">= 20 x" in text  # the real-time factor's floor


def test_a_pipe_gets_one_plain_line_per_check():
    out = io.StringIO()
    assert print_budgets(budget_checks(figures(), BUDGETS), "rpi4", Console(file=out, width=30))
    lines = out.getvalue().splitlines()
    assert len(lines) == 8 and all(line.endswith(" pass") for line in lines)
    assert "diagnostic: model call p95: 0.200 ms (budget <= 20 ms) pass" in lines


def test_the_embedded_defaults_bring_every_embedded_model_each_with_a_record_it_fits(
    sample_record,
):
    beat = load_bundle(embedded_bundle("arrhythmia"), probe=False)
    everything = with_embedded([beat])
    names = [b.name for b in everything]
    assert names[0] == "arrhythmia" and "diagnostic" in names
    diag = everything[names.index("diagnostic")]
    assert record_for(beat, sample_record) == sample_record
    assert record_for(diag, sample_record).name == "ptbxl-00063"  # it needs 12 leads


def test_each_model_file_is_checked_against_its_tasks_size_budget():
    """The profile budgets the int8 file per task (model_kb); bench checked none of them."""
    result = figures()
    result["models"]["arrhythmia"].update(task="arrhythmia", bytes=40 * 1024)
    result["models"]["diagnostic"].update(task="diagnostic", bytes=int(151 * 1024))
    checks = {c.key: c for c in budget_checks(result, BUDGETS)}
    assert checks["model_kb/arrhythmia"].ok and checks["model_kb/arrhythmia"].measured == 40.0
    assert not checks["model_kb/diagnostic"].ok  # 151 KB against 150
    assert checks["model_kb/diagnostic"].limit == BUDGETS.model_kb["diagnostic"]
    result["models"]["arrhythmia"]["task"] = "a task the profile does not budget"
    assert "model_kb/arrhythmia" not in {c.key for c in budget_checks(result, BUDGETS)}


def test_a_serial_leg_no_given_model_can_run_on_is_left_out_not_failed():
    """A 12-lead model alone cannot run on the profile's one-lead front end: the serial leg is
    not run (said in the JSON) and its budget not checked, instead of bench failing."""
    skipped = figures(run_serial={"skipped": "no model given runs on the front end's lead MLII"})
    keys = {c.key for c in budget_checks(skipped, BUDGETS)}
    assert "peak_rss_mb_run" not in keys and "realtime_factor" in keys
    diag = load_bundle(embedded_bundle("diagnostic"), probe=False)
    beat = load_bundle(embedded_bundle("arrhythmia"), probe=False)
    assert not fits_leads(diag, 360.0, ["MLII"]) and fits_leads(beat, 360.0, ["MLII"])


def test_bench_refuses_an_out_path_it_cannot_write_before_it_benches(tmp_path):
    import os

    from typer.testing import CliRunner

    from edge_monitor.cli import app

    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # opening it to write would block for ever, after the whole bench
    for out, said in (
        (tmp_path, "a folder; give a file name"),
        (tmp_path / "missing" / "b.json", "does not exist"),
        (fifo, "not a regular file"),
    ):
        got = CliRunner().invoke(app, ["bench", "--runs", "1", "--out", str(out)])
        assert got.exit_code == 1 and said in got.output, got.output
        assert "Traceback" not in got.output and "budget" not in got.output  # nothing benched


@pytest.mark.slow
def test_bench_on_a_12_lead_record_runs_the_serial_leg_with_the_one_lead_models():
    """`bench --record` with the shipped 12-lead sample failed: its serial leg started `run` with
    the 12-lead model on the profile's one-lead front end."""
    import subprocess
    import sys
    from importlib import resources

    record = resources.files("edge_monitor") / "sample_data" / "ptbxl-00063"
    cmd = [sys.executable, "-m", "edge_monitor", "bench", "--runs", "5", "--record", str(record)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    said = proc.stdout[-2000:] + proc.stderr[-2000:]
    # exit 1 is a budget over on a loaded host (wall-clock figures): not what this test checks
    assert proc.returncode in (0, 1) and "error" not in proc.stderr, said
    assert "run (serial): peak RSS" in proc.stdout and "peak RSS, run (serial)" in proc.stdout
    assert "diagnostic: model file:" in proc.stdout, said


@pytest.mark.slow
def test_bench_output_in_a_pipe_is_one_unwrapped_line_per_fact(sample_record):
    """Piped (a narrow 80-column default), every line of `edge-monitor bench` stays whole."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    cmd = [sys.executable, "-m", "edge_monitor", "bench", "--runs", "5"]
    cmd += ["--record", str(sample_record)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    lines = proc.stdout.splitlines()
    model_lines = [x for x in lines if "as the monitor runs it" in x]
    assert model_lines, proc.stdout + proc.stderr
    assert all(x.endswith("ms on one thread") for x in model_lines), lines
    assert any(x.startswith("replay: ") and x.endswith("after start") for x in lines), lines


def _session_scaling_by(factor: float):
    """A real onnxruntime session of a one-node model: its input times `factor`."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    k = helper.make_tensor("k", TensorProto.FLOAT, [1], [factor])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"])], "g", [x], [y], [k])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_a_model_that_answers_nan_fails_bench_however_fast_and_small():
    """A bundle whose model only gave NaN passed every budget (the monitor then labels nothing):
    bench now counts the finite answers on the record's real inputs, and wants all of them."""
    from edge_monitor.bench import valid_share

    feeds = [{"x": np.full((1, 4), v, np.float32)} for v in (0.0, 1.0, -2.5)]
    assert valid_share(_session_scaling_by(2.0), feeds) == 1.0
    assert valid_share(_session_scaling_by(float("nan")), feeds) == 0.0
    assert valid_share(_session_scaling_by(float("inf")), feeds) == pytest.approx(0.0)  # 0 * inf
    for share, ok in ((1.0, True), (0.999, False), (0.0, False)):
        result = figures()
        result["models"]["arrhythmia"]["latency_profile_threads"]["valid_share"] = share
        check = next(c for c in budget_checks(result, BUDGETS) if c.key.startswith("valid_"))
        assert check.key == "valid_answers/arrhythmia" and check.ok is ok


def test_the_embedded_defaults_are_the_shipped_bundles_by_name_not_every_folder_beside_them(
    tmp_path,
):
    """A user's copy placed in default_models/ once joined the embedded beat model (two beat
    models: refused after the latency runs); only the bundles the package ships join now."""
    import shutil

    from edge_monitor.bench import embedded_paths

    assert sorted(p.name for p in embedded_paths()) == [
        "arrhythmia",
        "arrhythmia-inverted",
        "diagnostic",
        "ventricular",
    ]
    copy = tmp_path / "arr-copy"
    shutil.copytree(embedded_bundle("arrhythmia"), copy)
    mine = load_bundle(copy, probe=False)
    assert with_embedded([mine]) == [mine]  # given by path: benched as given


@pytest.mark.slow
def test_a_window_model_alone_times_its_cold_start_to_its_first_window(tiny_window_bundle):
    """A replay of a window model alone gives no beat: its cold start was None, and printing it
    a traceback. It is timed to the first window now, and said so."""
    import sys
    from importlib import resources

    from edge_monitor.bench import replay_headless

    record = Path(str(resources.files("edge_monitor") / "sample_data" / "ptbxl-00063"))
    exe = [sys.executable, "-m", "edge_monitor"]
    got = replay_headless(exe, ["--profile", "rpi4"], record, [tiny_window_bundle])
    assert got["first_answer"] == "window" and got["cold_start_to_first_beat_s"] > 0
    result = figures(replay_headless=got)
    label = next(c.label for c in budget_checks(result, BUDGETS) if c.key == "cold_start_s")
    assert label == "cold start to the first window"
