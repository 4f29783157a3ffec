"""classify's verdict: a rich table on a terminal, plain unwrapped lines in a pipe."""

from __future__ import annotations

import io

import pytest
import wfdb
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.cli import app
from edge_monitor.pipeline import Monitor
from edge_monitor.verdict import (
    bundle_thresholds,
    plain_lines,
    print_verdict,
    run_notes,
    verdict_of,
)

SUMMARY = {
    "record": "ptbxl-00063",
    "signal_seconds": 10.0,
    "wall_seconds": 0.05,
    "record_probs": {"diagnostic": {"NORM": 0.83, "MI": 0.18, "STTC": 0.01}},
    "beats": {"N": 9, "V": 2},
    "alerts": {"cleared": 1, "critical": 1},
    "quality_seconds": {"good": 10.0},
    "latency_ms": {"p50": 0.1, "p95": 0.2, "p99": float("nan")},
    "peak_rss_mb": 130.0,
}
THRESHOLDS = {"diagnostic": {"NORM": 0.29, "MI": 0.63, "STTC": 0.34}}


def test_classes_over_their_thresholds_are_the_verdict():
    v = verdict_of(SUMMARY, THRESHOLDS)
    rows = v.windows["diagnostic"]
    assert [r.name for r in rows] == ["NORM", "MI", "STTC"]  # most probable first
    assert [r.over for r in rows] == [True, False, False]
    assert list(v.alerts) == ["critical", "cleared"]  # by priority, not as counted


def test_the_terminal_table_shows_over_bold_and_under_dimmed():
    console = Console(record=True, width=100, force_terminal=True, color_system="truecolor")
    print_verdict(verdict_of(SUMMARY, THRESHOLDS), console)
    text = console.export_text(styles=False, clear=False)
    for cell in ("NORM", "0.830", "0.29", "over", "MI", "under", "beats", "critical", "┃"):
        assert cell in text
    styled = console.export_text(styles=True)
    assert "\x1b[1m" in styled and "\x1b[2m" in styled  # bold (over) and dim (under) rows
    assert "--" in text  # a NaN latency is not printed as nan


def test_a_pipe_gets_plain_lines_without_boxes_or_wrapping():
    out = io.StringIO()
    console = Console(file=out, width=40)  # a file is not a terminal
    summary = {**SUMMARY, "record": "a/very/long/path/" * 6 + "ptbxl-00063"}
    print_verdict(verdict_of(summary, THRESHOLDS), console)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(summary["record"]) and "real time" in lines[0]  # not wrapped
    assert "diagnostic verdict: NORM 0.83" in lines
    assert "diagnostic MI: 0.180 (threshold 0.63, under)" in lines
    assert "beats: N 9, V 2" in lines and "alerts: critical 1, cleared 1" in lines
    assert not any(ch in out.getvalue() for ch in "┃│┏\x1b")


def test_a_model_without_thresholds_says_so():
    lines = plain_lines(verdict_of(SUMMARY, {}))
    assert "diagnostic verdict: no class over its threshold" in lines
    assert "diagnostic NORM: 0.830 (no threshold, under)" in lines


@given(
    st.dictionaries(
        st.text("ABCDEFGHIJ", min_size=1, max_size=5),
        st.floats(0, 1),
        min_size=1,
        max_size=8,
    ),
    st.floats(0, 1),
)
def test_over_means_at_or_above_the_threshold(probs, threshold):
    summary = {"record_probs": {"m": probs}}
    v = verdict_of(summary, {"m": dict.fromkeys(probs, threshold)})
    over = {r.name for r in v.windows["m"] if r.over}
    assert over == {c for c, p in probs.items() if p >= threshold}
    said = plain_lines(v)[1]
    assert said.startswith("m verdict: ") and all(c in said for c in over)


def test_thresholds_come_from_the_embedded_bundle():
    got = bundle_thresholds(["diagnostic"], None)["diagnostic"]
    contract = load_bundle(embedded_bundle("diagnostic"), probe=False).contract
    assert list(got) == list(contract.classes) and list(got.values()) == contract.thresholds


def test_classify_prints_the_verdict_of_a_12_lead_record():
    from importlib import resources

    record = resources.files("edge_monitor") / "sample_data" / "ptbxl-00063"
    result = CliRunner().invoke(app, ["classify", str(record)])
    assert result.exit_code == 0, result.output
    assert "diagnostic verdict: " in result.output
    assert "threshold" in result.output and "beats: N " in result.output


