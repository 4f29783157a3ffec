"""One dead lead of a 12-lead record (a chest electrode off, a channel written at the format's
invalid value, or digital zeros) costs the diagnosis the windows it spoils, never the beats and
rhythm alarms of lead II: it used to mark every row leads-off, so the record read "no beat found
on lead II". Real CLI on the shipped PTB-XL record rewritten by wfdb."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import wfdb
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from edge_monitor.cli import app

SAMPLE = Path(__file__).resolve().parents[2] / "edge_monitor/sample_data/ptbxl-00063"
INVALID = -32768  # format 16's "no sample"
runner = CliRunner()


def rewrite(folder: Path, name: str, change) -> Path:
    rec = wfdb.rdrecord(str(SAMPLE), physical=False)
    d = rec.d_signal.astype(np.int64)
    change(d)
    wfdb.wrsamp(
        name, fs=rec.fs, units=rec.units, sig_name=rec.sig_name, d_signal=d.astype(np.int16),
        fmt=["16"] * rec.n_sig, adc_gain=rec.adc_gain, baseline=rec.baseline,
        write_dir=str(folder),
    )  # fmt: skip
    return folder / name


def classify(record: Path) -> tuple[list[tuple[int, str]], dict, str]:
    result = runner.invoke(app, ["classify", str(record), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    beats = [(r["sample"], r["label"]) for r in rows if r.get("type") == "beat"]
    summary = next(r for r in rows if r.get("type") == "summary")
    return beats, summary, result.output


@pytest.fixture(scope="module")
def untouched(tmp_path_factory):
    return classify(rewrite(tmp_path_factory.mktemp("dead"), "same", lambda d: None))


V3 = 8


def lead_set(channel: int, value: int, a: int = 0, b: int | None = None):
    """A change that writes `value` on `channel` over samples a..b."""
    return lambda d: d.__setitem__((slice(a, b), channel), value)


@pytest.mark.parametrize("how", [lead_set(V3, INVALID), lead_set(V3, 0)])
def test_a_dead_chest_lead_leaves_lead_ii_alone_and_withholds_the_diagnosis(
    tmp_path, untouched, how
):
    beats, summary, output = classify(rewrite(tmp_path, "v3", how))
    assert beats == untouched[0] and len(beats) >= 8  # every beat of lead II, labelled alike
    assert summary["quality_seconds"] == untouched[1]["quality_seconds"]
    assert summary["no_verdict"] == ["diagnostic"] and summary["record_probs"] == {}
    assert list(summary["dead_leads"]["diagnostic"]) == ["V3"]
    assert untouched[1]["record_probs"] and untouched[1]["dead_leads"] == {}


def test_a_chest_lead_missing_for_3_s_costs_only_the_windows_that_hold_it(tmp_path, untouched):
    beats, summary, _ = classify(rewrite(tmp_path, "v3s", lead_set(V3, INVALID, 300, 600)))
    assert beats == untouched[0]
    assert list(summary["dead_leads"]["diagnostic"]) == ["V3"]
    assert summary["record_probs"]  # the windows clear of it still judge


@settings(max_examples=8, deadline=None)
@given(
    channel=st.sampled_from([0, 3, 4, 5, 6, 7, 8, 9, 10, 11]),  # not II (beats) nor III (second)
    span=st.tuples(st.integers(0, 999), st.integers(1, 1000)),
)
def test_no_run_of_missing_samples_on_another_lead_changes_lead_iis_beats(
    tmp_path_factory, untouched, channel, span
):
    a, n = span
    folder = tmp_path_factory.mktemp("run")
    beats, summary, _ = classify(rewrite(folder, "r", lead_set(channel, INVALID, a, a + n)))
    assert beats == untouched[0]
    name = wfdb.rdheader(str(SAMPLE)).sig_name[channel]
    assert name in summary["dead_leads"].get("diagnostic", {})
