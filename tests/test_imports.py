"""The device side must stay light: importing its CLI and DSP never loads torch."""

import subprocess
import sys


def test_edge_monitor_never_imports_torch():
    code = (
        "import sys, edge_monitor.cli, edge_monitor.dsp, edge_monitor.qrs, edge_monitor.beats, "
        "edge_monitor.profiles, edge_monitor.contract, edge_monitor.wire, "
        "edge_monitor.sources; "
        "assert 'torch' not in sys.modules, 'torch was imported'; "
        "assert 'sklearn' not in sys.modules, 'sklearn was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_edge_monitor_cli_runs_without_torch():
    out = subprocess.run(
        [sys.executable, "-m", "edge_monitor", "version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip()