def test_a_flat_12_lead_record_gets_no_diagnostic_verdict(tmp_path):
    """Twelve flat leads (a disconnected cart) used to read 'STTC 0.62'; no window of good
    signal, no verdict, and the reason is said."""
    import json

    import numpy as np
    import wfdb

    names = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    wfdb.wrsamp(
        "flat12",
        fs=100,
        units=["mV"] * 12,
        sig_name=names,
        p_signal=np.zeros((1000, 12)),
        fmt=["16"] * 12,
        write_dir=str(tmp_path),
    )
    done = CliRunner().invoke(app, ["classify", str(tmp_path / "flat12"), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["record_probs"] == {} and summary["no_verdict"] == ["diagnostic"]
    said = CliRunner().invoke(app, ["classify", str(tmp_path / "flat12")])
    assert "diagnostic: no verdict, no window of good signal" in said.stdout
    assert "diagnostic verdict" not in said.stdout


def test_a_12_lead_record_of_noise_gets_no_verdict_and_its_beats_are_said_to_be_on_bad_signal(
    tmp_path,
):
    """Gaussian noise on twelve leads read "MI 0.76": the gate graded a stream's first two
    seconds good before it had judged them, and the first 2.5 s window made the verdict. Every
    second is judged now; the beats the detector finds in noise are counted, and said to be read
    on bad signal, and no window line claims good signal."""
    import json

    import numpy as np

    names = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    noise = np.random.default_rng(1).normal(0, 0.3, (1000, 12))
    wfdb.wrsamp("noise12", fs=100, units=["mV"] * 12, sig_name=names, p_signal=noise,
                fmt=["16"] * 12, write_dir=str(tmp_path))  # fmt: skip
    done = CliRunner().invoke(app, ["classify", str(tmp_path / "noise12"), "--json"])
    assert done.exit_code == 0, done.output
    lines = [json.loads(x) for x in done.stdout.strip().splitlines()]
    summary = lines[-1]
    assert summary["record_probs"] == {} and summary["no_verdict"] == ["diagnostic"]
    assert set(summary["quality_seconds"]) == {"noisy"}
    windows = [x for x in lines if x["type"] == "window"]
    assert windows and not any(w["good_signal"] for w in windows)
    beats = sum(summary["beats"].values())
    assert beats and summary["beats_on_bad_signal"] == beats
    said = CliRunner().invoke(app, ["classify", str(tmp_path / "noise12")]).stdout
    assert "diagnostic verdict" not in said
    assert (
        f"beats read on bad signal (noise, leads off, saturation or just after): {beats} of" in said
    )


def test_beats_on_bad_signal_are_noted_only_when_there_are_some():
    clean = run_notes(SUMMARY | {"beats_on_bad_signal": 0})
    assert not any("bad signal" in n for n in clean)
    assert not any("bad signal" in n for n in run_notes(SUMMARY))  # a summary from before
    noted = run_notes(SUMMARY | {"beats_on_bad_signal": 3})
    assert any(n.startswith("beats read on bad signal") and "3 of 11" in n for n in noted)
    for odd in ("x", None, float("nan"), [1]):  # a summary is data: nothing odd breaks the notes
        assert not any("bad signal" in n for n in run_notes(SUMMARY | {"beats_on_bad_signal": odd}))


def test_a_strangers_record_name_is_text_in_the_table_and_the_lines():
    """A folder named "a[/]b" stopped the terminal table with a MarkupError; an OSC sequence
    in it retitled the terminal."""
    odd = {**SUMMARY, "record": "runs/a[/]b\x1b]0;t\x07/rec"}
    console = Console(record=True, width=120, force_terminal=True, color_system="truecolor")
    print_verdict(verdict_of(odd, THRESHOLDS), console)
    shown = console.export_text()
    assert "runs/a[/]b\\x1b]0;t\\x07/rec" in shown and "\x07" not in shown
    assert plain_lines(verdict_of(odd, THRESHOLDS))[0].startswith("runs/a[/]b\\x1b]0;t\\x07/rec: ")


def test_an_inverted_beat_lead_is_named_under_the_verdict(sample_record):
    """A lead whose QRS points down (RA and LL swapped) reads beat classes worse: the run
    says so, from the dominant beat of the lead as the stream saw it."""
    rec = wfdb.rdrecord(str(sample_record))
    shares = []
    for sign in (1, -1):
        monitor = Monitor([load_bundle(embedded_bundle("arrhythmia"))], rec.fs, rec.sig_name)
        monitor.stream(sign * rec.p_signal)
        shares.append(monitor.qrs_down[True] / monitor.qrs_down.total())
    assert shares[0] < 0.1 and shares[1] > 0.9
    lead = {"beat_leads": ["MLII"], "beats": {"N": 70, "V": 10}}
    assert any(
        "points down in 93%" in n for n in run_notes(lead | {"beat_lead_inverted_share": 0.93})
    )
    for odd in (None, "x", float("nan"), 0.66, [1]):  # noise reads about half either way
        assert not any(
            "points down" in n for n in run_notes(lead | {"beat_lead_inverted_share": odd})
        )
    turned = run_notes(lead | {"beat_lead_inverted_share": 0.93, "beat_model_upright": True})
    assert any("points down in 93%" in n and "reads it turned upright" in n for n in turned)
    assert not any("read worse" in n for n in turned)
    for odd in ("true", 1, None):  # only a true summary key says the model reads it turned
        said = run_notes(lead | {"beat_lead_inverted_share": 0.93, "beat_model_upright": odd})
        assert any("read worse" in n for n in said)
    paired = run_notes(
        lead | {"beat_lead_inverted_share": 0.93, "inverted_beats_model": "arrhythmia-inverted"}
    )
    assert any("points down in 93%" in n and "read by arrhythmia-inverted" in n for n in paired)
    assert not any("read worse" in n for n in paired)
    for odd in (None, 1, "", ["x"]):  # only a name says a companion read them
        said = run_notes(lead | {"beat_lead_inverted_share": 0.93, "inverted_beats_model": odd})
        assert any("read worse" in n for n in said)
    few = {"beat_leads": ["MLII"], "beats": {"N": 20}, "beat_lead_inverted_share": 1.0}
    assert not any("points down" in n for n in run_notes(few))


@pytest.mark.parametrize("seconds", [0.003, 2.0, 9.9])
def test_a_record_too_short_to_learn_says_so_and_blames_no_lead(seconds):
    summary = {"beat_leads": ["MLII", "V5"], "beats": {}, "signal_seconds": seconds}
    notes = run_notes(summary)
    assert any(f"no beat in {seconds:g} s" in n for n in notes)
    assert not any("second lead" in n or "--channel" in n for n in notes)
    long = run_notes(summary | {"signal_seconds": 60.0})
    assert any("no beat found" in n and "--channel" in n for n in long)
    # a summary that does not say how long or how many beats: the old second-lead note
    partial = run_notes({"beat_leads": ["MLII", "V5"], "beats_on_two_leads": 0})
    assert any("second lead V5: no beat read on it" in n for n in partial)


def test_a_dead_lead_of_a_window_model_is_named_in_one_line():
    notes = run_notes({"dead_leads": {"diagnostic": {"V3": 4, "[red]V4\n": 1}}})
    said = [n for n in notes if "flat or missing" in n]
    assert said == ["diagnostic: lead V3, [red]V4\\n flat or missing, windows left out"]
    assert run_notes({"dead_leads": "nonsense"}) == run_notes({})


def test_a_record_too_short_for_the_detector_comparison_says_its_quality_was_judged_without_it():
    """The gate's two-detector agreement catches muscle and motion noise but needs 14.5 s of
    signal: on a 10 s record (PTB-XL's) it never ran, and twelve leads of muscle noise could
    read good and get a verdict. Said under the verdict; not said where it ran."""
    import json
    from importlib import resources

    short = resources.files("edge_monitor") / "sample_data" / "ptbxl-00063"
    done = CliRunner().invoke(app, ["classify", str(short), "--json"])
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["quality_detectors_compared"] is False
    assert summary["quality_detectors_after_s"] == 15.0  # 14.5 s, judged at a second's end
    notes = run_notes(summary)
    assert any(n.startswith("signal quality judged by amplitude and spectrum alone") for n in notes)
    assert any("this record has 10 s" in n for n in notes)
    long = resources.files("edge_monitor") / "sample_data" / "mitdb-200-excerpt"
    done = CliRunner().invoke(app, ["classify", str(long), "--json", "--stop", "30"])
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["quality_detectors_compared"] is True
    assert not any("spectrum alone" in n for n in run_notes(summary))
    assert not any("spectrum alone" in n for n in run_notes(SUMMARY))  # a summary from before
