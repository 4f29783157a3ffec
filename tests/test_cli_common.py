"""What both command-line tools answer like the tools people know: -h and --version."""

import re

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


def _commands(group, path=()):
    """Every command of a click group, with its path of names."""
    for name, command in getattr(group, "commands", {}).items():
        yield (*path, name), command
        yield from _commands(command, (*path, name))


@pytest.mark.parametrize("app,name", [(edge_app, "edge-monitor"), (trainer_app, "trainer")])
def test_every_option_and_argument_has_help(app, name):
    import typer

    missing = [
        f"{name} {' '.join(path)} {param.name}"
        for path, command in _commands(typer.main.get_command(app))
        for param in command.params
        if not getattr(param, "hidden", False) and not (getattr(param, "help", "") or "").strip()
    ]
    assert not missing, "options without help: " + "; ".join(missing)
    # rich reads `[word]` as a markup tag and drops it from the help: escape it (rich.markup)
    eaten = [
        f"{name} {' '.join(path)} {param.name}: {param.help}"
        for path, command in _commands(typer.main.get_command(app))
        for param in command.params
        if re.search(r"(?<!\\)\[[a-zA-Z#@/]", getattr(param, "help", "") or "")
    ]
    assert not eaten, "help that rich markup would eat: " + "; ".join(eaten)


def test_brackets_in_help_survive_rich_markup():
    """`--config`'s help names the `[train]` table: rich markup once swallowed it."""
    result = CliRunner().invoke(trainer_app, ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "[train]" in result.output
