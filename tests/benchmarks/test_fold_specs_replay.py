"""benchmarks/fold_specs_replay.py toggles one boolean FusionSpec field: a field that is not one
is refused by the command line in one line, before any record is read."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "fold_specs_replay.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def test_only_boolean_fields_may_be_toggled(tmp_path):
    common = ["--results", str(tmp_path / "r.json"), "--out", str(tmp_path / "o.json")]
    result = run("--field", "agree_p", *common)
    assert result.returncode == 2 and "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr
    assert "quiet_clean_only" in run("--help").stdout


def test_a_replay_names_the_records_the_field_moved(tmp_path):
    """MIT-BIH 207 (ventricular flutter) and 217 (paced), the embedded VT/VF model as their
    fold's bundle: the output holds both settings' pooled figures and `records_changed`, each
    moved record's false onsets and segments off -> on. The clean-windows clear moves 207's
    false segments after its flutter, and nothing on 217 (which the embedded model, trained
    with the paced records, no longer false-alarms on), so 217 is left out."""
    import json
    from dataclasses import asdict

    from edge_monitor.bundle import embedded_bundle
    from edge_monitor.ventricular import FusionSpec
    from tests.conftest import SHARED, need

    folder = need(SHARED / "mitdb")
    model = str(embedded_bundle("ventricular"))
    results = tmp_path / "r.json"
    chosen = {model: asdict(FusionSpec())}
    results.write_text(json.dumps({"after_cross_validated": {"chosen_per_fold": chosen}}))
    out = tmp_path / "o.json"
    record = ["--databases", "mitdb", "--mitdb", str(folder), "--records", "207", "217"]
    stream = ["--model", model, "--gate-exempt-p", "0.9", "--all-beats", "--cache", str(tmp_path)]
    done = run(*record, *stream, "--field", "quiet_clean_only", "--results", str(results),
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr[-500:]
    doc = json.loads(out.read_text())
    off, on = doc["quiet_clean_only=False"], doc["quiet_clean_only=True"]
    assert off["all"]["records"] == on["all"]["records"] == 2
    assert set(doc["records_changed"]) == {"mitdb/207"}
    moved = doc["records_changed"]["mitdb/207"]
    assert set(moved) == {"false", "false_onsets_s", "segments"}
    assert [len(onsets) for onsets in moved["false_onsets_s"]] == moved["false"]
    assert moved["segments"][0] != moved["segments"][1]
    # what streamed the logs, so a reader can check a pre-registration's options from the file
    assert doc["stream_options"]["all_beats"] is True and doc["stream_options"]["exempt"] == 0.9
    assert doc["code_from"] is None  # streamed here, by this tree's code
