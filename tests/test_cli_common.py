"""What both command-line tools answer like the tools people know: -h and --version."""

import pytest
from typer.testing import CliRunner

from edge_monitor import __version__
from edge_monitor.cli import app as edge_app
from trainer.cli import app as trainer_app


@pytest.mark.parametrize("app,name", [(edge_app, "edge-monitor"), (trainer_app, "trainer")])
def test_version_and_short_help(app, name):
    runner = CliRunner()
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.strip() == f"{name} {__version__}"
    short = runner.invoke(app, ["-h"])
    assert short.exit_code == 0 and "Usage" in short.output


def test_a_command_answers_short_help_too():
    result = CliRunner().invoke(edge_app, ["replay", "-h"])
    assert result.exit_code == 0 and "--speed" in result.output


def test_the_text_summary_is_plain_lines_with_counts_not_python_dicts(sample_record):
    result = CliRunner().invoke(edge_app, ["classify", str(sample_record)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(str(sample_record)) and "real time" in lines[0]
    assert lines[1].startswith("beats: N ") and "{" not in result.output
