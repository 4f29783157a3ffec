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
from edge_monitor.leads import STAND_INS, UNSUITABLE, find_channel, stand_in_channel
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
    assert find_channel(["V1", "ECG lead II"], "MLII") == 1
    assert find_channel(["ECG1", "ECG2"], "MLII") == 0
    assert find_channel(["V1", "LEAD"], "MLII") is None  # a name that is only "lead" is no II
    assert find_channel(["RESP,", "PLETH,", "V,", "AVR,", "II,"], "MLII") == 4  # BIDMC's names
    assert stand_in_channel(["MV2", "MV5"]) == 1  # the Long-Term ST database's chest leads
    assert stand_in_channel(["V1", "V5"]) == 1
    assert stand_in_channel(["V1", "MLIII", "V5"]) == 1
    assert stand_in_channel(["V1", "D3"]) == 1
    assert stand_in_channel(["ABP", "ECG2"]) == 1  # a name we do not know: read, with a warning
    assert stand_in_channel(["V1"]) is None  # a lead unlike lead II is read only when chosen
    assert stand_in_channel(["aVR", "PLETH", "Resp"]) is None
    assert stand_in_channel(["V1", "BP", "EEG (C4-A1)", "SpO2 %"]) is None  # no ECG at all


NAMES = ["V1", "V2", "ABP", "RESP", "ECG2", "ch0", *STAND_INS]


@given(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6))
def test_a_stand_in_is_the_best_lead_or_an_unknown_one_never_an_unsuitable_one(names):
    channel = stand_in_channel(names)
    known = [STAND_INS.index(n) for n in names if n in STAND_INS]
    others = [i for i, n in enumerate(names) if n.upper() not in UNSUITABLE]
    if known:
        assert names[channel] == STAND_INS[min(known)]
    else:
        assert channel == (others[0] if others else None)


