"""Records from other databases: no lead named II, or samples written in uV or V. The monitor
reads them (a stand-in lead, said on stderr; values converted to mV) instead of refusing them or
reading a uV trace as a 1000x saturated one. Real CLI, real WFDB files written by wfdb."""

import json

import numpy as np
import pytest
import wfdb
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from edge_monitor.cli import app
from edge_monitor.pipeline import STAND_INS, find_channel, stand_in_channel
from edge_monitor.wfdb_io import read_header, read_signal

runner = CliRunner()
SECONDS = 20.0


def write(folder, sample_record, name, names, unit="mV", per_mv=1.0):
    """The sample excerpt's first lead on every channel, in `unit` (`per_mv` units a mV)."""
    x = wfdb.rdrecord(str(sample_record), sampto=int(SECONDS * 360), channels=[0]).p_signal
    x = np.repeat(x * per_mv, len(names), axis=1)
    wfdb.wrsamp(
        name, fs=360, units=[unit] * len(names), sig_name=list(names), p_signal=x,
        fmt=["16"] * len(names), adc_gain=[200.0 / per_mv] * len(names),
        baseline=[0] * len(names), write_dir=str(folder),
    )  # fmt: skip
    return folder / name


def beats(result) -> list[tuple[int, str]]:
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [(r["sample"], r["label"]) for r in rows if r.get("type") == "beat"]


def test_lead_names_as_readers_write_them():
    assert find_channel(["V1", "Lead II"], "MLII") == 1
    assert find_channel(["ml ii", "V5"], "MLII") == 0
    assert find_channel(["V1", "ML2"], "MLII") == 1
    assert find_channel(["V1", "LEAD"], "MLII") is None  # a name that is only "lead" is no II
    assert stand_in_channel(["V1", "V5"]) == 1
    assert stand_in_channel(["V1", "MLIII", "V5"]) == 1
    assert stand_in_channel(["ECG2", "ABP"]) == 0  # nothing known: the first channel


@given(st.lists(st.sampled_from(["V1", "V2", "ABP", "RESP", *STAND_INS]), min_size=1, max_size=6))
def test_a_stand_in_is_always_a_channel_and_the_best_one(names):
    channel = stand_in_channel(names)
    assert 0 <= channel < len(names)
    known = [STAND_INS.index(n) for n in names if n in STAND_INS]
    assert names[channel] == STAND_INS[min(known)] if known else channel == 0


def test_a_record_without_lead_ii_is_read_on_a_stand_in(tmp_path, sample_record):
    plain = write(tmp_path, sample_record, "plain", ["MLII"])
    foreign = write(tmp_path, sample_record, "foreign", ["V1", "MLIII"])
    want = beats(runner.invoke(app, ["classify", str(plain), "--json"]))
    result = runner.invoke(app, ["classify", str(foreign), "--json"])
    assert "reading channel 1 (MLIII)" in result.stderr
    assert "not validated" in result.stderr
    assert len(want) > 15 and beats(result) == want  # the same signal on the stand-in


@pytest.mark.parametrize(("unit", "per_mv"), [("uV", 1000.0), ("\u00b5V", 1000.0), ("V", 1e-3)])
def test_samples_in_other_units_are_read_in_mv(tmp_path, sample_record, unit, per_mv):
    plain = write(tmp_path, sample_record, "plain", ["MLII"])
    other = write(tmp_path, sample_record, "other", ["MLII"], unit, per_mv)
    x, meta = read_signal(other)
    ref, _ = read_signal(plain)
    assert meta["units"] == ["mV"] and read_header(other).units == [unit]
    np.testing.assert_allclose(x, ref, atol=2e-3)  # one ADC step of the coarser file
    if unit == "uV":
        want = beats(runner.invoke(app, ["classify", str(plain), "--json"]))
        assert beats(runner.invoke(app, ["classify", str(other), "--json"])) == want


@settings(max_examples=5, deadline=None)
@given(unit=st.sampled_from(["mV", "NU", "adu", "mmHg"]))
def test_an_unknown_unit_is_read_as_mv(tmp_path_factory, sample_record, unit):
    folder = tmp_path_factory.mktemp("unit")
    x, _ = read_signal(write(folder, sample_record, "r", ["MLII"], unit))
    ref, _ = read_signal(write(folder, sample_record, "m", ["MLII"]))
    assert np.array_equal(x, ref)
