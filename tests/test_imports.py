"""The device side must stay light: importing its CLI and DSP never loads torch."""

import subprocess
import sys


def test_edge_monitor_never_imports_torch():
    import pkgutil

    import edge_monitor

    modules = ", ".join(
        f"edge_monitor.{m.name}"
        for m in pkgutil.iter_modules(edge_monitor.__path__)
        if m.name != "__main__"  # it runs the CLI
    )
    code = (
        f"import sys, {modules}; "
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


def test_a_classify_run_never_imports_torch(sample_record):
    """The whole streaming path, end to end, in a fresh process."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from edge_monitor.cli import app\n"
        f"r = CliRunner().invoke(app, ['classify', {str(sample_record)!r}, '--stop', '20'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
