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
