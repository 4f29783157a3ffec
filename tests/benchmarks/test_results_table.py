"""benchmarks/results_table.py renders every committed result file it knows (a benchmark that
changed its JSON keys broke the table script once: serial_faults' recorded_invalid moved)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_committed_results_render_with_every_section():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "results_table.py"), "--out", "-"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    faults = json.loads((ROOT / "benchmarks" / "results" / "serial_faults.json").read_text())
    got = faults["got"]
    assert "Faults on the serial path" in run.stdout
    assert f"{got['recorded_invalid']:,} of them stored as invalid" in run.stdout
    assert "Traceback" not in run.stderr
