"""Progress displays: a job inside another (a record parse inside data info's loop) stays quiet,
since rich allows one live display at a time and a second one would stop the job."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from trainer.progress import progress


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=80), out


def test_a_job_inside_a_job_shows_nothing_of_its_own():
    console, out = _terminal()
    with progress("outer job", 3, console=console) as advance:
        for _ in range(3):
            with progress("inner parse", None, console=console) as inner:
                inner()
            advance()
    assert "inner parse" not in out.getvalue()
    with progress("next job", None, console=console):  # the outer one is over: this one shows
        pass
    assert "next job" in out.getvalue()


def test_a_failing_job_frees_the_display():
    console, out = _terminal()
    with pytest.raises(ValueError), progress("failing job", None, console=console):
        raise ValueError("bad record")
    with progress("after the failure", None, console=console):
        pass
    assert "after the failure" in out.getvalue()


def test_a_path_with_markup_or_control_characters_is_shown_as_text():
    """A job's description quotes the user's paths: "a[/]b" stopped rich with a MarkupError and
    an escape sequence reached the terminal."""
    console, out = _terminal()
    with progress("writing the report of runs/a[/]b\x1b]0;t\x07", 2, console=console) as advance:
        advance()
    assert "runs/a[/]b\\x1b]0;t\\x07" in out.getvalue() and "\x07" not in out.getvalue()
