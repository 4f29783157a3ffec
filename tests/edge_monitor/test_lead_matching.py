"""One lead-name matcher for every contract: a 12-lead record whose channels are written `Lead I`
.. `Lead V6`, `D1`, `avr` or `V1 ` feeds the diagnostic model the same leads, in the model's
order, as one written `I` .. `V6`; two channels naming one lead are refused in one line. Real
PTB-XL records written by wfdb, the real CLI."""

import json

import numpy as np
import pytest
import wfdb
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from edge_monitor.bundle import embedded_bundle
from edge_monitor.cli import app
from edge_monitor.leads import (
    TWELVE_LEADS,
    find_channel,
    lead_key,
    match_leads,
    model_lead_key,
    stand_in_channel,
)

runner = CliRunner()
LEAD_NAMES = ["Lead I", "Lead II", "Lead III", "Lead aVR", "Lead aVL", "Lead aVF"]
LEAD_NAMES += [f"Lead V{i}" for i in range(1, 7)]
OTHER_NAMES = [
    "D1",
    "dii",
    "DIII",
    "avr",
    "AVL",
    "aVF",
    "v1",
    "V2",
    "v 3",
    "lead v4",
    "V 5",
    "ECG V6",
]


@st.composite
def spelled(draw, lead: str) -> str:
    """`lead` as a person or a recorder may write it: any case, spaces, a `Lead ` prefix."""
    shown = {"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}.get(lead, lead)
    chars = [c.lower() if draw(st.booleans()) else c.upper() for c in shown]
    gaps = [draw(st.sampled_from(["", "", " ", "\t"])) for _ in chars]
    body = "".join(g + c for g, c in zip(gaps, chars, strict=True)).lstrip()
    prefix = draw(st.sampled_from(["", "Lead ", "lead ", "LEAD", "ECG lead ", "Lead  "]))
    return draw(st.sampled_from(["", " "])) + prefix + body + draw(st.sampled_from(["", " "]))


@given(st.data())
def test_any_spelling_of_the_twelve_leads_is_that_lead(data):
    order = data.draw(st.permutations(range(12)))
    names = [data.draw(spelled(TWELVE_LEADS[i])) for i in order]
    assert [model_lead_key(n) for n in names] == [TWELVE_LEADS[i] for i in order]
    match = match_leads(names, list(TWELVE_LEADS))
    assert not match.missing and not match.duplicates
    assert [order[c] for c in match.channels] == list(range(12))  # the model's order


def test_einthoven_spellings_are_the_limb_leads_and_mlii_is_not_lead_ii():
    for written, lead in [("D1", "I"), ("DI", "I"), ("d2", "II"), ("Lead DII", "II")]:
        assert model_lead_key(written) == lead
    assert model_lead_key("D3") == model_lead_key("diii") == "III"
    # the modified, chest-placed leads of MIT-BIH never feed a 12-lead model's limb leads (as
    # before this matcher: names were compared exactly)
    for modified in ("MLII", "ML II", "ML2", "MLI", "MLIII", "ECG", "ECG1"):
        assert model_lead_key(modified) not in TWELVE_LEADS
    assert match_leads(["MLI", "MLII", "MLIII"], ["I", "II", "III"]).missing == ["I", "II", "III"]
    # ...while the one-lead models keep reading them, in their own order of preference
    assert find_channel(["D2", "MLII"], "MLII") == 1
    assert find_channel(["V1", "DII"], "MLII") == 1
    assert lead_key("D2") == "D2" and stand_in_channel(["V1", "D3", "III"]) == 2


def test_ecg_lead_without_a_number_is_an_unknown_name_not_lead_ii():
    assert lead_key("ECG lead") not in TWELVE_LEADS and model_lead_key("ECG lead") != "II"
    assert find_channel(["V1", "ECG lead"], "MLII") is None
    # a stand-in candidate exactly as another name we do not know
    assert stand_in_channel(["V1", "ECG lead"]) == stand_in_channel(["V1", "ECG2"]) == 1
    assert stand_in_channel(["V5", "ECG lead"]) == 0  # a known stand-in comes first


@pytest.fixture(scope="module")
def ptbxl_record(tiny_ptbxl):
    """One real PTB-XL record of the tiny set (10 s, 12 leads, 100 Hz)."""
    return sorted(tiny_ptbxl.glob("records100/*/*.hea"))[0].with_suffix("")


def rewrite(record, folder, name, names, order=None):
    """The record's own ADC values, channels in `order`, written again under `names`."""
    rec = wfdb.rdrecord(str(record), physical=False)
    order = list(range(rec.n_sig)) if order is None else list(order)
    wfdb.wrsamp(
        name, fs=rec.fs, units=["mV"] * len(order), sig_name=list(names),
        d_signal=rec.d_signal[:, order], fmt=["16"] * len(order),
        adc_gain=[rec.adc_gain[i] for i in order], baseline=[rec.baseline[i] for i in order],
        write_dir=str(folder),
    )  # fmt: skip
    return folder / name


def outputs(result) -> dict:
    """What classify --json said about the signal: every beat and window, and the record's
    probabilities (not its timings)."""
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    summary = rows[-1]
    return {
        "rows": [r for r in rows if r.get("type") in ("beat", "window")],
        "probs": summary["record_probs"],
        "alerts": summary["alerts"],
    }


def test_a_12_lead_record_named_otherwise_gets_the_same_diagnosis(tmp_path, ptbxl_record):
    names = list(wfdb.rdheader(str(ptbxl_record)).sig_name)
    assert [n.upper() for n in names] == list(TWELVE_LEADS)
    plain = rewrite(ptbxl_record, tmp_path, "plain", names)
    want = outputs(runner.invoke(app, ["classify", str(plain), "--json"]))
    assert "diagnostic" in want["probs"]
    assert any(r.get("model") == "diagnostic" for r in want["rows"])
    spelled_out = rewrite(ptbxl_record, tmp_path, "spelled", LEAD_NAMES)
    order = list(np.random.default_rng(0).permutation(12))
    shuffled = rewrite(ptbxl_record, tmp_path, "shuffled", [OTHER_NAMES[i] for i in order], order)
    for rec in (spelled_out, shuffled):
        result = runner.invoke(app, ["classify", str(rec), "--json"])
        assert outputs(result) == want, rec.name
        assert "not run" not in result.stderr and "warning" not in result.stderr


def test_two_channels_naming_one_lead_are_refused_in_one_line(tmp_path, ptbxl_record):
    names = list(wfdb.rdheader(str(ptbxl_record)).sig_name)
    twice = rewrite(ptbxl_record, tmp_path, "twice", [*names, "lead v5"], [*range(12), 10])
    diagnostic = ["--model", str(embedded_bundle("diagnostic"))]
    result = runner.invoke(app, ["classify", str(twice), *diagnostic])
    assert result.exit_code == 1 and "Traceback" not in result.output
    said = [line for line in result.output.splitlines() if line.strip()]
    assert said == [
        "error: channels 10 (V5) and 12 (lead v5) are both lead V5: the diagnostic model reads "
        "each lead from one channel (rename one, or leave the model out with --model)"
    ]
    # the models added unasked are left out, and the beat model still runs
    result = runner.invoke(app, ["classify", str(twice), "--json"])
    assert result.exit_code == 0, result.output
    assert "the diagnostic model is not run: channels 10 (V5) and 12 (lead v5)" in result.stderr
    assert "diagnostic" not in outputs(result)["probs"]


def test_two_channels_of_the_beat_lead_are_refused_unless_one_is_chosen(tmp_path, ptbxl_record):
    rec = rewrite(ptbxl_record, tmp_path, "two2", ["II", "V1", "Lead II"], [1, 6, 1])
    result = runner.invoke(app, ["classify", str(rec)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "channels 0 (II) and 2 (Lead II) are both lead II: choose one with --channel" in (
        result.output
    )
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    chosen = runner.invoke(app, ["classify", str(rec), "--channel", "2", "--json"])
    assert chosen.exit_code == 0, chosen.output
    emulate = runner.invoke(app, ["emulate", str(rec), "--port", str(tmp_path / "no-port")])
    assert emulate.exit_code == 1 and "are both lead II" in emulate.output


def test_underscores_dots_and_inner_hyphens_join_words_but_a_leading_minus_inverts():
    for name in ("ECG_II", "Lead-II", "Lead.II", "lead_ii", "ECG-II"):
        assert lead_key(name) == lead_key("II")
    assert model_lead_key("ECG_aVR") == model_lead_key("aVR")
    assert lead_key("-aVR") != lead_key("aVR")  # Cabrera's inverted aVR is another signal
    names = ["ECG_aVR", "ECG_V1", "ECG_II"]
    assert find_channel(names, "MLII") == 2  # not the aVR channel as an unknown stand-in


def test_a_name_with_characters_outside_ascii_is_kept_as_written(tmp_path):
    """A Cabrera record's U+2212 '−aVR' (inverted aVR) used to lose its minus and feed the
    12-lead model's aVR; as written it matches no lead."""
    from edge_monitor.wfdb_io import read_header

    x = np.random.default_rng(0).normal(size=(500, 3)) * 0.1
    wfdb.wrsamp(
        "cab",
        fs=500,
        units=["mV"] * 3,
        sig_name=["I", "XaVR", "II"],
        p_signal=x,
        fmt=["16"] * 3,
        write_dir=str(tmp_path),
    )
    hea = tmp_path / "cab.hea"
    hea.write_bytes(hea.read_bytes().replace(b"XaVR", "\u2212aVR".encode()))
    names = read_header(tmp_path / "cab").sig_name
    assert names == ["I", "\u2212aVR", "II"]
    match = match_leads(names, ["I", "II", "AVR"])
    assert match.missing == ["AVR"]


def test_one_limb_lead_under_two_spellings_is_refused_for_the_beat_lead():
    from edge_monitor.errors import InputError
    from edge_monitor.leads import one_channel

    for names in (["D2", "DII"], ["I", "II", "III", "D2"], ["Lead II", "dii", "V1"]):
        with pytest.raises(InputError, match="choose one with --channel"):
            one_channel(names, "MLII")
    assert one_channel(["MLII", "II"], "MLII") == 0  # a Holter MLII beside a 12-lead II
    assert one_channel(["V1", "D2"], "MLII") == 1
    # a name that names no lead tells two channels apart no better than their numbers (vfdb)
    assert one_channel(["ECG", "ECG"], "MLII") == 0
    assert one_channel(["V1", "ecg", "ECG"], "MLII") == 1
    with pytest.raises(InputError, match="choose one with --channel"):
        one_channel(["II", "II"], "MLII")


def test_twelve_channels_named_otherwise_say_why_the_diagnostic_model_is_not_run(tmp_path):
    names = [f"Kanal {i}" for i in range(1, 13)]
    x = np.random.default_rng(0).normal(size=(1000, 12)) * 0.1
    wfdb.wrsamp(
        "k12",
        fs=100,
        units=["mV"] * 12,
        sig_name=names,
        p_signal=x,
        fmt=["16"] * 12,
        write_dir=str(tmp_path),
    )
    done = runner.invoke(app, ["classify", str(tmp_path / "k12")])
    assert done.exit_code == 0
    assert "the diagnostic model is not run: it reads leads I, II" in done.stderr