def test_a_source_with_only_unsuitable_leads_is_refused_in_one_line(tmp_path, sample_record):
    rec = write(tmp_path, sample_record, "v1", ["V1"])
    result = runner.invoke(app, ["classify", str(rec)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no lead that may stand in for it (0 V1): choose one with --channel" in result.output
    chosen = runner.invoke(app, ["classify", str(rec), "--channel", "0"])
    assert chosen.exit_code == 0, chosen.output
    assert "its VT/VF alarms on V1 are not validated" in chosen.stderr
    assert "its beat labels on V1 are not validated" in chosen.stderr


def test_two_channels_both_named_ecg_are_read_on_the_first(tmp_path, sample_record):
    """Every MIT-BIH Malignant Ventricular Ectopy record (vfdb) is two channels named ECG. The
    name names no lead, so refusing it ("choose one with --channel") refused the database."""
    plain = write(tmp_path, sample_record, "plain", ["ECG1", "ECG2"])
    both = write(tmp_path, sample_record, "both", ["ECG", "ECGX"])
    hea = tmp_path / "both.hea"
    hea.write_text(hea.read_text().replace("ECGX", "ECG"))
    assert read_header(both).sig_name == ["ECG", "ECG"]
    result = runner.invoke(app, ["classify", str(both), "--json"])
    said = "channels 0 and 1 are both named ECG, which names no lead: reading channel 0"
    assert said in result.stderr
    want = beats(runner.invoke(app, ["classify", str(plain), "--json"]))
    assert len(want) > 15 and beats(result) == want  # the second ECG read beside it, as ECG2


def test_a_record_whose_samples_are_in_a_mat_file_is_named_by_it(
    tmp_path, sample_record, monkeypatch
):
    """PhysioNet/CinC challenge records keep their samples in `A00001.mat` (wfdb's `wfdb2mat`
    layout); `classify A00001.mat` said "record not found: A00001.mat.hea"."""
    from wfdb.io.convert.matlab import wfdb_to_mat

    plain = write(tmp_path, sample_record, "plain", ["ECG"])
    monkeypatch.chdir(tmp_path)  # wfdb_to_mat writes there
    wfdb_to_mat(str(plain))  # -> plainm.mat, plainm.hea
    want = beats(runner.invoke(app, ["classify", str(plain), "--json"]))
    assert len(want) > 15
    for name in ("plainm.mat", "plainm.hea", "plainm"):
        assert beats(runner.invoke(app, ["classify", str(tmp_path / name), "--json"])) == want
    (tmp_path / "plain.xyz").write_bytes(b"")  # the PTB Diagnostic database's third file
    assert beats(runner.invoke(app, ["classify", str(tmp_path / "plain.xyz"), "--json"])) == want


def test_a_record_with_four_ecg_samples_a_frame_is_read_at_its_frame_rate(tmp_path, sample_record):
    """MIMIC's multi-frequency layout (`16x4`: four ECG samples a frame beside one of a slower
    signal): the size check counted one sample a frame and refused a record of more than a
    minute or two as "not this record's signal file"; wfdb reads a frame's samples averaged, at
    the frame rate."""
    x = wfdb.rdrecord(str(sample_record), channels=[0]).p_signal[:, 0]  # 3 minutes
    ecg = np.round(x[: len(x) // 4 * 4] * 200).astype(np.int64).reshape(-1, 4)
    frames = np.concatenate([ecg, np.zeros((len(ecg), 1), np.int64)], axis=1)
    (tmp_path / "mf.dat").write_bytes(frames.reshape(-1).astype("<i2").tobytes())
    (tmp_path / "mf.hea").write_text(
        f"mf 2 90 {len(ecg)}\n"
        "mf.dat 16x4 200/mV 16 0 0 0 0 MLII\nmf.dat 16 200/mV 16 0 0 0 0 RESP\n"
    )
    result = runner.invoke(app, ["classify", str(tmp_path / "mf"), "--json"])
    assert result.exit_code == 0, result.output
    assert len(beats(result)) > 200  # MIT-BIH 200's 3-minute excerpt
    hea = (tmp_path / "mf.hea").read_text()  # without its length: refused, not misread
    (tmp_path / "mf.hea").write_text(hea.replace(f"mf 2 90 {len(ecg)}", "mf 2 90"))
    refused = runner.invoke(app, ["classify", str(tmp_path / "mf"), "--json"])
    assert refused.exit_code == 1 and "write the length on its record line" in refused.output


def test_channel_names_are_shown_as_written_never_as_markup(tmp_path, sample_record):
    rec = write(tmp_path, sample_record, "mark", ["V1", "[/oops]"])
    result = runner.invoke(app, ["classify", str(rec)])
    assert result.exit_code == 0, result.output
    assert "reading channel 1 ([/oops]) instead" in result.stderr


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
@given(unit=st.sampled_from(["mV", "NU", "adu", "kV"]))
def test_an_unknown_unit_is_read_as_mv_and_said(tmp_path_factory, sample_record, unit):
    folder = tmp_path_factory.mktemp("unit")
    rec = write(folder, sample_record, "r", ["MLII"], unit)
    x, _ = read_signal(rec)
    ref, _ = read_signal(write(folder, sample_record, "m", ["MLII"]))
    assert np.array_equal(x, ref)
    said = (
        f"units {unit} are not known here: read as mV"
        in runner.invoke(app, ["classify", str(rec)]).stderr
    )
    assert said == (unit != "mV")


def test_a_latin1_micro_sign_is_micro(tmp_path, sample_record):
    rec = write(tmp_path, sample_record, "lat", ["MLII"], "uV", 1000.0)
    hea = tmp_path / "lat.hea"
    hea.write_bytes(hea.read_bytes().replace(b"/uV", b"/\xb5V"))
    ref, _ = read_signal(write(tmp_path, sample_record, "m", ["MLII"]))
    assert read_header(rec).units == ["\u00b5V"]
    np.testing.assert_allclose(read_signal(rec)[0], ref, atol=2e-3)


@pytest.mark.parametrize("leads", [",", "MLII,", " , V1"])
def test_run_refuses_an_empty_lead_name_before_opening_the_port(leads):
    result = runner.invoke(app, ["run", "--source", "loop://", "--leads", leads, "--no-ui"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "names an empty lead" in result.output


def test_a_12_lead_record_short_of_a_lead_says_the_diagnosis_is_not_run(tmp_path, sample_record):
    names = ["I", "Y", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    result = runner.invoke(app, ["classify", str(write(tmp_path, sample_record, "p12", names))])
    assert result.exit_code == 0, result.output
    assert "the diagnostic model needs leads II as well: not run" in result.stderr
    assert "reading channel 2 (III) instead" in result.stderr


@pytest.mark.parametrize(
    "prefix", [b"\xef\xbb\xbf# made by X\n", b"\xef\xbb\xbf\n", b"# caf\xe9 \x85 note\n"]
)
def test_a_bom_or_a_stray_byte_never_shifts_the_units(tmp_path, sample_record, prefix):
    rec = write(tmp_path, sample_record, "u", ["MLII", "V1"], "uV", 1000.0)
    hea = tmp_path / "u.hea"
    hea.write_bytes(prefix + hea.read_bytes())
    ref, _ = read_signal(write(tmp_path, sample_record, "m", ["MLII", "V1"]))
    assert read_header(rec).units == ["uV", "uV"]
    np.testing.assert_allclose(read_signal(rec)[0], ref, atol=2e-3)


def test_emulate_refuses_what_classify_refuses(tmp_path, sample_record):
    rec = write(tmp_path, sample_record, "onlyv", ["V1", "aVR"])
    result = runner.invoke(app, ["emulate", str(rec), "--port", str(tmp_path / "no-port")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no lead that may stand in for it (0 V1, 1 aVR)" in result.output


def test_ecg_lead_without_a_number_stands_in_as_any_name_we_do_not_know(tmp_path, sample_record):
    unknown = write(tmp_path, sample_record, "unknown", ["V1", "ECG2"])
    bare = write(tmp_path, sample_record, "bare", ["V1", "ECG lead"])
    want = runner.invoke(app, ["classify", str(unknown), "--json"])
    result = runner.invoke(app, ["classify", str(bare), "--json"])
    assert "reading channel 1 (ECG lead) instead" in result.stderr
    assert "reading channel 1 (ECG2) instead" in want.stderr
    assert len(beats(want)) > 15 and beats(result) == beats(want)


def test_a_format_32_record_as_wfdb_writes_it_is_read(tmp_path, sample_record):
    """wfdb fills format 32's range: 2.5e9 counts per mV for this excerpt, once refused as an
    absurd gain. Read, it gives the beats of the same samples written in format 16."""
    x = wfdb.rdrecord(str(sample_record), sampto=int(SECONDS * 360), channels=[0]).p_signal
    for fmt in ("16", "32"):
        wfdb.wrsamp(f"f{fmt}", fs=360, units=["mV"], sig_name=["MLII"], p_signal=x, fmt=[fmt],
                    write_dir=str(tmp_path))  # fmt: skip
    assert read_header(tmp_path / "f32").adc_gain[0] > 1e9
    read = [
        beats(runner.invoke(app, ["classify", str(tmp_path / f), "--json"])) for f in ("f32", "f16")
    ]
    assert read[0] == read[1] and len(read[0]) > 20


@pytest.mark.parametrize("source", ["", "  "])
def test_run_refuses_an_empty_source_instead_of_the_profiles_port(source):
    result = runner.invoke(app, ["run", "--source", source, "--no-ui"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--source is empty" in result.output


def test_upper_case_extensions_get_a_hint_not_a_bare_not_found(tmp_path, sample_record):
    rec = write(tmp_path, sample_record, "up", ["MLII"])
    for ext in ("hea", "dat"):
        (tmp_path / f"up.{ext}").rename(tmp_path / f"up.{ext.upper()}")
    for name in ("up", "up.HEA", "up.hea"):
        result = runner.invoke(app, ["classify", str(tmp_path / name)])
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert "up.HEA" in result.output and "case-sensitive" in result.output, result.output
    (tmp_path / "up.HEA").rename(tmp_path / "up.Hea")
    result = runner.invoke(app, ["classify", str(rec)])
    assert "up.Hea" in result.output and "case-sensitive" in result.output, result.output
