"""benchmarks/all_records.py's own checks: how far JSON lines stray from sample order (on the real
CLI's output), and the PTB-XL test fold restored as WFDB records the CLI reads."""

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import PTBXL, need

SPEC = importlib.util.spec_from_file_location(
    "all_records", Path(__file__).parents[2] / "benchmarks" / "all_records.py"
)
all_records = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(all_records)


@given(st.lists(st.integers(0, 10_000), max_size=60))
def test_sample_order_counts_each_line_behind_the_newest_before_it(samples):
    events = [{"type": "beat", "sample": s} for s in samples] + [{"type": "summary"}]
    got = all_records.sample_order(events, fs=100.0)
    newest, late, back = -1, 0, 0
    for s in samples:
        if s < newest:
            late, back = late + 1, max(back, newest - s)
        newest = max(newest, s)
    assert got == {"lines_out_of_sample_order": late, "max_step_back_s": round(back / 100, 3)}
    assert (late == 0) == (samples == sorted(samples))


def test_a_window_line_counts_at_its_end(sample_record):
    out = subprocess.run(
        [sys.executable, "-m", "edge_monitor", "classify", str(sample_record), "--json"]
        + ["--stop", "30"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    events, invalid = all_records.parse_lines(out)
    assert not invalid and events[-1]["type"] == "summary"
    windows = [e for e in events if e["type"] == "window"]
    assert windows and all(all_records.event_sample(w) == w["end"] for w in windows)
    order = all_records.sample_order(events, 360.0)
    # in the order the monitor learned them (docs/cli.md): a line is never far behind
    assert 0 <= order["max_step_back_s"] < 15


def test_the_ptbxl_test_fold_is_restored_as_records_the_cli_reads(tmp_path):
    source = need(PTBXL)
    folder = all_records.ptbxl_wfdb(source, [10], tmp_path)
    names = all_records.records_of(folder, None, None)
    with (source / "ptbxl_database.csv").open(newline="") as f:
        fold_10 = [r["ecg_id"] for r in csv.DictReader(f) if float(r["strat_fold"]) == 10]
    assert names == sorted(f"{int(i):05d}_lr" for i in fold_10) and len(names) == 255
    done = subprocess.run(
        [sys.executable, "-m", "edge_monitor", "classify", str(folder / names[0]), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["signal_seconds"] == 10.0


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(1, 60)), max_size=30))
def test_merged_spans_are_sorted_apart_and_cover_the_same_samples(starts_and_lengths):
    spans = [(a, a + n) for a, n in starts_and_lengths]
    merged = all_records.merge(spans)
    covered = {s for a, b in spans for s in range(a, b)}
    assert {s for a, b in merged for s in range(a, b)} == covered
    # each merged span is one run: the next starts after a gap (touching spans are one)
    assert all(b < c for (_, b), (c, _) in zip(merged, merged[1:], strict=False))


def test_serial_totals_leave_sample_order_unmeasured_and_list_a_failed_channel_0_retry():
    from all_records_parts.summary import totals

    row = {
        "database": "nstdb",
        "record": "bw",
        "exit_code": 1,
        "crash": True,
        "refused": True,
        "traceback": False,
        "error": "error: choose one with --channel",
        "invalid_lines": 0,
        "summary": False,
        "beats": 0,
        "alerts": {},
        "signal_seconds": None,
        "wall_seconds": 1.0,
    }
    retry = {**row, "exit_code": None, "crash": True, "error": "timed out", "invalid_lines": 2}
    out = totals([row, {**row, "record": "ma", "channel_0_retry": retry}])
    # the serial part does not measure sample order: None, never a false 0
    assert out["lines_out_of_sample_order"] is None and out["max_step_back_s"] is None
    assert (out["refused"], out["hard_crashes"], out["channel_0_retry_crashes"]) == (2, 0, 1)
    assert [f["record"] for f in out["failing"]] == ["bw", "ma", "ma"]
    assert out["failing"][-1]["args"] == ["--channel", "0"]
    assert out["channel_0_retry_invalid_lines"] == 2


@pytest.mark.slow
def test_every_sample_sent_over_the_pty_relay_is_decoded_and_the_monitor_stalls(
    sample_record, tmp_path
):
    from all_records_parts.serial_run import serial_record

    timeouts = {"ready": 60.0, "emulate": 120.0, "stall": 60.0, "exit": 30.0}
    row, events = serial_record(
        sample_record.parent, sample_record.name, {**os.environ}, tmp_path, timeouts, False
    )
    assert row["problems"] == [] and not row["crash"], row
    assert row["exit_code"] == 130 and row["interrupted"] and row["invalid_lines"] == 0
    assert row["samples_sent"] == row["samples_decoded"] == row["lines_relayed"] > 0
    assert row["states"][0] == "connected" and "stalled" in row["states"]
    assert events[-1]["type"] == "summary"
